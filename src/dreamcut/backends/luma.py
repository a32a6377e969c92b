"""Luma Dream Machine (api.lumalabs.ai/dream-machine/v1) through the official `lumaai` SDK.

Reads top to bottom as build request -> submit -> poll -> download:
- build: `ray-2` or `ray-flash-2`, duration "5s" | "9s", a resolution (540p/720p/1080p/4k)
  and an aspect ratio chosen from the shot's size; reference images become keyframes
  (frame0 = first frame, frame1 = last frame). Luma takes hosted image URLs only ("You should
  upload and use your own cdn image urls, currently this is the only way to pass an image",
  docs.lumalabs.ai/docs/video-generation): an https ref is passed through; a local file is a
  problem before any money is spent (one line: host it and give its https URL).
- extend: a new generation whose frame0 is the previous generation
  (`{"type": "generation", "id": ...}`): Luma continues that clip.
- submit: POST /generations/video with the SDK's retries off (no idempotency key at Luma).
  A create whose answer is lost raises `OutcomeUnknown`; `find_jobs` then lists generations
  (GET /generations, newest first) and matches the same request (prompt, model, duration,
  aspect ratio, resolution, keyframes) created since the attempt.
- poll: GET /generations/{id}: queued -> dreaming -> completed | failed (failure_reason).
- download: `assets.video` of the completed generation, as the poll that saw it complete read it
  (one GET of the generation per poll, none more; kept across a transient failure, read again after
  any other). Luma documents no lifetime for it ("The URL of the video", Get generation at
  docs.lumalabs.ai/reference, lumaai's `Assets.video`): an unsigned CDN path that reading the
  generation again returns unchanged, unlike Runway's signed, expiring URLs.
- cast keyframe (a shot's `cast_keyframe: true`): first POST /generations/image (photon) with the cast's
  hosted pictures as `character_ref.identity0.images` / `image_ref` (`LumaCastKeyframe`); the video's
  frame0 is then the image URL Luma hosts (`assets.image`).

Luma has no cancel endpoint (`cancel_billing` is IMPOSSIBLE): `cancel` says so instead of
deleting (deleting a generation is not documented to stop or refund it); a generation timed
out here finishes and is billed there. Whether a failed generation is billed is not
documented: `charged` counts it as free, as the simulator does.

The key is LUMAAI_API_KEY (environment only, scrubbed from messages);
`DREAMCUT_LUMA_BASE_URL` replaces the SDK's base URL (include `/dream-machine/v1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamcut.backends._cloud import (TableBackend, client_timeout, common_problems, download_url, env_base_url,
                                      env_key, is_remote, looks_like_policy, outcome_unknown, pick_seconds, pick_size,
                                      ref_problems, scrub, sdk_error)
from dreamcut.backends._prompt import Draft, fit, seconds_label, timed_draft
from dreamcut.backends.base import (CancelBilling, Capabilities, GenerationRequest, JobState, JobStatus, Progress,
                                    ProviderError, ProviderJob)
from dreamcut.backends._cast import (CAST_KEYFRAME, FIRST_FRAME, CastRef, CastRouting, after_keyframe,
                                     first_frame_routing, through_keyframe, wants_keyframe, with_first_frame)
from dreamcut.errors import BadInput

# -- the prompt ------------------------------------------------------------------------

PROMPT_CHARS = 2000  # not published in the lumaai SDK; conservative
REFUSES_REAL_PEOPLE = True  # its published usage policy refuses prompts depicting real, identifiable people


def prompt_draft(request: GenerationRequest) -> Draft:
    """Luma reads the scene first and the camera move after it ("Camera: ..."); several scenes are
    one continuous shot with a "0–4 s:" line each."""
    return timed_draft(request, seconds_label)


def format_prompt(request: GenerationRequest, max_chars: int = PROMPT_CHARS) -> str:
    """The text Luma receives for `request`, within `max_chars` (see `_prompt.fit`)."""
    return fit(prompt_draft(request), max_chars)


FPS = 24  # Luma renders at 24 fps; its price is per million rendered pixels
PRICE_SOURCE = "lumalabs.ai/api pricing (USD per million pixels at 24 fps), as of 2025-10; check before a large batch"

_ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4), "21:9": (21, 9),
            "9:21": (9, 21)}
_RESOLUTIONS = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}


def _size(aspect: tuple[int, int], short: int) -> tuple[int, int]:
    a, b = aspect
    long = int(round(short * max(a, b) / min(a, b) / 2)) * 2
    return (long, short) if a >= b else (short, long)


# (width, height) -> (aspect_ratio, resolution) as Luma names them
SIZES: dict[tuple[int, int], tuple[str, str]] = {
    _size(ar, px): (name, res) for name, ar in _ASPECTS.items() for res, px in _RESOLUTIONS.items()
}


@dataclass(frozen=True)
class _Model:
    usd_per_megapixel: float

    def caps(self) -> Capabilities:
        per_second_720p = self.usd_per_megapixel * 1280 * 720 * FPS / 1e6
        return Capabilities(min_seconds=5, max_seconds=9, durations=(5.0, 9.0), sizes=tuple(SIZES),
                            image_conditioning=True, extend=True, max_prompt_chars=5000,
                            price_per_second=round(per_second_720p, 4),
                            price_source=f"{PRICE_SOURCE} (${self.usd_per_megapixel}/Mpx; 720p 16:9)",
                            preview_mode="cheapest")


MODELS: dict[str, _Model] = {
    "ray-2": _Model(usd_per_megapixel=0.0064),
    "ray-flash-2": _Model(usd_per_megapixel=0.0022),
}


_STATES = {"queued": JobState.QUEUED, "dreaming": JobState.RUNNING, "completed": JobState.COMPLETED,
           "failed": JobState.FAILED}


def _same_keyframes(sent: Any, want: Any) -> bool:
    """The keyframes Luma echoes back in `request` name the same frames we would send."""
    if not want:
        return not sent
    if not isinstance(sent, dict):
        return False
    return all({k: v for k, v in (sent.get(slot) or {}).items() if v is not None} == frame
               for slot, frame in want.items())


class LumaBackend(TableBackend):
    """`luma:MODEL` in a spec. MODEL is one of `MODELS`."""

    name = "luma"
    cancel_billing = CancelBilling.IMPOSSIBLE
    min_poll_interval = 3.0
    models = MODELS
    model_fix = "write backend: luma:ray-2 (or luma:ray-flash-2)"

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self._videos: dict[str, str] = {}  # generation id -> `assets.video`, read by the poll that saw it complete

    # -- what the model can do -------------------------------------------------------------

    def price(self, request: GenerationRequest) -> float:
        w, h = pick_size(self._caps, request) or (1280, 720)
        seconds = pick_seconds(self._caps, request)
        return round(self._model.usd_per_megapixel * w * h * FPS * seconds / 1e6, 6)

    def cast_routing(self, request: GenerationRequest) -> CastRouting:
        if wants_keyframe(request):
            return self.cast_keyframe(request).routing(request)
        return cast_routing(self.model, request.cast, request.refs)

    def cast_keyframe(self, request: GenerationRequest) -> "LumaCastKeyframe | None":
        """The photon step that makes this take's first frame from its cast's pictures (`character_ref`),
        when the shot asks for one (`cast_keyframe: true`, cast pictures, no first frame of its own)."""
        return LumaCastKeyframe(self) if wants_keyframe(request) else None

    def problems(self, request: GenerationRequest) -> list[str]:
        step = self.cast_keyframe(request)
        if step is not None:  # the video starts from the keyframe (a hosted URL Luma returns)
            return step.problems(request) + self.problems(after_keyframe(request, _KEYFRAME_PLACEHOLDER))
        routing = self.cast_routing(request)
        request = with_first_frame(request, routing)
        out = list(routing.problems) + common_problems(self._caps, request, self.model) + ref_problems(
            request, self._caps, max_refs=2, needs_image=False, model=self.model)
        local = [Path(ref).name for ref in request.refs if not is_remote(ref)]
        if local:
            out.append(f"luma takes reference images as hosted URLs only, not local files ({', '.join(local)}): "
                       f"upload them and put their https:// URLs in refs:")
        return out

    def charged(self, request: GenerationRequest, status: JobStatus) -> float:
        """A completed generation costs its price; a failed one is counted free (not documented either way)."""
        return self.price(request) if status.state == JobState.COMPLETED else 0.0

    # -- build request ---------------------------------------------------------------------

    def build(self, request: GenerationRequest, *, continue_from: str | None = None) -> dict[str, Any]:
        """SDK keyword arguments for `request`; `continue_from` = a generation id to extend."""
        if wants_keyframe(request):  # never a video without the keyframe it was priced with
            raise BadInput("this take starts from its cast keyframe, which is made first", where=request.shot_id,
                           fix="make it with `dreamcut generate` (the keyframe, then the video from it)")
        problems = self.problems(request)
        if problems:
            raise BadInput("; ".join(problems), where=request.shot_id, fix=f"see luma:{self.model} capabilities")
        if not continue_from:  # an extension goes on from its generation: a cast picture is not its last frame
            request = with_first_frame(request, self.cast_routing(request))
        size = pick_size(self._caps, request)
        aspect, resolution = SIZES[size]
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "duration": f"{pick_seconds(self._caps, request):g}s",
            "resolution": resolution,
            "aspect_ratio": aspect,
            "loop": False,
        }
        keyframes: dict[str, Any] = {}
        if continue_from:
            keyframes["frame0"] = {"type": "generation", "id": continue_from}
        images = list(request.refs)  # all hosted URLs: problems() refused local files above
        slots = ["frame1"] if continue_from else ["frame0", "frame1"]
        for slot, url in zip(slots, images):
            keyframes[slot] = {"type": "image", "url": url}
        if keyframes:
            body["keyframes"] = keyframes
        return body

    # -- submit ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        return self._create(self.build(request))

    def extend(self, provider_job_id: str, request: GenerationRequest, idempotency_key: str) -> str:
        """Continue generation `provider_job_id` for `request.seconds` more (a new generation id)."""
        return self._create(self.build(request, continue_from=provider_job_id))

    def _create(self, body: dict[str, Any]) -> str:
        try:
            generation = self._client().with_options(max_retries=0).generations.create(**body)
        except Exception as e:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise self._error(e, create=True) from None
        generation_id = getattr(generation, "id", None)
        if not isinstance(generation_id, str) or not generation_id:
            raise outcome_unknown("luma", "the answer was not a generation (no JSON id)", [self._key])
        return generation_id

    def find_jobs(self, request: GenerationRequest, idempotency_key: str, created_after: float,
                  *, continue_from: str | None = None, max_pages: int = 10) -> list[ProviderJob]:
        """Generations created since `created_after` whose request is this one (Luma carries no client
        tag): GET /generations, newest first, page by page until older than `created_after`."""
        return self._find(self.build(request, continue_from=continue_from), created_after, max_pages)

    def _find(self, want: dict[str, Any], created_after: float, max_pages: int = 10) -> list[ProviderJob]:
        found: list[ProviderJob] = []
        for page in range(max_pages):
            try:
                answer = self._client().generations.list(limit=100, offset=page * 100)
            except Exception as e:  # noqa: BLE001
                raise self._error(e) from None
            generations = getattr(answer, "generations", None)
            if generations is None:
                raise ProviderError("luma: the list answer was not JSON", code="bad_answer", transient=True)
            older = False
            for g in generations:
                created = g.created_at.timestamp() if g.created_at else None
                if created is not None and created < created_after:
                    older = True
                    continue
                sent = g.request.model_dump(exclude_none=True) if g.request is not None else {}
                if all(sent.get(k) == v for k, v in want.items() if k != "keyframes") and \
                        _same_keyframes(sent.get("keyframes"), want.get("keyframes")):
                    found.append(ProviderJob(g.id, _STATES.get(g.state or "", JobState.QUEUED), created,
                                             prompt=sent.get("prompt")))
            if older or not getattr(answer, "has_more", False):
                break
        return found

    # -- poll ------------------------------------------------------------------------------

    def poll(self, job_id: str) -> JobStatus:
        generation = self._get(job_id)
        state = getattr(generation, "state", None)
        if state is None:
            raise ProviderError("luma: the generation answer was not JSON", code="bad_answer", transient=True)
        if state == "queued":
            return JobStatus(JobState.QUEUED, poll_after=self.min_poll_interval)
        if state == "dreaming":
            return JobStatus(JobState.RUNNING, progress=0.5, poll_after=self.min_poll_interval)
        if state == "completed":
            assets = getattr(generation, "assets", None)
            if assets is not None and assets.video:
                self._videos[job_id] = assets.video  # the download needs no second GET of the generation
            return JobStatus(JobState.COMPLETED, progress=1.0)
        reason = scrub(generation.failure_reason or "no reason given", [self._key])
        code = "content_policy" if looks_like_policy(reason) else "failed"
        return JobStatus(JobState.FAILED, error_code=code, error_message=f"luma: generation failed: {reason}")

    # -- download --------------------------------------------------------------------------

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        # The URL the completing poll read (kept across a transient failure), else the generation's.
        video = self._videos.get(job_id)
        if video is None:
            generation = self._get(job_id)
            assets = getattr(generation, "assets", None)
            video = assets.video if assets else None
            if getattr(generation, "state", None) != "completed" or not video:
                state = getattr(generation, "state", None)
                raise ProviderError(f"luma: generation {job_id} has no video (state {state})", code="no_output",
                                    transient=state is None)  # None: the answer was not the generation (not JSON)
            self._videos[job_id] = video
        try:
            download_url(video, Path(dest), provider="luma", progress=progress, secrets=[self._key])
        except ProviderError as e:
            if not e.transient:
                self._videos.pop(job_id, None)
            raise
        self._videos.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        raise ProviderError("luma: the Luma API cannot cancel a generation; it will finish and be billed",
                            code="cancel_unsupported")

    # -- SDK plumbing ----------------------------------------------------------------------

    def _get(self, job_id: str) -> Any:
        try:
            return self._client().generations.get(job_id)
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None

    def _client(self) -> Any:
        if self._sdk is None:
            from lumaai import LumaAI

            self._key = env_key(["LUMAAI_API_KEY"], provider="luma", signup="https://lumalabs.ai/api/keys")
            self._sdk = LumaAI(auth_token=self._key, base_url=env_base_url("DREAMCUT_LUMA_BASE_URL"),
                               timeout=client_timeout(), max_retries=2)
        return self._sdk

    def _error(self, e: Exception, *, create: bool = False) -> Exception:
        """The ProviderError for an SDK failure (`_cloud.sdk_error`; Luma's body says `detail` or `error`)."""
        import lumaai

        return sdk_error("luma", lumaai, e, create=create, secrets=[self._key],
                         message_of=lambda body, default: body.get("detail") or body.get("error") or default)


def cast_routing(model: str | None, cast, own_refs) -> CastRouting:
    """Luma's video models (ray-2, ray-flash-2) take images only as keyframes, by hosted URL; its
    character references (`character_ref`) belong to the image models (photon), not to video. So the
    first cast reference becomes keyframe frame0 when the shot gives none (or, with the shot's
    `cast_keyframe: true`, a photon keyframe made from every cast picture does: `LumaCastKeyframe`). A local cast picture is a
    problem before any money is spent: Luma cannot fetch it."""
    routing = first_frame_routing(
        f"luma:{model}", cast, own_refs, slots=2, field=f"{FIRST_FRAME} (keyframes.frame0)",
        why_one="Luma's video models take one keyframe per end (character_ref is for its image models only)",
        usable=is_remote, unusable="a local file: Luma takes hosted image URLs only")
    local = [ref for _, ref, why in routing.dropped if why.startswith("a local file")]
    if not local:
        return routing
    names = ", ".join(Path(r).name for r in local)
    return CastRouting(routing.backend, routing.sent, routing.dropped, routing.how, (
        f"luma takes cast reference images as hosted URLs only, not local files ({names}): upload them and put "
        f"their https:// URLs in the cast's refs:",))


# -- the cast keyframe: photon with character_ref, then ray from it ---------------------------------

# The image model of each video model: the quality one with the quality one, flash with flash.
IMAGE_MODELS = {"ray-2": "photon-1", "ray-flash-2": "photon-flash-1"}
# USD per image. Luma's API prices as Comfy's API nodes pass them through (github.com/Comfy-Org/docs
# tutorials/api-nodes/pricing.mdx, PR 514, read 2026-11-30): photon-1 $0.0073, photon-flash-1 $0.0019; the
# same table's ray-2 720p 5 s at $0.71 is this file's $0.0064/Mpx, so the table follows Luma's own prices.
IMAGE_PRICES = {"photon-1": 0.0073, "photon-flash-1": 0.0019}
IMAGE_PRICE_SOURCE = "Luma API prices via Comfy-Org/docs api-nodes/pricing.mdx (photon-1 $0.0073, photon-flash-1 $0.0019 an image), read 2026-11-30"
# lumaai 1.21.0 types/generations/image_create_params.py: character_ref.identity0.images (URLs), image_ref
# [{url, weight}]; at most 4 images each "according to API requirements" (docs.comfy.org Luma Reference and
# Luma Text to Image nodes, read 2026-11-30).
MAX_IDENTITY_IMAGES = 4
MAX_IMAGE_REFS = 4
IMAGE_REF_WEIGHT = 0.85  # the weight Luma's image references default to in its hosted tools (replicate.com/luma/photon)
_KEYFRAME_PLACEHOLDER = "https://keyframe.invalid/cast-keyframe.jpg"  # stands for the keyframe in `problems`


def _keyframe_refs(cast) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """((member, url, field) sent, (member, ref, why) dropped): the first member with hosted pictures is
    `character_ref.identity0` (Luma's API has one identity), every other member's pictures go to
    `image_ref`; local files are dropped (Luma takes hosted URLs only: a problem before money)."""
    sent, dropped = [], []
    identity: str | None = None
    n_identity = n_image = 0
    for member in cast:
        hosted = [r for r in member.refs if is_remote(r)]
        dropped += [(member.name, r, "a local file: Luma takes hosted image URLs only")
                    for r in member.refs if not is_remote(r)]
        if hosted and identity is None:
            identity = member.name
        for url in hosted:
            if member.name == identity and n_identity < MAX_IDENTITY_IMAGES:
                sent.append((member.name, url, "character_ref.identity0.images"))
                n_identity += 1
            elif member.name != identity and n_image < MAX_IMAGE_REFS:
                sent.append((member.name, url, "image_ref"))
                n_image += 1
            else:
                dropped.append((member.name, url, "Luma takes at most 4 pictures per reference kind"))
    return sent, dropped


def keyframe_routing(model: str | None, cast, size: tuple[int, int]) -> CastRouting:
    """`dreamcut check`'s words for a take with `cast_keyframe: true` (pure: no SDK, no files read)."""
    sent, dropped = _keyframe_refs(cast)
    image = IMAGE_MODELS.get(model or "", "photon-1")
    how = (f"cast keyframe from {len(sent)} reference{'s' if len(sent) != 1 else ''} via {image} "
           f"(${IMAGE_PRICES[image]:.4f}), then {model}")
    routing = through_keyframe(f"luma:{model}", how, [CastRef(m, u, f"{CAST_KEYFRAME} ({f})") for m, u, f in sent],
                               dropped, f"{FIRST_FRAME} (keyframes.frame0)")
    local = [Path(r).name for _, r, why in dropped if why.startswith("a local file")]
    if not local:
        return routing
    return CastRouting(routing.backend, routing.sent, routing.dropped, routing.how, (
        f"luma takes cast reference images as hosted URLs only, not local files ({', '.join(local)}): upload them "
        f"and put their https:// URLs in the cast's refs:",))


class LumaCastKeyframe:
    """The keyframe step of a Luma take: POST /generations/image (photon) with the first member's pictures as
    `character_ref.identity0.images` and the others' as `image_ref`; polled and billed like a video
    generation (GET /generations/{id}); its `assets.image` (a URL Luma hosts) is the video's frame0."""

    name = "luma"
    suffix = ".jpg"
    cancel_billing = CancelBilling.IMPOSSIBLE
    min_poll_interval = LumaBackend.min_poll_interval

    def __init__(self, video: LumaBackend) -> None:
        self._video = video
        self.model = IMAGE_MODELS[video.model]

    def price(self, request: GenerationRequest) -> float:
        return IMAGE_PRICES[self.model]

    def routing(self, request: GenerationRequest) -> CastRouting:
        return keyframe_routing(self._video.model, request.cast, (request.width, request.height))

    def problems(self, request: GenerationRequest) -> list[str]:
        routing = self.routing(request)
        return list(routing.problems) + ([] if routing.sent else ["no hosted cast picture for the keyframe"])

    def build(self, request: GenerationRequest) -> dict[str, Any]:
        sent, _ = _keyframe_refs(request.cast)
        aspect, _ = SIZES[pick_size(self._video._caps, request)]
        body: dict[str, Any] = {"model": self.model, "generation_type": "image", "prompt": request.prompt,
                                "aspect_ratio": aspect}
        identity = [u for _, u, f in sent if f.startswith("character_ref")]
        images = [{"url": u, "weight": IMAGE_REF_WEIGHT} for _, u, f in sent if f == "image_ref"]
        if identity:
            body["character_ref"] = {"identity0": {"images": identity}}
        if images:
            body["image_ref"] = images
        return body

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        body = self.build(request)
        try:
            generation = self._video._client().with_options(max_retries=0).generations.image.create(**body)
        except Exception as e:  # noqa: BLE001
            raise self._video._error(e, create=True) from None
        generation_id = getattr(generation, "id", None)
        if not isinstance(generation_id, str) or not generation_id:
            raise outcome_unknown("luma", "the answer was not a generation (no JSON id)", [self._video._key])
        return generation_id

    def find_jobs(self, request: GenerationRequest, idempotency_key: str, created_after: float) -> list[ProviderJob]:
        """Image generations created since `created_after` whose request is this one (as for video)."""
        return self._video._find(self.build(request), created_after)

    def poll(self, job_id: str) -> JobStatus:
        return self._video.poll(job_id)

    def charged(self, request: GenerationRequest, status: JobStatus) -> float:
        """A completed image costs its price; a failed one is counted free (as the video: not documented)."""
        return self.price(request) if status.state == JobState.COMPLETED else 0.0

    def image_url(self, job_id: str) -> str:
        generation = self._video._get(job_id)
        assets = getattr(generation, "assets", None)
        url = assets.image if assets else None
        if getattr(generation, "state", None) != "completed" or not url:
            state = getattr(generation, "state", None)
            raise ProviderError(f"luma: generation {job_id} has no image (state {state})", code="no_output",
                                transient=state is None)
        return url

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        download_url(self.image_url(job_id), Path(dest), provider="luma", progress=progress,
                     secrets=[self._video._key])

    def cancel(self, job_id: str) -> None:
        self._video.cancel(job_id)

    def video_ref(self, job_id: str, path: Path) -> str:
        """The keyframe as Luma hosts it (`assets.image`): frame0 of the video is that URL."""
        return self.image_url(job_id)
