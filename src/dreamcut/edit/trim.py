"""Speed, in / out points and handles: each planned clip retimed to fill its slot, the transitions
fitted to the handle room in the takes, and the in point that avoids the take's defects.
"""

from __future__ import annotations

import math

import numpy as np

from dreamcut.analysis.audio import SongAnalysis
from dreamcut.edit.shots import MIN_SPEED, _Clip, _handle_frames, _usable_frames, beat_frames


# How much each kind of take defect is worth avoiding, per occurrence plus per second.
DEFECT_WEIGHTS = {"frozen": 1.0, "freeze": 1.0, "flash": 2.0, "hard_cut": 3.0, "cut": 3.0,
                  "motion_spike": 1.0, "spike": 1.0}


def _retime_and_trim(clips: list[_Clip], song: SongAnalysis, fps: int) -> None:
    one_beat = beat_frames(song, fps)
    # 1. speed: 1.0 when the take is long enough, else slowed (>= 0.8x by the planner's limits).
    for c in clips:
        rec = c.end - c.start
        usable = _usable_frames(c.shot, fps)
        if rec <= usable:
            c.speed, c.src_len = 1.0, rec
        else:
            c.speed = max(MIN_SPEED, usable / rec)
            c.src_len = usable
            c.notes.append(f"retimed {c.speed:.3f}x: the take gives {usable / fps:.2f} s for a "
                           f"{rec / fps:.2f} s slot")
    # 2. transitions: centred on the cut, at most half of either neighbour, handles inside the takes.
    halves: list[int] = []
    for k in range(len(clips) - 1):
        a, b = clips[k], clips[k + 1]
        h = _handle_frames(a.shot, one_beat)
        h = min(h, (a.end - a.start) // 2, (b.end - b.start) // 2)
        halves.append(h)
    want = list(halves)

    def room(c: _Clip) -> tuple[int, int]:
        """(source frames free before the in point, after the out point) at the best case."""
        take = int(math.floor(c.shot.take_seconds * fps + 1e-6))
        if c.shot.source_in is not None:
            head = int(round(c.shot.source_in * fps))
            return head, take - head - c.src_len
        return take - c.src_len, take - c.src_len  # shared: the in point is free to move

    for k, c in enumerate(clips):
        head_need = math.ceil(halves[k - 1] * c.speed) if k > 0 else 0
        tail_need = math.ceil(halves[k] * c.speed) if k < len(halves) else 0
        head_room, tail_room = room(c)
        if c.shot.source_in is None:
            free = head_room
            if head_need + tail_need > free:
                # Share the free frames in proportion to what each side asks for.
                head_fit = int(free * head_need / (head_need + tail_need))
                tail_fit = free - head_fit
            else:
                head_fit, tail_fit = head_need, tail_need
        else:
            head_fit, tail_fit = min(head_need, head_room), min(tail_need, tail_room)
        if k > 0 and head_fit < head_need:
            halves[k - 1] = min(halves[k - 1], int(head_fit / c.speed))
        if k < len(halves) and tail_fit < tail_need:
            halves[k] = min(halves[k], int(tail_fit / c.speed))
    for k, h in enumerate(halves):
        kind = clips[k].shot.transition.kind
        more = 2 * (want[k] - h) * max(clips[k].speed, clips[k + 1].speed) / fps  # take seconds short, both sides
        between = f"{clips[k].shot.shot_id} and {clips[k + 1].shot.shot_id} need {more:.2f} s more take"
        if want[k] == 0 and kind != "cut" and h == 0:
            clips[k + 1].notes.append(f"{kind} became a cut: the shots are too short for it")
        elif h < want[k]:
            if h == 0:
                clips[k + 1].notes.append(f"{kind} became a cut: no handle room in the takes ({between})")
            else:
                clips[k + 1].notes.append(f"{kind} shortened to {2 * h} frames: handle room in the takes ({between})")
    # 3. in points: the stretch with the fewest defects, handles included.
    for k, c in enumerate(clips):
        head = math.ceil(halves[k - 1] * c.speed) if k > 0 else 0
        tail = math.ceil(halves[k] * c.speed) if k < len(halves) else 0
        take = int(math.floor(c.shot.take_seconds * fps + 1e-6))
        if c.shot.source_in is not None:
            c.src_in = int(round(c.shot.source_in * fps))
            if c.use is not None:
                c.notes.append(f"cut {c.use[0]} of {c.use[1]} from this take, in point {c.shot.source_in:.2f} s")
            else:
                c.notes.append(f"in point {c.shot.source_in:g} s as directed")
        else:
            c.src_in, avoided = _best_in_point(c.shot.defects, take, c.src_len, head, tail, fps)
            if avoided:
                c.notes.append(avoided)
        c.head, c.tail = head, tail  # type: ignore[attr-defined]
    for k, c in enumerate(clips):
        c.half_out = halves[k] if k < len(halves) else 0  # type: ignore[attr-defined]


def _best_in_point(defects: tuple[tuple[float, float, str], ...], take: int, length: int, head: int, tail: int,
                   fps: int) -> tuple[int, str]:
    lo, hi = head, take - length - tail
    if hi <= lo or not defects:
        return max(0, min(lo, take - length)), ""
    starts = np.arange(lo, hi + 1)
    cost = np.zeros(len(starts))
    for d0, d1, kind in defects:
        w = DEFECT_WEIGHTS.get(kind, 1.0)
        a, b = d0 * fps, max(d1, d0) * fps
        for s0, s1, weight in ((starts - head, starts, 0.5), (starts, starts + length, 1.0),
                               (starts + length, starts + length + tail, 0.5)):
            overlap = np.clip(np.minimum(s1, b + 1) - np.maximum(s0, a), 0, None)
            cost += weight * w * ((overlap > 0) * 1.0 + overlap / fps)
    best = int(starts[int(np.argmin(cost))])  # argmin takes the earliest of equals
    worst_at_start = cost[0] > cost.min()
    note = ""
    if worst_at_start:
        kinds = sorted({k for _, _, k in defects})
        note = f"uses {best / fps:.2f}-{(best + length) / fps:.2f} s of the take to avoid {', '.join(kinds)}"
    return best, note
