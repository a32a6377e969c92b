"""Stand-in for Veo on the Vertex AI REST API (cloud.google.com/vertex-ai/generative-ai/docs/model-reference/veo-video-generation),
in express mode (API key in `x-goog-api-key`), the way google-genai 3.x calls it.

POST /v1beta1/publishers/google/models/{model}:predictLongRunning
    {"instances": [{"prompt", "image"?: {bytesBase64Encoded, mimeType}, "video"?, "lastFrame"?}],
     "parameters": {"sampleCount", "durationSeconds", "aspectRatio", "resolution", "seed", ...}}
    -> {"name": "projects/P/locations/L/publishers/google/models/{model}/operations/{id}"}
POST /v1beta1/projects/P/locations/L/publishers/google/models/{model}:fetchPredictOperation
    {"operationName"} -> {"name", "done": false} | {"name", "done": true, "response":
    {"@type": "...GenerateVideoResponse", "raiMediaFilteredCount", "videos": [{"bytesBase64Encoded", "mimeType"}]}}
    | {"name", "done": true, "error": {"code", "message"}}
Errors: {"error": {"code", "message", "status", "details": [{"@type": ".../google.rpc.RetryInfo", "retryDelay": "17s"}]}}.
"""

from __future__ import annotations

import base64

from simulators._http import Request, Response, StandIn, tiny_mp4

RESOURCE = "projects/standin-project/locations/us-central1/publishers/google/models/{model}"
DURATIONS = {"veo-2.0-generate-001": {5, 6, 7, 8}}


def google_error(code: int, status: str, message: str, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


class VeoStandIn(StandIn):
    def setup_routes(self) -> None:
        self.add("POST", r"/v1beta1/publishers/google/models/(?P<model>[^/:]+):predictLongRunning", "create",
                 self.create)
        self.add("POST", r"/v1beta1/projects/(?P<project>[^/]+)/locations/(?P<loc>[^/]+)/publishers/google/models/"
                         r"(?P<model>[^/:]+):fetchPredictOperation", "fetch", self.fetch)

    def authorized(self, req: Request) -> bool:
        return req.header("x-goog-api-key") == self.key

    def unauthorized(self) -> Response:
        return Response(401, google_error(401, "UNAUTHENTICATED", "API key not valid. Please pass a valid API key."))

    def create(self, req: Request) -> Response:
        body = req.json()
        model = req.params["model"]
        params = body.get("parameters", {})
        instance = (body.get("instances") or [{}])[0]
        problems = []
        if params.get("sampleCount") != 1:
            problems.append("sampleCount must be 1 here")
        if params.get("durationSeconds") not in DURATIONS.get(model, {4, 6, 7, 8}):
            problems.append(f"Unsupported durationSeconds {params.get('durationSeconds')}")
        if params.get("aspectRatio") not in ("16:9", "9:16"):
            problems.append("Unsupported aspect ratio")
        if "video" in instance and params.get("durationSeconds") != 7:
            problems.append("video extension must be 7 seconds")
        for key in ("image", "lastFrame", "video"):
            if key in instance:
                media = instance[key]
                if not media.get("bytesBase64Encoded") and not media.get("gcsUri"):
                    problems.append(f"{key} needs bytesBase64Encoded or gcsUri")
                else:
                    base64.b64decode(media.get("bytesBase64Encoded", ""), validate=True)
        if problems:
            return Response(400, google_error(400, "INVALID_ARGUMENT", "; ".join(problems)))
        job = self.new_job({"model": model, **body})
        return Response(200, {"name": RESOURCE.format(model=model) + f"/operations/{job.id}"})

    def fetch(self, req: Request) -> Response:
        name = req.json().get("operationName", "")
        job = self.jobs.get(name.rsplit("/", 1)[-1])
        if job is None:
            return Response(404, google_error(404, "NOT_FOUND", f"Operation {name} not found"))
        job.polls += 1
        phase = job.phase(self.clock.now(), queued_polls=0, running_polls=2)
        if phase in ("queued", "running"):
            return Response(200, {"name": name, "done": False})
        response_type = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
        if phase == "done":
            return Response(200, {"name": name, "done": True, "response": {
                "@type": response_type, "raiMediaFilteredCount": 0,
                "videos": [{"bytesBase64Encoded": base64.b64encode(tiny_mp4()).decode(), "mimeType": "video/mp4"}]}})
        if phase == "policy":
            return Response(200, {"name": name, "done": True, "response": {
                "@type": response_type, "raiMediaFilteredCount": 1, "videos": [],
                "raiMediaFilteredReasons": ["Unable to generate videos because the prompt violates the usage "
                                            "guidelines. Support codes: 58061214"]}})
        return Response(200, {"name": name, "done": True,
                              "error": {"code": 13, "message": "Internal error encountered."}})
