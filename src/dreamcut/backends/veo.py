"""Google Veo through the official `google-genai` SDK: `generate_videos` + operation polling.

Reads top to bottom as build request -> submit -> poll -> download:
- build: a `GenerateVideosSource` (prompt, first-frame image) and a `GenerateVideosConfig`
  (duration_seconds, aspect_ratio, resolution, negative_prompt, seed, number_of_videos=1,
  audio off, last_frame for a second reference image). Images go inline as bytes.
- submit: `client.models.generate_videos(...)` = POST .../models/{model}:predictLongRunning;
  the operation's name is the job id.
- poll: `client.operations.get(operation)` = POST .../models/{model}:fetchPredictOperation;
  not done -> running; done with `error` -> failed (Google's code and message); done with
  every video removed by the safety filter (`raiMediaFilteredCount`) -> content_policy.
- download: the finished operation carries the video bytes inline (no output bucket is set; Vertex
  AI's Veo reference: without `storageUri` the response holds `bytesBase64Encoded`), so there is no
  URL to expire: the download writes the bytes the poll that saw the operation done already read
  (one fetchPredictOperation per take fewer, each one a whole video); they are used once, and a
  download tried again (or made by another process) reads the operation again.
- extend (Veo 3.1): a new operation whose source video is the previous take's bytes; the
  finished operation holds the whole video so far (source + 7 s).

Extensions (Veo 3.1 only), from docs.cloud.google.com/gemini-enterprise-agent-platform/models/video/
extend-videos (read 2026-11-29): the input video must be 1-30 s long and each call adds exactly
7 s; extension output is 720p. So a long take is one generation (4, 6 or 8 s) plus 7 s steps,
each step starting from a video of at most 30 s: the longest take is 8 + 4 x 7 = 36 s, and a
12 s shot is made as 6 + 7 = 13 s. `segment_plan` plans it, `price` prices what is made
(13 s, not 12), `made_seconds` and `notes` say so; a take that needs extending cannot be 1080p.

Failures, mapped so that money is never lost track of (google-genai 3.6 sends through `httpx2`,
so transport errors are httpx2 classes, not httpx's):
- a connection that was never made (refused, DNS, connect timeout): transient, nothing was sent;
- a create sent but unanswered (read timeout, dropped connection), answered 5xx, or answered
  with something that is not the API's JSON (an HTML page): `OutcomeUnknown` - Google may be
  rendering (and will bill) the video, so it is never re-sent blindly;
- the same failures while polling or downloading are transient (reading costs nothing).
Veo has no cancel (the SDK has none for video operations): `cancel_billing` is IMPOSSIBLE, a
video given up on here finishes and is billed there. google-genai cannot list video
operations, so `find_jobs` returns None: an unknown create is parked for `dreamcut reconcile`.

Why Vertex AI mode: in google-genai 3.x, `generate_videos` and video
operations are only implemented for the Vertex AI API (`vertexai=True`); the Gemini
Developer API path raises before sending anything. So the key in GOOGLE_API_KEY (or
GEMINI_API_KEY) is used as a Vertex AI express-mode API key (`x-goog-api-key`).
The SDK's own retries are off by default (`retry_args(None)` stops after one attempt,
google/genai/_api_client.py 3.6.1), so every failure reaches the orchestrator; we keep it so.

The key is never written anywhere and is scrubbed from messages. `DREAMCUT_VEO_BASE_URL`
replaces https://aiplatform.googleapis.com/ (tests, regional endpoints).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamcut.backends._cloud import (TableBackend, client_timeout, common_problems, create_status_error,
                                      env_base_url, env_key, http_status_error, is_remote, is_transport_error,
                                      load_ref, looks_like_policy, never_sent, outcome_unknown, pick_seconds,
                                      pick_size, ratio_text, ref_problems, scrub, write_video_bytes)
from dreamcut.backends._prompt import Draft, fit, timed_draft
from dreamcut.backends.base import (Capabilities, CancelBilling, GenerationRequest, JobState, JobStatus, Progress,
                                    ProviderError)
from dreamcut.backends._cast import FIRST_FRAME, CastRef, CastRouting, all_refs, first_frame_routing, with_first_frame
from dreamcut.errors import BadInput

# -- the prompt ------------------------------------------------------------------------

PROMPT_CHARS = 4000  # Gemini API docs: prompts up to 1024 tokens; ~4 chars/token
REFUSES_REAL_PEOPLE = True  # its published usage policy refuses prompts depicting real, identifiable people


def timestamp_label(a: float, b: float) -> str:
    """A scene's time as Veo's prompt guide writes it: "[00:00-00:04]"."""
    return f"[{int(a) // 60:02d}:{int(round(a)) % 60:02d}-{int(b) // 60:02d}:{int(round(b)) % 60:02d}]"


def prompt_draft(request: GenerationRequest) -> Draft:
    """Veo reads the scene, then the camera ("Camera: ..."), then the style; several scenes are one
    continuous shot with a "[00:00-00:04]" line each."""
    return timed_draft(request, timestamp_label)


def format_prompt(request: GenerationRequest, max_chars: int = PROMPT_CHARS) -> str:
    """The text Veo receives for `request`, within `max_chars` (see `_prompt.fit`)."""
    return fit(prompt_draft(request), max_chars)


PRICE_SOURCE = ("cloud.google.com/vertex-ai/generative-ai/pricing (Veo, video without audio), as of 2025-10; "
                "check before a large batch")

_V3_SIZES = {(1280, 720): "720p", (720, 1280): "720p", (1920, 1080): "1080p", (1080, 1920): "1080p"}
_V2_SIZES = {(1280, 720): None, (720, 1280): None}


@dataclass(frozen=True)
class _Model:
    durations: tuple[float, ...]
    sizes: dict[tuple[int, int], str | None]  # size -> `resolution` value (None: the model takes none)
    usd_per_second: float
    max_refs: int
    extend: bool
    audio_flag: bool  # Veo 3 models take generate_audio (we send False)

    def caps(self) -> Capabilities:
        return Capabilities(min_seconds=min(self.durations), max_seconds=max(self.durations),
                            durations=self.durations, sizes=tuple(self.sizes), image_conditioning=True,
                            extend=self.extend, max_prompt_chars=PROMPT_CHARS, price_per_second=self.usd_per_second,
                            price_source=PRICE_SOURCE, preview_mode="cheapest")


_V31 = _Model((4.0, 6.0, 8.0), _V3_SIZES, 0.20, max_refs=2, extend=True, audio_flag=True)
_V31_FAST = _Model((4.0, 6.0, 8.0), _V3_SIZES, 0.10, max_refs=2, extend=True, audio_flag=True)
MODELS: dict[str, _Model] = {
    "veo-3.1-generate-001": _V31,
    "veo-3.1-generate-preview": _V31,
    "veo-3.1-fast-generate-001": _V31_FAST,
    "veo-3.1-fast-generate-preview": _V31_FAST,
    "veo-3.0-generate-001": _Model((4.0, 6.0, 8.0), _V3_SIZES, 0.20, max_refs=1, extend=False, audio_flag=True),
    "veo-3.0-fast-generate-001": _Model((4.0, 6.0, 8.0), _V3_SIZES, 0.10, max_refs=1, extend=False,
                                        audio_flag=True),
    "veo-2.0-generate-001": _Model((5.0, 6.0, 7.0, 8.0), _V2_SIZES, 0.50, max_refs=2, extend=False,
                                   audio_flag=False),
}

# Models that take `reference_images` (type ASSET: a character, an object, a place), up to 3, with a
# prompt and no first/last frame, made at 8 s (google-genai 3.6 types.GenerateVideosConfig.reference_images;
# Veo 3.1 reference-to-video makes 8 s videos from up to three asset images).
REFERENCE_MODELS = frozenset({"veo-3.1-generate-001", "veo-3.1-generate-preview", "veo-3.1-fast-generate-001",
                              "veo-3.1-fast-generate-preview", "veo-2.0-generate-001"})
MAX_ASSET_REFS = 3
REFERENCE_SECONDS = 8.0

EXTEND_SECONDS = 7  # Veo 3.1 extends a video by exactly 7 s per call (extend-videos page, read 2026-11-29)
MAX_EXTEND_INPUT = 30  # the video given to an extension is 1-30 s long (same page)
EXTEND_RESOLUTION = "720p"  # extensions are made at 720p only (same page)

_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")
# google-genai's Client.__del__ closes its HTTP client: two threads racing to make the first Client
# would leave one thread sending through a closed one ("Cannot send a request, as the client has
# been closed"), failing a job Google renders and bills. So the Client is made under this lock.
_SDK_LOCK = threading.Lock()


class VeoBackend(TableBackend):
    """`veo:MODEL` in a spec; MODEL is one of `MODELS`."""

    name = "veo"
    min_poll_interval = 10.0
    models = MODELS
    model_fix = "write backend: veo:veo-3.1-fast-generate-001 (or another listed model)"

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self._videos: dict[str, bytes] = {}  # operation name -> its video, read by the poll that saw it done

    # -- what the model can do -------------------------------------------------------------

    def price(self, request: GenerationRequest) -> float:
        """Dollars for the whole take as Veo makes it: every second generated is billed, so a 12 s
        shot made as 6 + 7 s costs 13 s (Vertex AI pricing bills per second of video generated)."""
        return round(self._model.usd_per_second * self.made_seconds(request), 6)

    def extend_price(self, request: GenerationRequest) -> float:
        """Dollars for one extension call: 7 s of video, whatever length was wished."""
        return round(self._model.usd_per_second * EXTEND_SECONDS, 6)

    def made_seconds(self, request: GenerationRequest) -> float:
        """How long the take Veo makes for `request` is (>= the wish; see `segment_plan`)."""
        if request.preview or request.seconds <= max(self._model.durations) + 1e-6:
            return pick_seconds(self._caps, request)
        plan = self.segment_plan(request.seconds)
        return float(sum(plan)) if plan else pick_seconds(self._caps, request)

    def segment_plan(self, seconds: float) -> list[float] | None:
        """The calls that make a take of at least `seconds`: [generation, 7, 7, ...].

        One generation when one is long enough. Otherwise the first length and number of 7 s
        extensions that make the least video (then the fewest calls) with every extension
        starting from a video of at most 30 s. None when the model cannot extend or no chain
        reaches `seconds` (more than 8 + 4 x 7 = 36 s)."""
        durations = sorted(self._model.durations)
        if seconds <= durations[-1] + 1e-6:
            return [self._caps.nearest_duration(seconds)]
        if not self._model.extend:
            return None
        best: tuple[float, int, list[float]] | None = None
        for first in durations:
            plan, made = [first], first
            while made < seconds - 1e-6 and made <= MAX_EXTEND_INPUT + 1e-6:
                plan.append(float(EXTEND_SECONDS))
                made += EXTEND_SECONDS
            if made >= seconds - 1e-6 and (best is None or (made, len(plan)) < best[:2]):
                best = (made, len(plan), plan)
        return best[2] if best else None

    def take_notes(self, request: GenerationRequest) -> list[str]:
        """What Veo makes differently from the wish, said before any money is spent."""
        plan = None if request.preview else self.segment_plan(request.seconds)
        made = float(sum(plan)) if plan else 0.0
        if not plan or abs(made - request.seconds) < 1e-6:
            return []
        how = (" + ".join(f"{s:g}" for s in plan) + " s: Veo extends in 7 s steps") if len(plan) > 1 else \
            ("its lengths are " + ", ".join(f"{d:g}" for d in self._model.durations) + " s")
        return [f"veo makes {made:g} s for this {request.seconds:g} s shot ({how}); "
                f"it is priced and recorded as {made:g} s and trimmed in the edit"]

    def cast_routing(self, request: GenerationRequest) -> CastRouting:
        seconds = None if request.preview else pick_seconds(self._caps, request)
        return cast_routing(self.model, request.cast, request.refs, seconds=seconds)

    def problems(self, request: GenerationRequest) -> list[str]:
        request = with_first_frame(request, self.cast_routing(request))
        out = common_problems(self._caps, request, self.model) + ref_problems(
            request, self._caps, max_refs=self._model.max_refs, needs_image=False, model=self.model)
        if any(is_remote(r) for r in request.refs):
            out.append(f"{self.model} takes local reference images (or gs:// URIs), not http(s) URLs")
        if not request.preview and request.seconds > max(self._model.durations) + 1e-6 and self._model.extend:
            plan = self.segment_plan(request.seconds)
            if plan is None:
                longest = max(d + EXTEND_SECONDS * (1 + int((MAX_EXTEND_INPUT - d) // EXTEND_SECONDS))
                              for d in self._model.durations)
                out.append(f"{request.seconds:g} s is more than {self.model} reaches by extending (at most "
                           f"{longest:g} s: each 7 s extension starts from a video of at most {MAX_EXTEND_INPUT} s)")
            size = pick_size(self._caps, request)
            if size and self._model.sizes.get(size) != EXTEND_RESOLUTION:
                out.append(f"a {request.seconds:g} s take needs Veo extensions, which are made at 720p only; "
                           f"use {'1280x720' if size[0] >= size[1] else '720x1280'} or at most "
                           f"{max(self._model.durations):g} s at {size[0]}x{size[1]}")
        return out

    # -- build request ---------------------------------------------------------------------

    def build(self, request: GenerationRequest, *, video: bytes | None = None) -> dict[str, Any]:
        """Keyword arguments for `client.models.generate_videos`; `video` = bytes to extend."""
        from google.genai import types

        problems = self.problems(request)
        if problems:
            raise BadInput("; ".join(problems), where=request.shot_id, fix=f"see veo:{self.model} capabilities")
        size = pick_size(self._caps, request)
        routing = self.cast_routing(request)
        request = with_first_frame(request, routing)
        images = [self._image(ref, request.shot_id) for ref in request.refs]
        # The cast as asset references: never on an extension (the source video carries the cast).
        assets = [types.VideoGenerationReferenceImage(image=self._image(ref, request.shot_id), reference_type="ASSET")
                  for ref in routing.refs_to(ASSET_FIELD)] if video is None else []
        config = types.GenerateVideosConfig(
            number_of_videos=1,
            duration_seconds=EXTEND_SECONDS if video is not None else int(pick_seconds(self._caps, request)),
            aspect_ratio=ratio_text(size),
            resolution=EXTEND_RESOLUTION if video is not None else self._model.sizes[size],
            negative_prompt=request.negative_prompt or None,
            seed=request.seed % 4_294_967_295,
            generate_audio=False if self._model.audio_flag else None,
            last_frame=images[1] if len(images) > 1 else None,
            reference_images=assets or None,
        )
        source = types.GenerateVideosSource(
            prompt=request.prompt,
            image=images[0] if images and video is None else None,
            video=types.Video(video_bytes=video, mime_type="video/mp4") if video is not None else None,
        )
        return {"model": self.model, "source": source, "config": config}

    @staticmethod
    def _image(ref: str, where: str) -> Any:
        from google.genai import types

        if ref.startswith("gs://"):
            return types.Image(gcs_uri=ref, mime_type="image/png" if ref.endswith(".png") else "image/jpeg")
        image = load_ref(ref, where=where)
        return types.Image(image_bytes=image.data, mime_type=image.mime)

    # -- submit ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        return self._start(self.build(request))

    def extend(self, provider_job_id: str, request: GenerationRequest, idempotency_key: str) -> str:
        """Continue the finished take `provider_job_id` by 7 s (a new operation name)."""
        if not self._model.extend:
            raise BadInput(f"{self.model} cannot extend a video", where=request.shot_id,
                           fix="use veo-3.1-generate-001 or veo-3.1-fast-generate-001")
        video = self._video_bytes(provider_job_id)
        seconds = _mp4_seconds(video)
        if seconds is not None and seconds > MAX_EXTEND_INPUT + 0.05:
            raise ProviderError(f"veo: cannot extend a {seconds:.1f} s video: Veo extends videos of at most "
                                f"{MAX_EXTEND_INPUT} s", code="extend_input_too_long")
        return self._start(self.build(request, video=video))

    def _start(self, kwargs: dict[str, Any]) -> str:
        """The one paid call. Every failure after the request may have left is OutcomeUnknown."""
        try:
            operation = self._client().models.generate_videos(**kwargs)
        except Exception as e:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise self._error(e, create=True) from None
        if not operation.name:
            raise outcome_unknown("veo", "the answer held no operation name", [self._key])
        return operation.name

    # -- poll ------------------------------------------------------------------------------

    def poll(self, job_id: str) -> JobStatus:
        operation = self._operation(job_id)
        if not operation.done:
            return JobStatus(JobState.RUNNING, progress=0.5, poll_after=self.min_poll_interval)
        if operation.error:
            message = scrub(operation.error.get("message", operation.error), [self._key])
            code = "content_policy" if looks_like_policy(message) else f"google_{operation.error.get('code', 'error')}"
            return JobStatus(JobState.FAILED, error_code=code, error_message=f"veo: generation failed: {message}")
        result = operation.result or operation.response
        videos = (result.generated_videos or []) if result else []
        if not videos:
            reasons = "; ".join(result.rai_media_filtered_reasons or []) if result else ""
            if result and result.rai_media_filtered_count:
                return JobStatus(JobState.FAILED, error_code="content_policy",
                                 error_message=f"veo: the video was removed by Google's safety filter: "
                                               f"{scrub(reasons, [self._key]) or 'no reason given'}")
            return JobStatus(JobState.FAILED, error_code="no_output", error_message="veo: no video in the result")
        video = videos[0].video
        if video is not None and video.video_bytes:
            self._videos[job_id] = video.video_bytes  # the download needs no second fetch of the operation
        return JobStatus(JobState.COMPLETED, progress=1.0, cost_usd=None)

    # -- download --------------------------------------------------------------------------

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        write_video_bytes(self._video_bytes(job_id), Path(dest), provider="veo")
        if progress:
            progress(1.0)

    def _video_bytes(self, job_id: str) -> bytes:
        polled = self._videos.pop(job_id, None)  # read by the poll that saw it done: used once
        if polled is not None:
            return polled
        operation = self._operation(job_id)
        result = operation.result or operation.response
        videos = (result.generated_videos or []) if (operation.done and result) else []
        if not videos or not videos[0].video:
            raise ProviderError(f"veo: operation has no video (done={operation.done})", code="no_output")
        video = videos[0].video
        if not video.video_bytes:
            raise ProviderError("veo: the video was written to a storage bucket, not returned inline",
                                code="no_output")
        return video.video_bytes

    # -- money ---------------------------------------------------------------------------

    # google-genai has no cancel for video operations (operations.py 3.6.1 has get only), so a
    # video given up on here runs on at Google and is billed.
    cancel_billing = CancelBilling.IMPOSSIBLE

    def cancel(self, job_id: str) -> None:
        raise ProviderError("veo: video operations cannot be canceled through the API; it will finish and be billed",
                            code="cancel_unsupported")

    def charged(self, request: GenerationRequest, status: JobStatus) -> float:
        """Veo bills the seconds of video it delivers: a completed operation costs its price; an
        operation that ended in an error or with every video removed by the safety filter
        delivered nothing and is not billed (Vertex AI pricing, per second of generated video)."""
        if status.cost_usd is not None:
            return status.cost_usd
        return self.price(request) if status.state == JobState.COMPLETED else 0.0

    def find_jobs(self, request: GenerationRequest, idempotency_key: str, created_after: float) -> None:
        """None: google-genai 3.6 cannot list video operations (operations.get only) and the
        request carries no client tag, so an unknown create is parked for `dreamcut reconcile`."""
        return None

    # -- SDK plumbing ----------------------------------------------------------------------

    def _operation(self, job_id: str) -> Any:
        from google.genai import types

        try:
            return self._client().operations.get(types.GenerateVideosOperation(name=job_id))
        except Exception as e:  # noqa: BLE001
            raise self._error(e, create=False) from None

    def _client(self) -> Any:
        with _SDK_LOCK:  # one Client per backend: a second one, dropped, closes the shared transport (__del__)
            return self._client_locked()

    def _client_locked(self) -> Any:
        if self._sdk is None:
            from google import genai
            from google.genai import types

            self._key = env_key(["GOOGLE_API_KEY", "GEMINI_API_KEY"], provider="veo",
                                signup="https://console.cloud.google.com/vertex-ai (express mode API key)")
            base = env_base_url("DREAMCUT_VEO_BASE_URL")
            timeout_ms = int(client_timeout(300.0) * 1000)
            options = types.HttpOptions(base_url=base + "/", timeout=timeout_ms) if base else \
                types.HttpOptions(timeout=timeout_ms)
            self._sdk = genai.Client(vertexai=True, api_key=self._key, http_options=options)
        return self._sdk

    def _error(self, e: Exception, *, create: bool) -> Exception:
        """An SDK failure as a ProviderError; `create`: it came from the paid create (see module doc)."""
        import json

        import pydantic
        from google.genai import errors

        if isinstance(e, (BadInput, ProviderError)):
            return e
        if isinstance(e, errors.APIError):
            code = int(e.code or 500)
            message = f"{e.status or ''} {e.message or ''}".strip()
            headers = dict(getattr(getattr(e, "response", None), "headers", None) or {})
            if not any(k.lower() == "retry-after" for k in headers):
                delay = _retry_delay(e.details)
                if delay is not None:
                    headers["Retry-After"] = str(delay)
            mapping = create_status_error if create else http_status_error
            return mapping("veo", code, message, headers, [self._key])
        if is_transport_error(e):
            if create and not never_sent(e):
                return outcome_unknown("veo", f"the connection failed after sending ({type(e).__name__})",
                                       [self._key])
            return ProviderError(f"veo: network error ({scrub(f'{type(e).__name__}: {e}', [self._key])})",
                                 code="network", transient=True)
        if isinstance(e, (json.JSONDecodeError, errors.UnknownApiResponseError, pydantic.ValidationError)):
            # a 200 whose body is not the API's JSON (a proxy's HTML page, a truncated body)
            if create:
                return outcome_unknown("veo", f"the answer was not the API's JSON ({type(e).__name__})", [self._key])
            return ProviderError(f"veo: unreadable answer ({scrub(type(e).__name__, [self._key])})",
                                 code="malformed", transient=True)
        # Anything else (an SDK bug, a closed client): never fail a job Google may be rendering for good.
        if create:
            return outcome_unknown("veo", f"the SDK failed unexpectedly ({type(e).__name__})", [self._key])
        return ProviderError(f"veo: {type(e).__name__}: {scrub(e, [self._key])}", code="error", transient=True)


def _retry_delay(details: Any) -> float | None:
    """`google.rpc.RetryInfo.retryDelay` ("17s") from a Google error body, if present."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for item in (error.get("details") or []) if isinstance(error, dict) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            m = _DELAY.match(str(item.get("retryDelay", "")))
            if m:
                return float(m.group(1))
    return None


def _mp4_seconds(data: bytes) -> float | None:
    """The duration in an MP4's `mvhd` box (timescale, duration), or None if there is none."""
    import struct

    at = data.find(b"mvhd")
    if at < 4 or at + 28 > len(data):
        return None
    version = data[at + 4]
    if version == 1 and at + 40 <= len(data):
        timescale, duration = struct.unpack(">IQ", data[at + 24:at + 36])
    else:
        timescale, duration = struct.unpack(">II", data[at + 16:at + 24])
    return duration / timescale if timescale else None


ASSET_FIELD = "reference_images (ASSET)"


def cast_routing(model: str | None, cast, own_refs, *, seconds: float | None = None) -> CastRouting:
    """Veo 3.1 (and 2.0) take up to three `reference_images` of type ASSET (a character, an object, a
    place) with the prompt: the cast goes there, local files inline as bytes, gs:// as URIs, when the
    shot gives no first-frame image of its own (Veo refuses both together) and the generation is the
    8 s that reference-to-video makes. Other Veo models: the first cast picture as the first frame."""
    label = f"veo:{model}"
    usable = lambda ref: not ref.startswith(("http://", "https://"))  # noqa: E731 - Veo fetches no web URLs
    unusable = "an http(s) URL: Veo takes local files (sent inline) or gs:// URIs"
    if model not in REFERENCE_MODELS:
        return first_frame_routing(label, cast, own_refs, slots=1, field=f"{FIRST_FRAME} (image)",
                                   why_one=f"{model} takes one image, as the first frame (no reference images)",
                                   usable=usable, unusable=unusable)
    sent: list[CastRef] = []
    dropped: list[tuple[str, str, str]] = []
    for member, ref in all_refs(cast):
        if not usable(ref):
            dropped.append((member, ref, unusable))
        elif own_refs:
            dropped.append((member, ref, "the shot's own refs are its first frame, and Veo takes reference images "
                                         "only without one"))
        elif seconds is not None and abs(seconds - REFERENCE_SECONDS) > 1e-6:
            dropped.append((member, ref, f"Veo makes reference-to-video takes of {REFERENCE_SECONDS:g} s only "
                                         f"(this one is {seconds:g} s)"))
        elif len(sent) >= MAX_ASSET_REFS:
            dropped.append((member, ref, f"Veo takes at most {MAX_ASSET_REFS} asset reference images"))
        else:
            sent.append(CastRef(member, ref, ASSET_FIELD))
    how = ("cast pictures as asset reference images; descriptions in the prompt" if sent
           else "descriptions in the prompt only")
    return CastRouting(label, tuple(sent), tuple(dropped), how)
