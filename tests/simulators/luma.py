"""Simulator of the Luma Dream Machine API (api.lumalabs.ai/dream-machine/v1).

POST /generations/video -> 201 Generation {"id", "state": "queued", "request", ...};
POST /generations/image (photon, the cast keyframe) -> 201 Generation, `assets.image` when completed;
GET /generations/{id} -> Generation with state queued | dreaming | completed | failed, `failure_reason`,
`assets.video`; GET /generations?limit&offset -> {"generations", "count", "has_more", "limit", "offset"},
newest first; DELETE /generations/{id} -> 204. Auth: `Authorization: Bearer`. Errors: {"detail": "..."}.
There is no cancel: a generation, once accepted, renders and is billed.

Sources (read 2026-11-29):
[sdk]      lumaai 1.21.0 site-packages/lumaai/resources/generations/generations.py (create -> POST
           /generations/video, list(limit, offset), get, delete "Remove a specific generation by its ID")
[types]    lumaai 1.21.0 site-packages/lumaai/types/generation.py, generation_create_params.py,
           generation_list_response.py
[spec]     github.com/lumalabs/lumaai-api openapi.yaml (v1alpha): Error = {"detail"}, list order "descending"
[images]   docs.lumalabs.ai/docs/video-generation (as quoted in public code; the page itself was not
           reachable here): "You should upload and use your own cdn image urls, currently this is the only
           way to pass an image"
[credits]  https://docs.lumalabs.ai/changelog/callbacks-and-credits-balance (credit_balance in cents)
[sdk-image] lumaai 1.21.0 site-packages/lumaai/resources/generations/image.py (create -> POST /generations/image,
           answered with a Generation) and types/generations/image_create_params.py (model photon-1 |
           photon-flash-1, aspect_ratio, character_ref.identity0.images: URLs, image_ref / style_ref: [{url,
           weight}]), types/generation.py (generation_type "image", assets.image), read 2026-11-30
[refs-max] docs.comfy.org Luma Reference / Luma Text to Image nodes: at most 4 reference images, and 4 character
           images, "according to API requirements" (read 2026-11-30)
[image-price] Luma's per-image prices as Comfy's API nodes pass them through (Comfy-Org/docs
           tutorials/api-nodes/pricing.mdx: photon-1 $0.0073, photon-flash-1 $0.0019; read 2026-11-30)
Not found in any source read: Luma's rate-limit headers, the exact answer to a data: URI, whether a
failed generation is billed, and whether DELETE stops a generation. The simulator says so where it acts.
"""

from __future__ import annotations

import io
from decimal import Decimal

from simulators._http import Job, Request, Response, Simulator, qs_one

PREFIX = "/dream-machine/v1"
ASPECTS = {"1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"}  # [types] create params
RESOLUTIONS = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}
RATIO = {"1:1": (1, 1), "16:9": (16, 9), "9:16": (9, 16), "4:3": (4, 3), "3:4": (3, 4), "21:9": (21, 9),
         "9:21": (9, 21)}
# USD per million rendered pixels at 24 fps (lumalabs.ai/api pricing as the backend cites it, read 2025-10;
# a copy kept here so a wrong backend price shows up as ledger != books).
USD_PER_MPX = {"ray-2": Decimal("0.0064"), "ray-flash-2": Decimal("0.0022")}
USD_PER_IMAGE = {"photon-1": Decimal("0.0073"), "photon-flash-1": Decimal("0.0019")}  # [image-price], a copy


def tiny_jpeg() -> bytes:
    """A small real JPEG: what a completed image generation's `assets.image` serves here."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (128, 72), (200, 120, 40)).save(buf, "JPEG")
    return buf.getvalue()


def pixels(aspect: str, resolution: str) -> int:
    a, b = RATIO[aspect]
    short = RESOLUTIONS[resolution]
    long = int(round(short * max(a, b) / min(a, b) / 2)) * 2
    return long * short


class LumaSim(Simulator):
    provider = "luma"
    key_env = "LUMAAI_API_KEY"
    base_url_env = "DREAMCUT_LUMA_BASE_URL"
    base_path = PREFIX

    def setup_routes(self) -> None:
        self.add("POST", PREFIX + r"/generations/video", "create", self.create)
        self.add("POST", PREFIX + r"/generations/image", "create_image", self.create_image)
        self.add("GET", PREFIX + r"/generations", "list", self.list)
        self.add("GET", PREFIX + r"/generations/(?P<id>[^/]+)", "get", self.get)
        self.add("DELETE", PREFIX + r"/generations/(?P<id>[^/]+)", "delete", self.delete)

    @property
    def base_url(self) -> str:
        return self.url + PREFIX

    def unauthorized(self) -> Response:
        return Response(401, {"detail": "Invalid authentication credentials"})  # [spec] Error = {"detail"}

    def rate_limited(self, req: Request) -> Response:
        # [spec] error shape {"detail"}; Luma's rate-limit headers are not documented in any source read.
        return Response(429, {"detail": "Too many requests, please slow down"})

    def server_error(self, req: Request, status: int = 500) -> Response:
        return Response(status, {"detail": "Internal server error"})

    # -- books -------------------------------------------------------------------------------

    def billed(self, job: Job) -> Decimal:
        """A completed generation: its pixels x 24 fps x seconds x the model's rate. Failed: 0 (Luma's
        billing of failures is not documented in any source read; assumed not billed)."""
        if self.phase(job) != "done":
            return Decimal(0)
        body = job.request
        if body.get("generation_type") == "image":  # [image-price]: a flat price per image
            return USD_PER_IMAGE[body["model"]]
        seconds = int(str(body["duration"]).rstrip("s"))
        mpx = Decimal(pixels(body["aspect_ratio"], body["resolution"]) * 24 * seconds) / Decimal(1_000_000)
        return USD_PER_MPX[body["model"]] * mpx

    def state_name(self, job: Job) -> str:
        return {"queued": "queued", "running": "dreaming", "done": "completed"}.get(self.phase(job), "failed")

    # -- routes ------------------------------------------------------------------------------

    def create(self, req: Request) -> Response:
        body = req.json()
        problems = []
        if body.get("model") not in USD_PER_MPX:
            problems.append(f"invalid model {body.get('model')!r}")
        if body.get("duration") not in ("5s", "9s"):
            problems.append(f"invalid duration {body.get('duration')!r}")
        if body.get("aspect_ratio") not in ASPECTS:
            problems.append("invalid aspect_ratio")
        if body.get("resolution") not in RESOLUTIONS:
            problems.append("invalid resolution")
        for slot, frame in (body.get("keyframes") or {}).items():
            if frame.get("type") == "generation" and frame.get("id") not in self.jobs:
                problems.append(f"{slot} generation not found")
            if frame.get("type") == "image":
                url = str(frame.get("url") or "")
                # [images]: image keyframes are hosted URLs, "the only way to pass an image". A data: URI is
                # refused here with a 400; the real answer's wording is not documented.
                if not url.startswith(("https://", "http://")):
                    problems.append(f"keyframes.{slot}.url must be a publicly reachable image URL")
        if problems:
            return Response(400, {"detail": "; ".join(problems)})
        job = self.new_job(body, prompt=body.get("prompt"))
        return Response(201, self._generation(job, "queued"))

    def create_image(self, req: Request) -> Response:
        """[sdk-image] POST /generations/image: a photon generation, polled at GET /generations/{id} like a
        video one; references are hosted URLs ([images]), at most 4 each ([refs-max])."""
        body = req.json()
        problems = []
        if body.get("model") not in USD_PER_IMAGE:
            problems.append(f"invalid model {body.get('model')!r}")
        if body.get("aspect_ratio", "16:9") not in ASPECTS:
            problems.append("invalid aspect_ratio")
        identity = ((body.get("character_ref") or {}).get("identity0") or {}).get("images") or []
        refs = [(f"character_ref.identity0.images[{i}]", u) for i, u in enumerate(identity)]
        for kind in ("image_ref", "style_ref"):
            refs += [(f"{kind}[{i}].url", (r or {}).get("url")) for i, r in enumerate(body.get(kind) or [])]
            if len(body.get(kind) or []) > 4:
                problems.append(f"{kind}: at most 4 images")
        if len(identity) > 4:
            problems.append("character_ref.identity0.images: at most 4 images")
        for where, url in refs:
            if not str(url or "").startswith(("https://", "http://")):
                problems.append(f"{where} must be a publicly reachable image URL")
        if problems:
            return Response(400, {"detail": "; ".join(problems)})
        body.setdefault("generation_type", "image")
        job = self.new_job(body, prompt=body.get("prompt"))
        return Response(201, self._generation(job, "queued"))

    def _generation(self, job: Job, state: str, **extra) -> dict:
        kind = "image" if job.request.get("generation_type") == "image" else "video"
        return {"id": job.id, "generation_type": kind, "state": state, "failure_reason": None,
                "created_at": self.clock.iso(job.created_at), "assets": None, "model": job.request["model"],
                "request": {"generation_type": kind, **job.request}, **extra}

    def _view(self, job: Job) -> dict:
        phase = self.phase(job)
        # [types] Generation.state: queued | dreaming | completed | failed; `failure_reason` on failure.
        if phase == "queued":
            return self._generation(job, "queued")
        if phase == "running":
            return self._generation(job, "dreaming")
        if phase == "done":
            if job.request.get("generation_type") == "image":  # [sdk-image] types/generation.py: assets.image
                return self._generation(job, "completed", assets={"image": self.media_url(f"{job.id}.jpg")})
            return self._generation(job, "completed", assets={
                "video": self.media_url(f"{job.id}.mp4"), "image": None, "progress_video": None})
        if phase == "policy":
            return self._generation(job, "failed", failure_reason="400: prompt not allowed because advanced "
                                                                  "moderation failed")
        return self._generation(job, "failed", failure_reason="500: internal error")

    def get(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None or job.extra.get("deleted"):
            return Response(404, {"detail": "Generation not found"})
        job.polls += 1
        return Response(200, self._view(job))

    def list(self, req: Request) -> Response:
        limit = int(qs_one(req, "limit", "100") or 100)
        offset = int(qs_one(req, "offset", "0") or 0)
        with self.lock:
            jobs = sorted((j for j in self.jobs.values() if not j.extra.get("deleted")),
                          key=lambda j: j.created_at, reverse=True)  # [spec]: order "descending"
        page = jobs[offset:offset + limit]
        return Response(200, {"generations": [self._view(j) for j in page], "count": len(page),
                              "has_more": offset + limit < len(jobs), "limit": limit, "offset": offset})

    def _media(self, req: Request) -> Response:
        if req.params["name"].endswith(".jpg"):
            return Response(200, tiny_jpeg(), {"Content-Type": "image/jpeg"})
        return super()._media(req)

    def delete(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is not None:
            # [sdk]: delete "Remove[s] a specific generation". Nothing read says it stops or refunds one, so
            # the generation keeps rendering and is billed; it just is not listed or fetched any more.
            job.extra["deleted"] = True
        return Response(204, b"")


LumaStandIn = LumaSim  # the stand-in's old name
