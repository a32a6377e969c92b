"""Pacing: bars per cut per section ("auto" from each section's energy and name, a number, or a
mapping), and the clips of one anchored span when a shot may supply several cuts.
"""

from __future__ import annotations

import numpy as np

from dreamcut.analysis.audio import SongAnalysis
from dreamcut.edit import cut_places
from dreamcut.edit.cut_places import OFF_BAR_NOTE, _Cut, half_bar_line, on_bar_line, section_bar, section_downbeat
from dreamcut.edit.shots import MIN_SPEED, ShotInput, _Clip, _tc, _usable_frames
from dreamcut.spec import TransitionSpec


AUTO_FAST = 4  # bars per cut in choruses and loud sections (auto)
AUTO_CALM = 8  # bars per cut in verses, intros, outros and quiet sections (auto)


def section_pace(song: SongAnalysis, index: int, pacing) -> int:
    """Bars per cut for the song's `index`-th section under `pacing` (see plan_edit). `auto`: choruses
    (and bridges) and loud sections fast, verses, intros, outros and quiet sections calm; a name in
    doubt (the chorus and the material nearly as loud, `SongAnalysis.chorus_doubt`) is not read, so
    both are paced by their energy alone (studied POP909 songs with their heard sections: annotated
    choruses cut at least every 4 bars in 231 -> 241 of 268, none fewer; verses within 8 bars in all)."""
    sec = song.sections[index]
    rule = pacing
    if isinstance(pacing, dict):
        rule = pacing.get(sec.label, pacing.get("default", "auto"))
    if rule != "auto":
        return max(1, int(round(float(rule))))
    # auto: loud or chorus -> fast, quiet or verse-like -> calm
    e = np.asarray(song.energy, dtype=float)
    t = np.asarray(song.energy_times, dtype=float)
    if e.size:
        inside = e[(t >= sec.start) & (t < sec.end)]
        level = float(inside.mean()) if inside.size else float(e.mean())
        loud = level > 1.1 * float(np.median(e))
        quiet = level < 0.9 * float(np.median(e))
    else:
        loud = quiet = False
    # a name that is a coin toss between the chorus and the material nearly as loud says nothing: those
    # sections are paced by their energy alone, alike (`SongAnalysis.chorus_doubt`)
    label = "" if song.name_in_doubt(index) else sec.label
    if label in ("chorus", "bridge") or (loud and label not in ("intro", "outro")):
        return AUTO_FAST
    if quiet or label in ("verse", "intro", "outro"):
        return AUTO_CALM
    return AUTO_FAST


def _pace_points(song: SongAnalysis, f0: int, f1: int, fps: int, pacing) -> list[int]:
    """Record frames of the paced cuts in (f0, f1): every N bars from each sure section's bar line
    (`section_downbeat`: the downbeat nearest where the analysis heard it begin). A guessed section
    boundary (`SongAnalysis.sure_section`) forces no cut: the phrase grid of the sections before
    carries on across it, at this section's pace."""
    out: list[int] = []
    nb = len(song.downbeats)
    lines = [section_downbeat(song, i) for i in range(len(song.sections))]  # where each section's cut goes
    last: int | None = None  # bar of the previous paced cut (or sure section start)
    for i, sec in enumerate(song.sections):
        n = section_pace(song, i, pacing)
        first = section_bar(song, i)
        end = lines[i + 1] if i + 1 < len(lines) else sec.end
        if last is None or song.sure_section(i):
            starts = [lines[i]] if lines[i] > 0 else []
            last = first
        else:
            starts = []
        k = last + n
        while k < first:
            k += n
        while k < nb and song.downbeats[k] < end - 0.05:
            starts.append(song.downbeats[k])
            last = k
            k += n
        for t in starts:
            frame = int(round(song.beats[_sure_beat_near(song, t, n)] * fps))
            if f0 < frame < f1:
                out.append(frame)
    return sorted(set(out))


def _sure_beat_near(song: SongAnalysis, t: float, bars: int) -> int:
    """The beat a paced cut at `t` goes to: the nearest beat when the analysis is sure of it,
    else the nearest sure downbeat within half the pace (`bars`) either side (a bar line at either
    tempo: not a paired song's half-bar line, `cut_places.half_bar_line`), else the nearest sure
    beat within a bar, else the nearest beat (a doubtful one; the clip's reason says so)."""
    i = song.nearest_beat(t)
    if song.sure_beat(i):
        return i
    bar = song.beat_period * song.beats_per_bar
    reach = max(1, bars // 2) * bar + 0.05
    downs = [song.nearest_beat(d) for k, d in enumerate(song.downbeats)
             if abs(d - t) <= reach and not half_bar_line(song, k)]
    sure = [j for j in downs if song.sure_beat(j)]
    if not sure:
        sure = [j for j in range(len(song.beats)) if abs(song.beats[j] - t) <= bar + 0.05 and song.sure_beat(j)]
    return min(sure, key=lambda j: (abs(song.beats[j] - t), j)) if sure else i


def _paced_slots(song: SongAnalysis, group: list[ShotInput], inner: list[_Cut], f0: int, f1: int, fps: int,
                 pacing) -> list[tuple[int, int]]:
    """(start, end) record frames of the paced slots of one anchored span: a cut every N bars,
    none closer than a bar, and a slot longer than any take can fill split on its strongest cut."""
    by_frame = {c.frame: c for c in inner}
    points = [f for f in _pace_points(song, f0, f1, fps, pacing) if f in by_frame]
    bar = max(1, int(round(song.beat_period * song.beats_per_bar * fps)))
    # no slot under a bar (a section boundary right after a phrase cut): drop the weaker cut
    kept: list[int] = []
    for f in points:
        if (kept and f - kept[-1] < bar) or f1 - f < bar // 2:
            if kept and by_frame[f].bonus > by_frame[kept[-1]].bonus and f1 - f >= bar // 2:
                kept[-1] = f
            continue
        if f - f0 < bar // 2:
            continue
        kept.append(f)
    bounds = [f0] + kept + [f1]
    # a slot longer than any take can fill (even slowed) is split on its phrase / bar / beat
    longest = max(_usable_frames(s, fps) for s in group) / MIN_SPEED
    split: list[int] = [bounds[0]]
    for a, b in zip(bounds[:-1], bounds[1:]):
        while b - a > longest:
            inside = [c for c in inner if a + bar <= c.frame <= min(b - bar, a + longest)] or \
                     [c for c in inner if a < c.frame <= a + longest]
            if not inside:
                break
            best = max(inside, key=lambda c: (c.bonus, metric_weight(song, c), c.frame))
            split.append(best.frame)
            a = best.frame
        split.append(b)
    return list(zip(split[:-1], split[1:]))


# Where a slot too long for any take is split and no phrase, section or bonus decides (under a weak
# pulse a plain downbeat is worth no bonus, `cut_places.cut_places`), the split went to the latest beat
# within reach, often beat 2 or 4. It goes to the stronger place of the bar first
# (`cut_places.metric_weight`): Beethoven's Op. 59/2 Allegretto (108 bpm tracked at 72, pulse 0.18)
# split a slot on beat 4 of bar 23, 278 ms from any score beat (benchmarks/song_accuracy.py: planned
# cuts on a beat 9 of 11 -> 10 of 11).
def metric_weight(song: SongAnalysis, cut: _Cut) -> int:
    """How strong a place in the bar `cut` is (`cut_places.metric_weight`): 2 on a bar line at either
    tempo, 1 on a 4-beat bar's half bar, else 0."""
    return cut_places.metric_weight(song, cut.bar - 1, cut.beat_in_bar)


def _pacing_text(pacing) -> str:
    """`pacing` as the director wrote it in the song: block."""
    if isinstance(pacing, dict):
        return "{" + ", ".join(f"{k}: {_num(v)}" for k, v in pacing.items()) + "}"
    return _num(pacing)


def _num(v) -> str:
    return v if isinstance(v, str) else f"{float(v):g}"


def pacing_shortfall(song: SongAnalysis, group: list[ShotInput], inner: list[_Cut], f0: int, f1: int, fps: int,
                     total: int, pacing) -> str | None:
    """The line `edit` and `check` say when `pacing` gives this anchored span fewer slots than it has
    shots, so the planner drops the pace and places one cut per shot, balanced to the takes; with
    the fix: a denser pace that fits (every N bars everywhere, the least change) or how many shots
    the asked pace holds. None when the pace holds every shot."""
    have = len(_paced_slots(song, group, inner, f0, f1, fps, pacing))
    m = len(group)
    if have >= m:
        return None
    where = "" if f0 == 0 and f1 >= total else f" from {_tc(f0, fps)} to {_tc(f1, fps)} (between pins)"
    paces = sorted({section_pace(song, i, pacing) for i, sec in enumerate(song.sections)
                    if sec.start * fps < f1 and sec.end * fps > f0}) or [1]
    start = paces[0] if len(paces) > 1 else paces[0] - 1  # denser than the asked pace everywhere
    denser = next(((n, k) for n in range(start, 0, -1)
                   if (k := len(_paced_slots(song, group, inner, f0, f1, fps, n))) >= m), None)
    fix = (f"pace more often, e.g. `pacing: {denser[0]}` gives {denser[1]} slots, or use at most {have} shots"
           if denser else f"use at most {have} shots, or drop `pacing:` to give each shot one cut")
    return (f"pacing {_pacing_text(pacing)}: {m} shots for {have} paced slots{where}, so the pace is dropped and "
            f"each shot gets one cut, balanced to the takes ({fix})")


def _paced_clips(song: SongAnalysis, group: list[ShotInput], inner: list[_Cut], f0: int, f1: int, fps: int,
                 pacing, cuts: list[_Cut], pin0: str | None) -> list[_Clip] | None:
    """Clips for one anchored span under `pacing`; None when there are fewer paced slots than shots
    (the balanced planner then places one cut per shot, and `pacing_shortfall` says so)."""
    by_frame = {c.frame: c for c in inner}
    slots = _paced_slots(song, group, inner, f0, f1, fps, pacing)
    m = len(group)
    if len(slots) < m:
        return None
    # each shot a contiguous run of slots (the story's order), in proportion to its take's length
    usable = np.array([_usable_frames(s, fps) for s in group], dtype=float)
    lengths = np.array([b - a for a, b in slots], dtype=float)
    share = np.cumsum(usable) / usable.sum() * lengths.sum()
    mids = np.cumsum(lengths) - lengths / 2
    owner = np.minimum(np.searchsorted(share, mids), m - 1)
    # every shot gets at least one slot, order kept
    owner = list(int(o) for o in owner)
    for j in range(m):
        if j not in owner:
            # take a slot from the neighbour with the most
            counts = [owner.count(x) for x in range(m)]
            donor = max(range(m), key=lambda x: (counts[x], -abs(x - j)))
            idx = [i for i, o in enumerate(owner) if o == donor]
            give = idx[0] if donor > j else idx[-1]
            owner[give] = j
            owner = sorted(owner)
    clips: list[_Clip] = []
    for j in range(m):
        mine = [slots[i] for i in range(len(slots)) if owner[i] == j]
        n = len(mine)
        for k, (a, b) in enumerate(mine):
            shot = group[j]
            if n > 1 and shot.source_in is None:
                # different in-points of the one take, spread over it
                take = _usable_frames(shot, fps)
                room = max(0, take - (b - a))
                src = (room * k // (n - 1)) / fps
                # a take cut against itself: a straight cut; the shot's transition leads out of its last use
                shot = ShotInput(**{**shot.__dict__, "source_in": round(src, 6),
                                    **({"transition": TransitionSpec()} if k < n - 1 else {})})
            cut = None if a == 0 else by_frame.get(a) or next((c for c in cuts if c.frame == a), None)
            clips.append(_Clip(shot=shot, start=a, end=b, cut=cut, pin=pin0 if (j == 0 and k == 0) else None,
                               use=(k + 1, n) if n > 1 else None))
            why = _off_bar(song, cut) if clips[-1].pin is None else None
            if why:
                clips[-1].notes.append(why)
            if n > 1 and k > 0 and _usable_frames(group[j], fps) <= b - a:
                clips[-1].notes.append("repeats the same footage: the take is no longer than its slot "
                                       "(longer takes give each use its own stretch)")
    return clips


def _off_bar(song: SongAnalysis, cut: _Cut | None) -> str | None:
    """Why a paced cut is not on a downbeat (a bar line at either tempo, `cut_places.on_bar_line`;
    None when it is, or when the director's section start put it there): the downbeats near it are
    doubtful beats with no sure one within reach, its section is heard starting far from any bar
    line, or no take is long enough to reach the next one."""
    if cut is None or on_bar_line(song, cut.bar - 1, cut.beat_in_bar) or \
            (cut.section_start and "sections" in song.corrected):
        return None
    bar = song.bar_index(song.beats[cut.beat])
    bar -= 1 if half_bar_line(song, bar) else 0  # a paired song's bar begins on the heard bar line before
    down = song.nearest_beat(song.downbeats[bar]) if 0 <= bar < len(song.downbeats) else -1
    if down >= 0 and not song.sure_beat(down):
        return (f"{OFF_BAR_NOTE}: the downbeats near it are doubtful beats (the two beat trackers disagree) "
                "and no sure one is within reach; pin the shot to a bar if it sounds off")
    if cut.section_start:
        return f"{OFF_BAR_NOTE}: {cut.section} is heard starting more than a bar from any downbeat"
    return f"{OFF_BAR_NOTE}: no take reaches the next downbeat (takes longer than a bar keep cuts on it)"
