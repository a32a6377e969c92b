"""Issue 16 ("every cut within 70 ms of an annotated beat"): a bar of three beats whose half tempo is
nearly as likely pairs into the half tempo's bars, and only every other heard bar line is a bar line
(`edit.cut_places.paired_bars`); the ones between fall half a beat off the half tempo's beat. A paced
slot too long for any take is split on the strongest place of the bar (`edit.pacing.metric_weight`),
which is the same rule as the planner's downbeat (`edit.cut_places.metric_weight`): under a weak pulse
(no downbeat bonus) a heard half-bar line weighed as much as the bar line before it, and the later one
won. Likewise a paced cut off a doubtful downbeat goes to the nearest sure bar line of the half tempo
(`edit.pacing._sure_beat_near`), and a paced cut on a half-bar line is said to be off the bar line
(`edit.pacing._off_bar`)."""

from __future__ import annotations

from dreamcut.edit.cut_places import OFF_BAR_NOTE, cut_places, half_bar_line, metric_weight
from dreamcut.edit.pacing import _off_bar, _paced_slots, _sure_beat_near
from test_planner import FPS, grid_song, shots_for


def paired_song(pulse: float):
    """A slow 3/4 heard at double tempo (132 in threes, its half 66 nearly as likely), 32 heard bars."""
    song = grid_song(bpm=132.0, bpb=3, sections=(("verse", 32),))
    song.other_octave, song.pulse = 66.0, pulse
    return song


def test_a_paired_songs_half_bar_line_is_no_strong_place():
    song = paired_song(pulse=1.0)
    assert half_bar_line(song, 1) and not half_bar_line(song, 2)
    assert metric_weight(song, 2, 1) == 2 and metric_weight(song, 1, 1) == 0
    song.corrected = ["tempo"]  # the director counts the heard tempo: every bar line is one
    assert metric_weight(song, 1, 1) == 2


def test_a_split_slot_of_a_paired_song_goes_to_a_bar_line_of_the_half_tempo():
    song = paired_song(pulse=0.05)  # weak: a plain downbeat is worth no bonus, the bar's weight decides
    total = int(round(song.duration * FPS))
    inner = [c for c in cut_places(song, FPS, total) if 0 < c.frame < total]
    slots = _paced_slots(song, shots_for([3.6]), inner, 0, total, FPS, 8)
    by_frame = {c.frame: c for c in inner}
    splits = [by_frame[a] for a, _ in slots[1:]]
    assert len(splits) > 4  # 8-bar slots (11 s) no 3.6 s take fills (4.5 s slowed: 3.3 heard bars)
    assert all(c.beat_in_bar == 1 for c in splits)
    assert all(c.bar % 2 == 1 for c in splits)  # heard bars 1, 3, 5, ...: 6 of 14 on heard bars 4, 8, 12, ... before


def test_a_paced_cut_off_a_doubtful_downbeat_goes_to_a_bar_line_of_the_half_tempo():
    song = paired_song(pulse=1.0)
    song.beat_confidence = [1.0] * len(song.beats)
    song.beat_confidence[3 * 8] = 0.1  # heard bar 8's downbeat (a bar line at either tempo) is doubtful
    i = _sure_beat_near(song, song.downbeats[8], 8)
    assert song.beats[i] in (song.downbeats[6], song.downbeats[10])  # was heard bar 7's, a half-bar line


def test_a_paced_cut_on_a_half_bar_line_is_said_off_the_bar_line():
    song = paired_song(pulse=1.0)
    total = int(round(song.duration * FPS))
    by_bar = {(c.bar, c.beat_in_bar): c for c in cut_places(song, FPS, total)}
    assert _off_bar(song, by_bar[(11, 1)]) is None  # heard bar 11 (0-based 10): a bar line at either tempo
    assert _off_bar(song, by_bar[(10, 1)]).startswith(OFF_BAR_NOTE)  # was None: mid-bar at the half tempo
    song.beat_confidence = [1.0] * len(song.beats)
    song.beat_confidence[3 * 8] = 0.1  # the bar line it is in is doubtful (heard bar 9's, 0-based 8)
    assert "doubtful" in _off_bar(song, by_bar[(10, 1)])
