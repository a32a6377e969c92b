"""A shot of the shot list: its prompt (or scenes), placement on the music, transition and framing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from dreamcut.backends.registry import parse_backend
from dreamcut.spec.base import _ID_RE, MAX_PROMPT_CHARS, MAX_SHOT_CAST, MAX_TAKE_SECONDS, MAX_TAKES_PER_SHOT, _Model


class Placement(_Model):
    """Pin a shot's start to the music. Exactly one field is set.

    section: a section label from the song analysis ("chorus", "chorus#2" for the second chorus)
    bar: 1-based bar number; beat: 1-based beat number; second: seconds from the song start.
    """

    section: str | None = None
    bar: int | None = Field(default=None, ge=1)
    beat: int | None = Field(default=None, ge=1)
    second: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Placement":
        given = [k for k in ("section", "bar", "beat", "second") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of section, bar, beat, second")
        return self


TransitionKind = Literal["cut", "dissolve", "dip", "zoom"]


class TransitionSpec(_Model):
    """How a shot hands over to the next one. `beats` is the length in beats of the song."""

    kind: TransitionKind = "cut"
    beats: float = Field(default=1.0, gt=0, le=16)


#: `reframe:` words -> where the subject sits across the frame (0 = left edge, 1 = right edge)
REFRAME_WORDS = {"left": 0.0, "center": 0.5, "centre": 0.5, "right": 1.0}


class Reframe(_Model):
    """Where the vertical (9:16) and square (1:1) versions centre their crop in this shot, instead of
    following the subject: `x` from 0 (left edge of the 16:9 frame) to 1 (right edge), or the words
    left / center / right (`dreamcut deliver`)."""

    x: float = Field(ge=0, le=1)


class Segment(_Model):
    """One scene of a multi-scene prompt. `at` = start second in the take, `seconds` = length."""

    text: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    at: float | None = Field(default=None, ge=0)
    seconds: float | None = Field(default=None, gt=0)


def transition_shorthand(v: Any) -> Any:
    """`transition: dissolve` (a shot's or the spec's default) means `transition: {kind: dissolve}`."""
    return {"kind": v} if isinstance(v, str) else v


#: a transition as a field: a mapping, or the shorthand (the one validator for Shot and ProjectSpec)
Transition = Annotated[TransitionSpec, BeforeValidator(transition_shorthand)]


class Shot(_Model):
    id: str
    prompt: str | list[Segment]
    negative: str | None = None
    seconds: float | None = Field(default=None, gt=0, le=MAX_TAKE_SECONDS)
    place: Placement | None = None
    refs: list[str] = Field(default_factory=list)
    transition: Transition | None = None
    backend: str | None = None
    takes: int | None = Field(default=None, ge=1, le=MAX_TAKES_PER_SHOT)
    style: str | None = None
    # Where imported clips of this shot come from (the default of `dreamcut import --source`):
    # camera (real footage: C2PA digitalCapture), generated (a model made them), unknown.
    source: Literal["camera", "generated", "unknown"] | None = None
    reframe: Reframe | None = None
    cast: list[str] = Field(default_factory=list, max_length=MAX_SHOT_CAST)  # names from the spec's `cast:`
    # A paid first step where the backend has one (Runway gen4_image, Luma photon): a keyframe made from
    # every cast picture, then animated. Ignored without cast pictures or with the shot's own refs.
    cast_keyframe: bool = False

    @field_validator("cast", mode="before")
    @classmethod
    def _cast_names(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list):
            v = [x.strip().lower() if isinstance(x, str) else x for x in v]
        return v

    @field_validator("reframe", mode="before")
    @classmethod
    def _reframe_shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v.strip().lower() not in REFRAME_WORDS:
                raise ValueError(f"{v!r} is not a position: use left, center, right or {{x: 0..1}}")
            return {"x": REFRAME_WORDS[v.strip().lower()]}
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return {"x": v}
        return v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError("use letters, digits, '-' and '_' (max 64), starting with a letter or digit")
        return v

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str | list[Segment]) -> str | list[Segment]:
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("the prompt is empty")
            if len(v) > MAX_PROMPT_CHARS:
                raise ValueError(f"the prompt is {len(v)} characters; at most {MAX_PROMPT_CHARS}")
        elif not v:
            raise ValueError("a segment list needs at least one segment")
        return v

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str | None) -> str | None:
        if v is not None:
            parse_backend(v)
        return v

    @property
    def prompt_text(self) -> str:
        """The prompt as one text (segments joined), for search, captions and credits."""
        if isinstance(self.prompt, str):
            return self.prompt
        return " ".join(s.text for s in self.prompt)
