"""Placing the cuts: a dynamic programme over the beats that shares a span between its shots,
each slot near its take's share, cuts drawn to the musical places that are worth most.
"""

from __future__ import annotations

import numpy as np

from dreamcut.edit.cut_places import _Cut
from dreamcut.edit.shots import MIN_SPEED, ShotInput, _handle_frames, _tc, _usable_frames
from dreamcut.errors import BadInput


LOST_TRANSITION = 2.0  # cost of a slot so long that its transition must be shortened or dropped


def _place_cuts(group: list[ShotInput], inner: list[_Cut], f0: int, f1: int, fps: int, beat_frames: int,
                song_media: str) -> list[_Cut]:
    """Choose len(group)-1 cuts among `inner` so the group fills [f0, f1] exactly."""
    m = len(group)
    span = f1 - f0
    usable = np.array([_usable_frames(s, fps) for s in group], dtype=float)
    longest = np.floor(usable / MIN_SPEED + 1e-6)  # a slot the take can fill at 0.8x
    names = f"{group[0].shot_id}" if m == 1 else f"{group[0].shot_id}..{group[-1].shot_id}"
    where = f"shots {names} ({_tc(f0, fps)}-{_tc(f1, fps)})"
    if longest.sum() < span:
        missing = (span - longest.sum()) / fps * MIN_SPEED
        raise BadInput(f"the takes cover at most {longest.sum() / fps:.2f} s of these {span / fps:.2f} s even "
                       f"slowed to {MIN_SPEED}x; {missing:.2f} s more take material is needed", where=where,
                       fix="make the shots' takes longer (seconds:), add shots, or move the pins")
    if m == 1:
        return []
    min_len = max(1, int(round(0.75 * beat_frames)))
    nodes = np.array([f0] + [c.frame for c in inner] + [f1], dtype=float)
    bonus = np.array([0.0] + [c.bonus for c in inner] + [0.0])
    n = len(nodes)
    if n - 2 < m - 1:
        raise BadInput(f"{m} shots need {m - 1} cuts but there are only {n - 2} beats between "
                       f"{_tc(f0, fps)} and {_tc(f1, fps)}", where=where,
                       fix="remove shots, or move the pins further apart")
    # Balanced targets: each shot's share of the span in proportion to what its take can give.
    target = span * usable / usable.sum()
    handles = np.array([_handle_frames(s, beat_frames) for s in group], dtype=float)
    comfy = usable - handles - np.concatenate([[0.0], handles[:-1]])  # fits with its handles

    d = nodes[None, :] - nodes[:, None]  # d[a, b] = length of a slot from node a to node b
    INF = np.inf
    cost = np.full((m + 1, n), INF)
    back = np.zeros((m + 1, n), dtype=int)
    cost[0, 0] = 0.0
    for j in range(m):
        scale = max(2.0 * beat_frames, 0.3 * target[j])
        c = ((d - target[j]) / scale) ** 2
        # A transition the director asked for outweighs a phrase start (but not a section start).
        c = c + np.where(d > comfy[j], LOST_TRANSITION, 0.0)
        over = d / max(usable[j], 1.0) - 1.0
        c = c + np.where(over > 0, 3.0 + 20.0 * over, 0.0)  # retimed: allowed, not liked
        c[(d < min_len) | (d > longest[j])] = INF
        last = j == m - 1
        if last:
            c[:, :-1] = INF  # the last shot of the group ends on the anchor
        else:
            c[:, -1] = INF
            c = c - bonus[None, :]
        step = cost[j][:, None] + c
        back[j + 1] = np.argmin(step, axis=0)
        cost[j + 1] = step[back[j + 1], np.arange(n)]
    if not np.isfinite(cost[m, n - 1]):
        raise BadInput(f"{m} shots cannot share these {span / fps:.2f} s with every cut on a beat "
                       f"(each slot needs at least {min_len / fps:.2f} s and at most 1.25x its take)",
                       where=where, fix="remove or lengthen shots, or move the pins")
    picks = []
    b = n - 1
    for j in range(m, 0, -1):
        a = back[j, b]
        if j < m:
            picks.append(b)
        b = a
    picks.reverse()
    return [inner[p - 1] for p in picks]
