"""Prompt composition: global style + shot prompt (+ scene segments) + variation.

Pure functions only: text in, text out. No I/O, no backend calls.

- `{a|b|c}` alternatives expand into numbered variants. Variant n picks alternatives by
  the mixed-radix digits of n (first group varies fastest), so variant 7 is always the
  same text for the same prompt.
- A shot's prompt is either one text or a list of scene segments with `at:` / `seconds:`;
  segments without times share the take's remaining length equally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod

from dreamcut.backends.base import SceneSegment
from dreamcut.errors import BadInput
from dreamcut.spec import ProjectSpec, Segment, Shot

_ALT_RE = re.compile(r"\{([^{}]*\|[^{}]*)\}")


@dataclass(frozen=True)
class ComposedPrompt:
    text: str  # what a single-text backend receives
    negative: str
    segments: tuple[SceneSegment, ...]  # scene segments in take seconds (one segment for a plain prompt)
    variant: int


def alternatives(text: str) -> list[list[str]]:
    """The `{a|b}` groups of a text, in order."""
    return [[alt.strip() for alt in m.group(1).split("|")] for m in _ALT_RE.finditer(text)]


def variant_count(text: str) -> int:
    return prod(len(g) for g in alternatives(text)) if alternatives(text) else 1


def expand(text: str, variant: int) -> str:
    """Resolve every `{a|b}` group for `variant` (taken modulo the number of variants)."""
    groups = alternatives(text)
    if not groups:
        return text
    n = variant % prod(len(g) for g in groups)
    picks = []
    for g in groups:
        picks.append(g[n % len(g)])
        n //= len(g)
    it = iter(picks)
    return _ALT_RE.sub(lambda _m: next(it), text)


def style_text(spec: ProjectSpec, shot: Shot | None = None) -> str:
    """The style block: the preset named by the shot or project (if any), then the global style."""
    parts = []
    preset = (shot.style if shot and shot.style else None) or spec.style_preset
    if preset:
        parts.append(resolve_style(spec, preset))
    if spec.style.strip():
        parts.append(spec.style.strip())
    return ", ".join(p.rstrip(". ") for p in parts if p)


def resolve_style(spec: ProjectSpec, name: str) -> str:
    if name in spec.styles:
        return spec.styles[name]
    from dreamcut.styles import PRESETS

    if name in PRESETS:
        return PRESETS[name].text
    raise BadInput(f"unknown style preset {name!r}", where="dreamcut.yaml",
                   fix="run `dreamcut styles` to list presets, or define it under `styles:`")


def segment_times(segments: list[Segment], seconds: float) -> list[tuple[float, float]]:
    """Start/end seconds of each segment inside a take of `seconds`."""
    out: list[tuple[float, float]] = []
    t = 0.0
    untimed = [s for s in segments if s.seconds is None and s.at is None]
    timed_total = sum(s.seconds or 0.0 for s in segments if s.seconds is not None)
    share = max(0.0, seconds - timed_total) / len(untimed) if untimed else 0.0
    for i, seg in enumerate(segments):
        start = seg.at if seg.at is not None else t
        if seg.seconds is not None:
            end = start + seg.seconds
        elif i + 1 < len(segments) and segments[i + 1].at is not None:
            end = segments[i + 1].at
        else:
            end = start + share if i + 1 < len(segments) else seconds
        out.append((start, min(end, seconds)))
        t = end
    return out


def compose(spec: ProjectSpec, shot: Shot, variant: int = 0, seconds: float | None = None) -> ComposedPrompt:
    """The full prompt of one variant of a shot."""
    seconds = seconds if seconds is not None else spec.shot_seconds(shot)
    style = style_text(spec, shot)
    if isinstance(shot.prompt, str):
        body = expand(shot.prompt.strip(), variant)
        segments = (SceneSegment(0.0, seconds, body),)
    else:
        times = segment_times(list(shot.prompt), seconds)
        segments = tuple(SceneSegment(a, b, expand(s.text.strip(), variant)) for s, (a, b) in zip(shot.prompt, times))
        body = " Then ".join(s.text.rstrip(". ") for s in segments) + "."
    text = f"{body.rstrip()} Style: {style}." if style else body
    negative = ", ".join(x for x in (spec.negative.strip(), (shot.negative or "").strip()) if x)
    return ComposedPrompt(text=text, negative=negative, segments=segments, variant=variant)
