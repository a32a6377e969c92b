"""The tempo level (analysis.tempo.choose_level / _tempo_level): a slow score heard 4/3 too fast
is taken back to its tempo from how clearly its beat grid stands out; a clear tempo is kept."""

from __future__ import annotations

import numpy as np

from dreamcut.analysis.tempo import HOP, LEVEL_GAIN, _tempo_level, choose_level

SR = 22050
FPS = SR / HOP


def test_the_heard_level_is_kept_unless_another_stands_out_by_the_gain():
    assert choose_level({1.0: 1.0, 0.75: 1.4, 4 / 3: 0.5}) == 1.0
    assert choose_level({1.0: 1.0, 0.75: LEVEL_GAIN + 0.1, 2 / 3: 1.2}) == 0.75
    assert choose_level({1.0: 1.0, 0.75: 1.7, 2 / 3: 1.9}) == 2 / 3  # the one standing out most
    assert choose_level({1.0: 0.0, 0.75: 0.0}) == 1.0  # no evidence: the heard tempo


def _pulses(bpm: float, seconds: float, beat: float, between: float, every: int) -> np.ndarray:
    """An onset envelope: `beat` on every beat, `between` on each `every`-th of a beat in between."""
    n = int(seconds * FPS)
    env = np.zeros(n)
    per = 60.0 * FPS / bpm
    for k in range(int(n / per * every)):
        f = int(round(k * per / every))
        if f < n:
            env[f] = beat if k % every == 0 else between
    return env


def test_a_slow_song_heard_four_thirds_too_fast_is_taken_back_to_its_tempo():
    # 84 bpm with a sixteenth-note accompaniment: heard (as librosa's prior does) at 112
    env = _pulses(84.0, 40.0, 1.0, 0.4, 4)
    tempo, contrast = _tempo_level(112.0, SR, [env, env, env])
    assert abs(tempo - 84.0) < 84.0 * 0.015
    assert contrast[0.75] > LEVEL_GAIN * contrast[1.0]


def test_a_clear_tempo_is_kept_exactly():
    env = _pulses(120.0, 40.0, 1.0, 0.4, 2)
    tempo, contrast = _tempo_level(120.0, SR, [env, env, env])
    assert tempo == 120.0
    assert max(contrast[L] for L in contrast if L != 1.0) < LEVEL_GAIN * contrast[1.0]


def _every(bpm: float, seconds: float, weight: float) -> np.ndarray:
    """An onset envelope with `weight` on every beat of `bpm`."""
    n = int(seconds * FPS)
    env = np.zeros(n)
    per = 60.0 * FPS / bpm
    for k in range(int(n / per) + 1):
        f = int(round(k * per))
        if f < n:
            env[f] = weight
    return env


def test_each_kind_of_evidence_votes_alike_for_the_level():
    # POP909 425 as measured (onsets, bass onsets, chord changes; 69 bpm in 4/4 heard at 92): summed,
    # the 69 grid stands out 1.28x, under the gain; the chord changes 2.49x: the geometric mean 1.53x.
    measured = {1.0: [2.089, 1.774, 0.262], 0.75: [2.438, 2.183, 0.652], 2 / 3: [1.277, 1.327, 0.571],
                1.5: [1.925, 1.584, 0.249], 4 / 3: [0.526, 0.607, 0.237]}
    assert choose_level({L: sum(c) for L, c in measured.items()}) == 1.0
    assert choose_level(measured) == 0.75
    # a kind of evidence that says nothing (chords that never change) does not vote
    assert choose_level({1.0: [2.0, 2.0, 0.001], 0.75: [2.0, 2.0, 0.05]}) == 1.0


def test_a_dotted_figure_heard_for_the_beat_gives_way_to_the_chords_beat():
    # 69 bpm, its chords changing on the beat (a smooth novelty curve, as `_harmonic_novelty` draws it),
    # under a louder figure of dotted eighths (every 3 sixteenths: 92 bpm) in the onsets and the bass
    bpm = 69.0
    onset = _every(bpm, 60.0, 1.0) + _every(bpm * 4 / 3, 60.0, 1.2)
    chords = np.convolve(_every(bpm, 60.0, 1.0), np.hanning(15), "same")
    tempo, contrast = _tempo_level(92.0, SR, [onset, onset.copy(), chords])
    assert contrast[0.75] < LEVEL_GAIN * contrast[1.0]  # summed, the onsets had kept 92
    octaves = np.log2(tempo / bpm)
    assert abs(octaves - round(octaves)) < 0.02  # a level of the score (69 or its octave), not 92
