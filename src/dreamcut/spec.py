"""The shot list, `dreamcut.yaml`: pydantic models, loading, and errors with file:line.

This module only reads and validates. It never touches the catalog, never renders,
and never imports a backend's SDK (backend names are checked against the static
registry in `dreamcut.backends.registry`).

Versioning: `version:` is the spec format version. `load_spec` migrates older
versions forward through `MIGRATIONS` (version -> function on the raw mapping)
and refuses files written by a newer dreamcut.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dreamcut.backends.registry import BackendRef, parse_backend
from dreamcut.errors import BadInput
from dreamcut.spec_yaml import (MAX_DEPTH, MAX_NODES, MAX_SPEC_BYTES, field_name,  # noqa: F401  (the bounds stay spec.*)
                                 line_for, line_index, load_bounded, short)

SPEC_VERSION = 1
SPEC_FILE = "dreamcut.yaml"

# Generous ceilings that catch typos and pasted junk (a 100 kB prompt), not taste.
MAX_PROMPT_CHARS = 8000
MAX_TAKE_SECONDS = 120.0
MAX_TAKES_PER_SHOT = 1000
MAX_SHOTS = 2000
MAX_ASPECT = 4.0  # widest (or tallest) frame: 4:1; 32:9 is the widest screen sold
# `cast:` bounds: a cast is a handful of recurring people, places and objects, each a sentence and a few pictures.
MAX_CAST = 64
MAX_CAST_DESCRIPTION = 400
MAX_CAST_REFS = 8
MAX_SHOT_CAST = 12

# version -> function(raw mapping) -> raw mapping of version + 1
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_RES_RE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_ASPECT_RE = re.compile(r"^(\d{1,3}):(\d{1,3})$")


class _Model(BaseModel):
    # allow_inf_nan=False: .nan and .inf are YAML floats, never a price, a length or a time.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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


_CAST_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class CastMember(_Model):
    """A recurring character, place or object (`cast:`): a name shots use (`cast: [mia]`), a short
    description woven into every prompt of a shot that names it, and reference images (files in the
    project folder or https:// URLs) that each backend passes the way its API allows (`dreamcut.cast`)."""

    name: str
    kind: Literal["character", "place", "object"] = "character"
    description: str = Field(min_length=1, max_length=MAX_CAST_DESCRIPTION)
    refs: list[str] = Field(default_factory=list, max_length=MAX_CAST_REFS)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().lower()
            if not _CAST_NAME_RE.match(v):
                raise ValueError("a cast name is one word (letters, digits, '-', '_'; at most 32), e.g. mia")
        return v

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the description is empty; say in a few words who or what this is")
        return " ".join(v.split())

    @field_validator("refs")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            if "://" in ref and not ref.startswith("https://"):
                raise ValueError(f"{short(ref)} is not a file or an https:// URL")
        return v


class Shot(_Model):
    id: str
    prompt: str | list[Segment]
    negative: str | None = None
    seconds: float | None = Field(default=None, gt=0, le=MAX_TAKE_SECONDS)
    place: Placement | None = None
    refs: list[str] = Field(default_factory=list)
    transition: TransitionSpec | None = None
    backend: str | None = None
    takes: int | None = Field(default=None, ge=1, le=MAX_TAKES_PER_SHOT)
    style: str | None = None
    # Where imported clips of this shot come from (the default of `dreamcut import --source`):
    # camera (real footage: C2PA digitalCapture), generated (a model made them), unknown.
    source: Literal["camera", "generated", "unknown"] | None = None
    reframe: Reframe | None = None
    cast: list[str] = Field(default_factory=list, max_length=MAX_SHOT_CAST)  # names from the spec's `cast:`

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

    @field_validator("transition", mode="before")
    @classmethod
    def _transition_shorthand(cls, v: Any) -> Any:
        return transition_shorthand(v)

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


class EffectLevels(_Model):
    """How much of each beat-synced effect, 0 (off) to 1 (full): zoom pulse on kicks, flash on snares, shake."""

    pulse: float = Field(default=0.0, ge=0, le=1)
    flash: float = Field(default=0.0, ge=0, le=1)
    shake: float = Field(default=0.0, ge=0, le=1)
    ramp: float = Field(default=0.0, ge=0, le=1)  # speed ramp into the section's first downbeat


class EffectsSpec(EffectLevels):
    """`effects:` beat-synced motion (off by default). `sections:` overrides levels per section label.

    ramp_style: 'rush' speeds the shot up into the downbeat, 'slow' slows it down; either snaps
    back to the clip's own speed on the downbeat frame.
    """

    sections: dict[str, EffectLevels] = Field(default_factory=dict)
    ramp_style: Literal["rush", "slow"] = "rush"

    @field_validator("sections")
    @classmethod
    def _labels(cls, v: dict[str, EffectLevels]) -> dict[str, EffectLevels]:
        # A section name follows the song map's rule (SectionMark); that the song has it is
        # checked when the effects are planned (render.effects.timeline_cues).
        return {SectionMark(name=label, start=0).name: levels for label, levels in v.items()}

    def levels(self, label: str) -> dict[str, float]:
        """The levels in a section: its overrides (the fields it sets) over the top-level ones."""
        out = {k: float(getattr(self, k)) for k in ("pulse", "flash", "shake", "ramp")}
        override = self.sections.get(label)
        if override is not None:
            out.update({k: float(getattr(override, k)) for k in override.model_fields_set})
        return out

    @property
    def active(self) -> bool:
        return any(v > 0 for lv in [self, *self.sections.values()] for v in (lv.pulse, lv.flash, lv.shake, lv.ramp))


class RenderSpec(_Model):
    """Finishing: the master is rendered first, then upscaled to `resolution`."""

    resolution: str = "2k"
    master: str = "720p"
    codec: Literal["h264", "prores"] = "h264"
    upscaler: str = "lanczos"
    interpolate_fps: int | None = Field(default=None, ge=1, le=240)
    crf: int = Field(default=18, ge=0, le=51)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower"] = "veryfast"
    # The program overlay (song timecode, bar.beat, section, shot in a corner); None: on for animatic projects.
    overlay: bool | None = None

    @field_validator("resolution", "master")
    @classmethod
    def _size(cls, v: str) -> str:
        parse_resolution(v)
        return v


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
    transition: TransitionSpec = TransitionSpec()
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

    # Copied from Shot._transition_shorthand: pydantic declares a validator per model; the rule is
    # one function, `transition_shorthand`.
    @field_validator("transition", mode="before")
    @classmethod
    def _transition_shorthand(cls, v: Any) -> Any:
        return transition_shorthand(v)

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


def _even(x: float) -> int:
    return max(2, int(round(x / 2.0)) * 2)


def parse_resolution(text: str, aspect: str = "16:9") -> tuple[int, int]:
    """'720p' -> 1280x720 (16:9); '1080p'; '2k' -> 2048 wide; '4k' -> 3840 wide; 'WxH' as given.

    Sizes are rounded to even numbers (H.264 4:2:0 needs them).
    """
    m = _ASPECT_RE.match(aspect)
    aw, ah = (int(m.group(1)), int(m.group(2))) if m else (16, 9)
    t = str(text).strip().lower()
    named_height = {"360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080, "1440p": 1440, "2160p": 2160}
    named_width = {"2k": 2048, "4k": 3840}
    if t in named_height:
        short = named_height[t]
        # "720p" names the short side: 1280x720 landscape, 720x1280 portrait.
        size = (_even(short * aw / ah), short) if aw >= ah else (short, _even(short * ah / aw))
        return _in_range(text, size)
    if t in named_width:
        long = named_width[t]
        size = (long, _even(long * ah / aw)) if aw >= ah else (_even(long * aw / ah), long)
        return _in_range(text, size)
    m2 = _RES_RE.match(t)
    if m2:
        w, h = int(m2.group(1)), int(m2.group(2))
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise ValueError(f"resolution {text!r} is out of range (16..8192 per side)")
        return _even(w), _even(h)
    raise ValueError(f"resolution {text!r} is not one of 720p, 1080p, 2k, 4k or WxH (e.g. 1920x1080)")


def _in_range(text: str, size: tuple[int, int]) -> tuple[int, int]:
    w, h = size
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ValueError(f"resolution {text!r} is {w}x{h} at this aspect, out of range (16..8192 per side)")
    return size


def parse_spec_text(text: str, filename: str = SPEC_FILE) -> ProjectSpec:
    """Parse and validate spec text. Raises BadInput naming file:line, field, value and what is allowed."""
    try:
        node, raw = load_bounded(text, filename)
    except RecursionError:  # a last guard: _check_nesting should have said it first
        raise BadInput(f"nested more than {MAX_DEPTH} levels deep", where=filename,
                       fix="a shot list is a few levels deep: title:, shots: - id:, prompt:") from None
    except yaml.YAMLError as e:
        # The context mark is where the broken construct starts (an unclosed bracket's line);
        # the problem mark is where the parser gave up, often a line later.
        mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        problem_mark = getattr(e, "problem_mark", None)
        if problem_mark is not None and mark is not None and problem_mark.line != mark.line:
            problem += f" (noticed on line {problem_mark.line + 1})"
        raise BadInput(f"not valid YAML: {problem}", where=where,
                       fix="check indentation and quoting on that line (a ':' inside text needs quotes)") from None
    if not isinstance(raw, dict):
        raise BadInput("the shot list must be a YAML mapping (title:, song:, shots: ...)", where=filename,
                       fix="run `dreamcut init` to see a commented example")
    lines = line_index(node) if node is not None else {}
    version = raw.get("version", SPEC_VERSION)
    if not isinstance(version, int) or version < 1:
        raise BadInput(f"version {version!r} is not a spec version", where=f"{filename}:{lines.get(('version',), 1)}",
                       fix=f"write `version: {SPEC_VERSION}`")
    if version > SPEC_VERSION:
        raise BadInput(f"version {version} was written by a newer dreamcut (this one reads up to {SPEC_VERSION})",
                       where=f"{filename}:{lines.get(('version',), 1)}", fix="upgrade dreamcut")
    while version < SPEC_VERSION:
        raw = MIGRATIONS[version](raw)
        version += 1
        raw["version"] = version
    try:
        spec = ProjectSpec.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        line = line_for(loc, lines)
        where = f"{filename}:{line}" if line else filename
        field = field_name(loc, raw)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            raise BadInput(f"{field}: unknown field", where=where,
                           fix="remove it or check its spelling (see `dreamcut init` for every field)") from None
        if err["type"] == "missing":
            raise BadInput(f"{field}: required field is missing", where=where, fix=f"add `{loc[-1]}:`") from None
        value = err.get("input")
        shown = f" (got {short(value)})" if value is not None and not isinstance(value, (dict, list)) else ""
        raise BadInput(f"{field}: {msg}{shown}", where=where) from None
    _check_cast_names(spec, lines, filename)
    return spec


def _check_cast_names(spec: ProjectSpec, lines: dict[tuple, int], filename: str) -> None:
    """Cast names are unique and every name a shot gives is in `cast:` (one line with file:line)."""
    seen: set[str] = set()
    for i, member in enumerate(spec.cast):
        if member.name in seen:
            raise BadInput(f"cast[{i}].name: {member.name!r} is used twice", where=f"{filename}:{lines.get(('cast', i), 1)}",
                           fix="give each cast member its own name")
        seen.add(member.name)
    for i, shot in enumerate(spec.shots):
        for j, name in enumerate(shot.cast):
            if name not in seen:
                known = ", ".join(m.name for m in spec.cast[:12]) or "empty"
                line = lines.get(("shots", i, "cast", j)) or lines.get(("shots", i, "cast"), 1)
                raise BadInput(f"shots[{i}] (id: {shot.id}).cast: no cast member {name!r} (the cast is: {known})",
                               where=f"{filename}:{line}",
                               fix=f"add {name} under `cast:` (name, description, refs) or fix the spelling")
        if len(set(shot.cast)) != len(shot.cast):
            raise BadInput(f"shots[{i}] (id: {shot.id}).cast: a name is given twice",
                           where=f"{filename}:{lines.get(('shots', i, 'cast'), 1)}", fix="name each member once")


# What a reference image may be: the formats every provider that takes references accepts.
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"RIFF", "webp"))


def image_kind(data: bytes) -> str | None:
    """'png', 'jpeg' or 'webp' from a file's first bytes; None for anything else."""
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic) and (kind != "webp" or data[8:12] == b"WEBP"):
            return kind
    return None


def check_cast_refs(spec: ProjectSpec, root: Path, text: str, filename: str) -> None:
    """Every local cast reference is an image file in the project folder (one line naming it)."""
    if not any(m.refs for m in spec.cast):
        return
    lines = line_index(load_bounded(text, filename)[0])
    root = Path(root).resolve()
    for i, member in enumerate(spec.cast):
        for j, ref in enumerate(member.refs):
            if ref.startswith("https://"):
                continue
            where = f"{filename}:{lines.get(('cast', i, 'refs', j)) or lines.get(('cast', i), 1)}"
            field = f"cast[{i}] ({member.name}).refs[{j}]"
            path = (root / ref).resolve()
            if not path.is_file():
                raise BadInput(f"{field}: file {ref!r} does not exist", where=where,
                               fix="put the picture in the project folder and give its path relative to dreamcut.yaml")
            try:
                with path.open("rb") as f:
                    head = f.read(16)
            except OSError as e:
                raise BadInput(f"{field}: cannot read {ref!r} ({e.strerror})", where=where,
                               fix="make the file readable") from None
            if image_kind(head) is None:
                raise BadInput(f"{field}: {ref!r} is not a PNG, JPEG or WebP picture", where=where,
                               fix="give a .png, .jpg or .webp reference image")


def load_spec(path: Path) -> ProjectSpec:
    """Read `dreamcut.yaml` from disk (UTF-8 only) and validate it, including that the song exists."""
    path = Path(path)
    name = path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput("no shot list here", where=str(path),
                       fix="run `dreamcut init DIR` or pass --project DIR") from None
    except OSError as e:
        raise BadInput(f"cannot read the shot list: {e.strerror}", where=name) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInput(f"not UTF-8 text (byte 0x{data[e.start]:02x})", where=f"{name}:{line}",
                       fix="save the file as UTF-8") from None
    spec = parse_spec_text(text, name)
    song = path.parent / spec.song
    if not song.is_file():
        line = line_index(load_bounded(text, name)[0]).get(("song",), 1)
        raise BadInput(f"song: file {spec.song!r} does not exist", where=f"{name}:{line}",
                       fix="put the song in the project folder and name it in `song:`")
    check_cast_refs(spec, path.parent, text, name)
    return spec
