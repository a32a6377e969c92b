"""Issue 16's accuracy targets on recordings dreamcut did not make (tests/midi_songs.py):
a syncopated rag's beats, every cut of a planned edit on a true beat (steady, ramped and rubato
recordings), a minuet's metre, and section boundaries from the scores' own repeats and double bars.

Skipped, with the reason, where fluidsynth / the soundfont / music21 are missing
(`make test` installs them). The renders are cached under DREAMCUT_MIDI_CACHE.
"""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

import midi_songs

pytestmark = pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))


def _cuts(a) -> list[float]:
    return [m["record_start"] for m in midi_songs.planned_cuts(a)]


def test_a_syncopated_rag_is_tracked_on_its_beat_and_cut_on_it():
    r, a = midi_songs.analysed("maple")
    ref = np.array(r.beats)
    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(np.array(a.beats)), 0.07)
    assert f >= 0.9  # was 0.138: the tracker sat on the melody's off-beat syncopations
    cuts = [c for c in _cuts(a) if ref[0] - 0.07 <= c <= ref[-1] + 0.07]
    assert len(cuts) >= 4
    assert max(np.min(np.abs(ref - c)) for c in cuts) <= 0.07


# The slow movements and the second Menuetto (session 4's development recordings) were 0.40,
# 0.96 and 0.88 with 5 of 9 cuts on the Adagio's beats: a tempo heard on a whole-frame lag grid
# (120 bpm as 117.5) slid the grid a third of a beat onto the Adagio's triplets. Measured 0.989-0.995.
# The two slow movements played at 84 bpm were heard 4/3 too fast (beat F 0.28 and 0.35); the tempo
# level from the score's evidence (`tempo._tempo_level`) and the quarter-beat lattice: 0.994 and 0.989.
@pytest.mark.parametrize("name", ["k80-minuet", "k80-rondo", "haydn-presto", "haydn-minuet2", "k156-adagio",
                                  "k155-andante", "k155-andante-slow", "k156-adagio-slow"])
def test_steady_quartets_every_cut_on_a_true_beat(name):
    r, a = midi_songs.analysed(name)
    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.array(r.beats)), mir_eval.beat.trim_beats(np.array(a.beats)),
                                0.07)
    assert f >= 0.98
    ref = np.array(r.beats)
    cuts = [c for c in _cuts(a) if ref[0] - 0.07 <= c <= ref[-1] + 0.07]
    assert len(cuts) >= 5
    off = [round(c, 3) for c in cuts if np.min(np.abs(ref - c)) > 0.07]
    assert off == []


# The recordings with score sections the section finding was tuned on (midi_songs.HELD_OUT apart).
SECTIONED = ("maple", "k80-minuet", "k80-rondo", "haydn-presto", "clara-polonaise1", "clara-polonaise4",
             "haydn-minuet", "haydn-minuet2", "k156-adagio", "k155-andante")


def test_section_boundaries_from_the_scores_repeats_within_a_bar():
    rows = []
    for name in SECTIONED:
        r, a = midi_songs.analysed(name)
        assert r.sections, name
        rows.append(midi_songs.sections_heard(r, a))
    annotated, found = sum(x["sections"] for x in rows), sum(x["section_found"] for x in rows)
    assert annotated >= 30
    # measured 28 of 32 (0.88; 9 of 11 on the first four before the six later ones were added),
    # 28 of 44 found boundaries near an annotated one (28 of 52 before every section was made at
    # least a phrase long: a pickup bar was an "intro"; 28 of 45 on the s4-beat branch's beats).
    assert sum(x["section_hit_count"] for x in rows) >= 0.85 * annotated
    assert sum(x["section_near_count"] for x in rows) >= 0.58 * found


def test_a_tempo_ramp_from_the_midis_own_tempo_map_is_followed_and_cut_on_its_beats():
    # K.155 with an accelerando 116 -> 151 bpm and back written into the MIDI's tempo map (a new
    # tempo every bar): the truth is the map. Was 0.777 with 5 of 7 cuts on a beat (the grid
    # slipped half a beat near the end); a despiked tempo curve held tighter follows it.
    r, a = midi_songs.analysed("k155-ramp")
    ref = np.array(r.beats)
    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(np.array(a.beats)), 0.07)
    assert f >= 0.97  # measured 0.995 (the joint beat-and-tempo tracker)
    cuts = [c for c in _cuts(a) if ref[0] - 0.07 <= c <= ref[-1] + 0.07]
    # 4 since every section is at least a phrase long: the first 8.9 s are one intro, not a
    # 2.1 s intro and a verse (a section start, one more cut)
    assert len(cuts) >= 4
    assert [round(c, 3) for c in cuts if np.min(np.abs(ref - c)) > 0.07] == []


def test_repeated_material_shares_a_label_and_contrasting_material_does_not():
    # Pairs of annotated sections (from the score: the same measures = the same material) agree
    # when they share a label exactly when they share material. Measured 64 of 72 on the tuned-on
    # ten (59 of 72 when a phrase of A inside a longer B made B an A: segments are now compared
    # over 3/4 of the longer one; 14 of 22 on the first four when compared by their mean sound,
    # which a string quartet keeps: the Rondeau was "verse" throughout).
    agree = []
    for name in SECTIONED:
        _, a = midi_songs.analysed(name)
        agree += midi_songs.label_agreement(name, a)[0]
    assert len(agree) >= 70
    # 61 of 72 since the steady beat grid (s4-beat): K.80's Rondeau's beats moved by one frame (23 ms)
    # at 20 of its 200 beats, beat F unchanged at 0.995, and its pairs went 7 -> 4 of 10 (the labels
    # follow the beats that finely; left to the section finding).
    assert np.mean(agree) >= 0.84
    _, rondo = midi_songs.analysed("k80-rondo")
    assert len({s.label for s in rondo.sections}) >= 2  # was "verse" throughout


@pytest.mark.parametrize("name", ["k155-rubato", "k80-rondo-rubato", "haydn-minuet-sway"])
def test_rubato_is_followed_and_every_cut_lands_on_a_true_beat(name):
    # The pieces played with a slow tempo swing (+-12 % over 20 s, +-10 % over 14 s) written into
    # the MIDI's tempo map. Was 0.697 and 0.923 with one cut 96-209 ms off: librosa's tracker took
    # the tempo from the curve alone; the joint beat-and-tempo programme measured 0.970 and 0.989
    # when the rubato was made by resampling the audio (the pitch swaying with the speed), 0.990
    # and 0.948 rendered from the tempo map (the same true beats, to 0.1 ms; the Rondeau loses six
    # beats at 41-43 s, where its tempo falls fastest; its cuts all stay on a beat).
    # The swaying Menuetto (+-4 % over 16 s) counts as steady: it measured 0.859 when a steady
    # song's rigid grid took it, 0.991 now that a grid its beats do not sit on is left out.
    r, a = midi_songs.analysed(name)
    ref = np.array(r.beats)
    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(np.array(a.beats)), 0.07)
    assert f >= 0.94
    cuts = [c for c in _cuts(a) if ref[0] - 0.07 <= c <= ref[-1] + 0.07]
    assert len(cuts) >= 5
    assert [round(c, 3) for c in cuts if np.min(np.abs(ref - c)) > 0.07] == []


def test_an_adagios_triplets_keep_its_downbeats():
    # K.156's Adagio in 4/4 with triplet passages: downbeat F 0.40 while the grid sat a third of a
    # beat off; measured 0.987.
    r, a = midi_songs.analysed("k156-adagio")
    assert a.beats_per_bar == r.beats_per_bar == 4
    assert mir_eval.beat.f_measure(np.array(r.downbeats), np.array(a.downbeats), 0.07) >= 0.95


def test_a_minuet_is_heard_in_three_with_its_downbeats():
    # K.80's Menuetto was heard in 4/4 (downbeat F 0.29) until the accents' periodicity had a say.
    r, a = midi_songs.analysed("k80-minuet")
    assert r.beats_per_bar == 3 and a.beats_per_bar == 3
    assert mir_eval.beat.f_measure(np.array(r.downbeats), np.array(a.downbeats), 0.07) >= 0.95  # measured 0.990
