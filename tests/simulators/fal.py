"""Stand-in for fal's queue API (docs.fal.ai/model-endpoints/queue).

POST /{app}[/{path}] (the app's JSON arguments) -> {"request_id", "response_url", "status_url",
"cancel_url", "queue_position"}; GET /{owner}/{alias}/requests/{id}/status?logs=1 ->
{"status": IN_QUEUE (queue_position) | IN_PROGRESS (logs) | COMPLETED (logs, metrics, error?,
error_type?)}; GET /{owner}/{alias}/requests/{id} -> the app's result ({"video": {"url", ...}})
or an error (422 with a `detail` list of {"loc", "msg", "type"}); PUT .../cancel -> 202.
Auth: `Authorization: Key <FAL_KEY>`. Every answer carries `x-fal-request-id`.
"""

from __future__ import annotations

from simulators._http import Request, Response, StandIn

APPS = {  # app -> (duration spelling, needs image_url)
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": ({"5", "10"}, False),
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": ({"5", "10"}, True),
    "fal-ai/veo3": ({"4s", "6s", "8s"}, False),
    "fal-ai/veo3/image-to-video": ({"4s", "6s", "8s"}, True),
    "fal-ai/veo3/fast": ({"4s", "6s", "8s"}, False),
    "fal-ai/veo3/fast/image-to-video": ({"4s", "6s", "8s"}, True),
    "fal-ai/minimax/hailuo-02/standard/text-to-video": ({"6", "10"}, False),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": ({"6", "10"}, True),
}


class FalStandIn(StandIn):
    def setup_routes(self) -> None:
        self.add("GET", r"/(?P<owner>[^/]+)/(?P<alias>[^/]+)/requests/(?P<id>[^/]+)/status", "status", self.status)
        self.add("GET", r"/(?P<owner>[^/]+)/(?P<alias>[^/]+)/requests/(?P<id>[^/]+)", "result", self.result)
        self.add("PUT", r"/(?P<owner>[^/]+)/(?P<alias>[^/]+)/requests/(?P<id>[^/]+)/cancel", "cancel", self.cancel)
        self.add("POST", r"/(?P<app>[^?]+)", "submit", self.submit)

    def authorized(self, req: Request) -> bool:
        return req.header("Authorization") == f"Key {self.key}"

    def unauthorized(self) -> Response:
        return Response(401, {"detail": "No user found for Key ID and Secret"})

    def dispatch(self, req: Request):
        out, fault = super().dispatch(req)  # (response or None for a dropped connection, fault)
        if out is not None:
            out.headers.setdefault("x-fal-request-id", "req-standin")
        return out, fault

    def submit(self, req: Request) -> Response:
        app = req.params["app"]
        if app not in APPS:
            return Response(404, {"detail": f"Application {app!r} not found"})
        durations, needs_image = APPS[app]
        args = req.json()
        errors = []
        if args.get("duration") not in durations:
            errors.append({"loc": ["body", "duration"], "msg": f"value is not a valid enumeration member; "
                                                                f"permitted: {sorted(durations)}", "type": "type_error.enum"})
        if needs_image and not str(args.get("image_url", "")).startswith(("data:image/", "https://")):
            errors.append({"loc": ["body", "image_url"], "msg": "field required", "type": "value_error.missing"})
        if errors:
            return Response(422, {"detail": errors})
        job = self.new_job({"app": app, **args})
        owner, alias = app.split("/")[:2]
        base = f"{self.url}/{owner}/{alias}/requests/{job.id}"
        return Response(200, {"request_id": job.id, "response_url": base, "status_url": base + "/status",
                              "cancel_url": base + "/cancel", "queue_position": 0})

    def status(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"detail": "Request not found"})
        job.polls += 1
        phase = job.phase(self.clock.now())
        logs = [{"message": "Generating video...", "level": "INFO", "source": "user", "timestamp": "2025-10-01T00:00:00"}]
        if phase == "queued":
            return Response(202, {"status": "IN_QUEUE", "queue_position": 0, "response_url": ""})
        if phase == "running":
            return Response(202, {"status": "IN_PROGRESS", "logs": logs, "response_url": ""})
        done = {"status": "COMPLETED", "logs": logs, "metrics": {"inference_time": 3.2}, "response_url": ""}
        if phase == "canceled":
            return Response(200, {**done, "error": "Request was cancelled", "error_type": "request_cancelled"})
        if phase == "error":
            return Response(200, {**done, "error": "Internal server error", "error_type": "internal_server_error"})
        return Response(200, done)  # ok and policy both complete; policy fails when the result is read

    def result(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"detail": "Request not found"})
        if job.plan == "policy":
            return Response(422, {"detail": [{"loc": ["body", "prompt"], "type": "content_policy_violation",
                                              "msg": "The content could not be processed because it contained "
                                                     "material flagged by a content checker."}]},
                            {"x-fal-error-type": "content_policy_violation"})
        if job.phase(self.clock.now()) != "done":
            return Response(400, {"detail": "Request is still in progress"})
        return Response(200, {"video": {"url": self.media_url(f"{job.id}.mp4"), "content_type": "video/mp4",
                                        "file_name": "output.mp4", "file_size": 12345}, "seed": 1})

    def cancel(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"detail": "Request not found"})
        job.canceled = True
        return Response(202, {"status": "CANCELLATION_REQUESTED"})
