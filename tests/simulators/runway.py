"""Simulator of the Runway API (api.dev.runwayml.com, API version 2024-11-06).

POST /v1/text_to_video, POST /v1/image_to_video, POST /v1/text_to_image (gen4_image, the cast keyframe)
-> {"id", "estimatedCost": {"credits"}};
GET /v1/tasks/{id} -> {"id", "createdAt", "status": PENDING|THROTTLED|RUNNING|SUCCEEDED|FAILED|CANCELLED,
"estimatedCost" | "cost", "progress", "output", "failure", "failureCode"}; DELETE /v1/tasks/{id} -> 204.
Auth: `Authorization: Bearer`; every request carries `X-Runway-Version`. Errors: {"error", "issues"?}.
There is no endpoint that lists tasks (runwayml 5.24.0 resources/tasks.py has retrieve and delete only),
so a lost create cannot be found again by listing.

Sources (read 2026-11-29):
[sdk-tasks]   runwayml 5.24.0 site-packages/runwayml/resources/tasks.py (retrieve, delete docstrings)
[sdk-task]    runwayml 5.24.0 site-packages/runwayml/types/task_retrieve_response.py
[sdk-create]  runwayml 5.24.0 site-packages/runwayml/types/text_to_video_create_params.py,
              image_to_video_create_params.py, text_to_video_create_response.py
[inputs]      https://docs.dev.runwayml.com/assets/inputs/
[failures]    https://docs.dev.runwayml.com/errors/task-failures/ (only its first sections could be read)
[moderation]  https://docs.dev.runwayml.com/api-details/moderation
[errors]      https://docs.dev.runwayml.com/errors/errors
[help-errors] https://help.runwayml.com/hc/en-us/articles/32880432736659 (web app help centre)
[sdk-image]   runwayml 5.24.0 site-packages/runwayml/resources/text_to_image.py (create: POST /v1/text_to_image,
              answered with a task id; the task is then read at /v1/tasks/{id} like a video task) and
              types/text_to_image_create_params.py (Gen4Image: promptText 1-1000, ratio, referenceImages "up to
              three", each {uri, tag}; tag "3-16 characters, start with a letter, ... letters, digits, and
              underscores"), read 2026-11-30
[image-price] gen4_image: "5 credits (720p), 8 credits (1080p)" (github.com/runwayml/skills rw-integrate-image,
              Runway's own integration guide, read 2026-11-30)
"""

from __future__ import annotations

import base64
import io
import ipaddress
import re
from urllib.parse import urlsplit

from simulators._http import Job, Request, Response, Simulator, usd

# [sdk-create]: the ratios each model takes per endpoint (text_to_video gen4.5: 1280:720 and 720:1280 only).
TEXT_RATIOS = {
    "gen4.5": {"1280:720", "720:1280"},
    "veo3.1": {"1280:720", "720:1280", "1080:1920", "1920:1080"},
    "veo3.1_fast": {"1280:720", "720:1280", "1080:1920", "1920:1080"},
}
IMAGE_RATIOS = {
    "gen4_turbo": {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"},
    "gen4.5": {"1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672"},
    "veo3.1": {"1280:720", "720:1280", "1080:1920", "1920:1080"},
    "veo3.1_fast": {"1280:720", "720:1280", "1080:1920", "1920:1080"},
}
# [sdk-create]: gen4.5 "Must be an integer from 2 to 10"; Veo 3.1 Literal[4, 6, 8]. gen4_turbo's duration is
# an int without a documented range in the SDK; the 5 and 10 s it is sold in are accepted here.
DURATIONS = {"gen4.5": set(range(2, 11)), "gen4_turbo": {5, 10}, "veo3.1": {4, 6, 8}, "veo3.1_fast": {4, 6, 8}}
# Credits per second, $0.01 each (runwayml.com/api pricing as the backend's table cites it, read 2025-10; the
# simulator keeps its own copy so a wrong backend price shows up as ledger != books).
CREDITS = {"gen4_turbo": 5, "gen4.5": 12, "veo3.1": 20, "veo3.1_fast": 10}
URL_LIFETIME_S = 24 * 3600  # [sdk-task]: output URLs "expire within 24-48 hours"
DATA_URI_LIMIT = 5 * 1024 * 1024  # [inputs]: "Data URI size limit" for images: 5MB
# [sdk-image] Gen4Image.ratio, by price class ([image-price]: 5 credits a 720p image, 8 a 1080p one).
IMAGE_CREDITS = {**{r: 5 for r in ("1280:720", "720:1280", "720:720", "960:720", "720:960", "1680:720")},
                 **{r: 8 for r in ("1920:1080", "1080:1920", "1024:1024", "1080:1080", "1168:880", "1360:768",
                                   "1440:1080", "1080:1440", "1808:768", "2112:912")}}
TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,15}$")  # [sdk-image] Gen4ImageReferenceImage.tag


def tiny_png() -> bytes:
    """A small real PNG: what a finished gen4_image task's output URL serves here."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (128, 72), (40, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def _uri_problem(uri: object) -> str | None:
    """[inputs]: "All URLs must be HTTPS", "must reference a domain name ... not an IP address"; data URIs
    up to 5MB; [sdk-create]: "A HTTPS URL, Runway upload URI, or base64 data URI"."""
    if not isinstance(uri, str) or not uri:
        return "Expected a string"
    if uri.startswith("data:"):
        head, _, data = uri.partition(",")
        if not head.startswith("data:image/") or ";base64" not in head:
            return "Invalid data URI"
        if len(uri) > DATA_URI_LIMIT:
            return "Data URI exceeds the 5MB limit"
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            return "Invalid base64 in data URI"
        return None
    if uri.startswith("runway://"):
        return None
    parts = urlsplit(uri)
    if parts.scheme != "https":
        return "URLs must use HTTPS"
    try:
        ipaddress.ip_address(parts.hostname or "")
        return "URLs must reference a domain name, not an IP address"
    except ValueError:
        return None


class RunwaySim(Simulator):
    provider = "runway"
    key_env = "RUNWAYML_API_SECRET"
    base_url_env = "DREAMCUT_RUNWAY_BASE_URL"
    throttled_polls = 1  # polls a task spends THROTTLED after PENDING
    failure_plans = ("policy", "internal", "error")  # SAFETY.INPUT.TEXT, INTERNAL, INTERNAL.BAD_OUTPUT.CODE01
    hold_images = None  # a threading.Event: image downloads wait for it (tests kill a client mid-download)

    def setup_routes(self) -> None:
        self.add("POST", r"/v1/text_to_video", "create", self.create)
        self.add("POST", r"/v1/image_to_video", "create", self.create)
        self.add("POST", r"/v1/text_to_image", "create_image", self.create_image)
        self.add("GET", r"/v1/tasks/(?P<id>[^/]+)", "task", self.task)
        self.add("DELETE", r"/v1/tasks/(?P<id>[^/]+)", "delete", self.delete)

    def unauthorized(self) -> Response:
        # [errors]: 401 "The provided API key is not valid"; 400s carry "an error member" (same shape here).
        return Response(401, {"error": "Invalid API key."})

    def rate_limited(self, req: Request) -> Response:
        # [errors]: 429 "If the client makes too many requests ... May retry: Yes". The page names no
        # rate-limit headers and no body beyond an `error` member, so none are invented here.
        return Response(429, {"error": "You have exceeded the rate limit. Please slow down."})

    def server_error(self, req: Request, status: int = 500) -> Response:
        # [errors]: 502/503 "Runway is shedding load", 504 "overloaded"; all "May retry: Yes".
        return Response(status, {"error": "An internal error occurred."})

    # -- books -------------------------------------------------------------------------------

    def phase(self, job: Job) -> str:
        if job.plan == "throttled" and not job.canceled:
            # [sdk-task] THROTTLED: over the account's concurrency; Runway starts it later by itself. This plan
            # stays queued (an account whose other tasks never finish) until it is cancelled.
            return "queued"
        return job.phase(self.clock.now(), queued_polls=1 + self.throttled_polls)

    def billed(self, job: Job):
        """Credits charged, as the task's `cost.credits` reports them ($0.01 each)."""
        return usd(self.cost_credits(job)) / 100

    def cost_credits(self, job: Job) -> int:
        phase = self.phase(job)
        if phase == "done":
            return job.extra["credits"]
        if phase == "canceled":
            # [sdk-tasks] delete(): "If that check observes RUNNING, cancellation does not refund credits."
            # Cancelled while PENDING/THROTTLED: refunded (the same docstring: refund eligibility follows the
            # status the server observes; a prior GET saying PENDING "does not guarantee a refund").
            return job.extra["credits"] if job.canceled_phase == "running" else 0
        if phase == "policy":
            # [moderation]: "Moderated generations have the same credit cost as successful generations."
            return job.extra["credits"]
        if phase in ("internal", "error"):
            # [help-errors]: generation errors: "credits (if used) will be returned to your account";
            # [sdk-task]: "Fully refunded tasks report 0".
            return 0
        return 0

    def state_name(self, job: Job) -> str:
        return {"queued": "PENDING", "running": "RUNNING", "done": "SUCCEEDED", "canceled": "CANCELLED"}.get(
            self.phase(job), "FAILED")

    # -- routes ------------------------------------------------------------------------------

    def create(self, req: Request) -> Response:
        # runwayml 5.24.0 _client.py sends `X-Runway-Version: 2024-11-06` on every request.
        if req.header("X-Runway-Version") != "2024-11-06":
            return Response(400, {"error": "Missing or invalid X-Runway-Version header."})
        body = req.json()
        model = body.get("model")
        image_route = req.path.endswith("image_to_video")
        ratios = (IMAGE_RATIOS if image_route else TEXT_RATIOS).get(model)
        issues = []
        if ratios is None:
            issues.append({"path": ["model"], "message": f"Invalid model {model!r} for this endpoint"})
        elif body.get("ratio") not in ratios:
            issues.append({"path": ["ratio"], "message": f"Invalid ratio {body.get('ratio')!r}"})
        duration = body.get("duration", 5 if model == "gen4_turbo" else None)
        if model in DURATIONS and (type(duration) is not int or duration not in DURATIONS[model]):
            issues.append({"path": ["duration"], "message": f"Invalid duration {duration!r}"})
        if not body.get("promptText") and not image_route:
            issues.append({"path": ["promptText"], "message": "Required"})
        if len(body.get("promptText", "")) > 1000:
            issues.append({"path": ["promptText"], "message": "Too long"})
        if image_route:
            image = body.get("promptImage")
            uris = [image] if isinstance(image, str) else [p.get("uri") for p in image or [] if isinstance(p, dict)]
            if not uris:
                issues.append({"path": ["promptImage"], "message": "Required"})
            for i, uri in enumerate(uris):
                problem = _uri_problem(uri)
                if problem:
                    issues.append({"path": ["promptImage", i], "message": problem})
        if issues:  # [errors]: 400 "a JSON response with an error member"; `issues` as the API adds it
            return Response(400, {"error": "Validation of body failed", "issues": issues})
        job = self.new_job(body, prompt=body.get("promptText"))
        job.extra["credits"] = CREDITS[model] * duration
        # [sdk-create] create response: {"id", "estimatedCost": {"credits"}}
        # ("The maximum credits this task may charge").
        return Response(200, {"id": job.id, "estimatedCost": {"credits": job.extra["credits"]}})

    def create_image(self, req: Request) -> Response:
        """[sdk-image] POST /v1/text_to_image with model gen4_image: validated like the video creates (400,
        `error` + `issues`), billed per image by ratio class, a task like any other."""
        if req.header("X-Runway-Version") != "2024-11-06":
            return Response(400, {"error": "Missing or invalid X-Runway-Version header."})
        body = req.json()
        issues = []
        if body.get("model") != "gen4_image":
            issues.append({"path": ["model"], "message": f"Invalid model {body.get('model')!r} for this endpoint"})
        if body.get("ratio") not in IMAGE_CREDITS:
            issues.append({"path": ["ratio"], "message": f"Invalid ratio {body.get('ratio')!r}"})
        text = body.get("promptText")
        if not isinstance(text, str) or not text or len(text) > 1000:  # [sdk-image]: "non-empty ... up to 1000"
            issues.append({"path": ["promptText"], "message": "Expected a non-empty string up to 1000 characters"})
        refs = body.get("referenceImages") or []
        if len(refs) > 3:  # [sdk-image]: "An array of up to three images"
            issues.append({"path": ["referenceImages"], "message": "At most 3 reference images"})
        for i, ref in enumerate(refs):
            problem = _uri_problem(ref.get("uri") if isinstance(ref, dict) else None)
            if problem:
                issues.append({"path": ["referenceImages", i, "uri"], "message": problem})
            tag = ref.get("tag") if isinstance(ref, dict) else None
            if tag is not None and not TAG.match(str(tag)):
                issues.append({"path": ["referenceImages", i, "tag"], "message": "Invalid tag"})
        if issues:
            return Response(400, {"error": "Validation of body failed", "issues": issues})
        job = self.new_job(body, prompt=text)
        job.extra["credits"] = IMAGE_CREDITS[body["ratio"]]
        job.extra["image"] = True
        return Response(200, {"id": job.id, "estimatedCost": {"credits": job.extra["credits"]}})

    def task(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        # [sdk-tasks]: "Aborted and deleted tasks will not be able to be fetched again"; [errors]: 404 "when the
        # referenced resource is not available".
        if job is None or job.extra.get("deleted"):
            return Response(404, {"error": "Task not found."})
        job.polls += 1
        base = {"id": job.id, "createdAt": self.clock.iso(job.created_at)}
        estimated = {"estimatedCost": {"credits": job.extra["credits"]}}
        cost = {"cost": {"credits": self.cost_credits(job)}}
        phase = self.phase(job)
        if phase == "queued":
            # PENDING, then THROTTLED (over the account's concurrency, [sdk-task] Throttled) for throttled_polls.
            status = "PENDING" if job.polls == 1 else "THROTTLED"
            return Response(200, {**base, **estimated, "status": status})
        if phase == "running":
            return Response(200, {**base, **estimated, "status": "RUNNING", "progress": 0.5})
        if phase == "done":
            # [sdk-task] Succeeded.output: URLs that "expire within 24-48 hours; fetch the task again to get fresh
            # URLs". Each answer signs a fresh URL valid for the shorter bound, 24 h of the simulator's clock.
            expires = int(self.clock.now() + URL_LIFETIME_S)
            name = f"{job.id}.png" if job.extra.get("image") else f"{job.id}.mp4"  # [sdk-image]: an image URL
            return Response(200, {**base, **cost, "status": "SUCCEEDED",
                                  "output": [self.media_url(name) + f"?expires={expires}"]})
        if phase == "policy":
            # [failures]: SAFETY.INPUT.* = an input was rejected by moderation; "You should not retry".
            return Response(200, {**base, **cost, "status": "FAILED", "failureCode": "SAFETY.INPUT.TEXT",
                                  "failure": "Your prompt was flagged by our content moderation system."})
        if phase == "internal":
            # The issue's reading of [failures]: INTERNAL failures may be retried (that part of the page could
            # not be read here; see the module docstring).
            return Response(200, {**base, **cost, "status": "FAILED", "failureCode": "INTERNAL",
                                  "failure": "An internal error occurred."})
        # [failures]: INTERNAL.BAD_OUTPUT.* = "rejected by our internal systems for quality or system error reasons".
        return Response(200, {**base, **cost, "status": "FAILED", "failureCode": "INTERNAL.BAD_OUTPUT.CODE01",
                              "failure": "An unexpected error occurred."})

    def _media(self, req: Request) -> Response:
        expires = float((req.query.get("expires") or ["0"])[0])
        if self.clock.now() > expires:  # a signed URL past its lifetime: what the exact answer is, is not documented
            return Response(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                            {"Content-Type": "application/xml"})
        if req.params["name"].endswith(".png"):
            if self.hold_images is not None:  # a test holds the keyframe's download (to kill the client there)
                self.hold_images.wait(60)
            return Response(200, tiny_png(), {"Content-Type": "image/png"})
        return super()._media(req)

    def delete(self, req: Request) -> Response:
        job = self.jobs.get(req.params["id"])
        if job is None or job.extra.get("deleted"):
            return Response(404, {"error": "Task not found."})
        # [sdk-tasks]: running, pending or throttled tasks are cancelled; others are deleted (a completed task's
        # charge is not refunded). Either way the task cannot be fetched again.
        phase = self.phase(job)
        if phase in ("queued", "running"):
            job.canceled_phase = phase
            job.canceled = True
        job.extra["deleted"] = True
        return Response(204, b"")


RunwayStandIn = RunwaySim  # the stand-in's old name
