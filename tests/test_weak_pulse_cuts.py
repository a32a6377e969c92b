"""Issue 16 ("every cut within 70 ms of an annotated beat") under a weak pulse: a slow piece the
tracker hears at double tempo, half a beat off in places, gets its cuts moved onto the tracked beat
next to them that an onset marks (`cut_places.attack_beat`), and the planner still says the pulse
is weak. K. 458's Adagio (69 bpm, tracked at 138, pulse 0.15): 2 of 9 planned cuts on a score beat
before, 5 of 9 with the rule. Since session 7 the analysis holds K. 458 on its eighths (every planned
cut on a beat, tests/test_beats_on_the_beat.py), so the rule is tested on the song map analysis
version 52 made of it, its grid half a beat off in places (tests/data/k458_adagio_song_map_v52.json).

Skipped, with the reason, where fluidsynth / the soundfont / music21 are missing (`make test`
installs them). The renders and analyses are cached under DREAMCUT_MIDI_CACHE.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import midi_songs
from dreamcut.analysis.audio import WEAK_PULSE, SongAnalysis
from dreamcut.edit.cut_places import ATTACK_NOTE, attack_beat, attack_strength, marks

pytestmark = pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))


def test_a_weak_pulse_adagio_is_cut_on_its_attacks_and_says_the_pulse_is_weak():
    r = midi_songs.render("k458-adagio")
    frozen = Path(__file__).parent / "data" / "k458_adagio_song_map_v52.json"
    a = SongAnalysis.from_dict(json.loads(frozen.read_text()))
    assert a.pulse < WEAK_PULSE
    tl = midi_songs.planned_edit(a)
    assert any(w.startswith("weak pulse") for w in tl.metadata["dreamcut"]["warnings"])
    ref = np.array(r.beats)
    clips = list(tl.tracks[0].find_clips())[1:]
    cuts = [c.metadata["dreamcut"]["record_start"] for c in clips]
    cuts = [c for c in cuts if ref[0] - 0.07 <= c <= ref[-1] + 0.07]
    assert len(cuts) >= 8
    on = sum(np.min(np.abs(ref - c)) <= 0.07 for c in cuts)
    assert on / len(cuts) >= 0.55  # was 2 of 9 (0.22): the cuts sat on the guessed grid's off-beats
    moved = [c for c in clips if ATTACK_NOTE in c.metadata["dreamcut"]["notes"]]
    assert moved  # each moved cut says so in its reason
    for c in moved:
        assert marks(a, a.nearest_beat(c.metadata["dreamcut"]["record_start"]))


def test_a_beat_an_onset_marks_keeps_its_cut():
    r, a = midi_songs.analysed("k458-adagio")
    marked = [i for i in range(len(a.beats)) if marks(a, i)]
    assert marked
    assert all(attack_beat(a, i) == i for i in marked)


def test_a_grid_whose_double_is_as_likely_keeps_its_cuts_off_the_attacks():
    # Beethoven's Op. 59/2 Allegretto (108 bpm) tracked at 72 under a weak pulse, its double (144) named
    # as nearly as likely: the grid is not counting a slow piece's eighths, and its odd beats fall on
    # the piece's eighths, which onsets mark more often than its heard beats. A cut 13 ms from a score
    # beat was moved 263 ms off it (10 of 11 planned cuts on a beat). Since version 107 (the piece's bars,
    # 3.3 s, are a slow song's: its section starts are chosen too) 10 cuts, every one on a beat.
    r, a = midi_songs.analysed("op59-2-allegretto")
    assert a.pulse < WEAK_PULSE and a.other_octave > a.tempo
    clips = list(midi_songs.planned_edit(a).tracks[0].find_clips())[1:]
    assert not [c for c in clips if ATTACK_NOTE in c.metadata["dreamcut"]["notes"]]
    ref = np.array(r.beats)
    cuts = [c.metadata["dreamcut"]["record_start"] for c in clips]
    assert len(cuts) == 10 and all(np.min(np.abs(ref - c)) <= 0.07 for c in cuts)


def test_a_cut_stays_on_the_half_of_the_beats_that_carries_the_attacks():
    # Mozart's K. 155 Andante at 176 bpm, heard at 2/3 of it (117 bpm) under a weak pulse: every second
    # tracked beat is a score beat, and those carry the song's attacks (0.18 against 0.03). Near its end
    # the onsets fall on the other half for a few bars, and a downbeat cut on a score beat was moved onto
    # the tracked beat before it, 160 ms from any score beat (7 of 8 planned cuts on a beat).
    r, a = midi_songs.analysed("k155-andante-176")
    assert a.pulse < WEAK_PULSE
    even, odd = attack_strength(a)
    assert odd < 0.25 * even  # the score beats carry the attacks
    cuts = midi_songs.planned_cuts(a)  # benchmarks/song_accuracy.py's edit
    ref = np.array(r.beats)
    assert len(cuts) == 8
    assert all(np.min(np.abs(ref - m["record_start"])) <= 0.07 for m in cuts)
    assert not [m for m in cuts if ATTACK_NOTE in m["notes"]]
