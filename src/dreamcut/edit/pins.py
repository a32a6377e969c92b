"""The director's pins: where a pinned shot must start (section / bar / beat / second), checked
against the song map, and the anchors (song start, each pin, song end) the planner cuts between.
"""

from __future__ import annotations

from dreamcut.analysis.audio import SongAnalysis
from dreamcut.analysis.song import minute_second
from dreamcut.edit.cut_places import _Cut, section_downbeat
from dreamcut.edit.shots import ShotInput, _tc
from dreamcut.errors import BadInput


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
        k = _pinned_section(song, shot)
        if k is None:
            have = ", ".join(song.section_names()) or "none"
            raise BadInput(f"pinned to section {p.section!r}, which the song does not have", where=shot.shot_id,
                           fix=f"use one of: {have}")
        return f"section {label}#{n}", section_downbeat(song, k)  # its bar line, where its unpinned cut goes
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


GUESSED_PIN = "is a guess"  # how a pin onto a low-confidence section reads (report.DEGRADED_MARKS)


def _pinned_section(song: SongAnalysis, shot: ShotInput) -> int | None:
    """Index in `song.sections` of the section a `place: {section: X}` pin names (None: no such
    section, or the pin is not to a section)."""
    p = shot.place
    if p is None or p.section is None:
        return None
    label, _, nth = p.section.partition("#")
    n = int(nth) if nth.isdigit() else 1
    matches = [k for k, s in enumerate(song.sections) if s.label == label.strip().lower()]
    return matches[n - 1] if 1 <= n <= len(matches) else None


def pin_doubt(song: SongAnalysis, shot: ShotInput) -> str | None:
    """The one line `check` and `edit` say when a shot is pinned to a section the analysis is not
    sure of (the pin is kept): a guessed start, or a name that is a coin toss between the chorus and
    the material nearly as loud (`SongAnalysis.chorus_doubt`); None for a sure section or a pin that
    is not to a section. A section given in the spec's `song:` block is sure."""
    k = _pinned_section(song, shot)
    if k is None:
        return None
    sec = song.sections[k]
    name = song.section_names()[k]
    at = minute_second(sec.start)
    if not song.sure_section(k):
        return (f"section {name} at {at} {GUESSED_PIN} (confidence {sec.confidence:.2f}): check `dreamcut song` "
                "or give the section list in the spec's song: block")
    if song.name_in_doubt(k):
        return (f"section {name} at {at}: its name {GUESSED_PIN} (the {song.other_chorus} is nearly as loud as the "
                "chorus): check `dreamcut song` or give the section list in the spec's song: block")
    return None
