"""What `dreamcut serve` serves: its models, videos, characters and billing, and the spec's enums.

Plain records (no I/O, no locks); `state.VideoServer` holds them and `app` turns them into JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse

from dreamcut.server.wire import ApiError

# The spec's enums (tests/data/openai-openapi-videos.yaml): VideoSize, VideoSeconds, VideoModel.
SPEC_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
SORA_SIZES = SPEC_SIZES[:2]
SORA_PRO_SIZES = SPEC_SIZES
SPEC_SECONDS = ("4", "8", "12")
# CreateVideoExtend*Body.seconds: "allowed values: 4, 8, 12, 16, 20" (its description; the enum
# it references lists 4, 8, 12: the longer three are accepted as the description says).
EXTENSION_SECONDS = ("4", "8", "12", "16", "20")
VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
DEFAULT_MAX_REQUEST_BYTES = 64 << 20
MAX_CHARACTER_REFS = 4
MIN_SECONDS = 0.1  # local models: shorter is not a clip


@dataclass(frozen=True)
class ServedModel:
    """A model name the server answers to, with the lengths and sizes it accepts."""

    id: str
    price_per_second: float
    seconds: tuple[str, ...] | None = None  # allowed values, or None = any number in (0, max_seconds]
    sizes: tuple[str, ...] | None = None  # allowed values, or None = any even WxH
    max_seconds: float = 20.0

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "object": "model", "created": 0, "owned_by": "dreamcut",
                # dreamcut extension: what a client needs to plan requests without guessing
                "dreamcut": {"seconds": list(self.seconds) if self.seconds else None,
                             "sizes": list(self.sizes) if self.sizes else None,
                             "max_seconds": self.max_seconds, "price_per_second": self.price_per_second,
                             "extend": True, "image_conditioning": True}}

    @property
    def spec(self) -> bool:
        """A model of the spec's enum: its requests and answers stay within the spec's values."""
        return self.sizes is not None


@dataclass
class Character:
    id: str
    name: str
    created_at: int
    still: Path

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at}


def characters_in(prompt: str, characters: list[Character]) -> list[Character]:
    """The characters a prompt names (`Mara`, `@mara`, or `char_...`), oldest first, at most four."""
    found = []
    for c in sorted(characters, key=lambda c: (c.created_at, c.id)):
        pattern = rf"(?<![\w@])@?{re.escape(c.name)}(?!\w)"
        if c.id in prompt or re.search(pattern, prompt, flags=re.IGNORECASE):
            found.append(c)
    return found[:MAX_CHARACTER_REFS]


@dataclass
class Video:
    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created_at: int
    seq: int = 0
    status: str = "queued"
    progress: int = 0
    completed_at: int | None = None
    error: dict[str, str] | None = None
    remixed_from_video_id: str | None = None
    refs: tuple[Path, ...] = ()  # reference images the render is conditioned on
    condition_on: tuple[Path, float] | None = None  # (source video, time): its frame joins refs (remix, edit)
    extend_from: Path | None = None  # the video an extension continues
    stuck: bool = False
    canceled: bool = False
    path: Path | None = None
    billed_seconds: float = 0.0  # what this job costs when it completes
    price: float = 0.0
    started: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "object": "video", "model": self.model, "status": self.status,
                "progress": self.progress, "created_at": self.created_at, "completed_at": self.completed_at,
                "expires_at": None,  # nothing expires here: files stay until DELETE
                "prompt": self.prompt, "seconds": self.seconds, "size": self.size,
                "remixed_from_video_id": self.remixed_from_video_id, "error": self.error}


@dataclass
class Billing:
    creates: int = 0  # creates accepted (each is a paid job)
    idempotent_replays: int = 0  # creates answered from an earlier one with the same key
    completed: int = 0
    billed_usd: float = 0.0
    billed_seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)


def error_response(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
                   param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """A refusal in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`."""
    return JSONResponse({"error": {"message": message, "type": type_, "param": param, "code": code}},
                        status_code=status, headers=headers)


def key_reused() -> ApiError:
    return ApiError(409, "This Idempotency-Key was already used with a different request body. Use a new key for "
                    "a new request.", param="Idempotency-Key", code="idempotency_key_reused")


def not_found(video_id: str, param: str | None = None) -> ApiError:
    return ApiError(404, f"Video with id '{video_id[:100]}' not found.", param=param, code="video_not_found")


def seconds_text(seconds: float) -> str:
    return f"{round(seconds, 2):g}"
