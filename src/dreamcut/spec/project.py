"""The whole shot list: `ProjectSpec`, its cross-field checks and the values derived from it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from dreamcut.backends.registry import BackendRef, parse_backend
from dreamcut.errors import BadInput
from dreamcut.spec.base import _ASPECT_RE, MAX_ASPECT, MAX_CAST, MAX_PROMPT_CHARS, MAX_SHOTS, MAX_TAKE_SECONDS, \
    MAX_TAKES_PER_SHOT, SPEC_VERSION, _Model
from dreamcut.spec.cast import CastMember
from dreamcut.spec.finish import EffectsSpec, RenderSpec, parse_resolution
from dreamcut.spec.shots import Shot, Transition, TransitionSpec
from dreamcut.spec.song import SongSpec


class ProjectSpec(_Model):
    version: int = SPEC_VERSION
    title: str = Field(min_length=1, max_length=200)
    song: str
    # The `song:` block's corrections and pacing (`song: {file: x.wav, bpm: 120, ...}`);
    # `song` stays the file's path either way.
    song_map: SongSpec | None = None
    fps: int = Field(default=24, ge=1, le=120)
    aspect: str = "16:9"
    style: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    style_preset: str | None = None
    styles: dict[str, str] = Field(default_factory=dict)
    negative: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    backend: str = "animatic"
    budget_usd: float = Field(default=0.0, ge=0, le=1_000_000)
    takes_per_shot: int = Field(default=2, ge=1, le=MAX_TAKES_PER_SHOT)
    take_seconds: float = Field(default=8.0, gt=0, le=MAX_TAKE_SECONDS)
    transition: Transition = TransitionSpec()
    caption: bool = True
    prices: dict[str, float] = Field(default_factory=dict)
    include_prompt_in_credentials: bool = True
    render: RenderSpec = RenderSpec()
    effects: EffectsSpec | None = None
    cast: list[CastMember] = Field(default_factory=list, max_length=MAX_CAST)
    shots: list[Shot] = Field(min_length=1, max_length=MAX_SHOTS)

    @model_validator(mode="before")
    @classmethod
    def _song_block(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("song"), dict):
            if "song_map" in data:
                raise ValueError("write the song's corrections inside the `song:` block")
            block = dict(data["song"])
            if "file" not in block:
                raise ValueError("the `song:` block needs `file:` (the song's path)")
            data = {**data, "song": block["file"], "song_map": block}
        return data

    @field_validator("aspect")
    @classmethod
    def _aspect(cls, v: str) -> str:
        m = _ASPECT_RE.match(v)
        if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
            raise ValueError("write the aspect as W:H, e.g. 16:9, 9:16, 1:1, 2:1")
        ratio = int(m.group(1)) / int(m.group(2))
        if not 1 / MAX_ASPECT <= ratio <= MAX_ASPECT:
            raise ValueError(f"aspect {v} is wider or taller than {MAX_ASPECT:g}:1; use e.g. 16:9, 21:9, 9:16, 1:1")
        return v

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str) -> str:
        parse_backend(v)
        return v

    @field_validator("prices")
    @classmethod
    def _prices(cls, v: dict[str, float]) -> dict[str, float]:
        for key, price in v.items():
            parse_backend(key)
            if price < 0 or price > 100:
                raise ValueError(f"price for {key!r} must be USD per second between 0 and 100")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> "ProjectSpec":
        seen: set[str] = set()
        for shot in self.shots:
            if shot.id in seen:
                raise ValueError(f"shot id {shot.id!r} is used twice; shot ids must be unique")
            seen.add(shot.id)
        parse_resolution(self.render.resolution, self.aspect)
        parse_resolution(self.render.master, self.aspect)
        return self

    # -- derived values -------------------------------------------------------------
    @property
    def backend_ref(self) -> BackendRef:
        return parse_backend(self.backend)

    def shot_backend(self, shot: Shot) -> BackendRef:
        return parse_backend(shot.backend or self.backend)

    def shot_takes(self, shot: Shot) -> int:
        return shot.takes or self.takes_per_shot

    def shot_seconds(self, shot: Shot) -> float:
        return shot.seconds or self.take_seconds

    @property
    def master_size(self) -> tuple[int, int]:
        return parse_resolution(self.render.master, self.aspect)

    @property
    def final_size(self) -> tuple[int, int]:
        return parse_resolution(self.render.resolution, self.aspect)

    def shot(self, shot_id: str) -> Shot:
        for s in self.shots:
            if s.id == shot_id:
                return s
        known = ", ".join(s.id for s in self.shots[:12])
        raise BadInput(f"no shot {shot_id!r} in the shot list", fix=f"use one of: {known}")
