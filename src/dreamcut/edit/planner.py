"""The edit planner: song analysis + shots -> an OpenTimelineIO timeline cut to the music.

A pure function. `plan_edit` reads no file, renders nothing and asks no one; given the
same song analysis and shots it returns the same timeline. It decides:

- where each cut falls: on a beat (exactly on the frame nearest the beat), preferring
  downbeats, phrase starts (4 / 8 bars into a section) and section boundaries, with slot
  lengths balanced to the takes' usable lengths (a dynamic programme over the beats);
- pins from the spec (section / bar / beat / second) are kept exactly;
- a take shorter than its slot is retimed within 0.8x..1.25x (never frozen or looped);
  when even 0.8x cannot fill the song, BadInput says how many seconds are missing;
- which part of a long take is used (the stretch with the fewest defects), and the
  handles a transition needs, left inside the take (or the transition is shortened
  or becomes a cut, and the clip's reason says so).

The timeline follows docs/internals.md ("The timeline"). `explain(timeline)` prints
one line per cut for `dreamcut edit --explain`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import opentimelineio as otio

from dreamcut.analysis.audio import SongAnalysis
from dreamcut.errors import BadInput
from dreamcut.spec import Placement, TransitionSpec
from dreamcut.timeline import (TYPE_TO_KIND, VERSION, ClipView, TransitionView, info, items, make_clip,
                               make_transition)

TIMELINE_VERSION = VERSION
MIN_SPEED = 0.8
MAX_SPEED = 1.25

# Bonus (in cost units) for a cut on each kind of musical place. One unit is roughly what
# moving a cut ~2 beats away from its balanced position costs, so a downbeat is worth a
# short move, a section boundary a long one.
BONUS_DOWNBEAT = 1.0
BONUS_PHRASE4 = 0.75
BONUS_PHRASE8 = 0.75
BONUS_SECTION = 4.0
LOST_TRANSITION = 2.0  # cost of a slot so long that its transition must be shortened or dropped

# How much each kind of take defect is worth avoiding, per occurrence plus per second.
DEFECT_WEIGHTS = {"frozen": 1.0, "freeze": 1.0, "flash": 2.0, "hard_cut": 3.0, "cut": 3.0,
                  "motion_spike": 1.0, "spike": 1.0}


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
class _Cut:
    """A place a cut may fall: a beat, on its frame."""

    frame: int
    beat: int  # 0-based beat index
    bar: int  # 1-based bar number (0 = before the first bar)
    beat_in_bar: int  # 1-based
    section: str | None  # e.g. "chorus#2"
    section_start: bool
    phrase: int  # 8, 4 or 0: bars into the section, on a downbeat
    bonus: float

    def describe(self) -> str:
        if self.bar <= 0:
            where = f"beat {self.beat + 1} (pickup before bar 1)"
        elif self.beat_in_bar == 1:
            where = f"downbeat of bar {self.bar}"
        else:
            where = f"beat {self.beat_in_bar} of bar {self.bar}"
        parts = [where]
        if self.section_start and self.section:
            parts[0] += f", start of {self.section}"
        elif self.section:
            parts[0] += f" in {self.section}"
        if self.phrase and not self.section_start:
            parts.append(f"phrase start ({self.phrase} bars)")
        return "; ".join(parts)


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


def plan_edit(song: SongAnalysis, shots: list[ShotInput], *, fps: int, size: tuple[int, int], title: str,
              song_media: str, pacing=None) -> otio.schema.Timeline:
    """Cut `shots` (in shot-list order) to `song`; return the timeline (see docs/internals.md).

    fps: the timeline rate (frames per second, integer). size: the master's (w, h).
    song_media: the song's path relative to the project root.
    pacing: None (each shot once, slots balanced to the takes), bars per cut (a number),
    "auto" (from each section's energy and name: calmer verses, faster choruses), or a
    mapping section name -> either ("default" for the rest). With pacing a shot supplies
    as many cuts as its share of the song needs, each from a different in-point of its take.
    Raises BadInput when the shots cannot cover the song or a pin cannot be kept.
    """
    if fps <= 0:
        raise BadInput(f"fps={fps} must be a positive integer", where="fps", fix="set fps: 24 in dreamcut.yaml")
    if not shots:
        raise BadInput("there are no shots to cut", where="shots", fix="add shots to dreamcut.yaml")
    if song.duration <= 0 or not song.beats:
        raise BadInput("the song has no beats to cut on", where=song_media,
                       fix="use a song with a steady pulse, or check that the file is not silent")
    for s in shots:
        if not (s.take_seconds > 0):
            raise BadInput(f"take {s.take_id} has no length ({s.take_seconds} s)", where=s.shot_id,
                           fix="regenerate the take")
        if s.source_in is not None and not (0 <= s.source_in < s.take_seconds):
            raise BadInput(f"in point {s.source_in} s is outside take {s.take_id} ({s.take_seconds:.2f} s)",
                           where=s.shot_id, fix=f"choose an in point between 0 and {s.take_seconds:.2f} s")

    total = int(round(song.duration * fps))
    beat_frames = max(1, int(round(song.beat_period * fps)))
    cuts = cut_places(song, fps, total)
    anchors = _anchors(song, shots, cuts, fps, total)

    clips: list[_Clip] = []
    for (i0, f0, pin0), (i1, f1, _) in zip(anchors[:-1], anchors[1:]):
        group = shots[i0:i1]
        inner = [c for c in cuts if f0 < c.frame < f1]
        if pacing is not None:
            paced = _paced_clips(song, group, inner, f0, f1, fps, pacing, cuts, pin0)
            if paced is not None:
                clips.extend(paced)
                continue
        chosen = None
        if _weak(song):
            # The grid is a guess: cut only on phrase starts and section boundaries when they suffice.
            try:
                chosen = _place_cuts(group, [c for c in inner if c.phrase or c.section_start], f0, f1, fps,
                                     beat_frames, song_media)
            except BadInput:
                chosen = None
        if chosen is None:
            chosen = _place_cuts(group, inner, f0, f1, fps, beat_frames, song_media)
        starts = [f0] + [c.frame for c in chosen]
        ends = starts[1:] + [f1]
        for k, shot in enumerate(group):
            cut = None if starts[k] == 0 else (
                chosen[k - 1] if k > 0 else next((c for c in cuts if c.frame == f0), None))
            clips.append(_Clip(shot=shot, start=starts[k], end=ends[k], cut=cut, pin=pin0 if k == 0 else None))

    _retime_and_trim(clips, song, fps)
    return _timeline(clips, song, fps, size, title, song_media, total)


# -- where cuts may fall ------------------------------------------------------------------


def _weak(song: SongAnalysis) -> bool:
    """A pulse too weak to trust the beat grid (and no tempo from the director)."""
    from dreamcut.analysis.audio import WEAK_PULSE

    return song.pulse < WEAK_PULSE and "tempo" not in song.corrected


def cut_places(song: SongAnalysis, fps: int, total: int) -> list[_Cut]:
    """Every beat a cut may fall on (frame, bar, beat in bar, section, phrase start, bonus).
    The one rule for what a downbeat / 4- or 8-bar phrase start / section start is: the planner
    cuts on these and the board snaps to them."""
    weak = _weak(song)
    names = song.section_names()
    section_beats: dict[int, str] = {}
    for sec, name in zip(song.sections, names):
        if sec.start > 0:
            section_beats.setdefault(song.nearest_beat(sec.start), name)
    out: list[_Cut] = []
    seen: set[int] = set()
    for i, t in enumerate(song.beats):
        frame = int(round(t * fps))
        if frame <= 0 or frame >= total or frame in seen:
            continue
        seen.add(frame)
        bar0 = song.bar_index(t)
        in_bar = song.beat_in_bar(t)
        found = song.section_at(t)
        sec_name = names[found[0]] if found else None
        sec_start = i in section_beats
        if sec_start:
            sec_name = section_beats[i]
        phrase = 0
        if in_bar == 1 and bar0 >= 0:
            first_bar = song.bar_index(found[1].start) if found else 0
            into = bar0 - max(first_bar, 0)
            phrase = 8 if into % 8 == 0 else 4 if into % 4 == 0 else 0
        bonus = (BONUS_DOWNBEAT if in_bar == 1 else 0.0)
        bonus += BONUS_PHRASE4 if phrase >= 4 else 0.0
        bonus += BONUS_PHRASE8 if phrase >= 8 else 0.0
        if weak:  # the grid is a guess: only phrase starts and section boundaries are worth a move
            bonus = 2.0 * bonus if phrase else 0.0
        bonus += BONUS_SECTION if sec_start else 0.0
        out.append(_Cut(frame=frame, beat=i, bar=bar0 + 1, beat_in_bar=in_bar, section=sec_name,
                        section_start=sec_start, phrase=phrase, bonus=bonus))
    return out


def _anchors(song: SongAnalysis, shots: list[ShotInput], cuts: list[_Cut], fps: int,
             total: int) -> list[tuple[int, int, str | None]]:
    """(shot index, frame, pin text) for the song start, every pinned shot, and the end."""
    anchors: list[tuple[int, int, str | None]] = [(0, 0, None)]
    for i, shot in enumerate(shots):
        if shot.place is None:
            continue
        text, t = pin_time(song, shot)
        frame = int(round(song.beats[song.nearest_beat(t)] * fps)) if t > 0 else 0
        if t > 0 and frame <= 0:
            frame = 0
        if i == 0:
            if frame != 0:
                raise BadInput(f"the first shot is pinned to {text} ({_tc(frame, fps)}), but the first shot "
                               "starts the song", where=shot.shot_id,
                               fix="remove the pin, or put a shot before it to cover the song's start")
            anchors[0] = (0, 0, text)
            continue
        if frame >= total:
            raise BadInput(f"pinned to {text}, which is at or after the song's end ({_tc(total, fps)})",
                           where=shot.shot_id, fix="pin it inside the song")
        prev_i, prev_f, _ = anchors[-1]
        if frame <= prev_f:
            raise BadInput(f"pinned to {text} ({_tc(frame, fps)}), not after the pin of shot "
                           f"{shots[prev_i].shot_id} ({_tc(prev_f, fps)})", where=shot.shot_id,
                           fix="pins must follow the shot order; move the pin or reorder the shots")
        anchors.append((i, frame, text))
    anchors.append((len(shots), total, None))
    return anchors


def pin_time(song: SongAnalysis, shot: ShotInput) -> tuple[str, float]:
    """(how the pin reads, its second in the song); BadInput when the song map has no such place.
    `dreamcut check` asks the same question before anything is generated."""
    p = shot.place
    assert p is not None
    if p.section is not None:
        label, _, nth = p.section.partition("#")
        n = int(nth) if nth.isdigit() else 1
        matches = [s for s in song.sections if s.label == label.strip().lower()]
        if len(matches) < n or n < 1:
            have = ", ".join(song.section_names()) or "none"
            raise BadInput(f"pinned to section {p.section!r}, which the song does not have", where=shot.shot_id,
                           fix=f"use one of: {have}")
        return f"section {label}#{n}", matches[n - 1].start
    if p.bar is not None:
        if p.bar > len(song.downbeats):
            raise BadInput(f"pinned to bar {p.bar}, but the song has {len(song.downbeats)} bars",
                           where=shot.shot_id, fix=f"use a bar between 1 and {len(song.downbeats)}")
        return f"bar {p.bar}", song.downbeats[p.bar - 1]
    if p.beat is not None:
        if p.beat > len(song.beats):
            raise BadInput(f"pinned to beat {p.beat}, but the song has {len(song.beats)} beats",
                           where=shot.shot_id, fix=f"use a beat between 1 and {len(song.beats)}")
        return f"beat {p.beat}", song.beats[p.beat - 1]
    assert p.second is not None
    if p.second >= song.duration:
        raise BadInput(f"pinned to second {p.second}, but the song is {song.duration:.2f} s long",
                       where=shot.shot_id, fix=f"use a second below {song.duration:.2f}")
    return f"second {p.second:g}", p.second


# -- pacing: bars per cut per section; a shot may supply several cuts --------------------------

AUTO_FAST = 4  # bars per cut in choruses and loud sections (auto)
AUTO_CALM = 8  # bars per cut in verses, intros, outros and quiet sections (auto)


def section_pace(song: SongAnalysis, index: int, pacing) -> int:
    """Bars per cut for the song's `index`-th section under `pacing` (see plan_edit)."""
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
    if sec.label in ("chorus", "bridge") or (loud and sec.label not in ("intro", "outro")):
        return AUTO_FAST
    if quiet or sec.label in ("verse", "intro", "outro"):
        return AUTO_CALM
    return AUTO_FAST


def _pace_points(song: SongAnalysis, f0: int, f1: int, fps: int, pacing) -> list[int]:
    """Record frames of the paced cuts in (f0, f1): every N bars from each section's start."""
    out: list[int] = []
    nb = len(song.downbeats)
    for i, sec in enumerate(song.sections):
        n = section_pace(song, i, pacing)
        first = max(0, song.bar_index(sec.start))
        if first < nb and song.downbeats[first] < sec.start - 0.25:
            first += 1  # the section starts mid-bar: its phrases count from the next bar
        starts = [sec.start] if sec.start > 0 else []
        k = first + n
        while k < nb and song.downbeats[k] < sec.end - 0.05:
            starts.append(song.downbeats[k])
            k += n
        for t in starts:
            frame = int(round(song.beats[song.nearest_beat(t)] * fps))
            if f0 < frame < f1:
                out.append(frame)
    return sorted(set(out))


def _paced_clips(song: SongAnalysis, group: list[ShotInput], inner: list[_Cut], f0: int, f1: int, fps: int,
                 pacing, cuts: list[_Cut], pin0: str | None) -> list[_Clip] | None:
    """Clips for one anchored span under `pacing`; None when there are fewer paced slots than shots
    (the balanced planner then places one cut per shot)."""
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
            best = max(inside, key=lambda c: (c.bonus, c.frame))
            split.append(best.frame)
            a = best.frame
        split.append(b)
    slots = list(zip(split[:-1], split[1:]))
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
            if n > 1 and k > 0 and _usable_frames(group[j], fps) <= b - a:
                clips[-1].notes.append("repeats the same footage: the take is no longer than its slot "
                                       "(longer takes give each use its own stretch)")
    return clips


# -- placing the cuts: a dynamic programme over the beats -----------------------------------


def _usable_frames(shot: ShotInput, fps: int) -> int:
    """Source frames the shot may play from its in point on (the whole take without a pin)."""
    start = shot.source_in or 0.0
    return max(0, int(math.floor((shot.take_seconds - start) * fps + 1e-6)))


def _handle_frames(shot: ShotInput, beat_frames: int) -> int:
    if shot.transition.kind == "cut":
        return 0
    return int(round(shot.transition.beats * beat_frames)) // 2


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


# -- speed, in / out points and handles -------------------------------------------------------


def _retime_and_trim(clips: list[_Clip], song: SongAnalysis, fps: int) -> None:
    beat_frames = max(1, int(round(song.beat_period * fps)))
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
        h = _handle_frames(a.shot, beat_frames)
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


# -- the timeline -------------------------------------------------------------------------------


def _timeline(clips: list[_Clip], song: SongAnalysis, fps: int, size: tuple[int, int], title: str,
              song_media: str, total: int) -> otio.schema.Timeline:
    rt = lambda f: otio.opentime.RationalTime(f, fps)  # noqa: E731
    tl = otio.schema.Timeline(name=title)
    tl.metadata["dreamcut"] = {"version": TIMELINE_VERSION, "song": song_media, "fps": int(fps),
                               "size": [int(size[0]), int(size[1])], "tempo": float(song.tempo), "title": title,
                               "beats_per_bar": int(song.beats_per_bar), "warnings": _song_warnings(song)}
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for k, c in enumerate(clips):
        take = int(math.floor(c.shot.take_seconds * fps + 1e-6))
        reason = "song start" if c.cut is None else c.cut.describe()
        if c.pin:
            reason += f"; pinned to {c.pin}"
        if c.notes:
            reason += "; " + "; ".join(c.notes)
        # Speed goes into the clip as a LinearTimeWarp (dreamcut.timeline), the range counts record frames.
        clip = make_clip(
            take=c.shot.take_id, media=c.shot.media, source_in=c.src_in, record=c.end - c.start, fps=fps,
            speed=round(float(c.speed), 6), shot=c.shot.shot_id, available=take, reason=reason,
            score=c.shot.score, record_start=c.start / fps, record_end=c.end / fps,
            record_start_frame=c.start, record_end_frame=c.end,
            bar=c.cut.bar if c.cut else 1, beat_in_bar=c.cut.beat_in_bar if c.cut else 1,
            beat=(c.cut.beat + 1) if c.cut else 1, section=c.cut.section if c.cut else _first_section(song),
            pinned=c.pin, handles=[int(c.head), int(c.tail)],  # type: ignore[attr-defined]
            use=list(c.use) if c.use else None, phrase=c.cut.phrase if c.cut else 8, notes=list(c.notes))
        if k > 0 and clips[k - 1].half_out > 0:  # type: ignore[attr-defined]
            prev = clips[k - 1]
            h = prev.half_out  # type: ignore[attr-defined]
            kind = prev.shot.transition.kind
            video.append(make_transition(kind, h, h, fps, name=kind, meta={
                "kind": kind, "beats": prev.shot.transition.beats, "frames": 2 * h}))
        video.append(clip)
    names = song.section_names()
    for sec, name in zip(song.sections, names):
        a = max(0, int(round(sec.start * fps)))
        b = min(total, int(round(sec.end * fps)))
        if b > a:
            video.markers.append(otio.schema.Marker(
                name=name, marked_range=otio.opentime.TimeRange(rt(a), rt(b - a)), color="CYAN",
                metadata={"dreamcut": {"label": sec.label, "start": sec.start, "end": sec.end}}))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(
        name="song", media_reference=otio.schema.ExternalReference(
            target_url=song_media, available_range=otio.opentime.TimeRange(rt(0), rt(total))),
        source_range=otio.opentime.TimeRange(rt(0), rt(total))))
    tl.tracks.append(video)
    tl.tracks.append(audio)
    return tl


def _song_warnings(song: SongAnalysis) -> list[str]:
    if _weak(song):
        return [f"weak pulse ({song.pulse:.2f}): the beat grid is a guess; cuts favour phrase starts and "
                "section boundaries (set `bpm:` and `downbeat:` in the song: block if you hear a beat)"]
    return []


def _first_section(song: SongAnalysis) -> str | None:
    names = song.section_names()
    return names[0] if names else None


def _tc(frame: int, fps: int) -> str:
    """mm:ss.ff (ff = frames)."""
    s, f = divmod(int(frame), fps)
    return f"{s // 60:02d}:{s % 60:02d}.{f:02d}"


DEGRADED_MARKS = ("became a cut", "shortened to", "retimed", "repeats the same footage")


def degraded_items(timeline: otio.schema.Timeline) -> list[tuple[int | None, str | None, str]]:
    """(record frame, shot, what) for every decision the edit took against what was asked:
    a transition that became a cut or was shortened, a clip retimed, footage repeated, a
    stale take used, a weak pulse. Song-wide items have no frame or shot."""
    meta = timeline.metadata.get("dreamcut", {})
    out: list[tuple[int | None, str | None, str]] = [(None, None, str(x)) for x in meta.get("warnings", [])]
    for item in timeline.tracks[0]:
        if not isinstance(item, otio.schema.Clip):
            continue
        m = item.metadata.get("dreamcut", {})
        notes = m.get("notes")
        if notes is None:  # a timeline from before notes were kept: read the reason
            notes = str(m.get("reason", "")).split("; ")
        for note in notes:
            if any(k in note for k in DEGRADED_MARKS):
                out.append((int(m.get("record_start_frame", 0)), str(m.get("shot", "?")), note))
    return out


def degraded(timeline: otio.schema.Timeline) -> list[str]:
    """`degraded_items` as lines: 'mm:ss.ff shot: what'."""
    fps = int(timeline.metadata.get("dreamcut", {}).get("fps") or 24)
    return [what if frame is None else f"{_tc(frame, fps)} {shot}: {what}"
            for frame, shot, what in degraded_items(timeline)]


def explain(timeline: otio.schema.Timeline) -> list[str]:
    """One line per cut: when, which shot and take, where in the music, speed, score, why."""
    fps = info(timeline).fps
    lines = []
    pending: TransitionView | None = None
    for item in items(timeline, fps):
        if isinstance(item, TransitionView):
            pending = item
            continue
        if not isinstance(item, ClipView):
            continue
        m = item.meta
        score = m.get("score")
        score_text = "  -  " if score is None else f"{float(score):.2f}"
        into = "cut" if pending is None else f"{TYPE_TO_KIND.get(pending.kind, pending.name)} {pending.frames}f"
        lines.append(f"{_tc(item.record_start, fps)}  {item.shot or '?':<12} {item.take:<16} "
                     f"bar {m.get('bar', '?'):>3} beat {m.get('beat_in_bar', '?')}  {m.get('section') or '-':<10} "
                     f"{item.speed:.2f}x  score {score_text}  {into:<14} {m.get('reason', '')}")
        pending = None
    return lines
