"""Judging a take: against its own request (`TakeRequest`), then one score in 0..1 with a
one-line explanation. Pure functions of the defects and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dreamcut.analysis.video.defects import DEFECT_KINDS, FLICKER_LEVELS, Defect

SCENE_CHANGE_SLACK = 0.5  # s: a boundary this close to a written segment boundary is the one asked for


def _at(t: float) -> str:
    """A time for people: seconds with a unit ("7.0 s"), never a bare mm:ss.ff that reads as decimals."""
    return f"{t:.1f} s"


@dataclass(frozen=True)
class TakeRequest:
    """What the take was asked to show, so the analysis does not punish it for obeying.

    dark_expected: spans (start, end) seconds where the prompt asks for darkness (night, dusk ...).
    scene_changes: seconds where the prompt's written scene segments change (a cut or dissolve
    there is the change asked for)."""

    dark_expected: tuple[tuple[float, float], ...] = ()
    scene_changes: tuple[float, ...] = ()

    def key(self) -> list:
        return [[list(x) for x in self.dark_expected], list(self.scene_changes)]


# Words that ask for a dark picture. Whole words, lower case; "dark" also matches "darkness".
DARK_WORDS = ("night", "nighttime", "night-time", "midnight", "dusk", "twilight", "dark", "darkness", "darkened",
              "moonlit", "moonlight", "candlelit", "candlelight", "nocturnal", "after hours", "blackout", "pitch black",
              "starlit", "starry sky", "unlit", "shadowy", "noir")


def asks_for_darkness(text: str) -> bool:
    import re

    low = text.lower()
    return any(re.search(r"(?<![a-z])" + re.escape(w) + r"(?![a-z])", low) for w in DARK_WORDS)


def judge_against_request(defects: list[Defect], request: TakeRequest | None) -> tuple[list[Defect], list[str]]:
    """Drop what the request asked for: darkness inside a span that asks for it, a cut or transition
    at a written scene change. Returns the defects left and notes on what was forgiven."""
    if request is None:
        return defects, []
    kept: list[Defect] = []
    notes: list[str] = []
    for d in defects:
        if d.kind == "dark" and any(a - 0.5 <= d.start and d.end <= b + 0.5 for a, b in request.dark_expected):
            notes.append(f"dark {d.end - d.start:.1f} s as asked")
            continue
        if d.kind in ("cut", "transition") and "black" not in d.detail and "away and back" not in d.detail and any(
                d.start - SCENE_CHANGE_SLACK <= t <= d.end + SCENE_CHANGE_SLACK for t in request.scene_changes):
            notes.append(f"scene change at {_at(d.start)} as written")
            continue
        kept.append(d)
    return kept, notes


def _floor(raw: float) -> float:
    """0..1 from a raw score that may go below 0: linear above 0.1, then a soft tail that never
    reaches 0, so two bad takes still order by how bad they are."""
    return float(min(1.0, raw)) if raw >= 0.1 else 0.1 * float(np.exp((raw - 0.1) * 2.0))


def score_take(metrics: dict[str, Any], defects: list[Defect], similarity: float | None = None,
               *, dark_expected: float = 0.0) -> tuple[float, str]:
    """One number 0..1 and the reasons, from metrics and defects. Weights say what a director
    forgives: a soft frame costs little, a stall or a stray cut costs a lot, a dissolve less.

    dark_expected: the share of the take (0..1) whose prompt asks for a dark picture; exposure is
    then judged against a darker target."""
    seconds = max(float(metrics.get("seconds") or 0.0), 1e-3)
    luma = float(metrics.get("luma_mean", 128.0))
    dark_expected = float(np.clip(dark_expected, 0.0, 1.0))
    # Laplacian variance grows with the square of contrast: a night picture asked for is judged
    # as sharp as the same picture lit normally.
    sharp = float(metrics.get("sharpness", 0.0)) * (1.0 + dark_expected * ((118.0 / max(min(luma, 118.0), 8.0)) ** 2 - 1))
    sharp01 = float(np.clip((np.log10(max(sharp, 1e-3)) - 0.5) / 2.0, 0.0, 1.0))
    target = 118.0 - 70.0 * dark_expected
    exposure01 = float(np.clip(1.0 - abs(luma - target) / 118.0, 0.0, 1.0))
    crushed = metrics.get("dark_frac", 0.0) * (1.0 - dark_expected)
    exposure01 *= 1.0 - min(1.0, 2.0 * (crushed + metrics.get("blown_frac", 0.0)))
    smooth = float(metrics.get("motion_smoothness", 1.0))
    score = 0.55 + 0.2 * sharp01 + 0.15 * exposure01 + 0.1 * smooth
    reasons: list[str] = []
    by_kind: dict[str, list[Defect]] = {}
    for d in defects:
        by_kind.setdefault(d.kind, []).append(d)
    for d in by_kind.get("frozen", []):
        score -= 0.12 + 0.8 * (d.end - d.start) / seconds
        reasons.append(f"frozen {d.end - d.start:.1f} s at {_at(d.start)}")
    for kind, each, one, many in (("cut", 0.2, "hard cut", "hard cuts"), ("flash", 0.1, "flash", "flashes"),
                                  ("transition", 0.08, "transition", "transitions"),
                                  ("motion_spike", 0.08, "motion spike", "motion spikes")):
        found = by_kind.get(kind, [])
        score -= each * len(found)
        if found:
            times = ", ".join(_at(d.start) for d in found[:3]) + (" ..." if len(found) > 3 else "")
            if kind == "cut" and len(found) == 1 and "black" in found[0].detail:
                reasons.append(f"cut to black at {times}")
            else:
                reasons.append(f"{one if len(found) == 1 else f'{len(found)} {many}'} at {times}")
    flicker = by_kind.get("flicker", [])
    if flicker:
        share = sum(d.end - d.start for d in flicker) / seconds
        level = float(metrics.get("flicker_peak") or metrics.get("flicker") or FLICKER_LEVELS)
        severity = float(np.clip(level / 10.0, 0.2, 1.5))  # +-3.6 levels is mild, +-13 levels severe
        score -= (0.05 + 0.35 * share) * severity
        where = "throughout" if share > 0.5 else f"at {_at(flicker[0].start)}"
        reasons.append(f"flicker {level:.1f} levels {where}")
    for kind in ("dark", "blown"):
        spans = by_kind.get(kind, [])
        if spans:
            s_ = sum(d.end - d.start for d in spans)
            score -= 0.05 + 0.5 * s_ / seconds
            reasons.append(f"{kind} {s_:.1f} s at {_at(spans[0].start)}")
    if sharp01 < 0.3:
        reasons.append("soft")
    if smooth < 0.5 and not by_kind.get("motion_spike"):
        reasons.append("jerky motion")
    quality = _floor(score)
    if similarity is not None:
        match01 = float(np.clip((similarity - 0.15) / 0.2, 0.0, 1.0))
        quality = 0.75 * quality + 0.25 * match01
        reasons.append(f"prompt match {similarity:.2f}")
    if not any(k in by_kind for k in DEFECT_KINDS) and sharp01 >= 0.3:
        reasons.insert(0, "clean")
    return round(quality, 4), "; ".join(reasons)
