"""The edit planner: song analysis + shots -> an OpenTimelineIO timeline cut to the music.

A pure function. `plan_edit` reads no file, renders nothing and asks no one; given the
same song analysis and shots it returns the same timeline. It decides:

- where each cut falls: on a beat (exactly on the frame nearest the beat), preferring
  downbeats, phrase starts (4 / 8 bars into a section) and section boundaries the analysis
  is sure of (a low-confidence boundary is worth no more than a downbeat), with slot
  lengths balanced to the takes' usable lengths (a dynamic programme over the beats);
- pins from the spec (section / bar / beat / second) are kept exactly;
- a take shorter than its slot is retimed within 0.8x..1.25x (never frozen or looped);
  when even 0.8x cannot fill the song, BadInput says how many seconds are missing;
- which part of a long take is used (the stretch with the fewest defects), and the
  handles a transition needs, left inside the take (or the transition is shortened
  or becomes a cut, and the clip's reason says so).

The timeline follows docs/internals.md ("The timeline"). `explain(timeline)` prints
one line per cut for `dreamcut edit --explain`.

Each step lives in its own module: `cut_places` (where a cut may fall), `pins` (the director's
pins), `pacing`, `placing` (the dynamic programme), `trim` (speed, in points, handles), `shots`
(the planner's vocabulary) and `report` (`explain`, `degraded`). Their public names stay
importable from here.
"""

from __future__ import annotations

import math

import opentimelineio as otio

from dreamcut.analysis.audio import SongAnalysis
from dreamcut.edit.cut_places import (ATTACK_NOTE, BONUS_DOWNBEAT, BONUS_PHRASE4, BONUS_PHRASE8, BONUS_SECTION,
                                      DOUBTFUL_NOTE, _Cut, _weak, attack_beat, cut_places)
from dreamcut.edit.pacing import AUTO_CALM, AUTO_FAST, _paced_clips, pacing_shortfall, section_pace
from dreamcut.edit.pins import _anchors, pin_doubt, pin_time
from dreamcut.edit.placing import LOST_TRANSITION, _place_cuts
from dreamcut.edit.report import DEGRADED_MARKS, degraded, degraded_items, explain
from dreamcut.edit.shots import MAX_SPEED, MIN_SPEED, ShotInput, _Clip, _usable_frames, beat_frames
from dreamcut.edit.trim import DEFECT_WEIGHTS, _retime_and_trim
from dreamcut.errors import BadInput
from dreamcut.timeline import VERSION, make_clip, make_transition

__all__ = ["AUTO_CALM", "AUTO_FAST", "BONUS_DOWNBEAT", "BONUS_PHRASE4", "BONUS_PHRASE8", "BONUS_SECTION",
           "DEFECT_WEIGHTS", "DEGRADED_MARKS", "LOST_TRANSITION", "MAX_SPEED", "MIN_SPEED", "TIMELINE_VERSION",
           "ShotInput", "cut_places", "degraded", "degraded_items", "explain", "pin_doubt", "pin_time", "plan_edit",
           "section_pace"]

TIMELINE_VERSION = VERSION


def plan_edit(song: SongAnalysis, shots: list[ShotInput], *, fps: int, size: tuple[int, int], title: str,
              song_media: str, pacing=None) -> otio.schema.Timeline:
    """Cut `shots` (in shot-list order) to `song`; return the timeline (see docs/internals.md).

    fps: the timeline rate (frames per second, integer). size: the master's (w, h).
    song_media: the song's path relative to the project root.
    pacing: None (each shot once, slots balanced to the takes), bars per cut (a number),
    "auto" (from each section's energy and name, a name in doubt left out: calmer verses, faster choruses), or a
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
    one_beat = beat_frames(song, fps)
    cuts = cut_places(song, fps, total)
    anchors = _anchors(song, shots, cuts, fps, total)

    clips: list[_Clip] = []
    warnings = _song_warnings(song)
    for (i0, f0, pin0), (i1, f1, _) in zip(anchors[:-1], anchors[1:]):
        group = shots[i0:i1]
        inner = [c for c in cuts if f0 < c.frame < f1]
        if pacing is not None:
            paced = _paced_clips(song, group, inner, f0, f1, fps, pacing, cuts, pin0)
            if paced is not None:
                clips.extend(paced)
                continue
            warnings.append(pacing_shortfall(song, group, inner, f0, f1, fps, total, pacing) or "")
        chosen = None
        if _weak(song):
            # The grid is a guess: cut only on phrase starts and section boundaries when they suffice.
            try:
                firm = [c for c in inner if c.phrase or (c.section_start and c.section_sure)]
                chosen = _place_cuts(group, firm, f0, f1, fps, one_beat, song_media)
            except BadInput:
                chosen = None
        if chosen is None:
            chosen = _place_cuts(group, inner, f0, f1, fps, one_beat, song_media)
        starts = [f0] + [c.frame for c in chosen]
        ends = starts[1:] + [f1]
        for k, shot in enumerate(group):
            cut = None if starts[k] == 0 else (
                chosen[k - 1] if k > 0 else next((c for c in cuts if c.frame == f0), None))
            clips.append(_Clip(shot=shot, start=starts[k], end=ends[k], cut=cut, pin=pin0 if k == 0 else None))

    if _weak(song):
        _onto_attacks(clips, song, cuts, fps)
    for c in clips:
        if c.cut is not None and not c.cut.sure and c.pin is None:
            c.notes.append(DOUBTFUL_NOTE)
        doubt = pin_doubt(song, c.shot) if c.pin else None
        if doubt:
            c.notes.append(doubt)
    _retime_and_trim(clips, song, fps)
    return _timeline(clips, song, fps, size, title, song_media, total, [w for w in warnings if w])


def _onto_attacks(clips: list[_Clip], song: SongAnalysis, cuts: list[_Cut], fps: int) -> None:
    """Under a weak pulse, move each cut that is not pinned onto the beat next to it an onset marks
    (`cut_places.attack_beat`), when both takes still fill their slots (at most slowed to MIN_SPEED)."""
    by_beat = {c.beat: c for c in cuts}
    for k in range(1, len(clips)):
        a, b = clips[k - 1], clips[k]
        if b.cut is None or b.pin is not None or b.start != b.cut.frame:
            continue
        to = by_beat.get(attack_beat(song, b.cut.beat))
        if to is None or to.beat == b.cut.beat or not (a.start < to.frame < b.end):
            continue
        if to.frame - a.start > _usable_frames(a.shot, fps) / MIN_SPEED or \
                b.end - to.frame > _usable_frames(b.shot, fps) / MIN_SPEED:
            continue
        a.end = b.start = to.frame
        b.cut = to
        b.notes.append(ATTACK_NOTE)


# -- the timeline -------------------------------------------------------------------------------


def _timeline(clips: list[_Clip], song: SongAnalysis, fps: int, size: tuple[int, int], title: str,
              song_media: str, total: int, warnings: list[str]) -> otio.schema.Timeline:
    rt = lambda f: otio.opentime.RationalTime(f, fps)  # noqa: E731
    tl = otio.schema.Timeline(name=title)
    tl.metadata["dreamcut"] = {"version": TIMELINE_VERSION, "song": song_media, "fps": int(fps),
                               "size": [int(size[0]), int(size[1])], "tempo": float(song.tempo), "title": title,
                               "beats_per_bar": int(song.beats_per_bar), "warnings": warnings}
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
