"""fal.ai text-to-video apps through the official `fal-client` SDK's queue.

Reads top to bottom as build request -> submit -> poll -> download:
- build: the model string is the fal app id (e.g. `fal-ai/veo3`); `MODELS` holds, per app,
  its lengths, sizes, price, argument names, and the sibling app that takes a first-frame
  image (`.../image-to-video`). Images go inline as data URIs (`fal_client.encode`), which
  fal accepts for every file input.
- submit: `SyncClient.submit(app, arguments)` = POST queue.fal.run/{app} -> request_id.
  fal has no idempotency key, and fal-client (1.0.3, client.py `_maybe_retry_request`) re-sends
  any request up to MAX_ATTEMPTS = 10 times on 408/409/429, on dropped connections and on
  timeouts - a paid create included. That loop reads the module constant on every call, so
  `_client` sets `fal_client.client.MAX_ATTEMPTS = 1`: every request is sent once, and every
  failure reaches the orchestrator, which retries only what is safe. (Its backup-domain
  transport re-sends only after a ConnectError/ConnectTimeout: nothing was sent; kept.)
  A create whose answer is lost (dropped or timed-out after sending, a 5xx, a 200 that is not
  fal's JSON) is `OutcomeUnknown`; a refused connection or fal's 429 are transient.
- poll: `status(app, request_id, with_logs=True)`: IN_QUEUE -> IN_PROGRESS (logs) ->
  COMPLETED; a COMPLETED request may still be an error (its `error`/`error_type`, or the
  result answering 4xx with fal's `detail`), so completion is confirmed by reading the result.
- the result: fal-client's `SyncClient.result` is `handle.get()`, which first polls the status until
  COMPLETED (every 0.1 s, no bound) and then GETs the response URL; the status is already known
  here, so `_video_url` sends that one GET itself (an unfinished request's result is never waited on).
- download: the result's `video.url`, kept from the poll that confirmed completion (fal keeps output
  files at least 7 days, fal.ai/docs/faq), so a take costs one result read, not two; kept across a
  transient download failure, read again after any other. A poll whose result read failed reads
  only the result next time (COMPLETED is final at fal): a retry costs one request, not two.
- waits: fal-client sends status/result/cancel with its own fixed timeout (`QUEUE_POLL_TIMEOUT`,
  120 s read, 30 s connect) whatever the client's `default_timeout`; `_client` sets it to
  `client_timeout` (DREAMCUT_HTTP_TIMEOUT), so a stalled poll is given up as soon as a create would be.
- cancel: PUT .../requests/{id}/cancel. fal's reference (fal.ai/docs/inference-api/queue/cancel,
  read 2026-11-29): a request still in the queue is removed; one in progress only gets a
  cancellation signal, and the app decides whether to stop. So `cancel_billing` is IMPOSSIBLE
  (the worst case: it runs on and is billed) and `charged` reads how the request really ended.
- billing (fal.ai/docs/documentation/model-apis/pricing and /faq, read 2026-11-29): only
  successful outputs are billed, per second of video; server errors never; an input error
  (422, content policy included) "may still be charged" once a runner worked on it, which
  `charged` counts (the worst case).
- listing: fal's platform API lists requests by end time with status success/error/user_error
  (fal.ai/docs/platform-apis/v1/models/requests/by-endpoint): a request still queued or running
  is not there, so an empty list would not prove a create failed. `find_jobs` returns None and
  an unknown create is parked for `dreamcut reconcile`.

The key is FAL_KEY (environment only; sent as `Authorization: Key ...`; scrubbed from
messages). `DREAMCUT_FAL_BASE_URL` replaces https://queue.fal.run (tests, gateways).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dreamcut.backends._cloud import (TableBackend, client_timeout, common_problems, create_status_error,
                                      download_url, env_base_url, env_key, http_status_error, is_remote,
                                      is_transport_error, load_ref, looks_like_policy, never_sent, outcome_unknown,
                                      pick_seconds, pick_size, ratio_text, ref_problems, scrub)
from dreamcut.backends._prompt import Draft, fit, seconds_label, timed_draft
from dreamcut.backends.base import (Capabilities, CancelBilling, GenerationRequest, JobState, JobStatus, Progress,
                                    ProviderError)
from dreamcut.backends._cast import FIRST_FRAME, CastRouting, first_frame_routing, with_first_frame
from dreamcut.errors import BadInput

# -- the prompt ------------------------------------------------------------------------

PROMPT_CHARS = 2000  # depends on the hosted model; conservative


def prompt_draft(request: GenerationRequest) -> Draft:
    """The scene first, the camera move after it; several scenes are one continuous shot with a
    "0–4 s:" line each (the hosted models follow their own makers' guides, which agree on this)."""
    return timed_draft(request, seconds_label)


def format_prompt(request: GenerationRequest, max_chars: int = PROMPT_CHARS) -> str:
    """The text a fal app receives for `request`, within `max_chars` (see `_prompt.fit`)."""
    return fit(prompt_draft(request), max_chars)


PRICE_SOURCE = "fal.ai model pages (USD per second of video), as of 2025-10; check before a large batch"


@dataclass(frozen=True)
class _Model:
    image_app: str  # the sibling app that animates a first-frame image
    durations: tuple[float, ...]
    sizes: dict[tuple[int, int], str | None]  # output size -> the app's `resolution` value (None: no such arg)
    usd_per_second: float
    duration_format: str = "{:g}"  # how the app spells a duration ("5", "8s")
    aspect_arg: bool = True  # takes aspect_ratio
    extra: dict[str, Any] = field(default_factory=dict)  # fixed arguments (audio off, no prompt rewriting)
    negative: bool = True  # takes negative_prompt
    seed: bool = False

    def caps(self) -> Capabilities:
        return Capabilities(min_seconds=min(self.durations), max_seconds=max(self.durations),
                            durations=self.durations, sizes=tuple(self.sizes), image_conditioning=True,
                            extend=False, max_prompt_chars=2500, price_per_second=self.usd_per_second,
                            price_source=PRICE_SOURCE, preview_mode="cheapest")


_KLING_SIZES = {(1920, 1080): None, (1080, 1920): None, (1080, 1080): None}
_VEO_SIZES = {(1280, 720): "720p", (720, 1280): "720p", (1920, 1080): "1080p", (1080, 1920): "1080p"}

MODELS: dict[str, _Model] = {
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": _Model(
        image_app="fal-ai/kling-video/v2.5-turbo/pro/image-to-video", durations=(5.0, 10.0), sizes=_KLING_SIZES,
        usd_per_second=0.07, extra={"cfg_scale": 0.5}),
    # Veo 3 on fal, audio off (audio doubles the price; the song is the soundtrack).
    "fal-ai/veo3": _Model(
        image_app="fal-ai/veo3/image-to-video", durations=(4.0, 6.0, 8.0), sizes=_VEO_SIZES, usd_per_second=0.20,
        duration_format="{:g}s", extra={"generate_audio": False, "enhance_prompt": False}, seed=True),
    "fal-ai/veo3/fast": _Model(
        image_app="fal-ai/veo3/fast/image-to-video", durations=(4.0, 6.0, 8.0), sizes=_VEO_SIZES,
        usd_per_second=0.10, duration_format="{:g}s", extra={"generate_audio": False, "enhance_prompt": False},
        seed=True),
    "fal-ai/minimax/hailuo-02/standard/text-to-video": _Model(
        image_app="fal-ai/minimax/hailuo-02/standard/image-to-video", durations=(6.0, 10.0),
        sizes={(1366, 768): None}, usd_per_second=0.045, aspect_arg=False, negative=False,
        extra={"prompt_optimizer": False}),
}


_SDK_LOCK = threading.Lock()

# Failures fal may bill (a runner worked on the request before refusing it: HTTP 422 answers).
_BILLED_FAILURES = ("content_policy", "invalid_request", "user_error")


class FalBackend(TableBackend):
    """`fal:APP` in a spec; APP is one of `MODELS` (a fal text-to-video app id)."""

    name = "fal"
    min_poll_interval = 2.0

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model)
        self._video_urls: dict[str, str] = {}  # request id -> its video URL, read by the poll that saw it complete
        self._completed: set[str] = set()  # request ids whose status said COMPLETED with no error (final at fal)
    max_inline_image_bytes = 5_000_000
    models = MODELS
    model_fix = "write backend: fal:fal-ai/veo3/fast (or another listed app)"
    model_what = "app"

    # -- what the model can do -------------------------------------------------------------

    def price(self, request: GenerationRequest) -> float:
        return round(self._model.usd_per_second * pick_seconds(self._caps, request), 6)

    def cast_routing(self, request: GenerationRequest) -> CastRouting:
        return cast_routing(self.model, request.cast, request.refs)

    def problems(self, request: GenerationRequest) -> list[str]:
        request = with_first_frame(request, self.cast_routing(request))
        return common_problems(self._caps, request, self.model) + ref_problems(
            request, self._caps, max_refs=1, needs_image=False, model=self.model)

    # -- build request ---------------------------------------------------------------------

    def build(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        """(the app to call, its arguments) for `request`."""
        import fal_client

        problems = self.problems(request)
        if problems:
            raise BadInput("; ".join(problems), where=request.shot_id, fix=f"see fal:{self.model} capabilities")
        request = with_first_frame(request, self.cast_routing(request))
        m = self._model
        size = pick_size(self._caps, request)
        args: dict[str, Any] = {"prompt": request.prompt,
                                "duration": m.duration_format.format(pick_seconds(self._caps, request))}
        if m.aspect_arg:
            args["aspect_ratio"] = ratio_text(size)
        if m.sizes[size]:
            args["resolution"] = m.sizes[size]
        if m.negative and request.negative_prompt:
            args["negative_prompt"] = request.negative_prompt
        if m.seed:
            args["seed"] = request.seed % 2_147_483_647
        args.update(m.extra)
        app = self.model
        if request.refs:
            ref = request.refs[0]
            if is_remote(ref):
                args["image_url"] = ref
            else:
                image = load_ref(ref, where=request.shot_id, max_bytes=self.max_inline_image_bytes)
                args["image_url"] = fal_client.encode(image.data, image.mime)
            app = m.image_app
        return app, args

    # -- submit ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        app, args = self.build(request)
        client = self._client()
        try:
            handle = client.submit(app, args)
        except Exception as e:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise self._error(e, create=True) from None
        return handle.request_id

    # -- poll ------------------------------------------------------------------------------

    def poll(self, job_id: str) -> JobStatus:
        import fal_client

        if job_id not in self._completed:  # a poll whose result read failed goes straight to the result again
            try:
                status = self._client().status(self.model, job_id, with_logs=True)
            except Exception as e:  # noqa: BLE001
                raise self._error(e) from None
            if isinstance(status, fal_client.Queued):
                return JobStatus(JobState.QUEUED, poll_after=self.min_poll_interval)
            if isinstance(status, fal_client.InProgress):
                return JobStatus(JobState.RUNNING, progress=0.5, poll_after=self.min_poll_interval)
            if status.error:
                return self._failed(status.error_type, status.error)
            self._completed.add(job_id)
        try:
            self._video_urls[job_id] = self._video_url(job_id)
        except ProviderError as e:
            if e.transient:
                raise
            return JobStatus(JobState.FAILED, error_code=e.code, error_message=e.message)
        return JobStatus(JobState.COMPLETED, progress=1.0)

    def _failed(self, error_type: str | None, error: str) -> JobStatus:
        reason = scrub(error, [self._key])
        if error_type and "cancel" in error_type:
            return JobStatus(JobState.CANCELED, error_code="canceled", error_message=f"fal: {reason}")
        policy = (error_type or "") == "content_policy_violation" or looks_like_policy(reason)
        return JobStatus(JobState.FAILED, error_code="content_policy" if policy else (error_type or "failed"),
                         error_message=f"fal: request failed ({error_type or 'error'}): {reason}")

    # -- download --------------------------------------------------------------------------

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        # The URL the completing poll read; kept across a transient failure (a CDN hiccup), read again after any other.
        url = self._video_urls.get(job_id) or self._video_url(job_id)
        self._video_urls[job_id] = url
        try:
            download_url(url, Path(dest), provider="fal", progress=progress, secrets=[self._key])
        except ProviderError as e:
            if not e.transient:
                self._video_urls.pop(job_id, None)
            raise
        self._video_urls.pop(job_id, None)

    def _video_url(self, job_id: str) -> str:
        import fal_client.client

        try:
            # One GET of the response URL, as fal-client's `handle.get()` sends after its wait loop
            # (`SyncClient.result` polls the status first, 0.1 s apart and unbounded: module doc).
            handle = self._client().get_handle(self.model, job_id)
            result = fal_client.client._maybe_retry_request(handle.client, "GET", handle.response_url,
                                                            timeout=fal_client.client.QUEUE_POLL_TIMEOUT).json()
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None
        url = ((result or {}).get("video") or {}).get("url")
        if not url:
            raise ProviderError(f"fal: request {job_id} returned no video", code="no_output")
        return url

    # -- money ---------------------------------------------------------------------------

    # A queued request is removed; a running one is only signalled and may finish and bill (module doc).
    cancel_billing = CancelBilling.IMPOSSIBLE

    def cancel(self, job_id: str) -> None:
        try:
            self._client().cancel(self.model, job_id)
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None

    def charged(self, request: GenerationRequest, status: JobStatus) -> float:
        """What fal bills for a request that ended in `status`: a video made costs its price; an
        input error or content-policy refusal may be billed once a runner worked on it (counted:
        the worst case); server errors and cancelled requests are not billed."""
        if status.cost_usd is not None:
            return status.cost_usd
        if status.state == JobState.COMPLETED:
            return self.price(request)
        if status.state == JobState.FAILED and status.error_code in _BILLED_FAILURES:
            return self.price(request)
        return 0.0

    def find_jobs(self, request: GenerationRequest, idempotency_key: str, created_after: float) -> None:
        """None: fal lists finished requests only (module doc), which cannot prove a create failed."""
        return None

    # -- SDK plumbing ----------------------------------------------------------------------

    def _client(self) -> Any:
        with _SDK_LOCK:  # one client per backend, made once even when many threads start at once
            return self._client_locked()

    def _client_locked(self) -> Any:
        if self._sdk is None:
            import fal_client
            import fal_client.auth
            import httpx
            import fal_client.client

            self._key = env_key(["FAL_KEY"], provider="fal", signup="https://fal.ai/dashboard/keys")
            base = env_base_url("DREAMCUT_FAL_BASE_URL")
            # fal-client builds queue URLs from this module constant (https://{FAL_QUEUE_RUN_HOST}/, fixed at
            # import, https only); setting it is the one way to reach a plain-http stand-in or gateway.
            fal_client.client.QUEUE_URL_FORMAT = (base + "/") if base else \
                f"https://{fal_client.auth.FAL_QUEUE_RUN_HOST}/"
            # One attempt per request: fal-client's own loop would re-send a paid create (module doc).
            fal_client.client.MAX_ATTEMPTS = 1
            timeout = client_timeout(120.0)
            # Polls, result reads and cancels wait as long as any other request (module doc), not fal-client's 120 s.
            fal_client.client.QUEUE_POLL_TIMEOUT = httpx.Timeout(timeout, connect=min(timeout, 30.0))
            self._sdk = fal_client.SyncClient(key=self._key, default_timeout=timeout)
        return self._sdk

    def _error(self, e: Exception, *, create: bool = False) -> Exception:
        """An SDK failure as a ProviderError; `create`: it came from the paid submit (see module doc)."""
        import fal_client

        if isinstance(e, (BadInput, ProviderError)):
            return e
        if isinstance(e, fal_client.FalClientHTTPError) and create and (e.status_code >= 500 or e.status_code == 408):
            return create_status_error("fal", e.status_code, str(e.message), e.response_headers, [self._key])
        if isinstance(e, fal_client.FalClientHTTPError):
            detail = e.message
            types = []
            if isinstance(detail, list):  # validation errors: [{"loc", "msg", "type"}, ...]
                types = [d.get("type", "") for d in detail if isinstance(d, dict)]
                detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
            if e.error_type == "content_policy_violation" or "content_policy_violation" in types:
                return ProviderError(f"fal: refused by content policy: {scrub(detail, [self._key])}",
                                     code="content_policy")
            return http_status_error("fal", e.status_code, str(detail), e.response_headers, [self._key])
        if is_transport_error(e):
            if create and not never_sent(e):
                return outcome_unknown("fal", f"the connection failed after sending ({type(e).__name__})", [self._key])
            return ProviderError(f"fal: network error ({scrub(f'{type(e).__name__}: {e}', [self._key])})",
                                 code="network", transient=True)
        if isinstance(e, (ValueError, KeyError, TypeError)):
            # a 200 that is not fal's JSON (a proxy's HTML page) or lacks the request id
            if create:
                return outcome_unknown("fal", f"the answer was not fal's JSON ({type(e).__name__})", [self._key])
            return ProviderError(f"fal: unreadable answer ({type(e).__name__})", code="malformed", transient=True)
        # Anything else (an SDK bug, a closed client): never fail a request fal may be running for good.
        if create:
            return outcome_unknown("fal", f"the SDK failed unexpectedly ({type(e).__name__})", [self._key])
        return ProviderError(f"fal: {type(e).__name__}: {scrub(e, [self._key])}", code="error", transient=True)


def cast_routing(model: str | None, cast, own_refs) -> CastRouting:
    """fal's text-to-video apps take a picture through their image-to-video sibling app's `image_url`
    (the first frame): the first cast picture goes there when the shot gives none."""
    m = MODELS.get(model or "")
    return first_frame_routing(f"fal:{model}", cast, own_refs, slots=1,
                               field=f"{FIRST_FRAME} (image_url of {m.image_app if m else 'the image-to-video app'})",
                               why_one="fal's image-to-video apps take one picture, as the first frame")
