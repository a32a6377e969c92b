"""The shot list's finishing settings: beat-synced `effects:` and `render:` (sizes, codec, upscaler),
with `parse_resolution`, the one reading of a size word."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from dreamcut.spec.base import _ASPECT_RE, _RES_RE, _Model
from dreamcut.spec.song import SectionMark


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
