"""The planner's working vocabulary: a shot as the planner sees it (`ShotInput`), a clip being
planned (`_Clip`), the speed limits, how many source frames a take gives, and how a frame reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dreamcut.edit.cut_places import _Cut
from dreamcut.spec import Placement, TransitionSpec


MIN_SPEED = 0.8
MAX_SPEED = 1.25


@dataclass(frozen=True)
class ShotInput:
    """One shot as the planner sees it: its selected take and what the director asked.

    media: the take's path relative to the project root. take_seconds: the take's length.
    place: a pin from the spec. transition: how this shot hands over to the NEXT one.
    defects: (start s, end s, kind) inside the take, from video analysis.
    score: the take's quality score, if ranked. source_in: a director's chosen in point (s).
    """

    shot_id: str
    take_id: str
    media: str
    take_seconds: float
    place: Placement | None = None
    transition: TransitionSpec = field(default_factory=TransitionSpec)
    defects: tuple[tuple[float, float, str], ...] = ()
    score: float | None = None
    source_in: float | None = None


@dataclass
class _Clip:
    shot: ShotInput
    start: int  # record frames
    end: int
    cut: _Cut | None  # None for the song start
    pin: str | None = None
    use: tuple[int, int] | None = None  # (k, of n): the k-th of n cuts this take supplies (pacing)
    speed: float = 1.0
    src_in: int = 0  # source frames
    src_len: int = 0
    notes: list[str] = field(default_factory=list)


def _usable_frames(shot: ShotInput, fps: int) -> int:
    """Source frames the shot may play from its in point on (the whole take without a pin)."""
    start = shot.source_in or 0.0
    return max(0, int(math.floor((shot.take_seconds - start) * fps + 1e-6)))


def beat_frames(song, fps: int) -> int:
    """A beat of the song (`SongAnalysis.beat_period`) in record frames, 1 at least: what the cuts'
    placing (`planner.plan_edit`) and the trim (`trim._retime_and_trim`) measure transition handles in,
    so both leave the same room."""
    return max(1, int(round(song.beat_period * fps)))


def _handle_frames(shot: ShotInput, beat_frames: int) -> int:
    if shot.transition.kind == "cut":
        return 0
    return int(round(shot.transition.beats * beat_frames)) // 2


def _tc(frame: int, fps: int) -> str:
    """mm:ss.ff (ff = frames)."""
    s, f = divmod(int(frame), fps)
    return f"{s // 60:02d}:{s % 60:02d}.{f:02d}"
