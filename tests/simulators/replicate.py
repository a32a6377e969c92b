"""Stand-in for the Replicate HTTP API (replicate.com/docs/reference/http).

POST /v1/models/{owner}/{name}/predictions and POST /v1/predictions (with "version") -> 201
prediction {"id", "status": "starting", "urls": {...}}; GET /v1/predictions/{id} -> status
starting | processing | succeeded | failed | canceled, "logs", "output", "error";
POST /v1/predictions/{id}/cancel; POST /v1/files (multipart field "content") -> file with
urls.get. Auth: `Authorization: Bearer`. Errors are RFC 7807 problem details.
"""

from __future__ import annotations

from datetime import datetime, timezone

from simulators._http import Request, Response, Simulator, parse_multipart

SCHEMAS = {  # model -> {input name: allowed values or type}
    "bytedance/seedance-1-lite": {"prompt": str, "duration": {5, 10}, "resolution": {"480p", "720p", "1080p"},
                                  "aspect_ratio": str, "fps": {24}, "seed": int, "image": str,
                                  "last_frame_image": str},
    "minimax/hailuo-02": {"prompt": str, "duration": {6, 10}, "resolution": {"512p", "768p", "1080p"},
                          "prompt_optimizer": bool, "first_frame_image": str},
    "kwaivgi/kling-v2.1": {"prompt": str, "duration": {5, 10}, "mode": {"standard", "pro"}, "start_image": str,
                           "negative_prompt": str},
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class ReplicateSim(Simulator):
    provider = 'replicate'
    key_env = 'REPLICATE_API_TOKEN'
    base_url_env = 'DREAMCUT_REPLICATE_BASE_URL'

    def setup_routes(self) -> None:
        self.add("POST", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/predictions", "create", self.create)
        self.add("POST", r"/v1/predictions", "create", self.create)
        self.add("GET", r"/v1/predictions/(?P<id>[^/]+)", "get", self.get)
        self.add("POST", r"/v1/predictions/(?P<id>[^/]+)/cancel", "cancel", self.cancel)
        self.add("POST", r"/v1/files", "upload", self.upload)
        self.uploads: dict[str, tuple[str | None, bytes]] = {}
        self.versions = {"5e1fd8ab": "minimax/hailuo-02"}  # version id -> the model it belongs to

    def unauthorized(self) -> Response:
        return Response(401, {"title": "Unauthenticated", "detail": "You did not pass a valid authentication token",
                              "status": 401})

    def create(self, req: Request) -> Response:
        body = req.json()
        model = f"{req.params['owner']}/{req.params['name']}" if "owner" in req.params else body.get("version", "")
        model = self.versions.get(model, model).split(":")[0]
        schema = SCHEMAS.get(model) or SCHEMAS["bytedance/seedance-1-lite"]
        invalid = []
        for name, value in (body.get("input") or {}).items():
            allowed = schema.get(name)
            if allowed is None:
                invalid.append(f"- input: Additional property {name} is not allowed")
            elif isinstance(allowed, set) and value not in allowed:
                invalid.append(f"- input.{name}: {name} must be one of the following: {sorted(allowed, key=str)}")
        if invalid:
            return Response(422, {"title": "Input validation failed", "detail": "\n".join(invalid), "status": 422})
        job = self.new_job({"model": model, **body})
        return Response(201, self._prediction(job, "starting"))

    def _prediction(self, job, status: str, **extra) -> dict:
        base = f"{self.url}/v1/predictions/{job.id}"
        return {"id": job.id, "model": job.request["model"], "version": job.request.get("version", "hash"),
                "input": job.request.get("input"), "status": status, "output": None, "logs": "", "error": None,
                "metrics": {}, "created_at": _now(), "started_at": None, "completed_at": None,
                "urls": {"get": base, "cancel": base + "/cancel", "stream": base + "/stream"}, **extra}

    def get(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"title": "Not found", "detail": "Prediction not found", "status": 404})
        job.polls += 1
        phase = job.phase(self.clock.now())
        if phase == "queued":
            return Response(200, self._prediction(job, "starting"))
        if phase == "running":
            return Response(200, self._prediction(job, "processing",
                                                  logs="Generating...\n 40%|####      | 20/50 [00:04<00:06]"))
        if phase == "canceled":
            return Response(200, self._prediction(job, "canceled"))
        if phase == "done":
            return Response(200, self._prediction(job, "succeeded", output=self.media_url(f"{job.id}.mp4"),
                                                  metrics={"predict_time": 12.5}))
        if phase == "policy":
            return Response(200, self._prediction(job, "failed", error=(
                "The input or output was flagged as sensitive. Please try again with different inputs. (E005)")))
        return Response(200, self._prediction(job, "failed", error="CUDA out of memory"))

    def cancel(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"title": "Not found", "detail": "Prediction not found", "status": 404})
        job.canceled = True
        return Response(200, self._prediction(job, "canceled"))

    def upload(self, req: Request) -> Response:
        parts = parse_multipart(req)
        if "content" not in parts:
            return Response(400, {"title": "Bad request", "detail": "missing content", "status": 400})
        file_id = self.new_id("file")
        self.uploads[file_id] = parts["content"]
        name, data = parts["content"]
        return Response(201, {"id": file_id, "name": name or "file", "content_type": "image/png", "size": len(data),
                              "etag": "x", "checksums": {}, "metadata": {}, "created_at": _now(),
                              "expires_at": None, "urls": {"get": f"{self.url}/v1/files/{file_id}"}})


ReplicateStandIn = ReplicateSim  # the stand-in's old name
