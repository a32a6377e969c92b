"""The director's corrections: the spec's `song:` block applied to the heard song map.
"""

from __future__ import annotations

import numpy as np

from dreamcut.analysis.song import Section, SongAnalysis
from dreamcut.analysis.tempo import _tempo_curve_points
from dreamcut.errors import BadInput


def apply_corrections(song: SongAnalysis, fix) -> SongAnalysis:
    """The song map with the spec's `song:` block applied; what is given is kept exactly.

    fix: a `dreamcut.spec.SongSpec` (bpm or tempo map, first downbeat, meter, sections).
    A bpm / tempo map rebuilds the beat grid from the first downbeat; a downbeat alone
    re-phases the bars (that beat moves onto the given second); sections replace the
    heard ones (a section given by bar starts on that bar's downbeat). BadInput names
    the field when a correction does not fit the song.
    """
    if fix is None:
        return song
    import dataclasses

    corrected: list[str] = []
    beats = list(song.beats)
    moved = -1  # the beat the director's downbeat moved
    bpb = int(fix.meter or song.beats_per_bar)
    if fix.meter:
        corrected.append("meter")
    start = fix.downbeat
    if fix.tempo:
        start = fix.tempo[0].at if start is None else start
    if fix.bpm or fix.tempo:
        if start is None:
            start = song.downbeats[0] if song.downbeats else (song.beats[0] if song.beats else 0.0)
        points = [(start, float(fix.bpm))] if fix.bpm else [(max(p.at, start) if i == 0 else p.at, p.bpm)
                                                           for i, p in enumerate(fix.tempo)]
        if start >= song.duration:
            raise BadInput(f"the first downbeat {start:g} s is after the song's end ({song.duration:.2f} s)",
                           where="dreamcut.yaml: song.downbeat", fix="give a second inside the song")
        grid = [start]
        while True:
            t = grid[-1]
            bpm = next(b for a, b in reversed(points) if a <= t + 1e-9) if t >= points[0][0] else points[0][1]
            nxt = t + 60.0 / bpm
            if nxt >= song.duration - 0.1:
                break
            grid.append(nxt)
        back = []
        t = start - 60.0 / points[0][1]
        while t >= -0.005:
            back.append(max(0.0, t))
            t -= 60.0 / points[0][1]
        beats = [round(x, 4) for x in list(reversed(back)) + grid]
        first = len(back)
        corrected.append("tempo")
    else:
        if start is not None:
            if not beats:
                raise BadInput("the song has no beats to put the downbeat on", where="dreamcut.yaml: song.downbeat",
                               fix="give `bpm:` too")
            first = int(np.argmin(np.abs(np.asarray(beats) - start)))
            beats[first] = round(float(start), 4)
            moved = first
            corrected.append("downbeat")
        elif fix.meter and song.downbeats:
            first = int(np.argmin(np.abs(np.asarray(beats) - song.downbeats[0])))
        else:
            first = int(np.argmin(np.abs(np.asarray(beats) - song.downbeats[0]))) if song.downbeats and beats else 0
    if start is not None and fix.downbeat is not None and "downbeat" not in corrected:
        corrected.append("downbeat")
    first = first % bpb if first >= bpb else first
    downbeats = beats[first::bpb]
    tempo = song.tempo
    if len(beats) >= 2 and "tempo" in corrected:
        tempo = round(float(60.0 / np.median(np.diff(beats))), 4)
    out = dataclasses.replace(song, beats=beats, downbeats=downbeats, beats_per_bar=bpb, tempo=tempo,
                              tempo_curve=_tempo_curve_points(np.array([]), np.array([]), beats)
                              if "tempo" in corrected else song.tempo_curve,
                              pulse=1.0 if "tempo" in corrected else song.pulse,
                              beat_confidence=_confidence(song, corrected, moved))
    if fix.sections:
        starts = []
        for k, mark in enumerate(fix.sections):
            if mark.bar is not None:
                if mark.bar > len(downbeats):
                    raise BadInput(f"section {mark.name!r} starts at bar {mark.bar}, but the song has "
                                   f"{len(downbeats)} bars", where=f"dreamcut.yaml: song.sections[{k}]",
                                   fix=f"use a bar between 1 and {len(downbeats)} (see `dreamcut song`)")
                t = downbeats[mark.bar - 1]
            else:
                t = float(mark.start)
            if t >= song.duration:
                raise BadInput(f"section {mark.name!r} starts at {t:g} s, after the song's end ({song.duration:.2f} s)",
                               where=f"dreamcut.yaml: song.sections[{k}]", fix="give a start inside the song")
            if starts and t <= starts[-1][0]:
                raise BadInput(f"section {mark.name!r} starts at {t:g} s, not after the one before it",
                               where=f"dreamcut.yaml: song.sections[{k}]", fix="list the sections in order")
            starts.append((t, mark.name))
        if starts[0][0] > 0.05:
            starts.insert(0, (0.0, "intro" if starts[0][1] != "intro" else "count-in"))
        else:
            starts[0] = (0.0, starts[0][1])
        ends = [t for t, _ in starts[1:]] + [song.duration]
        out.sections = [Section(round(t, 4), round(e, 4), name, 1.0) for (t, name), e in zip(starts, ends)]
        corrected.append("sections")
    out.corrected = corrected
    return out


def _confidence(song: SongAnalysis, corrected: list[str], moved: int) -> list[float]:
    """The beats' confidence after the corrections: the director's grid is sure throughout; a
    downbeat the director gave is sure."""
    if "tempo" in corrected or len(song.beat_confidence) != len(song.beats):
        return []
    out = list(song.beat_confidence)
    if 0 <= moved < len(out):
        out[moved] = 1.0
    return out
