"""Runway (api.dev.runwayml.com) through the official `runwayml` SDK: text/image -> video tasks.

Reads top to bottom as build request -> submit -> poll -> download:
- build: `gen4_turbo` animates a reference image (image_to_video only); `gen4.5` and the
  Veo 3.1 models take text (text_to_video) or text + a first (and last) frame image.
  gen4.5 takes whole seconds 2-10: a 3.7 s wish is made (and priced) as 4 s.
  Local images go inline as data URIs (Runway accepts up to 5 MB; larger ones are re-encoded);
  remote refs must be https:// URLs on a domain name (docs.dev.runwayml.com/assets/inputs/).
- submit: POST /v1/text_to_video or /v1/image_to_video with the SDK's retries OFF, because
  Runway has no idempotency key and no endpoint that lists tasks: a create whose answer is
  lost (dropped connection, timeout, 5xx, a non-JSON answer) raises `OutcomeUnknown` and is
  never re-sent; only a refused connection or a 429 (nothing created) is transient.
- poll: GET /v1/tasks/{id}: PENDING and THROTTLED are queued (THROTTLED = over the account's
  concurrency; Runway starts it later by itself), RUNNING carries progress, FAILED carries a
  failureCode (SAFETY.* = content policy, billed like a success; INTERNAL and INTERNAL.BAD_OUTPUT.*
  are `retryable`: a retry is a new paid create), terminal tasks carry `cost.credits`. A task
  that was cancelled or deleted answers 404 for good: it is reported CANCELED ("gone").
- download: the first output URL (signed, expires in 24-48 h; a later poll gets fresh ones).
- cast keyframe (a shot's `cast_keyframe: true`): first POST /v1/text_to_image with `gen4_image`, every
  cast picture in `referenceImages` with its `@tag` named in the prompt (`RunwayCastKeyframe`), a task
  polled and billed like the video's; the video then starts from that image (`promptImage`).
- cancel: DELETE /v1/tasks/{id}. "Refund eligibility is based on the task status observed by the
  server during cancellation. If that check observes RUNNING, cancellation does not refund
  credits ... A prior GET response reporting PENDING or THROTTLED does not guarantee a refund"
  (runwayml 5.24.0 resources/tasks.py, `delete`). A cancelled task answers 404 afterwards, so
  what it cost cannot be read back. So `cancel_billing` is BILLED_IF_RUNNING: a task seen
  RUNNING is charged in full; one seen queued is charged nothing (the refund Runway gives when
  its check agrees) and its price stays reserved as the worst case.

The key is RUNWAYML_API_SECRET, read from the environment when first needed, kept in memory,
and scrubbed from every message. `DREAMCUT_RUNWAY_BASE_URL` points the SDK elsewhere (tests).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dreamcut.backends._cloud import (client_timeout, common_problems, download_url, env_base_url, env_key, is_remote,
                                      load_ref, lookup_model, outcome_unknown, pick_seconds, pick_size, ref_problems,
                                      scrub, sdk_error)
from dreamcut.backends._prompt import Draft, fit, seconds_label, timed_draft
from dreamcut.backends.base import (CancelBilling, Capabilities, GenerationRequest, JobState, JobStatus, Progress,
                                    ProviderError)
from dreamcut.backends._cast import (CAST_KEYFRAME, FIRST_FRAME, CastRef, CastRouting, after_keyframe,
                                     first_frame_routing, through_keyframe, wants_keyframe, with_first_frame)
from dreamcut.errors import BadInput

# -- the prompt ------------------------------------------------------------------------

PROMPT_CHARS = 1000  # runwayml SDK: promptText "a non-empty string up to 1000 characters" (checked 2026-11)
REFUSES_REAL_PEOPLE = True  # its published usage policy refuses prompts depicting real, identifiable people


def prompt_draft(request: GenerationRequest) -> Draft:
    """Runway's prompt guide leads with the camera move ("camera move: scene. details."); several
    scenes are one continuous shot with a "0–4 s:" line each."""
    return timed_draft(request, seconds_label, camera_first=True)


def format_prompt(request: GenerationRequest, max_chars: int = PROMPT_CHARS) -> str:
    """The text Runway receives for `request`, within `max_chars` (see `_prompt.fit`)."""
    return fit(prompt_draft(request), max_chars)


CREDIT_USD = 0.01  # Runway API credits are sold at $0.01 each
PRICE_SOURCE = "runwayml.com/api pricing (credits x $0.01), as of 2025-10; check before a large batch"

_LANDSCAPE_AND_PORTRAIT = ((1280, 720), (720, 1280))
_GEN4_RATIOS = ((1280, 720), (720, 1280), (1104, 832), (832, 1104), (960, 960), (1584, 672))
_VEO_RATIOS = ((1280, 720), (720, 1280), (1920, 1080), (1080, 1920))


@dataclass(frozen=True)
class _Model:
    caps: Capabilities
    text: bool  # can make video from text alone
    max_refs: int
    credits_per_second: float
    veo: bool = False  # takes negative_prompt and audio


def _caps(durations: tuple[float, ...] | None, sizes, credits: float, *, min_s: float = 2, max_s: float = 10,
          image: bool = True) -> Capabilities:
    return Capabilities(min_seconds=min_s, max_seconds=max_s, durations=durations, sizes=sizes,
                        image_conditioning=image, extend=False, max_prompt_chars=PROMPT_CHARS,
                        price_per_second=round(credits * CREDIT_USD, 4),
                        price_source=f"{PRICE_SOURCE} ({credits:g} credits/s)", preview_mode="cheapest")


MODELS: dict[str, _Model] = {
    # Gen-4 Turbo: image-to-video only, 5 or 10 s, 5 credits/s.
    "gen4_turbo": _Model(_caps((5.0, 10.0), _GEN4_RATIOS, 5), text=False, max_refs=1, credits_per_second=5),
    # Gen-4.5: text or image, whole seconds 2-10 ("Must be an integer from 2 to 10": runwayml 5.24.0
    # types/text_to_video_create_params.py), 12 credits/s. `whole_seconds` rounds a wish up (3.7 s -> 4 s).
    "gen4.5": _Model(_caps(None, _LANDSCAPE_AND_PORTRAIT, 12), text=True, max_refs=1, credits_per_second=12),
    # Veo 3.1 through Runway, video without audio (audio costs more): 4/6/8 s.
    "veo3.1": _Model(_caps((4.0, 6.0, 8.0), _VEO_RATIOS, 20, min_s=4, max_s=8), text=True, max_refs=2,
                     credits_per_second=20, veo=True),
    "veo3.1_fast": _Model(_caps((4.0, 6.0, 8.0), _VEO_RATIOS, 10, min_s=4, max_s=8), text=True, max_refs=2,
                          credits_per_second=10, veo=True),
}


def _url_problem(url: str) -> str | None:
    """Runway fetches remote inputs itself: "All URLs must be HTTPS" and "must reference a domain name
    in the hostname position, not an IP address" (docs.dev.runwayml.com/assets/inputs/, read 2026-11-29)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "Runway only fetches https:// URLs"
    try:
        ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return None
    return "Runway only fetches URLs on a domain name, not an IP address"


class RunwayBackend:
    """`runway:MODEL` in a spec. MODEL is one of `MODELS`."""

    name = "runway"
    cancel_billing = CancelBilling.BILLED_IF_RUNNING  # see the module docstring
    min_poll_interval = 5.0  # Runway asks clients not to poll a task more often than every 5 s
    max_inline_image_bytes = 3_500_000  # a 5 MB data URI holds ~3.7 MB of image

    def __init__(self, model: str | None = None) -> None:
        self._model = lookup_model("runway", MODELS, model, "write backend: runway:gen4_turbo (or another listed model)")
        self.model = model
        self._key: str | None = None
        self._sdk: Any = None

    # -- what the model can do -------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return self._model.caps

    def whole_seconds(self, request: GenerationRequest) -> int:
        """The seconds Runway will make (and bill) for `request`: every model takes whole seconds, so
        a wish is rounded UP to the next whole second the model makes (3.7 s -> 4 s), never truncated."""
        seconds = pick_seconds(self._model.caps, request)
        whole = math.ceil(seconds - 1e-6)
        caps = self._model.caps
        if caps.durations:
            return int(caps.nearest_duration(whole))
        return int(min(max(whole, math.ceil(caps.min_seconds)), math.floor(caps.max_seconds)))

    def price(self, request: GenerationRequest) -> float:
        return round(self._model.credits_per_second * self.whole_seconds(request) * CREDIT_USD, 6)

    def cast_routing(self, request: GenerationRequest) -> CastRouting:
        if wants_keyframe(request):
            return self.cast_keyframe(request).routing(request)
        return cast_routing(self.model, request.cast, request.refs)

    def cast_keyframe(self, request: GenerationRequest) -> "RunwayCastKeyframe | None":
        """The gen4_image step that makes this take's first frame from its cast's tagged pictures, when
        the shot asks for one (`cast_keyframe: true`, cast pictures, no first frame of its own)."""
        return RunwayCastKeyframe(self) if wants_keyframe(request) else None

    def problems(self, request: GenerationRequest) -> list[str]:
        step = self.cast_keyframe(request)
        if step is not None:  # the video starts from the keyframe: check the image request, then a first frame
            return step.problems(request) + self.problems(after_keyframe(request, _KEYFRAME_PLACEHOLDER))
        request = with_first_frame(request, self.cast_routing(request))
        caps = self._model.caps
        out = common_problems(caps, request, self.model) + ref_problems(
            request, caps, max_refs=self._model.max_refs, needs_image=not self._model.text, model=self.model)
        for ref in request.refs:
            if ref == _KEYFRAME_PLACEHOLDER:
                continue
            if is_remote(ref) and (why := _url_problem(ref)):
                out.append(f"reference {ref[:80]!r}: {why}; give an https:// URL or a local file (sent inline)")
        return out

    def charged(self, request: GenerationRequest, status: JobStatus) -> float:
        """What Runway bills for a finished task: its reported `cost.credits` when the task said; else the
        documented rule: successes and SAFETY.* failures in full, a cancel in full (worst case), other
        failures nothing (refunded)."""
        if status.cost_usd is not None:
            return status.cost_usd
        if status.state == JobState.COMPLETED or status.error_code in ("content_policy", "gone", "canceled"):
            return self.price(request)
        return 0.0

    # -- build request ---------------------------------------------------------------------

    def build(self, request: GenerationRequest) -> dict[str, Any]:
        """The SDK keyword arguments for `request` (pure apart from reading reference images)."""
        if wants_keyframe(request):  # never a video without the keyframe it was priced with
            raise BadInput("this take starts from its cast keyframe, which is made first", where=request.shot_id,
                           fix="make it with `dreamcut generate` (the keyframe, then the video from it)")
        problems = self.problems(request)
        if problems:
            raise BadInput("; ".join(problems), where=request.shot_id, fix=f"see runway:{self.model} capabilities")
        request = with_first_frame(request, self.cast_routing(request))
        w, h = pick_size(self._model.caps, request)
        body: dict[str, Any] = {
            "model": self.model,
            "prompt_text": request.prompt,
            "ratio": f"{w}:{h}",
            "duration": self.whole_seconds(request),
            "seed": request.seed % 4_294_967_295,
        }
        if self._model.veo:
            body["audio"] = False  # the song is the soundtrack; audio would double the price
            if request.negative_prompt:
                body["negative_prompt"] = request.negative_prompt
        if request.refs:
            uris = [ref if is_remote(ref) else
                    load_ref(ref, where=request.shot_id, max_bytes=self.max_inline_image_bytes).data_uri()
                    for ref in request.refs]
            if len(uris) == 1 and not self._model.veo:
                body["prompt_image"] = uris[0]
            else:
                body["prompt_image"] = [{"uri": u, "position": p} for u, p in zip(uris, ("first", "last"))]
        return body

    # -- submit ----------------------------------------------------------------------------

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        body = self.build(request)
        # No retries on a paid create: Runway has no idempotency key (see module docstring).
        client = self._client().with_options(max_retries=0)
        try:
            if "prompt_image" in body:
                task = client.image_to_video.create(**body)
            else:
                task = client.text_to_video.create(**body)
        except Exception as e:  # noqa: BLE001 - every SDK failure becomes a ProviderError
            raise self._error(e, create=True) from None
        task_id = getattr(task, "id", None)
        if not isinstance(task_id, str) or not task_id:
            # A 200 whose body is not the task (an HTML page from a proxy): the SDK hands back text.
            raise outcome_unknown("runway", "the answer was not a task (no JSON id)", [self._key])
        return task_id

    def find_jobs(self, request: GenerationRequest, idempotency_key: str, created_after: float) -> None:
        """Runway cannot list tasks (runwayml 5.24.0 resources/tasks.py: retrieve and delete only)."""
        return None

    # -- poll ------------------------------------------------------------------------------

    def poll(self, job_id: str) -> JobStatus:
        try:
            task = self._client().tasks.retrieve(job_id)
        except Exception as e:  # noqa: BLE001
            error = self._error(e)
            if getattr(e, "status_code", None) == 404:
                # Cancelled and deleted tasks "will not be able to be fetched again" (runwayml 5.24.0
                # resources/tasks.py): gone for good; what it cost is not knowable any more.
                return JobStatus(JobState.CANCELED, error_code="gone",
                                 error_message=f"runway: task {job_id} is gone (cancelled or deleted tasks answer 404)")
            raise error from None
        status = getattr(task, "status", None)
        if status is None:
            raise ProviderError("runway: the task answer was not JSON", code="bad_answer", transient=True)
        if status in ("PENDING", "THROTTLED"):
            return JobStatus(JobState.QUEUED, poll_after=self.min_poll_interval)
        if status == "RUNNING":
            return JobStatus(JobState.RUNNING, progress=float(task.progress or 0.0), poll_after=self.min_poll_interval)
        cost = round(float(task.cost.credits) * CREDIT_USD, 6) if getattr(task, "cost", None) is not None else None
        if status == "SUCCEEDED":
            return JobStatus(JobState.COMPLETED, progress=1.0, cost_usd=cost)
        if status == "CANCELLED":
            return JobStatus(JobState.CANCELED, error_code="canceled", error_message="runway: task canceled",
                             cost_usd=cost)
        code = task.failure_code or "failed"
        reason = scrub(task.failure, [self._key])
        if code.upper().startswith("SAFETY") or ".SAFETY" in code.upper():
            return JobStatus(JobState.FAILED, error_code="content_policy", cost_usd=cost,
                             error_message=f"runway: refused by content policy ({code}): {reason}")
        # INTERNAL and INTERNAL.BAD_OUTPUT.* are documented as retryable (docs.dev.runwayml.com/errors/task-failures/,
        # as issue 12 reads it); a retry is a new paid create.
        retryable = code.upper() == "INTERNAL" or code.upper().startswith("INTERNAL.")
        return JobStatus(JobState.FAILED, error_code=code, error_message=f"runway: task failed ({code}): {reason}",
                         cost_usd=cost, retryable=retryable)

    # -- download --------------------------------------------------------------------------

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        try:
            task = self._client().tasks.retrieve(job_id)  # fresh signed URLs
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None
        if getattr(task, "status", None) != "SUCCEEDED" or not getattr(task, "output", None):
            raise ProviderError(f"runway: task {job_id} has no output (status {getattr(task, 'status', None)})",
                                code="no_output", transient=isinstance(task, str))
        download_url(task.output[0], Path(dest), provider="runway", progress=progress, secrets=[self._key])

    def cancel(self, job_id: str) -> None:
        try:
            self._client().tasks.delete(job_id)
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None

    # -- SDK plumbing ----------------------------------------------------------------------

    def _client(self) -> Any:
        if self._sdk is None:
            from runwayml import RunwayML

            self._key = env_key(["RUNWAYML_API_SECRET"], provider="runway", signup="https://dev.runwayml.com")
            self._sdk = RunwayML(api_key=self._key, base_url=env_base_url("DREAMCUT_RUNWAY_BASE_URL"),
                                 timeout=client_timeout(), max_retries=2)
        return self._sdk

    def _error(self, e: Exception, *, create: bool = False) -> Exception:
        """The ProviderError for an SDK failure (`_cloud.sdk_error`; Runway's body says `error` or
        `message`, with the request's `issues` when it lists them)."""
        import runwayml

        return sdk_error("runway", runwayml, e, create=create, secrets=[self._key], message_of=_error_message)


def _error_message(body: dict, default: str) -> str:
    message = body.get("error") or body.get("message") or default
    issues = body.get("issues")
    return f"{message}: {issues}" if issues else str(message)


def cast_routing(model: str | None, cast, own_refs) -> CastRouting:
    """Runway's video models take images only as `promptImage` (the first frame; Veo 3.1 models also a
    last frame). Tagged `referenceImages` (`@mia` in the prompt) exist only on Runway's image models
    (gen4_image, text_to_image), not on image_to_video; so the first cast reference becomes the first
    frame when the shot gives none (or, with the shot's `cast_keyframe: true`, a gen4_image keyframe made
    from every tagged reference does: `keyframe_routing`, `RunwayCastKeyframe`), local files inline as data URIs, https URLs on a domain name.
    (runwayml 5.24.0: types/image_to_video_create_params.py gives Gen4Turbo, Gen4_5 and Veo3_1 only
    `promptImage`; `referenceImages` with `tag` appears in types/text_to_image_create_params.py.)"""
    m = MODELS.get(model or "")
    return first_frame_routing(
        f"runway:{model}", cast, own_refs, slots=m.max_refs if m else 1, field=f"{FIRST_FRAME} (promptImage)",
        why_one="Runway's video models take one image, as the first frame (tagged referenceImages are for "
                "its image models only)",
        usable=lambda ref: not is_remote(ref) or _url_problem(ref) is None,
        unusable="not an https:// URL on a domain name (Runway refuses it)")


# -- the cast keyframe: gen4_image with tagged references, then the video from it -------------------

IMAGE_MODEL = "gen4_image"
# gen4_image: 5 credits a 720p image, 8 a 1080p one, $0.01 a credit: $0.05 / $0.08 (Runway's API pricing as
# Runway's own integration guide lists it, github.com/runwayml/skills rw-integrate-image "5 credits (720p),
# 8 credits (1080p)", read 2026-11-30; resellers list the same $0.05 / $0.08).
IMAGE_CREDITS = {720: 5, 1080: 8}
IMAGE_PRICE_SOURCE = "runwayml.com/api pricing via github.com/runwayml/skills (gen4_image 5 / 8 credits), read 2026-11-30"
# runwayml 5.24.0 types/text_to_image_create_params.py, Gen4Image.ratio: the sizes it makes, by short side.
IMAGE_RATIOS = {720: ((1280, 720), (720, 1280), (720, 720), (960, 720), (720, 960), (1680, 720)),
                1080: ((1920, 1080), (1080, 1920), (1080, 1080), (1440, 1080), (1080, 1440), (1808, 768),
                       (2112, 912), (1360, 768), (1168, 880), (1024, 1024))}
# runwayml 5.24.0 Gen4Image.reference_images: "An array of up to three images"; a tag "Must be 3-16
# characters, start with a letter, and use only letters, digits, and underscores".
MAX_IMAGE_REFS = 3
_KEYFRAME_PLACEHOLDER = "https://keyframe.invalid/cast-keyframe.png"  # stands for the keyframe in `problems`


def keyframe_ratio(width: int, height: int) -> tuple[int, int]:
    """The gen4_image size for a video of `width` x `height`: the 720p class for a video up to 720 lines
    (what Runway's 720p video models make), else 1080p; the nearest aspect ratio within the class."""
    short = 720 if min(width, height) <= 720 else 1080
    aspect = width / max(1, height)
    return min(IMAGE_RATIOS[short], key=lambda wh: abs(math.log((wh[0] / wh[1]) / aspect)))


def keyframe_price(width: int, height: int) -> float:
    w, h = keyframe_ratio(width, height)
    return round(IMAGE_CREDITS[720 if min(w, h) <= 720 else 1080] * CREDIT_USD, 6)


def cast_tag(name: str, n: int = 1) -> str:
    """The `@tag` of a cast member's n-th picture: 3-16 letters, digits and underscores, starting with a
    letter (runwayml 5.24.0 Gen4ImageReferenceImage.tag): mia, mia_2, mia_3."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not base[:1].isalpha():
        base = "c" + base
    suffix = "" if n == 1 else f"_{n}"
    base = (base + "_ref" if len(base) < 3 else base)[:16 - len(suffix)]
    return base + suffix


def _tagged(cast) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """((member, ref, tag) sent, (member, ref, why) dropped): every usable cast picture, three at most,
    the first picture of each member before anyone's second."""
    usable, dropped = [], []
    for member in cast:
        for n, ref in enumerate(member.refs, start=1):
            if is_remote(ref) and (why := _url_problem(ref)):
                dropped.append((member.name, ref, why))
            else:
                usable.append((n, member.name, ref))
    usable.sort(key=lambda x: x[0])  # stable: cast order within each rank
    sent = [(m, ref, cast_tag(m, n)) for n, m, ref in usable[:MAX_IMAGE_REFS]]
    dropped += [(m, ref, f"gen4_image takes at most {MAX_IMAGE_REFS} reference images")
                for _, m, ref in usable[MAX_IMAGE_REFS:]]
    order = {(m.name, r): i for i, (m, r) in enumerate((m, r) for m in cast for r in m.refs)}
    return sorted(sent, key=lambda x: order[(x[0], x[1])]), dropped


def keyframe_prompt(prompt: str, sent: list[tuple[str, str, str]]) -> str:
    """The image prompt: who is who by `@tag` (Runway's reference syntax), then the take's own prompt
    (which carries the cast's descriptions), within 1000 characters."""
    from dreamcut.cast import display_name

    tags: dict[str, list[str]] = {}
    for member, _, tag in sent:
        tags.setdefault(member, []).append("@" + tag)
    who = "; ".join(f"{display_name(m)} is {' and '.join(ts)}" for m, ts in tags.items())
    return (f"{who}. {prompt}" if who else prompt)[:PROMPT_CHARS]


def keyframe_routing(model: str | None, cast, size: tuple[int, int]) -> CastRouting:
    """`dreamcut check`'s words for a take with `cast_keyframe: true` (pure: no SDK, no files read)."""
    sent, dropped = _tagged(cast)
    w, h = size
    price = keyframe_price(w, h)
    refs = [CastRef(m, ref, f"{CAST_KEYFRAME} (referenceImages @{tag})") for m, ref, tag in sent]
    how = f"cast keyframe from {len(sent)} reference{'s' if len(sent) != 1 else ''} via {IMAGE_MODEL} (${price:.2f}), then {model}"
    return through_keyframe(f"runway:{model}", how, refs, dropped, f"{FIRST_FRAME} (promptImage)")


class RunwayCastKeyframe:
    """The keyframe step of a Runway take: POST /v1/text_to_image with model gen4_image, every usable cast
    picture in `referenceImages` with its `@tag` named in `promptText`; the task is polled, cancelled and
    billed like a video task (the same /v1/tasks endpoint); its output image is the video's promptImage."""

    name = "runway"
    model = IMAGE_MODEL
    suffix = ".png"
    cancel_billing = CancelBilling.BILLED_IF_RUNNING
    min_poll_interval = RunwayBackend.min_poll_interval

    def __init__(self, video: RunwayBackend) -> None:
        self._video = video

    def price(self, request: GenerationRequest) -> float:
        return keyframe_price(request.width, request.height)

    def routing(self, request: GenerationRequest) -> CastRouting:
        return keyframe_routing(self._video.model, request.cast, (request.width, request.height))

    def problems(self, request: GenerationRequest) -> list[str]:
        sent, _ = _tagged(request.cast)
        out = [] if sent else ["no cast picture Runway can fetch for the keyframe (https:// URLs on a domain "
                               "name, or local files)"]
        for _, ref, _ in sent:
            if not is_remote(ref):
                try:
                    load_ref(ref, where=request.shot_id)
                except BadInput as e:
                    out.append(e.message)
        return out

    def build(self, request: GenerationRequest) -> dict[str, Any]:
        sent, _ = _tagged(request.cast)
        w, h = keyframe_ratio(request.width, request.height)
        refs = [{"uri": ref if is_remote(ref) else
                 load_ref(ref, where=request.shot_id, max_bytes=self._video.max_inline_image_bytes).data_uri(),
                 "tag": tag} for _, ref, tag in sent]
        return {"model": IMAGE_MODEL, "prompt_text": keyframe_prompt(request.prompt, sent), "ratio": f"{w}:{h}",
                "reference_images": refs, "seed": request.seed % 4_294_967_295}

    def submit(self, request: GenerationRequest, idempotency_key: str) -> str:
        body = self.build(request)
        client = self._video._client().with_options(max_retries=0)  # no idempotency key: never re-sent
        try:
            task = client.text_to_image.create(**body)
        except Exception as e:  # noqa: BLE001
            raise self._video._error(e, create=True) from None
        task_id = getattr(task, "id", None)
        if not isinstance(task_id, str) or not task_id:
            raise outcome_unknown("runway", "the answer was not a task (no JSON id)", [self._video._key])
        return task_id

    def poll(self, job_id: str) -> JobStatus:
        return self._video.poll(job_id)

    def charged(self, request: GenerationRequest, status: JobStatus) -> float:
        """The task's `cost.credits` when it says; else successes and SAFETY.* failures in full (as video)."""
        if status.cost_usd is not None:
            return status.cost_usd
        if status.state == JobState.COMPLETED or status.error_code in ("content_policy", "gone", "canceled"):
            return self.price(request)
        return 0.0

    def download(self, job_id: str, dest: Path, progress: Progress | None = None) -> None:
        self._video.download(job_id, dest, progress)

    def cancel(self, job_id: str) -> None:
        self._video.cancel(job_id)

    def video_ref(self, job_id: str, path: Path) -> str:
        """The downloaded keyframe: the video request inlines it as a data URI (the task's output URL
        expires in 24-48 h, so a resumed take reads the file, not the URL)."""
        return str(path)
