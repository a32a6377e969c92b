"""Simulator of the Replicate HTTP API (api.replicate.com/v1).

POST /v1/models/{owner}/{name}/predictions and POST /v1/predictions (with "version") -> 201 prediction
{"id", "status": "starting", "urls", "data_removed", ...}; GET /v1/predictions/{id} -> status starting |
processing | succeeded | failed | canceled | aborted, "logs", "output", "error"; GET /v1/predictions ->
{"next", "previous", "results"} newest first; POST /v1/predictions/{id}/cancel; POST /v1/files
(multipart "content") -> file with urls.get. Auth: `Authorization: Bearer`. Errors: RFC 7807 problem details.

Sources (read 2026-11-29):
[lifecycle]  https://replicate.com/docs/topics/predictions/lifecycle (statuses, incl. `aborted`)
[deadlines]  https://replicate.com/changelog/2025-10-16-prediction-deadlines (Cancel-After header; "aborted"
             before it starts, "canceled" while running; "For public models, you're only charged for
             predictions with a canceled status, not for aborted ones")
[retention]  https://replicate.com/docs/topics/predictions/data-retention ("For predictions created through
             the API, all input parameters, output values, output files, and logs are automatically removed
             after an hour")
[ratelimits] https://replicate.com/docs/topics/predictions/rate-limits (429 body {"detail": "Request was
             throttled. Your rate limit resets in ~30s."}; no rate-limit headers named)
[list]       the List predictions reference as carried in public SDK generators (tryAGI/AutoSDK snapshot of
             Replicate's OpenAPI): "sorted with the most recent prediction first", 100 per page, `data_removed`
[sdk]        replicate 1.0.7 site-packages/replicate/client.py (RetryTransport: POST never retried; GETs on
             429/503/504), prediction.py (status Literal lacks "aborted")
Not found in any source read: whether a failed prediction of an output-priced model is billed (assumed
not), what a canceled one is billed (assumed the full price: the worst case the changelog allows), the
exact moment the hour of retention starts (counted here from completion), and the aspect ratios of each
model's schema (the set below is issue 12's reading of the model pages).
"""

from __future__ import annotations

import re
from decimal import Decimal

from simulators._http import Job, Request, Response, Simulator, parse_multipart

RETENTION_S = 3600.0  # [retention]
SEEDANCE_ASPECTS = {"16:9", "4:3", "1:1", "3:4", "9:16", "21:9"}
SCHEMAS = {  # model -> {input name: allowed values or type}
    "bytedance/seedance-1-lite": {"prompt": str, "duration": {5, 10}, "resolution": {"480p", "720p", "1080p"},
                                  "aspect_ratio": SEEDANCE_ASPECTS, "fps": {24}, "seed": int, "image": str,
                                  "last_frame_image": str, "reference_images": list},
    "minimax/hailuo-02": {"prompt": str, "duration": {6, 10}, "resolution": {"768p", "1080p"},
                          "prompt_optimizer": bool, "first_frame_image": str},
    "kwaivgi/kling-v2.1": {"prompt": str, "duration": {5, 10}, "mode": {"standard", "pro"}, "start_image": str,
                           "negative_prompt": str},
}
# USD per second of output by the model's tier input (replicate.com model pages as the backend's table cites
# them, read 2025-10; a copy kept here so a wrong backend price shows up as ledger != books).
PRICES = {
    "bytedance/seedance-1-lite": ("resolution", {"480p": "0.018", "720p": "0.036", "1080p": "0.072"}),
    "minimax/hailuo-02": ("resolution", {"768p": "0.045", "1080p": "0.08"}),
    "kwaivgi/kling-v2.1": ("mode", {"standard": "0.05", "pro": "0.09"}),
}


def _seconds(text: str | None) -> float | None:
    """A Cancel-After duration ("90s", "5m", "1h30m") in seconds ([deadlines] names the header)."""
    if not text:
        return None
    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        total += float(value) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total or None


class ReplicateSim(Simulator):
    provider = "replicate"
    key_env = "REPLICATE_API_TOKEN"
    base_url_env = "DREAMCUT_REPLICATE_BASE_URL"

    def setup_routes(self) -> None:
        self.add("POST", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/predictions", "create", self.create)
        self.add("POST", r"/v1/predictions", "create", self.create)
        self.add("GET", r"/v1/predictions", "list", self.list)
        self.add("GET", r"/v1/predictions/(?P<id>[^/]+)", "get", self.get)
        self.add("POST", r"/v1/predictions/(?P<id>[^/]+)/cancel", "cancel", self.cancel)
        self.add("POST", r"/v1/files", "upload", self.upload)
        self.uploads: dict[str, tuple[str | None, bytes]] = {}
        self.versions = {"5e1fd8ab": "minimax/hailuo-02"}  # version id -> the model it belongs to

    # Errors are RFC 7807 problem details {"title", "detail", "status"} (replicate 1.0.7 exceptions.py ReplicateError).
    def unauthorized(self) -> Response:
        return Response(401, {"title": "Unauthenticated", "detail": "You did not pass a valid authentication token",
                              "status": 401})

    def rate_limited(self, req: Request) -> Response:
        # [ratelimits]: the 429 body; no headers are documented, so none are sent.
        return Response(429, {"detail": "Request was throttled. Your rate limit resets in ~1s.", "status": 429})

    def server_error(self, req: Request, status: int = 500) -> Response:
        return Response(status, {"title": "Internal Server Error", "detail": "Internal Server Error", "status": status})

    # -- status and books --------------------------------------------------------------------

    def phase(self, job: Job) -> str:
        now = self.clock.now()
        deadline = job.extra.get("deadline")
        if deadline is not None and now >= deadline and not job.canceled:
            natural = job.phase(job.created_at + (deadline - job.created_at) - 1e-9)
            if natural == "queued":
                job.extra["aborted"] = True  # [deadlines]: deadline reached before it started running
            if natural in ("queued", "running"):
                job.canceled, job.canceled_phase = True, natural
        if job.extra.get("aborted"):
            return "aborted"
        return job.phase(now)

    def state_name(self, job: Job) -> str:
        return {"queued": "starting", "running": "processing", "done": "succeeded", "canceled": "canceled",
                "aborted": "aborted"}.get(self.phase(job), "failed")

    def billed(self, job: Job) -> Decimal:
        phase = self.phase(job)
        if phase in ("done", "canceled"):  # canceled: [deadlines] "only charged for ... canceled status"
            tier_input, rates = PRICES[job.request["model"]]
            inputs = job.request.get("input") or {}
            return Decimal(rates[inputs[tier_input]]) * Decimal(int(inputs["duration"]))
        return Decimal(0)  # aborted: not charged ([deadlines]); failed: not documented, assumed 0

    def data_removed(self, job: Job) -> bool:
        """[retention]: API predictions lose input, output, files and logs after an hour."""
        if job.finished_at is None:
            return False
        return self.clock.now() >= job.finished_at + RETENTION_S

    def media_available(self, name: str) -> bool:
        job = self.jobs.get(name.rsplit(".", 1)[0])
        return job is not None and not self.data_removed(job)

    # -- routes ------------------------------------------------------------------------------

    def create(self, req: Request) -> Response:
        body = req.json()
        model = f"{req.params['owner']}/{req.params['name']}" if "owner" in req.params else body.get("version", "")
        model = self.versions.get(model, model).split(":")[0]
        schema = SCHEMAS.get(model)
        if schema is None:
            return Response(404, {"title": "Not found", "detail": f"Model {model} not found", "status": 404})
        invalid = []
        for name, value in (body.get("input") or {}).items():
            allowed = schema.get(name)
            if allowed is None:
                invalid.append(f"- input: Additional property {name} is not allowed")
            elif isinstance(allowed, set) and value not in allowed:
                invalid.append(f"- input.{name}: {name} must be one of the following: {sorted(allowed, key=str)}")
        if invalid:
            return Response(422, {"title": "Input validation failed", "detail": "\n".join(invalid), "status": 422})
        job = self.new_job({"model": model, **body}, prompt=(body.get("input") or {}).get("prompt"))
        after = _seconds(req.header("Cancel-After"))
        if after is not None:
            job.extra["deadline"] = job.created_at + after
        return Response(201, self._prediction(job))

    def _prediction(self, job: Job) -> dict:
        base = f"{self.url}/v1/predictions/{job.id}"
        status = self.state_name(job)
        removed = self.data_removed(job)
        out = {"id": job.id, "model": job.request["model"], "version": job.request.get("version", "hash"),
               "input": {} if removed else job.request.get("input"), "status": status, "output": None, "logs": "",
               "error": None, "metrics": {}, "source": "api", "data_removed": removed,
               "created_at": self.clock.iso(job.created_at), "started_at": None, "completed_at": None,
               "urls": {"get": base, "cancel": base + "/cancel", "stream": base + "/stream"}}
        if status == "processing":  # a model's tqdm bar in `logs` (what replicate 1.0.7 Prediction.progress parses)
            out["logs"] = "Generating...\n 40%|####      | 20/50 [00:04<00:06]"
        if status == "succeeded":
            out["metrics"] = {"predict_time": 12.5}
            out["completed_at"] = self.clock.iso(job.finished_at)
            out["output"] = None if removed else self.media_url(f"{job.id}.mp4")
        if status == "failed":
            out["error"] = ("The input or output was flagged as sensitive. Please try again with different inputs. "
                            "(E005)") if job.plan == "policy" else "CUDA out of memory"
        return out

    def get(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"title": "Not found", "detail": "Prediction not found", "status": 404})
        job.polls += 1
        return Response(200, self._prediction(job))

    def list(self, req: Request) -> Response:
        """[list]: newest first, 100 a page, cursor pagination through `next`."""
        start = int((req.query.get("cursor") or ["0"])[0])
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)
        page = jobs[start:start + 100]
        more = start + 100 < len(jobs)
        return Response(200, {"previous": None, "results": [self._prediction(j) for j in page],
                              "next": f"{self.url}/v1/predictions?cursor={start + 100}" if more else None})

    def cancel(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"title": "Not found", "detail": "Prediction not found", "status": 404})
        phase = self.phase(job)
        if phase in ("queued", "running"):
            job.canceled, job.canceled_phase = True, phase
        return Response(200, self._prediction(job))

    def upload(self, req: Request) -> Response:
        parts = parse_multipart(req)
        if "content" not in parts:
            return Response(400, {"title": "Bad request", "detail": "missing content", "status": 400})
        file_id = self.new_id("file")
        self.uploads[file_id] = parts["content"]
        name, data = parts["content"]
        return Response(201, {"id": file_id, "name": name or "file", "content_type": "image/png", "size": len(data),
                              "etag": "x", "checksums": {}, "metadata": {}, "created_at": self.clock.iso(),
                              "expires_at": None, "urls": {"get": f"{self.url}/v1/files/{file_id}"}})


ReplicateStandIn = ReplicateSim  # the stand-in's old name
