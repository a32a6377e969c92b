"""Simulator of Veo on the Vertex AI REST API, in express mode (API key in `x-goog-api-key`),
answering the two calls google-genai 3.6.1 makes for video (google/genai/models.py
`generate_videos`, google/genai/operations.py `get`; read 2026-11-29):

POST /v1beta1/publishers/google/models/{model}:predictLongRunning
    {"instances": [{"prompt", "image"?: {bytesBase64Encoded, mimeType}, "video"?, "lastFrame"?}],
     "parameters": {"sampleCount", "durationSeconds", "aspectRatio", "resolution", "seed", ...}}
    -> {"name": "projects/P/locations/L/publishers/google/models/{model}/operations/{id}"}
POST /v1beta1/projects/P/locations/L/publishers/google/models/{model}:fetchPredictOperation
    {"operationName"} -> {"name", "done": false} | {"name", "done": true, "response":
    {"@type": "...GenerateVideoResponse", "raiMediaFilteredCount", "videos": [{"bytesBase64Encoded", "mimeType"}]}}
    | {"name", "done": true, "error": {"code", "message"}}
Errors: {"error": {"code", "message", "status", "details": [...]}} (cloud.google.com/apis/design/errors,
read 2026-11-29); quota errors carry `google.rpc.RetryInfo.retryDelay` and no Retry-After header.

Behaviours, each from its source (read 2026-11-29):
- lengths: Veo 3.x generates 4, 6 or 8 s (cloud.google.com/vertex-ai/generative-ai/docs/models/veo/3-0-generate-001,
  /3-1-generate); Veo 2 5-8 s.
- extensions (Veo 3.1 only): the input video must be 1-30 s and each call adds 7 s; the result is the whole
  video, input + 7 s; extensions are 720p (docs.cloud.google.com/gemini-enterprise-agent-platform/models/video/
  extend-videos). A request breaking these is a 400 INVALID_ARGUMENT and creates nothing.
- no cancel: google-genai has no cancel for video operations, so this simulator has no cancel route; an
  operation runs to its end and is billed whatever the client does.
- billing: per second of video generated at the model's rate (cloud.google.com/vertex-ai/generative-ai/pricing,
  Veo, video without audio): a finished operation bills its seconds (an extension bills its 7 s); an operation
  that ended in an error, or whose every video the safety filter removed, delivered nothing and bills nothing.
- no list: nothing here lists operations (google-genai cannot), so an unknown create can only be parked.
"""

from __future__ import annotations

import base64
import struct
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

from simulators._http import Job, Request, Response, Simulator, usd

RESOURCE = "projects/sim-project/locations/us-central1/publishers/google/models/{model}"
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
DURATIONS = {"veo-2.0-generate-001": {5, 6, 7, 8}}  # every other model: 4, 6, 8
EXTENDS = {"veo-3.1-generate-001", "veo-3.1-generate-preview", "veo-3.1-fast-generate-001",
           "veo-3.1-fast-generate-preview"}
EXTEND_SECONDS = 7
MAX_EXTEND_INPUT = 30
# USD per second of video without audio (cloud.google.com/vertex-ai/generative-ai/pricing, as the backend's table).
PRICES = {"veo-3.1-generate-001": "0.20", "veo-3.1-generate-preview": "0.20", "veo-3.1-fast-generate-001": "0.10",
          "veo-3.1-fast-generate-preview": "0.10", "veo-3.0-generate-001": "0.20", "veo-3.0-fast-generate-001": "0.10",
          "veo-2.0-generate-001": "0.50"}

_CLIPS: dict[float, bytes] = {}


def clip(seconds: float) -> bytes:
    """A real H.264 mp4 of `seconds` (tiny and 8 fps, so long ones are quick), cached per length."""
    if seconds not in _CLIPS:
        from dreamcut.media import ffmpeg_exe

        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "clip.mp4"
            subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                            f"testsrc=size=128x72:rate=8:duration={seconds:g}", "-c:v", "libx264", "-preset",
                            "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(out)],
                           check=True, capture_output=True)
            _CLIPS[seconds] = out.read_bytes()
    return _CLIPS[seconds]


def mp4_seconds(data: bytes) -> float | None:
    """Duration from the `mvhd` box of an mp4 (what Google reads to check an extension's input)."""
    at = data.find(b"mvhd")
    if at < 4 or at + 28 > len(data):
        return None
    if data[at + 4] == 1:
        timescale, duration = struct.unpack(">IQ", data[at + 24:at + 36])
    else:
        timescale, duration = struct.unpack(">II", data[at + 16:at + 24])
    return duration / timescale if timescale else None


def google_error(code: int, status: str, message: str, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


class VeoSim(Simulator):
    provider = "veo"
    key_env = "GOOGLE_API_KEY"
    base_url_env = "DREAMCUT_VEO_BASE_URL"
    create_routes = ("create",)

    def setup_routes(self) -> None:
        self.add("POST", r"/v1beta1/publishers/google/models/(?P<model>[^/:]+):predictLongRunning", "create",
                 self.create)
        self.add("POST", r"/v1beta1/projects/(?P<project>[^/]+)/locations/(?P<loc>[^/]+)/publishers/google/models/"
                         r"(?P<model>[^/:]+):fetchPredictOperation", "fetch", self.fetch)

    def authorized(self, req: Request) -> bool:
        return req.header("x-goog-api-key") == self.key

    def unauthorized(self) -> Response:
        return Response(401, google_error(401, "UNAUTHENTICATED", "API key not valid. Please pass a valid API key."))

    def rate_limited(self, req: Request) -> Response:
        # Vertex quota errors: 429 RESOURCE_EXHAUSTED with RetryInfo in the body, no Retry-After header
        # (cloud.google.com/vertex-ai/generative-ai/docs/error-code-429, read 2026-11-29).
        return Response(429, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for "
                                          "aiplatform.googleapis.com/online_prediction_requests_per_base_model", [
                                              {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                               "retryDelay": "1s"}]))

    def server_error(self, req: Request, status: int = 500) -> Response:
        name = {500: "INTERNAL", 503: "UNAVAILABLE"}.get(status, "INTERNAL")
        return Response(status, google_error(status, name, "Internal error encountered." if status == 500 else
                                             "The service is currently unavailable."))

    # -- the two calls -----------------------------------------------------------------------

    def create(self, req: Request) -> Response:
        body = req.json()
        model = req.params["model"]
        params = body.get("parameters", {})
        instance = (body.get("instances") or [{}])[0]
        problems = []
        if model not in PRICES:
            return Response(404, google_error(404, "NOT_FOUND", f"Publisher model {model} is not found."))
        if params.get("sampleCount") != 1:
            problems.append("sampleCount must be 1 here")
        if params.get("aspectRatio") not in ("16:9", "9:16"):
            problems.append("Unsupported aspect ratio")
        seconds = params.get("durationSeconds")
        input_seconds = None
        if "video" in instance:
            video = instance["video"]
            data = base64.b64decode(video.get("bytesBase64Encoded", ""), validate=True)
            input_seconds = mp4_seconds(data)
            if model not in EXTENDS:
                problems.append(f"{model} does not support video extension")
            if seconds != EXTEND_SECONDS:
                problems.append("video extension must be 7 seconds")
            if params.get("resolution") not in (None, "720p"):
                problems.append("video extension supports 720p only")
            if input_seconds is None or not 1 <= input_seconds <= MAX_EXTEND_INPUT + 0.05:
                problems.append(f"the input video must be 1-{MAX_EXTEND_INPUT} seconds long "
                                f"(got {input_seconds or 0:.1f})")
        elif seconds not in DURATIONS.get(model, {4, 6, 8}):
            problems.append(f"Unsupported durationSeconds {seconds}")
        for key in ("image", "lastFrame"):
            if key in instance:
                media = instance[key]
                if not media.get("bytesBase64Encoded") and not media.get("gcsUri"):
                    problems.append(f"{key} needs bytesBase64Encoded or gcsUri")
                else:
                    base64.b64decode(media.get("bytesBase64Encoded", ""), validate=True)
        if problems:
            return Response(400, google_error(400, "INVALID_ARGUMENT", "; ".join(problems)))
        # The operation's full resource name is its id, in the books too (what a director adopts).
        job = self.new_job({"model": model, **body}, prompt=instance.get("prompt"),
                           job_id=RESOURCE.format(model=model) + "/operations/" + self.new_id())
        job.extra.update(model=model, seconds=int(seconds),
                         made=(input_seconds or 0) + seconds if input_seconds is not None else seconds)
        return Response(200, {"name": job.id})

    def fetch(self, req: Request) -> Response:
        name = req.json().get("operationName", "")
        job = self.jobs.get(name)
        if job is None:
            return Response(404, google_error(404, "NOT_FOUND", f"Operation {name} not found"))
        job.polls += 1
        phase = self.phase(job)
        if phase in ("queued", "running"):
            return Response(200, {"name": name, "done": False})
        if phase == "done":
            video = clip(round(job.extra["made"], 3))
            return Response(200, {"name": name, "done": True, "response": {
                "@type": RESPONSE_TYPE, "raiMediaFilteredCount": 0,
                "videos": [{"bytesBase64Encoded": base64.b64encode(video).decode(), "mimeType": "video/mp4"}]}})
        if phase == "policy":
            return Response(200, {"name": name, "done": True, "response": {
                "@type": RESPONSE_TYPE, "raiMediaFilteredCount": 1, "videos": [],
                "raiMediaFilteredReasons": ["Unable to generate videos because the prompt violates the usage "
                                            "guidelines. Support codes: 58061214"]}})
        return Response(200, {"name": name, "done": True,
                              "error": {"code": 13, "message": "Internal error encountered."}})

    # -- books -------------------------------------------------------------------------------

    def phase(self, job: Job) -> str:
        return job.phase(self.clock.now(), queued_polls=0, running_polls=2)

    def state_name(self, job: Job) -> str:
        phase = self.phase(job)
        return {"queued": "RUNNING", "running": "RUNNING", "done": "SUCCEEDED", "policy": "FILTERED"}.get(phase,
                                                                                                         "FAILED")

    def billed(self, job: Job) -> Decimal:
        if self.phase(job) != "done":
            return Decimal(0)
        return usd(PRICES[job.extra["model"]]) * job.extra["seconds"]
