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
- download: the finished operation carries the video bytes inline (no output bucket is set).
- extend (Veo 3.1): a new operation whose source video is the previous take's bytes.

Why Vertex AI mode: in the installed google-genai (3.4), `generate_videos` and video
operations are only implemented for the Vertex AI API (`vertexai=True`); the Gemini
Developer API path raises before sending anything. So the key in GOOGLE_API_KEY (or
GEMINI_API_KEY) is used as a Vertex AI express-mode API key (`x-goog-api-key`).
The SDK's own retries are off by default, so every failure reaches the orchestrator.

The key is never written anywhere and is scrubbed from messages. `DREAMCUT_VEO_BASE_URL`
replaces https://aiplatform.googleapis.com/ (tests, regional endpoints).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamcut.backends._cloud import (lookup_model, common_problems, env_base_url, env_key, http_status_error, is_remote,
                                      load_ref, looks_like_policy, pick_seconds, pick_size, ratio_text, ref_problems,
                                      scrub, write_video_bytes)
from dreamcut.backends.base import (Capabilities, GenerationRequest, JobState, JobStatus, Progress, ProviderError)
from dreamcut.errors import BadInput

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
                            extend=self.extend, max_prompt_chars=4000, price_per_second=self.usd_per_second,
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

EXTEND_SECONDS = 7  # Veo 3.1 extends a video by 7 s per call

_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


class VeoBackend:
    """`veo:MODEL` in a spec; MODEL is one of `MODELS`."""

    name = "veo"
    min_poll_interval = 10.0

    def __init__(self, model: str | None = None) -> None:
        self._model = lookup_model("veo", MODELS, model, "write backend: veo:veo-3.1-fast-generate-001 (or another listed model)")
        self.model = model
        self._caps = self._model.caps()
        self._key: str | None = None
        self._sdk: Any = None

    # -- what the model can do -------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return self._caps

    def price(self, request: GenerationRequest) -> float:
        return round(self._model.usd_per_second * pick_seconds(self._caps, request), 6)

    def problems(self, request: GenerationRequest) -> list[str]:
        out = common_problems(self._caps, request, self.model) + ref_problems(
            request, self._caps, max_refs=self._model.max_refs, needs_image=False, model=self.model)
        if any(is_remote(r) for r in request.refs):
            out.append(f"{self.model} takes local reference images (or gs:// URIs), not http(s) URLs")
        return out

    # -- build request ---------------------------------------------------------------------

    def build(self, request: GenerationRequest, *, video: bytes | None = None) -> dict[str, Any]:
        """Keyword arguments for `client.models.generate_videos`; `video` = bytes to extend."""
        from google.genai import types

        problems = self.problems(request)
        if problems:
            raise BadInput("; ".join(problems), where=request.shot_id, fix=f"see veo:{self.model} capabilities")
        size = pick_size(self._caps, request)
        images = [self._image(ref, request.shot_id) for ref in request.refs]
        config = types.GenerateVideosConfig(
            number_of_videos=1,
            duration_seconds=EXTEND_SECONDS if video is not None else int(pick_seconds(self._caps, request)),
            aspect_ratio=ratio_text(size),
            resolution=self._model.sizes[size],
            negative_prompt=request.negative_prompt or None,
            seed=request.seed % 4_294_967_295,
            generate_audio=False if self._model.audio_flag else None,
            last_frame=images[1] if len(images) > 1 else None,
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
        return self._start(self.build(request, video=self._video_bytes(provider_job_id)))

    def _start(self, kwargs: dict[str, Any]) -> str:
        try:
            operation = self._client().models.generate_videos(**kwargs)
        except Exception as e:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise self._error(e) from None
        if not operation.name:
            raise ProviderError("veo: the API returned an operation without a name", code="bad_response",
                                transient=True)
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
        return JobStatus(JobState.COMPLETED, progress=1.0, cost_usd=None)

    # -- download --------------------------------------------------------------------------

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        write_video_bytes(self._video_bytes(job_id), Path(dest), provider="veo")
        if progress:
            progress(1.0)

    def _video_bytes(self, job_id: str) -> bytes:
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

    def cancel(self, job_id: str) -> None:
        raise ProviderError("veo: video operations cannot be canceled through the API; it will finish and be billed",
                            code="cancel_unsupported")

    # -- SDK plumbing ----------------------------------------------------------------------

    def _operation(self, job_id: str) -> Any:
        from google.genai import types

        try:
            return self._client().operations.get(types.GenerateVideosOperation(name=job_id))
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None

    def _client(self) -> Any:
        if self._sdk is None:
            from google import genai
            from google.genai import types

            self._key = env_key(["GOOGLE_API_KEY", "GEMINI_API_KEY"], provider="veo",
                                signup="https://console.cloud.google.com/vertex-ai (express mode API key)")
            base = env_base_url("DREAMCUT_VEO_BASE_URL")
            options = types.HttpOptions(base_url=base + "/", timeout=300_000) if base else \
                types.HttpOptions(timeout=300_000)
            self._sdk = genai.Client(vertexai=True, api_key=self._key, http_options=options)
        return self._sdk

    def _error(self, e: Exception) -> Exception:
        import httpx
        from google.genai import errors

        if isinstance(e, (BadInput, ProviderError)):
            return e
        if isinstance(e, errors.APIError):
            headers = dict(getattr(getattr(e, "response", None), "headers", None) or {})
            if not any(k.lower() == "retry-after" for k in headers):
                delay = _retry_delay(e.details)
                if delay is not None:
                    headers["Retry-After"] = str(delay)
            message = f"{e.status or ''} {e.message or ''}".strip()
            return http_status_error("veo", int(e.code or 500), message, headers, [self._key])
        if isinstance(e, httpx.HTTPError):
            return ProviderError(f"veo: network error ({scrub(e, [self._key])})", code="network", transient=True)
        return ProviderError(f"veo: {type(e).__name__}: {scrub(e, [self._key])}", code="error")


def _retry_delay(details: Any) -> float | None:
    """`google.rpc.RetryInfo.retryDelay` ("17s") from a Google error body, if present."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for item in (error.get("details") or []) if isinstance(error, dict) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            m = _DELAY.match(str(item.get("retryDelay", "")))
            if m:
                return float(m.group(1))
    return None
