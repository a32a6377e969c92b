"""Scene segments inside a shot's prompt: how they are written, found, and timed (pure).

A shot's prompt is plain text or an ordered list of scene segments, written either
- as a YAML list with `at:` (start second) / `seconds:` (length) — `spec.Segment`;
- with times inside the text: `[0-5s] a corridor ... [5-12s] a classroom ...` (also `[0:05-0:12]`,
  `[5s]` for a start only, en dashes and "to"); words before the first marker apply to the whole take;
- in natural phrasing: "..., then ...", "... transitions into ...", "... dissolves into ...",
  "... gives way to ...", "... and finally ...", and — when the camera travels (zoom, dolly,
  continuous, flying ...) — comma-led "..., into ...", "..., out onto ...". Untimed segments
  share the take equally. A mid-sentence "then" with no comma ("he turns then runs") is action,
  not a scene change, and a would-be segment of fewer than three words stays with the one before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from dreamcut.spec import Segment


@dataclass(frozen=True)
class Scene:
    """A segment as written, before its times are settled: `at` start, `seconds` length."""

    text: str
    at: float | None = None
    seconds: float | None = None


_NUM = r"\d+(?::\d{1,2})?(?:\.\d+)?"
_UNIT = r"\s*(?:s|sec|secs|seconds)?"
_MARK_RE = re.compile(rf"\[\s*(?P<a>{_NUM})(?P<u>\s*(?:s|sec|secs|seconds))?\s*"
                      rf"(?:(?:-|–|—|to)\s*(?P<b>{_NUM}){_UNIT})?\s*\]", re.I)

_TRAVEL_RE = re.compile(r"\b(zoom\w*|dolly\w*|continuous\w*|fly\w*|flies|glid\w+|push\w* in|travel\w*|"
                        r"sweep\w*|camera moves?)\b", re.I)
# Scene-change phrases; the matched words are dropped from the segments.
_CHANGE_RE = re.compile(
    r"(?:[,;:.]\s*(?:and\s+)?then\b"
    r"|\s+and\s+then\b"
    r"|(?:^|(?<=[.!?]))\s*then\b"
    r"|[,;]?\s+(?:transitions?|transitioning|dissolves?|dissolving|morphs?|morphing|melts?|melting|"
    r"fades?|fading|cuts?|cutting|blends?|blending)\s+(?:in)?to\b"
    r"|[,;]?\s+gives?\s+way\s+to\b"
    r"|[,;.]?\s*\band\s+finally\b|[,;.]\s*finally\b)", re.I)
# With a travelling camera, a comma before "into"/"out onto" starts the next place (words kept).
_PLACE_RE = re.compile(r"[,;]\s*(?:and\s+)?(?=(?:out\s+onto|out\s+into|out\s+to|into|onto|through\s+to)\b)", re.I)


def _seconds(text: str) -> float:
    if ":" in text:
        m, s = text.split(":", 1)
        return int(m) * 60 + float(s)
    return float(text)


def parse_timed(text: str) -> tuple[str, list[Scene]] | None:
    """`[0-5s] corridor [5-12s] classroom` -> (lead, scenes); None when the text has no time markers."""
    # A bare number in brackets ("[1986]") is text, not a time: a marker has a range, a unit or m:ss.
    marks = [m for m in _MARK_RE.finditer(text) if m.group("b") or m.group("u") or ":" in m.group("a")]
    if not marks:
        return None
    lead = text[: marks[0].start()].strip()
    scenes = []
    for i, m in enumerate(marks):
        end_of_text = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        body = text[m.end():end_of_text].strip().strip(",;").strip()
        a = _seconds(m.group("a"))
        b = _seconds(m.group("b")) if m.group("b") else None
        scenes.append(Scene(body, at=a, seconds=(b - a) if b is not None else None))
    return lead, scenes


def split_natural(text: str) -> list[str]:
    """Split natural phrasing ("..., then ...", "... transitions into ...") into scene texts."""
    parts = [p for p in _CHANGE_RE.split(text)]
    if _TRAVEL_RE.search(text):
        parts = [q for p in parts for q in _PLACE_RE.split(p)]
    out: list[str] = []
    for p in parts:
        p = p.strip().strip(",;:").strip()
        if not p:
            continue
        if out and len(p.split()) < 3:
            out[-1] = f"{out[-1]}, {p}"  # too short to be a place: an action of the scene before
            continue
        out.append(p[0].upper() + p[1:] if p[0].islower() and out else p)
    # One scene after all: keep the director's words exactly as written.
    return out if len(out) > 1 else [text.strip()]


def shot_scenes(prompt: "str | Sequence[Segment]") -> tuple[str, list[Scene]]:
    """A shot's prompt as (lead, scenes), whichever way it was written."""
    if not isinstance(prompt, str):
        return "", [Scene(s.text.strip(), s.at, s.seconds) for s in prompt]
    timed = parse_timed(prompt)
    if timed is not None:
        return timed
    return "", [Scene(p) for p in split_natural(prompt.strip())]


def segment_times(segments: "Sequence[Segment | Scene]", seconds: float) -> list[tuple[float, float]]:
    """Start/end seconds of each segment inside a take of `seconds` (clamped to the take)."""
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
            end = segments[i + 1].at  # type: ignore[assignment]
        else:
            end = start + share if i + 1 < len(segments) else seconds
        start = min(start, seconds)
        out.append((start, max(start, min(end, seconds))))
        t = end
    return out


def timing_errors(scenes: Sequence["Segment | Scene"], seconds: float) -> list[str]:
    """What is wrong with written segment times in a take of `seconds` (empty list: fine)."""
    errors: list[str] = []
    prev_end = 0.0
    eps = 1e-6
    for i, s in enumerate(scenes, 1):
        if s.seconds is not None and s.seconds <= eps:
            errors.append(f"segment {i} has no length ({s.seconds:g} s)")
        if s.at is not None and s.at >= seconds - eps:
            errors.append(f"segment {i} starts at {s.at:g} s, at or after the end of the {seconds:g} s take")
        end = (s.at if s.at is not None else prev_end) + (s.seconds or 0.0)
        if s.seconds is not None and end > seconds + eps:
            errors.append(f"segment {i} ends at {end:g} s, after the end of the {seconds:g} s take")
        if s.at is not None and s.at < prev_end - eps:
            errors.append(f"segment {i} starts at {s.at:g} s, before segment {i - 1} ends ({prev_end:g} s)")
        prev_end = max(prev_end, end if s.seconds is not None else (s.at if s.at is not None else prev_end))
    return errors

