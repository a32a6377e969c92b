"""Pacing dropped for too many shots is said: when the asked pace gives fewer slots than there are
shots, the planner places one cut per shot (balanced to the takes) and `edit` / `check` say so in
one song-wide degraded line naming a pace that fits and how many shots the asked pace holds."""

from __future__ import annotations

import re

import opentimelineio as otio

from dreamcut.edit.planner import degraded, degraded_items, plan_edit
from dreamcut.spec import Placement
from test_pacing import rock_song
from test_planner import FPS, grid_song, shots_for


def _plan(song, shots, pacing):
    return plan_edit(song, shots, fps=FPS, size=(320, 180), title="T", song_media="song.wav", pacing=pacing)


def _pacing_lines(tl) -> list[str]:
    return [x for x in degraded(tl) if x.startswith("pacing ")]


def _clips(tl):
    return [c for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]


def test_too_many_shots_for_auto_pacing_is_a_degraded_line_with_a_pace_that_fits():
    song = rock_song()  # 102 bars; auto gives 19 slots (4 bars in choruses and the bridge, 8 elsewhere)
    tl = _plan(song, shots_for([16.0] * 20), "auto")
    [line] = _pacing_lines(tl)
    assert line.startswith("pacing auto: 20 shots for 19 paced slots, so the pace is dropped"), line
    assert len(_clips(tl)) == 20  # the balanced plan: one cut per shot
    assert (None, None, line) in degraded_items(tl)  # song-wide: `check` and `edit --json` read it from here
    # the fix it names works: the denser pace it offers keeps pacing (several cuts per shot), silently
    pace, slots = map(int, re.search(r"`pacing: (\d+)` gives (\d+) slots", line).groups())
    assert pace < 8 and slots >= 20
    denser = _plan(song, shots_for([16.0] * 20), pace)
    assert _pacing_lines(denser) == [] and len(_clips(denser)) == slots
    # and so does the other: as many shots as the asked pace holds
    most = int(re.search(r"use at most (\d+) shots", line).group(1))
    assert most == 19 and _pacing_lines(_plan(song, shots_for([16.0] * most), "auto")) == []


def test_a_number_pace_offers_the_least_denser_number_and_a_hopeless_one_says_drop_pacing():
    song = grid_song(bpm=120.0, sections=(("verse", 40),))  # 40 bars: an 8-bar pace gives 5 slots
    [line] = _pacing_lines(_plan(song, shots_for([16.0] * 6), 8))
    assert line.startswith("pacing 8: 6 shots for 5 paced slots"), line
    pace = int(re.search(r"`pacing: (\d+)`", line).group(1))
    assert pace == 7 and _pacing_lines(_plan(song, shots_for([16.0] * 6), pace)) == []
    # more shots than bars: no pace fits
    [line] = _pacing_lines(_plan(song, shots_for([4.0] * 45), {"verse": 2, "default": 4}))
    assert line.startswith("pacing {verse: 2, default: 4}: 45 shots for 20 paced slots"), line
    assert "drop `pacing:`" in line and "use at most 20 shots" in line


def test_a_pinned_stretch_that_cannot_keep_its_pace_is_named():
    song = grid_song(bpm=120.0, sections=(("verse", 16), ("chorus", 16)))  # 32 s + 32 s
    shots = shots_for([16.0] * 8, extra={2: {"place": Placement(section="chorus")}})
    tl = _plan(song, shots, 8)  # before the chorus: 2 shots, 2 slots; from it: 6 shots for 2 slots
    [line] = _pacing_lines(tl)
    assert line.startswith("pacing 8: 6 shots for 2 paced slots from 00:32.00 to 01:04.00 (between pins)"), line


def test_shots_the_pace_holds_say_nothing():
    tl = _plan(rock_song(), shots_for([16.0] * 10), "auto")
    assert _pacing_lines(tl) == [] and len(_clips(tl)) > 10
