"""The edit room's grid: where a cut dragged on the board lands, as a pin the planner reads.

A cut moved on the board snaps to the nearest beat of the song map; it is written as the
shot's `place:` pin (a bar when the beat is a downbeat, else a beat), so `dreamcut edit`
makes the same cut from the spec. Pure functions: no files, no catalog.
"""

from __future__ import annotations

from dreamcut.analysis.audio import SongAnalysis

#: a beat closer than this to a downbeat is that downbeat (seconds)
DOWNBEAT_EPS = 1e-3


def snap_place(song: SongAnalysis, t: float) -> tuple[dict[str, int], float]:
    """The pin for a cut dropped at `t`: ({"bar": n} on a downbeat, else {"beat": n}) and its time."""
    if not song.beats:
        raise ValueError("the song map has no beats")
    i = song.nearest_beat(t)
    at = song.beats[i]
    for k, d in enumerate(song.downbeats):
        if abs(d - at) <= DOWNBEAT_EPS:
            return {"bar": k + 1}, at
    return {"beat": i + 1}, at
