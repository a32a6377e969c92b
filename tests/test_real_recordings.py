"""Hearing recordings dreamcut did not make: public-domain scores rendered with FluidSynth,
exact beats from the MIDI tempo map (tests/midi_songs.py names the pieces and sources).

Skipped, with the reason, where fluidsynth / the soundfont / music21 are missing
(`make test` installs them). The full table is benchmarks/song_accuracy.py (README).
"""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

import midi_songs
from dreamcut.analysis.audio import song_map

pytestmark = pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))


def _beat_f(ref, est) -> float:
    return mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.array(ref)), mir_eval.beat.trim_beats(np.array(est)),
                                   f_measure_threshold=0.07)


def test_steady_quartet_beats_and_bars():
    r, a = midi_songs.analysed("k155")
    assert _beat_f(r.beats, a.beats) >= 0.9
    assert abs(a.tempo - r.piece.bpm) / r.piece.bpm < 0.01
    ref = np.array(r.beats)
    inside = [d for d in a.downbeats if ref[0] <= d <= ref[-1]]
    on = np.mean([np.min(np.abs(ref - d)) <= 0.07 for d in inside])
    assert on >= 0.9  # the planner's preferred cut places are on true beats
    assert not song_map(a)["tempo_moves"]
    # a real edit of it: every cut within 70 ms of a true beat
    from dreamcut.edit.planner import ShotInput, plan_edit

    shots = [ShotInput(shot_id=f"s{i}", take_id=f"s{i}", media="x.mp4", take_seconds=12.0) for i in range(6)]
    tl = plan_edit(a, shots, fps=24, size=(320, 180), title="t", song_media="song.wav", pacing="auto")
    cuts = [c.metadata["dreamcut"]["record_start"] for c in tl.tracks[0].find_clips()][1:]
    cuts = [c for c in cuts if c <= ref[-1] + 0.07]
    # 4 since every section is at least a phrase long: the first 10.9 s are one intro, not a
    # one-bar intro and a verse (a section start, one more cut)
    assert len(cuts) >= 4
    assert max(np.min(np.abs(ref - c)) for c in cuts) <= 0.07


def test_rubato_is_heard_as_a_moving_tempo():
    r, a = midi_songs.analysed("k155-rubato")
    m = song_map(a)
    assert m["tempo_moves"]
    bpms = [b for _, b in a.tempo_curve]
    assert min(bpms) < 0.95 * r.piece.bpm and max(bpms) > 1.05 * r.piece.bpm
    # measured 0.970 (was 0.697); its cuts: tests/test_song_recordings.py
    assert _beat_f(r.beats, a.beats) >= 0.95
