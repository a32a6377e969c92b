"""Stand-in for the Luma Dream Machine API (docs.lumalabs.ai, /dream-machine/v1).

POST /dream-machine/v1/generations/video -> 201 Generation {"id", "state": "queued", ...};
GET /dream-machine/v1/generations/{id} -> Generation with state queued | dreaming | completed
| failed, `failure_reason`, `assets.video`; DELETE /dream-machine/v1/generations/{id}.
Auth: `Authorization: Bearer`. Errors: {"detail": "..."}.
"""

from __future__ import annotations

from datetime import datetime, timezone

from simulators._http import Request, Response, Simulator

PREFIX = "/dream-machine/v1"
ASPECTS = {"1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"}


class LumaSim(Simulator):
    provider = 'luma'
    key_env = 'LUMAAI_API_KEY'
    base_url_env = 'DREAMCUT_LUMA_BASE_URL'
    base_path = PREFIX

    def setup_routes(self) -> None:
        self.add("POST", PREFIX + r"/generations/video", "create", self.create)
        self.add("GET", PREFIX + r"/generations/(?P<id>[^/]+)", "get", self.get)
        self.add("DELETE", PREFIX + r"/generations/(?P<id>[^/]+)", "delete", self.delete)

    @property
    def base_url(self) -> str:
        return self.url + PREFIX

    def unauthorized(self) -> Response:
        return Response(401, {"detail": "Invalid authentication credentials"})

    def create(self, req: Request) -> Response:
        body = req.json()
        problems = []
        if body.get("model") not in ("ray-2", "ray-flash-2"):
            problems.append(f"invalid model {body.get('model')!r}")
        if body.get("duration") not in ("5s", "9s"):
            problems.append(f"invalid duration {body.get('duration')!r}")
        if body.get("aspect_ratio") not in ASPECTS:
            problems.append("invalid aspect_ratio")
        if body.get("resolution") not in ("540p", "720p", "1080p", "4k"):
            problems.append("invalid resolution")
        frame0 = (body.get("keyframes") or {}).get("frame0") or {}
        if frame0.get("type") == "generation" and frame0.get("id") not in self.jobs:
            problems.append("frame0 generation not found")
        if problems:
            return Response(400, {"detail": "; ".join(problems)})
        job = self.new_job(body)
        return Response(201, self._generation(job, "queued"))

    def _generation(self, job, state: str, **extra) -> dict:
        return {"id": job.id, "generation_type": "video", "state": state, "failure_reason": None,
                "created_at": datetime.now(timezone.utc).isoformat(), "assets": None, "model": job.request["model"],
                "request": {"generation_type": "video", **job.request}, **extra}

    def get(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None:
            return Response(404, {"detail": "Generation not found"})
        job.polls += 1
        phase = job.phase(self.clock.now())
        if phase == "queued":
            return Response(200, self._generation(job, "queued"))
        if phase == "running":
            return Response(200, self._generation(job, "dreaming"))
        if phase == "done":
            return Response(200, self._generation(job, "completed", assets={
                "video": self.media_url(f"{job.id}.mp4"), "image": None, "progress_video": None}))
        if phase == "policy":
            return Response(200, self._generation(job, "failed") | {
                "failure_reason": "400: prompt not allowed because advanced moderation failed"})
        return Response(200, self._generation(job, "failed") | {"failure_reason": "500: internal error"})

    def delete(self, req: Request) -> Response:
        self.jobs.pop(req.params["id"], None)
        return Response(204, b"")


LumaStandIn = LumaSim  # the stand-in's old name
