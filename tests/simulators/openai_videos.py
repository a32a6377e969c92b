"""Simulator of OpenAI's `/v1/videos` API (Sora 2) as it was documented and as the `openai` SDK 3.57
calls it: the reference for every compatible server the `openai-videos` backend may meet.

POST /v1/videos (multipart: prompt, model, seconds, size, input_reference?) -> a Video;
GET /v1/videos/{id} -> a Video (header `openai-poll-after-ms`); GET /v1/videos?after&limit&order -> a page
of Videos, newest first; GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet -> bytes;
POST /v1/videos/extensions (multipart: prompt, seconds, video[id]); POST /v1/videos/{id}/remix (prompt);
DELETE /v1/videos/{id}; GET /v1/models. A Video: {"id", "object": "video", "created_at", "completed_at",
"expires_at", "model", "progress", "prompt", "remixed_from_video_id", "seconds", "size", "status", "error"}
(openai/types/video.py 3.57.0). Errors: {"error": {"message", "type", "param", "code"}}.

Behaviours, each from its source (platform.openai.com/docs/api-reference/videos and
developers.openai.com/api/docs/guides/video-generation, read 2026-11-29, unless said):
- no idempotency: the official API defines no Idempotency-Key; this simulator ignores the header, so every
  create that reaches it is a new, billed video.
- statuses queued -> in_progress -> completed | failed (a failed video carries `error.code`, e.g.
  moderation_blocked).
- no cancel: DELETE is documented for a completed or failed video (it removes it and its assets); asked of a
  queued or running video it answers 400 here and the video runs on (the reference documents nothing else).
- billing: per second of video by model and size (OpenAI pricing: sora-2 $0.10/s; sora-2-pro $0.30/s at
  720p, $0.50/s at 1024x1792), billed when the video completes; an extension bills the seconds it adds, a remix
  the source's seconds. A failed video is counted as unbilled (an assumption: the pricing page bills
  generated seconds and says nothing of failures).
- retention: a Video carries `expires_at` (types/video.py); the simulator sets it one hour after completion
  (an assumed window) and answers 404 for its content afterwards.
- rate limits: 429 with `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
  `x-ratelimit-reset-requests` and `retry-after` (platform.openai.com/docs/guides/rate-limits).
- listing: GET /v1/videos lists videos newest first with their prompts, the only way to find a video
  whose create answer was lost.
"""

from __future__ import annotations

from decimal import Decimal

from simulators._http import Job, Request, Response, Simulator, parse_multipart, qs_one, tiny_mp4, usd

SIZES = {"sora-2": {"720x1280", "1280x720"},
         "sora-2-pro": {"720x1280", "1280x720", "1024x1792", "1792x1024"}}
SECONDS = {"4", "8", "12"}
EXTEND_SECONDS = {"4", "8", "12", "16", "20"}
RETENTION_S = 3600
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def per_second(model: str, size: str) -> Decimal:
    if model == "sora-2-pro":
        return usd("0.50") if "1792" in size else usd("0.30")
    return usd("0.10")


def openai_error(status: int, message: str, type_: str, code: str | None = None, param: str | None = None) -> Response:
    return Response(status, {"error": {"message": message, "type": type_, "param": param, "code": code}})


class OpenAISim(Simulator):
    provider = "openai-videos"
    key_env = "OPENAI_API_KEY"
    base_url_env = "DREAMCUT_OPENAI_BASE_URL"
    base_path = "/v1"
    create_routes = ("create", "extend", "remix")

    def setup_routes(self) -> None:
        self.add("GET", r"/v1/models", "models", self.models)
        self.add("POST", r"/v1/videos", "create", self.create)
        self.add("GET", r"/v1/videos", "list", self.list)
        self.add("POST", r"/v1/videos/extensions", "extend", self.extend)
        self.add("POST", r"/v1/videos/(?P<id>[^/]+)/remix", "remix", self.remix)
        self.add("GET", r"/v1/videos/(?P<id>[^/]+)/content", "content", self.content)
        self.add("GET", r"/v1/videos/(?P<id>[^/]+)", "retrieve", self.retrieve)
        self.add("DELETE", r"/v1/videos/(?P<id>[^/]+)", "delete", self.delete)

    def unauthorized(self) -> Response:
        return openai_error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")

    def rate_limited(self, req: Request) -> Response:
        return Response(429, {"error": {"message": "Rate limit reached for requests", "type": "requests",
                                        "param": None, "code": "rate_limit_exceeded"}},
                        {"x-ratelimit-limit-requests": "50", "x-ratelimit-remaining-requests": "0",
                         "x-ratelimit-reset-requests": "1s", "retry-after": "1"})

    def server_error(self, req: Request, status: int = 500) -> Response:
        return openai_error(status, "The server had an error while processing your request. Sorry about that!",
                            "server_error")

    # -- the API -----------------------------------------------------------------------------

    def models(self, req: Request) -> Response:
        return Response(200, {"object": "list", "data": [
            {"id": m, "object": "model", "created": 1759708800, "owned_by": "system"} for m in SIZES]})

    def create(self, req: Request) -> Response:
        form = {k: v.decode() for k, (filename, v) in parse_multipart(req).items() if filename is None}
        model, seconds, size = form.get("model", "sora-2"), form.get("seconds", "4"), form.get("size", "720x1280")
        prompt = form.get("prompt", "").strip()
        if not prompt:
            return openai_error(400, "Missing required parameter: 'prompt'.", "invalid_request_error",
                                "missing_required_parameter", "prompt")
        if model not in SIZES:
            return openai_error(400, f"The model '{model}' does not exist.", "invalid_request_error",
                                "model_not_found", "model")
        if seconds not in SECONDS:
            return openai_error(400, f"Invalid value: '{seconds}'. Supported values are: '4', '8', and '12'.",
                                "invalid_request_error", "invalid_value", "seconds")
        if size not in SIZES[model]:
            return openai_error(400, f"Invalid value: '{size}'.", "invalid_request_error", "invalid_value", "size")
        return Response(200, self._new(model, prompt, int(seconds), size, billed=int(seconds)))

    def extend(self, req: Request) -> Response:
        form = {k: v.decode() for k, (filename, v) in parse_multipart(req).items() if filename is None}
        source = self.jobs.get(form.get("video[id]", ""))
        if source is None:
            return openai_error(404, "Video not found.", "invalid_request_error", "video_not_found")
        if self._status(source) != "completed":
            return openai_error(400, "Only completed videos can be extended.", "invalid_request_error",
                                "invalid_video_state")
        seconds = form.get("seconds", "4")
        if seconds not in EXTEND_SECONDS:
            return openai_error(400, f"Invalid value: '{seconds}'.", "invalid_request_error", "invalid_value",
                                "seconds")
        total = source.extra["seconds"] + int(seconds)  # the extension's `seconds` is the stitched total
        return Response(200, self._new(source.extra["model"], form.get("prompt", ""), total, source.extra["size"],
                                       billed=int(seconds)))

    def remix(self, req: Request) -> Response:
        source = self.jobs.get(req.params["id"])
        if source is None:
            return openai_error(404, "Video not found.", "invalid_request_error", "video_not_found")
        if (req.header("Content-Type") or "").startswith("application/json"):  # the SDK sends remix as JSON
            prompt = str((req.json() or {}).get("prompt", ""))
        else:
            prompt = {k: v.decode() for k, (f, v) in parse_multipart(req).items() if f is None}.get("prompt", "")
        return Response(200, self._new(source.extra["model"], prompt, source.extra["seconds"], source.extra["size"],
                                       billed=source.extra["seconds"], remixed_from=source.id))

    def retrieve(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None or job.extra.get("deleted"):
            return openai_error(404, f"Video with id '{req.params['id']}' not found.", "invalid_request_error",
                                "video_not_found")
        job.polls += 1
        return Response(200, self._video(job), {"openai-poll-after-ms": "10"})

    def list(self, req: Request) -> Response:
        limit = max(1, min(100, int(qs_one(req, "limit", "20"))))
        order, after = qs_one(req, "order", "desc"), qs_one(req, "after")
        jobs = sorted((j for j in self.jobs.values() if not j.extra.get("deleted")),
                      key=lambda j: (j.created_at, j.id), reverse=order != "asc")
        if after:
            ids = [j.id for j in jobs]
            jobs = jobs[ids.index(after) + 1:] if after in ids else []
        page = jobs[:limit]
        return Response(200, {"object": "list", "data": [self._video(j) for j in page],
                              "first_id": page[0].id if page else None, "last_id": page[-1].id if page else None,
                              "has_more": len(jobs) > limit})

    def content(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None or job.extra.get("deleted") or self._status(job) != "completed":
            return openai_error(404, "Video content not found.", "invalid_request_error", "video_not_found")
        if self.clock.now() > job.finished_at + RETENTION_S:
            return openai_error(404, "The video's assets have expired.", "invalid_request_error", "video_expired")
        variant = qs_one(req, "variant", "video")
        if variant == "thumbnail":
            return Response(200, JPEG, {"Content-Type": "image/jpeg"})
        return Response(200, tiny_mp4(), {"Content-Type": "video/mp4"})

    def delete(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None or job.extra.get("deleted"):
            return openai_error(404, "Video not found.", "invalid_request_error", "video_not_found")
        if self._status(job) not in ("completed", "failed"):
            return openai_error(400, "Only completed or failed videos can be deleted.", "invalid_request_error",
                                "invalid_video_state")
        job.extra["deleted"] = True
        return Response(200, {"id": job.id, "object": "video.deleted", "deleted": True})

    # -- jobs and books ----------------------------------------------------------------------

    def _new(self, model: str, prompt: str, seconds: int, size: str, *, billed: int,
             remixed_from: str | None = None) -> dict:
        job = self.new_job({"model": model, "prompt": prompt}, prefix="video_", prompt=prompt)
        job.extra.update(model=model, seconds=seconds, size=size, billed_seconds=billed, remixed_from=remixed_from)
        return self._video(job)

    def _status(self, job: Job) -> str:
        return {"queued": "queued", "running": "in_progress", "done": "completed"}.get(self.phase(job), "failed")

    def _video(self, job: Job) -> dict:
        status = self._status(job)
        done = status in ("completed", "failed")
        error = None
        if status == "failed":
            error = ({"code": "moderation_blocked", "message": "Your request was blocked by our moderation system."}
                     if job.plan == "policy" else {"code": "internal_error", "message": "Video generation failed."})
        return {"id": job.id, "object": "video", "created_at": int(job.created_at),
                "completed_at": int(job.finished_at) if done else None,
                "expires_at": int(job.finished_at + RETENTION_S) if status == "completed" else None,
                "model": job.extra["model"], "progress": 100 if done else (0 if status == "queued" else 50),
                "prompt": job.prompt, "remixed_from_video_id": job.extra["remixed_from"],
                "seconds": str(job.extra["seconds"]), "size": job.extra["size"], "status": status, "error": error}

    def state_name(self, job: Job) -> str:
        return self._status(job)

    def billed(self, job: Job) -> Decimal:
        if self._status(job) != "completed":
            return Decimal(0)
        return per_second(job.extra["model"], job.extra["size"]) * job.extra["billed_seconds"]
