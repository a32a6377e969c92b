"""Replicate (api.replicate.com) predictions through the official `replicate` SDK.

Reads top to bottom as build request -> submit -> poll -> download:
- build: each known video model names its inputs differently (`image` / `first_frame_image`
  / `start_image`, `resolution` / `mode`); `MODELS` holds, per model, its lengths, sizes,
  prices and a small function that writes its input dict. A model may be pinned to a
  version as `owner/name:VERSION`. Reference images are handed to the SDK as files, which
  it uploads to Replicate's Files API and replaces by their URL (the SDK's own way).
  `aspect_ratio` is the nearest of the model's fixed set (1366x768 -> 16:9, never 683:384).
- submit: POST /v1/models/{owner}/{name}/predictions (or /v1/predictions with a version).
  Sent through the SDK's HTTP client (which never retries a POST) with a timeout, since the
  SDK's own create sets none; a create is sent once: Replicate has no idempotency key.
  A create whose answer is lost raises `OutcomeUnknown`; `find_jobs` then lists predictions
  (GET /v1/predictions, newest first) and matches model + input since the attempt (inputs are
  removed after an hour, so only recent creates can be matched).
- poll: GET /v1/predictions/{id}: starting -> processing -> succeeded | failed | canceled |
  aborted (a deadline passed before it started; not billed). Read as raw JSON: replicate 1.0.7's
  Prediction model does not accept "aborted". Progress comes from the model's progress bar.
- download: the prediction's output URL (or the first of a list), as the poll that saw it succeed
  read it (one GET of the prediction per take, not two; kept across a transient failure). API
  outputs are deleted an hour after the prediction
  (replicate.com/docs/topics/predictions/data-retention): a take not
  fetched in time is paid for and lost, and says so (`output_expired`, not retried).
- cancel: POST /v1/predictions/{id}/cancel. Canceled predictions are billed ("only charged for
  predictions with a canceled status, not for aborted ones"), so `cancel_billing` is BILLED.

The key is REPLICATE_API_TOKEN (environment only, scrubbed from messages);
`DREAMCUT_REPLICATE_BASE_URL` points the SDK elsewhere (tests).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from dreamcut.backends._cloud import (client_timeout, common_problems, connection_failed, create_status_error,
                                      download_url, env_base_url, env_key, http_status_error, is_remote, load_ref,
                                      looks_like_policy, outcome_unknown, pick_seconds, pick_size, ref_problems,
                                      scrub, unreadable_answer)
from dreamcut.backends._prompt import Draft, fit, seconds_label, timed_draft
from dreamcut.backends.base import (CancelBilling, Capabilities, GenerationRequest, JobState, JobStatus, Progress,
                                    ProviderError, ProviderJob)
from dreamcut.backends._cast import FIRST_FRAME, CastRef, CastRouting, all_refs, first_frame_routing, with_first_frame
from dreamcut.errors import BadInput

# -- the prompt ------------------------------------------------------------------------

PROMPT_CHARS = 2000  # depends on the hosted model; conservative


def prompt_draft(request: GenerationRequest) -> Draft:
    """The scene first, the camera move after it; several scenes are one continuous shot with a
    "0–4 s:" line each (as for fal: the hosted models' guides agree on this)."""
    return timed_draft(request, seconds_label)


def format_prompt(request: GenerationRequest, max_chars: int = PROMPT_CHARS) -> str:
    """The text a Replicate model receives for `request`, within `max_chars` (see `_prompt.fit`)."""
    return fit(prompt_draft(request), max_chars)


PRICE_SOURCE = "replicate.com model pages (USD per second of output), as of 2025-10; check before a large batch"

Inputs = Callable[[GenerationRequest, str, int, list], dict]


@dataclass(frozen=True)
class _Model:
    durations: tuple[float, ...]
    tiers: dict[tuple[int, int], tuple[str, float]]  # output size -> (the model's name for it, USD/s)
    default_size: tuple[int, int]
    max_refs: int
    needs_image: bool
    inputs: Inputs  # (request, tier, seconds, images) -> the model's input dict

    def caps(self) -> Capabilities:
        return Capabilities(min_seconds=min(self.durations), max_seconds=max(self.durations),
                            durations=self.durations, sizes=tuple(self.tiers), image_conditioning=True,
                            extend=False, max_prompt_chars=PROMPT_CHARS, price_per_second=self.tiers[self.default_size][1],
                            price_source=f"{PRICE_SOURCE} ({self.tiers[self.default_size][0]})",
                            preview_mode="cheapest")


# The aspect ratios Replicate's video models take (issue 12's reading of the model pages; a raw size
# reduced by its gcd, e.g. 1366x768 -> 683:384, is refused).
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")


def nearest_aspect(width: int, height: int, allowed: tuple[str, ...] = ASPECT_RATIOS) -> str:
    """The allowed aspect ratio closest to width:height (compared on a log scale, so 2:1 and 1:2 are
    equally far from 1:1)."""
    want = math.log(width / max(1, height))
    return min(allowed, key=lambda r: abs(math.log(int(r.split(":")[0]) / int(r.split(":")[1])) - want))


def _aspect(request: GenerationRequest) -> str:
    return nearest_aspect(request.width, request.height)


def _seedance(request: GenerationRequest, tier: str, seconds: int, images: list) -> dict:
    out = {"prompt": request.prompt, "duration": seconds, "resolution": tier, "aspect_ratio": _aspect(request),
           "fps": 24, "seed": request.seed % 2_147_483_647}
    if images:
        out["image"] = images[0]
    if len(images) > 1:
        out["last_frame_image"] = images[1]
    return out


def _hailuo(request: GenerationRequest, tier: str, seconds: int, images: list) -> dict:
    out = {"prompt": request.prompt, "duration": seconds, "resolution": tier, "prompt_optimizer": False}
    if images:
        out["first_frame_image"] = images[0]
    return out


def _kling(request: GenerationRequest, tier: str, seconds: int, images: list) -> dict:
    out = {"prompt": request.prompt, "duration": seconds, "mode": tier, "start_image": images[0]}
    if request.negative_prompt:
        out["negative_prompt"] = request.negative_prompt
    return out


def _three(w: int, h: int) -> list[tuple[int, int]]:
    return [(w, h), (h, w), (h, h)]


MODELS: dict[str, _Model] = {
    # ByteDance Seedance 1 Lite: text or image (first/last frame), 480p/720p/1080p.
    "bytedance/seedance-1-lite": _Model(
        durations=(5.0, 10.0),
        tiers={**{s: ("480p", 0.018) for s in _three(864, 480)}, **{s: ("720p", 0.036) for s in _three(1248, 704)},
               **{s: ("1080p", 0.072) for s in _three(1920, 1088)}, (1280, 720): ("720p", 0.036),
               (720, 1280): ("720p", 0.036), (1920, 1080): ("1080p", 0.072), (1080, 1920): ("1080p", 0.072)},
        default_size=(1280, 720), max_refs=2, needs_image=False, inputs=_seedance),
    # MiniMax Hailuo 02: text or first frame; 768p (6 or 10 s) or 1080p.
    "minimax/hailuo-02": _Model(
        durations=(6.0, 10.0),
        tiers={(1366, 768): ("768p", 0.045), (1920, 1080): ("1080p", 0.08)},
        default_size=(1366, 768), max_refs=1, needs_image=False, inputs=_hailuo),
    # Kling 2.1: image-to-video; standard = 720p, pro = 1080p (aspect follows the image).
    "kwaivgi/kling-v2.1": _Model(
        durations=(5.0, 10.0),
        tiers={**{s: ("standard", 0.05) for s in _three(1280, 720)}, **{s: ("pro", 0.09) for s in _three(1920, 1080)}},
        default_size=(1280, 720), max_refs=1, needs_image=True, inputs=_kling),
}

# "Expected available in 9 seconds" and "Your rate limit resets in ~30s"
# (replicate.com/docs/topics/predictions/rate-limits)
_THROTTLE_WAIT = re.compile(r"(?:available|resets) in ~?(\d+(?:\.\d+)?) ?s(?:econds?)?\b", re.I)
_STATES = {"starting": JobState.QUEUED, "processing": JobState.RUNNING, "succeeded": JobState.COMPLETED,
           "failed": JobState.FAILED, "canceled": JobState.CANCELED, "aborted": JobState.CANCELED}


def _timestamp(text: str | None) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() if text else None
    except ValueError:
        return None


class ReplicateBackend:
    """`replicate:OWNER/NAME[:VERSION]` in a spec; OWNER/NAME is one of `MODELS`."""

    name = "replicate"
    cancel_billing = CancelBilling.BILLED  # see the module docstring
    output_retention_s = 3600.0  # API outputs are deleted after an hour: download before that
    min_poll_interval = 2.0

    def __init__(self, model: str | None = None) -> None:
        slug, _, version = (model or "").partition(":")
        if slug not in MODELS:
            raise BadInput(f"unknown replicate model {model!r}; use one of: {', '.join(MODELS)}", where="replicate",
                           fix="write backend: replicate:bytedance/seedance-1-lite (optionally :VERSION)")
        self.model = model
        self.slug = slug
        self.version = version or None
        self._model = MODELS[slug]
        self._caps = self._model.caps()
        self._key: str | None = None
        self._sdk: Any = None
        self._last = threading.local()  # Retry-After of the last response, per thread
        self._outputs: dict[str, str] = {}  # prediction id -> its output URL, read by the poll that saw it succeed

    # -- what the model can do -------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return self._caps

    def price(self, request: GenerationRequest) -> float:
        size = pick_size(self._caps, request) or self._model.default_size
        return round(self._model.tiers[size][1] * pick_seconds(self._caps, request), 6)

    def charged(self, request: GenerationRequest, status: JobStatus) -> float:
        """Succeeded and canceled predictions are billed (canceled: the full price, the worst case);
        aborted ones are not; failed ones are counted free (not documented for output-priced models)."""
        canceled = status.state == JobState.CANCELED and status.error_code == "canceled"
        if status.state == JobState.COMPLETED or canceled:
            return self.price(request)
        return 0.0

    def cast_routing(self, request: GenerationRequest) -> CastRouting:
        size = pick_size(self._caps, request)
        tier = self._model.tiers[size][0] if size in self._model.tiers else None
        return cast_routing(self.slug, request.cast, request.refs, tier=tier)

    def problems(self, request: GenerationRequest) -> list[str]:
        request = with_first_frame(request, self.cast_routing(request))
        out = common_problems(self._caps, request, self.slug)
        size = pick_size(self._caps, request)
        if self.slug == "minimax/hailuo-02" and size == (1920, 1080) and pick_seconds(self._caps, request) > 6:
            out.append("minimax/hailuo-02 makes 1080p only 6 s long; ask for 6 s or 768p")
        return out + ref_problems(request, self._caps, max_refs=self._model.max_refs,
                                  needs_image=self._model.needs_image, model=self.slug)

    # -- build request ---------------------------------------------------------------------

    def build(self, request: GenerationRequest) -> dict[str, Any]:
        """The model's input dict; local reference images are `Path`s the SDK uploads on create."""
        problems = self.problems(request)
        if problems:
            raise BadInput("; ".join(problems), where=request.shot_id, fix=f"see replicate:{self.slug} capabilities")
        routing = self.cast_routing(request)
        request = with_first_frame(request, routing)
        references = routing.refs_to(REFERENCE_FIELD)
        for ref in [*request.refs, *references]:
            if not is_remote(ref):
                load_ref(ref, where=request.shot_id)  # not an image -> BadInput before any upload
        images = [ref if is_remote(ref) else Path(ref) for ref in request.refs]
        tier = self._model.tiers[pick_size(self._caps, request)][0]
        inputs = self._model.inputs(request, tier, int(pick_seconds(self._caps, request)), images)
        if references:
            inputs[REFERENCE_INPUTS[self.slug][0]] = [ref if is_remote(ref) else Path(ref) for ref in references]
        return inputs

    # -- submit ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        import httpx
        from replicate.helpers import encode_json

        inputs = self.build(request)
        client = self._client()
        try:  # local reference images go to the Files API first (free; a failure here is not a create)
            encoded = encode_json(inputs, client)
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None
        # The same POST the SDK's predictions.create sends, but with a timeout: replicate 1.0.7 passes
        # `timeout=None` for a create without `wait` (prediction.py _create_prediction_timeout), which
        # would let a create whose answer never comes hang forever.
        path, body = (("/v1/predictions", {"version": self.version, "input": encoded}) if self.version else
                      (f"/v1/models/{self.slug}/predictions", {"input": encoded}))
        try:
            answer = client._request("POST", path, json=body, timeout=httpx.Timeout(client_timeout())).json()
        except Exception as e:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise self._error(e, create=True) from None
        prediction_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(prediction_id, str) or not prediction_id:
            raise outcome_unknown("replicate", "the answer was not a prediction (no JSON id)", [self._key])
        return prediction_id

    def find_jobs(self, request: GenerationRequest, idempotency_key: str, created_after: float,
                  *, max_pages: int = 10) -> list[ProviderJob]:
        """Predictions of this model with this input created since `created_after` (Replicate has no
        client tag): GET /v1/predictions, newest first, until older than `created_after`. Local refs
        are uploaded as new files on each create, so their URLs are not compared."""
        inputs = self._model.inputs(request, self._model.tiers[pick_size(self._caps, request)][0],
                                    int(pick_seconds(self._caps, request)), [None] * len(request.refs))
        wanted = {k: v for k, v in inputs.items() if v is not None}
        found: list[ProviderJob] = []
        path = "/v1/predictions"
        for _ in range(max_pages):
            page = self._json("GET", path)
            older = False
            for p in page.get("results") or []:
                created = _timestamp(p.get("created_at"))
                if created is not None and created < created_after:
                    older = True
                    continue
                sent = p.get("input") or {}
                if p.get("model") == self.slug and all(sent.get(k) == v for k, v in wanted.items()):
                    found.append(ProviderJob(p["id"], _STATES.get(p.get("status"), JobState.QUEUED), created,
                                             prompt=sent.get("prompt")))
            path = page.get("next")
            if older or not path:
                break
        return found

    # -- poll ------------------------------------------------------------------------------

    def poll(self, job_id: str) -> JobStatus:
        prediction = self._get(job_id)
        status = prediction.get("status")
        if status == "starting":
            return JobStatus(JobState.QUEUED, poll_after=self.min_poll_interval)
        if status == "processing":
            from replicate.prediction import Prediction

            progress = Prediction.Progress.parse(prediction.get("logs") or "")
            return JobStatus(JobState.RUNNING, progress=progress.percentage if progress else 0.0,
                             poll_after=self.min_poll_interval)
        if status == "succeeded":
            output = prediction.get("output")
            url = output[0] if isinstance(output, list) and output else output
            if isinstance(url, str) and not prediction.get("data_removed"):
                self._outputs[job_id] = url  # the download needs no second GET of the prediction
            return JobStatus(JobState.COMPLETED, progress=1.0)
        if status == "canceled":
            return JobStatus(JobState.CANCELED, error_code="canceled", error_message="replicate: prediction canceled")
        if status == "aborted":
            return JobStatus(JobState.CANCELED, error_code="aborted", cost_usd=0.0,
                             error_message="replicate: prediction aborted (its deadline passed before it started)")
        if status != "failed":
            raise ProviderError(f"replicate: unknown prediction status {status!r}", code="bad_answer", transient=True)
        reason = scrub(prediction.get("error") or "no reason given", [self._key])
        code = "content_policy" if looks_like_policy(reason) else "failed"
        return JobStatus(JobState.FAILED, error_code=code, error_message=f"replicate: prediction failed: {reason}")

    # -- download --------------------------------------------------------------------------

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        # The output URL the succeeding poll read (kept across a transient failure), else the prediction's.
        url = self._outputs.get(job_id)
        if url is None:
            prediction = self._get(job_id)
            if prediction.get("status") == "succeeded" and prediction.get("data_removed"):
                raise self._expired(job_id)
            output = prediction.get("output")
            url = output[0] if isinstance(output, list) and output else output
            if prediction.get("status") != "succeeded" or not isinstance(url, str):
                raise ProviderError(f"replicate: prediction {job_id} has no video (status {prediction.get('status')})",
                                    code="no_output")
            self._outputs[job_id] = url
        try:
            download_url(url, Path(dest), provider="replicate", progress=progress, secrets=[self._key])
        except ProviderError as e:
            if not e.transient:
                self._outputs.pop(job_id, None)
                if self._get(job_id).get("data_removed"):
                    raise self._expired(job_id) from None
            raise
        self._outputs.pop(job_id, None)

    def _expired(self, job_id: str) -> ProviderError:
        return ProviderError(f"replicate: the output of prediction {job_id} was deleted (API outputs are kept one "
                             f"hour); it was paid for and is lost: generate the take again if you want it",
                             code="output_expired")

    def cancel(self, job_id: str) -> None:
        try:
            self._client().predictions.cancel(job_id)
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None

    # -- SDK plumbing ----------------------------------------------------------------------

    def _get(self, job_id: str) -> dict:
        return self._json("GET", f"/v1/predictions/{job_id}")

    def _json(self, method: str, path: str) -> dict:
        """A GET through the SDK's client (auth, retries on 429/503/504) read as plain JSON."""
        try:
            answer = self._client()._request(method, path).json()
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None
        if not isinstance(answer, dict):
            raise ProviderError("replicate: the answer was not a JSON object", code="bad_answer", transient=True)
        return answer

    def _client(self) -> Any:
        if self._sdk is None:
            import replicate

            self._key = env_key(["REPLICATE_API_TOKEN"], provider="replicate",
                                signup="https://replicate.com/account/api-tokens")

            # ReplicateError keeps no headers, so remember Retry-After as responses arrive.
            def remember(response: Any) -> None:
                self._last.retry_after = response.headers.get("Retry-After")

            import httpx

            self._sdk = replicate.Client(api_token=self._key, base_url=env_base_url("DREAMCUT_REPLICATE_BASE_URL"),
                                         timeout=httpx.Timeout(client_timeout()), event_hooks={"response": [remember]})
        return self._sdk

    def _error(self, e: Exception, *, create: bool = False) -> Exception:
        """The ProviderError for an SDK failure; on a paid create, anything that may have reached
        Replicate without a clear answer is `OutcomeUnknown`."""
        import httpx
        from replicate.exceptions import ReplicateError

        if isinstance(e, (BadInput, ProviderError)):
            return e
        if isinstance(e, ReplicateError):
            message = e.detail or e.title or "error"
            headers = {"Retry-After": getattr(self._last, "retry_after", None) or ""}
            if not headers["Retry-After"] and (m := _THROTTLE_WAIT.search(message)):
                headers["Retry-After"] = m.group(1)
            mapping = create_status_error if create else http_status_error
            return mapping("replicate", e.status or 500, message, headers, [self._key])
        if isinstance(e, httpx.HTTPError):
            return connection_failed("replicate", e, create=create, secrets=[self._key])
        return unreadable_answer("replicate", e, create=create, secrets=[self._key])


# Models with a reference-images input for characters, objects and places (their input name, the most
# they take, and the resolution they refuse it at): Seedance 1 Lite's `reference_images`, 1-4 pictures,
# not with a first/last frame and not at 1080p (replicate.com/bytedance/seedance-1-lite, input schema).
REFERENCE_INPUTS = {"bytedance/seedance-1-lite": ("reference_images", 4, "1080p")}
REFERENCE_FIELD = "reference_images"
# The first-frame input's name per model (the same names `MODELS`' input writers use).
FIRST_FRAME_INPUTS = {"bytedance/seedance-1-lite": "image", "minimax/hailuo-02": "first_frame_image",
                      "kwaivgi/kling-v2.1": "start_image"}


def cast_routing(model: str | None, cast, own_refs, *, tier: str | None = None) -> CastRouting:
    """Per model, by its input names: Seedance 1 Lite takes the cast as `reference_images` (up to 4,
    without a first frame, below 1080p); the others take one picture as their first frame."""
    slug = (model or "").split(":")[0]
    label = f"replicate:{slug}"
    ref_input = REFERENCE_INPUTS.get(slug)
    if ref_input and not own_refs and tier != ref_input[2]:
        name, most, _ = ref_input
        refs = all_refs(cast)
        sent = tuple(CastRef(m, r, REFERENCE_FIELD) for m, r in refs[:most])
        dropped = tuple((m, r, f"{slug} takes at most {most} reference images") for m, r in refs[most:])
        how = (f"cast pictures as `{name}`; descriptions in the prompt" if sent else "descriptions in the prompt only")
        return CastRouting(label, sent, dropped, how)
    why = f"{slug} takes one picture, as the first frame"
    if ref_input and own_refs:
        why = f"{slug} takes reference images only without a first frame (the shot's refs)"
    elif ref_input:
        why = f"{slug} takes no reference images at {ref_input[2]}"
    return first_frame_routing(label, cast, own_refs, slots=1,
                               field=f"{FIRST_FRAME} ({FIRST_FRAME_INPUTS.get(slug, 'image')})", why_one=why)
