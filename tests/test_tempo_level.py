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
