"""The shot list's `song:` block: corrections to the song map (tempo, downbeat, meter, sections) and
the pace of the cut."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dreamcut.spec.base import _Model


class TempoPoint(_Model):
    """The tempo from `at` seconds on (a tempo map is a list of these)."""

    at: float = Field(ge=0)
    bpm: float = Field(gt=20, le=400)


class SectionMark(_Model):
    """A section as the director hears it: its name and where it starts (a second or a bar)."""

    name: str = Field(min_length=1, max_length=40)
    start: float | None = Field(default=None, ge=0)
    bar: int | None = Field(default=None, ge=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip().lower()
        if "#" in v or not re.match(r"^[a-z][a-z0-9 _-]*$", v):
            raise ValueError("a section name is a word such as intro, verse, chorus, bridge, outro "
                             "(repeats share a name; dreamcut numbers them)")
        return v

    @model_validator(mode="after")
    def _one_start(self) -> "SectionMark":
        if (self.start is None) == (self.bar is None):
            raise ValueError("give the section's start as `start:` (seconds) or `bar:` (1-based), one of them")
        return self


class SongSpec(_Model):
    """Corrections to the song map, and the pace of the cut. Everything is optional:
    what is given overrides the analysis exactly; the rest is heard from the song."""

    file: str
    bpm: float | None = Field(default=None, gt=20, le=400)
    tempo: list[TempoPoint] | None = None  # a tempo map; the first point's `at` is the first downbeat
    downbeat: float | None = Field(default=None, ge=0)  # the first downbeat, in seconds
    meter: Literal[2, 3, 4, 6] | None = None  # beats per bar
    sections: list[SectionMark] | None = None
    # bars per cut: a number (1..32), "auto" (from energy: calmer verses, faster choruses),
    # or per section name {chorus: 2, verse: 8, default: auto}. None: one cut per shot.
    pacing: float | Literal["auto"] | dict[str, float | Literal["auto"]] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "SongSpec":
        if self.bpm is not None and self.tempo is not None:
            raise ValueError("give `bpm:` or a `tempo:` map, not both")
        if self.tempo is not None:
            if not self.tempo:
                raise ValueError("`tempo:` needs at least one point ({at: 0.0, bpm: 120})")
            ats = [p.at for p in self.tempo]
            if ats != sorted(ats) or len(set(ats)) != len(ats):
                raise ValueError("the tempo map's `at:` seconds must increase")
        if self.sections:
            keys = [(m.start if m.start is not None else float("nan"), m.bar) for m in self.sections]
            secs = [k[0] for k in keys if k[1] is None]
            bars = [k[1] for k in keys if k[1] is not None]
            if secs != sorted(secs) or bars != sorted(bars):
                raise ValueError("list the sections in the order they start")
        paces = self.pacing.values() if isinstance(self.pacing, dict) else [self.pacing]
        for v in paces:
            if v is not None and v != "auto" and not (1 <= float(v) <= 32):
                raise ValueError("pacing is bars per cut between 1 and 32, or `auto`")
        return self
