"""Stand-in for the Runway API (docs.dev.runwayml.com, API version 2024-11-06).

POST /v1/text_to_video, POST /v1/image_to_video -> {"id", "estimatedCost"}; GET /v1/tasks/{id}
-> {"id", "status": PENDING|THROTTLED|RUNNING|SUCCEEDED|FAILED|CANCELLED, "progress", "output",
"failure", "failureCode", "cost"}; DELETE /v1/tasks/{id} -> 204. Auth: `Authorization: Bearer`,
and every request must carry `X-Runway-Version`. Errors: {"error": ..., "issues": [...]}.
"""

from __future__ import annotations

from datetime import datetime, timezone

from simulators._http import Request, Response, Simulator, usd

RATIOS = {
    "gen4_turbo": {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"},
    "gen4.5": {"1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672"},
    "veo3.1": {"1280:720", "720:1280", "1080:1920", "1920:1080"},
    "veo3.1_fast": {"1280:720", "720:1280", "1080:1920", "1920:1080"},
}
CREDITS = {"gen4_turbo": 5, "gen4.5": 12, "veo3.1": 20, "veo3.1_fast": 10}


class RunwaySim(Simulator):
    provider = 'runway'
    key_env = 'RUNWAYML_API_SECRET'
    base_url_env = 'DREAMCUT_RUNWAY_BASE_URL'

    throttled_polls = 1  # polls a task spends THROTTLED after PENDING

    def setup_routes(self) -> None:
        self.add("POST", r"/v1/text_to_video", "create", self.create)
        self.add("POST", r"/v1/image_to_video", "create", self.create)
        self.add("GET", r"/v1/tasks/(?P<id>[^/]+)", "task", self.task)
        self.add("DELETE", r"/v1/tasks/(?P<id>[^/]+)", "delete", self.delete)

    def billed(self, job):
        return usd(job.extra["credits"]) / 100 if self.phase(job) == "done" else 0

    def state_name(self, job) -> str:
        return {"queued": "PENDING", "running": "RUNNING", "done": "SUCCEEDED", "canceled": "CANCELLED"}.get(
            self.phase(job), "FAILED")

    def phase(self, job):
        return job.phase(self.clock.now(), queued_polls=1 + self.throttled_polls)

    def authorized(self, req: Request) -> bool:
        return req.header("Authorization") == f"Bearer {self.key}"

    def unauthorized(self) -> Response:
        return Response(401, {"error": "Invalid API key."})

    def create(self, req: Request) -> Response:
        if req.header("X-Runway-Version") != "2024-11-06":
            return Response(400, {"error": "Missing or invalid X-Runway-Version header."})
        body = req.json()
        model = body.get("model")
        issues = []
        if model not in RATIOS:
            issues.append({"path": ["model"], "message": f"Invalid model {model!r}"})
        elif body.get("ratio") not in RATIOS[model]:
            issues.append({"path": ["ratio"], "message": f"Invalid ratio {body.get('ratio')!r}"})
        if len(body.get("promptText", "")) > 1000:
            issues.append({"path": ["promptText"], "message": "Too long"})
        image_route = req.path.endswith("image_to_video")
        if image_route and not body.get("promptImage"):
            issues.append({"path": ["promptImage"], "message": "Required"})
        if model == "gen4_turbo" and not image_route:
            issues.append({"path": ["model"], "message": "gen4_turbo is image-to-video only"})
        if issues:
            return Response(400, {"error": "Validation of body failed", "issues": issues})
        job = self.new_job(body, prompt=body.get("promptText"))
        credits = CREDITS[model] * int(body.get("duration") or 5)
        job.extra["credits"] = credits
        return Response(200, {"id": job.id, "estimatedCost": {"credits": credits}})

    def task(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"error": "Task not found."})
        job.polls += 1
        base = {"id": job.id, "createdAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
        estimated = {"estimatedCost": {"credits": job.extra["credits"]}}
        phase = job.phase(self.clock.now(), queued_polls=1 + self.throttled_polls)
        if phase == "queued":
            status = "PENDING" if job.polls == 1 else "THROTTLED"
            return Response(200, {**base, **estimated, "status": status})
        if phase == "running":
            return Response(200, {**base, **estimated, "status": "RUNNING", "progress": 0.5})
        if phase == "canceled":
            return Response(200, {**base, "status": "CANCELLED", "cost": {"credits": 0}})
        if phase == "done":
            return Response(200, {**base, "status": "SUCCEEDED", "cost": {"credits": job.extra["credits"]},
                                  "output": [self.media_url(f"{job.id}.mp4")]})
        if phase == "policy":
            return Response(200, {**base, "status": "FAILED", "cost": {"credits": 0},
                                  "failure": "Your prompt was flagged by our content moderation system.",
                                  "failureCode": "SAFETY.INPUT.TEXT"})
        return Response(200, {**base, "status": "FAILED", "cost": {"credits": 0},
                              "failure": "An unexpected error occurred.", "failureCode": "INTERNAL.BAD_OUTPUT.CODE01"})

    def delete(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"error": "Task not found."})
        job.canceled = True
        return Response(204, b"")


RunwayStandIn = RunwaySim  # the stand-in's old name
