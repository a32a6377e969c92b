"""A steady song the tracker followed half a beat off for a passage (`beats._steady_grid`): the
rigid grid goes on the half where the bass notes and chord changes are, and nowhere when they do
not say which half (`beats.HALF_MARGIN`)."""

from __future__ import annotations

import numpy as np

from dreamcut.analysis.beats import QUARTER_GRID, _steady_grid

PER = 20  # frames a beat
N = 4000


def _impulses(phase: int, n: int = N) -> np.ndarray:
    """An onset envelope's peaks (a few frames wide) every beat from `phase`."""
    d = (np.arange(n) - phase) % PER
    d = np.minimum(d, PER - d)
    return np.exp(-0.5 * (d / 1.5) ** 2)


def _tracked(off_share: float) -> np.ndarray:
    """Beats on the grid (a frame either way, as tracked), the last `off_share` of them half a beat late."""
    beats = np.arange(PER, N - 2 * PER, PER)
    k = int(len(beats) * (1 - off_share))
    jitter = np.random.default_rng(1).integers(-1, 2, len(beats))
    return np.concatenate([beats[:k], beats[k:] + PER // 2]) + jitter


def test_a_passage_half_a_beat_off_gets_the_grid_of_the_half_the_bass_and_harmony_choose():
    onsets = _impulses(0) + _impulses(PER // 2)  # the onsets hit both halves alike
    bass_and_chords = [_impulses(0), _impulses(0)]  # the bass notes and the chord changes: on the beat
    for off in (0.3, 0.7):  # whether the tracker's majority is on the beat or off it
        grid = _steady_grid(onsets, float(PER), _tracked(off), bass_and_chords)
        assert grid is not None
        peak = int(np.argmax(grid[PER * 10: PER * 11]))
        assert min(peak, PER - peak) <= 2  # on the beat, within 2 frames (46 ms)
        assert grid[PER * 10 + PER // 2] < 0.01 * QUARTER_GRID


def test_without_a_clear_half_there_is_no_grid():
    onsets = _impulses(0) + _impulses(PER // 2)
    both = [_impulses(0) + _impulses(PER // 2), _impulses(0) + _impulses(PER // 2)]
    assert _steady_grid(onsets, float(PER), _tracked(0.3), both) is None
    # and without the bass and harmony to ask, none either
    assert _steady_grid(onsets, float(PER), _tracked(0.3), None) is None
