"""Simulator of fal's queue API (docs.fal.ai/model-endpoints/queue), as fal-client 1.0.3 calls it.

POST /{app}[/{path}] (the app's JSON arguments) -> {"request_id", "response_url", "status_url",
"cancel_url", "queue_position"}; GET /{owner}/{alias}/requests/{id}/status?logs=1 ->
{"status": IN_QUEUE (queue_position) | IN_PROGRESS (logs) | COMPLETED (logs, metrics, error?,
error_type?)}; GET /{owner}/{alias}/requests/{id} -> the app's result ({"video": {"url", ...}})
or an error (422 with a `detail` list of {"loc", "msg", "type"}); PUT .../cancel -> 202.
Auth: `Authorization: Key <FAL_KEY>`. Every answer carries `x-fal-request-id`.

Behaviours, each from its source (read 2026-11-29):
- no idempotency key: every POST that reaches the handler queues (and may bill) a new request.
- cancel (fal.ai/docs/inference-api/queue/cancel): a request still IN_QUEUE is removed and bills nothing;
  one IN_PROGRESS only gets a cancellation signal ("the model app decides how to stop the work"): these
  video apps do not stop, so it completes and bills; a finished one answers 400 ALREADY_COMPLETED.
- billing (fal.ai/docs/documentation/model-apis/pricing, /faq): only successful outputs, per second of video at
  the app's price; server errors never; an input error (422, content policy included) "may still be charged
  if a runner spent GPU time": a request refused after it ran is billed here (the worst case).
- rate limits: fal queues requests over the account's concurrency limit (/faq); a 429 here carries only
  `detail` (fal documents no rate-limit headers).
- retention (fal.ai/docs/faq): output files are kept at least 7 days, then "may be deleted at any time": media
  older than 7 days on the simulator's clock answers 404.
- listing: nothing here lists requests (fal's platform list shows finished requests only).
"""

from __future__ import annotations

from decimal import Decimal

from simulators._http import Job, Request, Response, Simulator, usd

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
# USD per second of video (fal.ai model pages, as the backend's table; audio off for Veo 3).
PRICES = {"fal-ai/kling-video": "0.07", "fal-ai/veo3": "0.20", "fal-ai/veo3/fast": "0.10",
          "fal-ai/minimax/hailuo-02": "0.045"}
RETENTION_S = 7 * 24 * 3600


def price_per_second(app: str) -> Decimal:
    for prefix in sorted(PRICES, key=len, reverse=True):
        if app == prefix or app.startswith(prefix + "/"):
            return usd(PRICES[prefix])
    raise KeyError(app)


class FalSim(Simulator):
    provider = "fal"
    key_env = "FAL_KEY"
    base_url_env = "DREAMCUT_FAL_BASE_URL"
    create_routes = ("submit",)

    def setup_routes(self) -> None:
        self.add("GET", r"/(?P<owner>[^/]+)/(?P<alias>[^/]+)/requests/(?P<id>[^/]+)/status", "status", self.status)
        self.add("GET", r"/(?P<owner>[^/]+)/(?P<alias>[^/]+)/requests/(?P<id>[^/]+)", "result", self.result)
        self.add("PUT", r"/(?P<owner>[^/]+)/(?P<alias>[^/]+)/requests/(?P<id>[^/]+)/cancel", "cancel", self.cancel)
        self.add("POST", r"/(?P<app>[^?]+)", "submit", self.submit)

    def authorized(self, req: Request) -> bool:
        return req.header("Authorization") == f"Key {self.key}"

    def unauthorized(self) -> Response:
        return Response(401, {"detail": "No user found for Key ID and Secret"})

    def rate_limited(self, req: Request) -> Response:
        return Response(429, {"detail": "Rate limit exceeded"})

    def server_error(self, req: Request, status: int = 500) -> Response:
        return Response(status, {"detail": "Internal Server Error"})

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
        job = self.new_job({"app": app, **args}, prompt=args.get("prompt"))
        job.extra.update(app=app, seconds=int(str(args["duration"]).rstrip("s")))
        owner, alias = app.split("/")[:2]
        base = f"{self.url}/{owner}/{alias}/requests/{job.id}"
        return Response(200, {"request_id": job.id, "response_url": base, "status_url": base + "/status",
                              "cancel_url": base + "/cancel", "queue_position": 0})

    def status(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"detail": "Request not found"})
        job.polls += 1
        phase = self.phase(job)
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
        if self.phase(job) != "done":
            return Response(400, {"detail": "Request is still in progress"})
        return Response(200, {"video": {"url": self.media_url(f"{job.id}.mp4"), "content_type": "video/mp4",
                                        "file_name": "output.mp4", "file_size": 12345}, "seed": 1})

    def cancel(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"detail": "Request not found"})
        phase = self.phase(job)
        if phase == "queued":
            job.canceled, job.canceled_phase = True, phase
            return Response(202, {"status": "CANCELLATION_REQUESTED"})
        if phase == "running":  # only a signal: the app runs on (module doc)
            job.extra["cancel_signalled"] = True
            return Response(202, {"status": "CANCELLATION_REQUESTED"})
        return Response(400, {"status": "ALREADY_COMPLETED"})

    # -- books -------------------------------------------------------------------------------

    def phase(self, job: Job) -> str:
        return job.phase(self.clock.now())

    def state_name(self, job: Job) -> str:
        phase = self.phase(job)
        return {"queued": "IN_QUEUE", "running": "IN_PROGRESS", "canceled": "CANCELLED"}.get(phase, "COMPLETED")

    def billed(self, job: Job) -> Decimal:
        if self.phase(job) in ("done", "policy"):
            return price_per_second(job.extra["app"]) * job.extra["seconds"]
        return Decimal(0)

    def media_available(self, name: str) -> bool:
        job = self.jobs.get(name.rsplit(".", 1)[0])
        return job is None or job.finished_at is None or self.clock.now() - job.finished_at < RETENTION_S
