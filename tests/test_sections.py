"""Section finding's decisions on bar sequences made here (no audio): how long a section must be,
and when two segments are the same material (the recordings are scored in test_song_recordings)."""

from __future__ import annotations

import numpy as np

from dreamcut.analysis.repeats import apart
from dreamcut.analysis.sections import _name_segments, _repeat_bounds, _same_material


def _bars(pattern: str, seed: int = 0) -> np.ndarray:
    """One unit row a bar; each letter is an 8-bar phrase of its own random bars (a, b, ...)."""
    rng = np.random.default_rng(seed)
    phrase = {ch: rng.standard_normal((8, 24)) for ch in sorted(set(pattern))}
    X = np.vstack([phrase[ch] for ch in pattern])
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_a_pickup_bar_is_no_section_and_the_stronger_of_two_close_boundaries_stays():
    assert apart({1: 0.9, 8: 0.8, 16: 0.7}, 4) == [8, 16]
    assert apart({8: 0.5, 10: 0.9, 16: 0.7}, 4) == [10, 16]
    assert apart({2: 1.0, 4: 0.5}, 2) == [2, 4]  # a short song: phrases of 2 bars


def test_a_returning_phrase_inside_a_longer_section_does_not_make_it_the_same_material():
    # A A | B (= b c a: contrasting bars, then A's phrase returns) | A, cut short by the song's end
    X = _bars("aa" + "bca" + "a")
    X = X[:-4]  # the last A is cut off half-way (an excerpt, a fade)
    spans = [(0, 8), (8, 16), (16, 40), (40, 44)]
    S = _same_material(X, spans)
    assert S[0, 1] > 0.9  # the repeat
    assert S[2, 0] < 0.4  # B is not an A although A's 8 bars return inside its 24
    assert S[3, 0] > 0.9  # the cut-short last A is still an A
    labels = _name_segments([X[a:b].mean(axis=0) for a, b in spans], [1.0, 1.0, 1.0, 1.0], spans, len(X), bars=X)
    assert labels[0] == labels[1] == labels[3] != labels[2]


def _aabb_chroma(bars_per_part: int = 8, beats_per_bar: int = 4, beat: float = 0.5, hop: float = 0.05):
    """Chroma frames of A A B B (each beat its own random chord, a repeat plays the same ones),
    with its beats and downbeats."""
    rng = np.random.default_rng(3)
    part = {p: rng.random((bars_per_part * beats_per_bar, 12)) ** 4 for p in "AB"}
    per_beat = np.vstack([part[p] for p in "AABB"])
    beats = np.arange(len(per_beat)) * beat
    frames = np.arange(0.0, beats[-1] + beat, hop)
    chroma = per_beat[np.minimum((frames / beat).astype(int), len(per_beat) - 1)].T
    return list(beats), list(beats[::beats_per_bar]), frames, chroma


def test_repeats_are_found_on_the_same_bars_when_the_beat_is_heard_at_half_or_double_speed():
    beats, downbeats, times, chroma = _aabb_chroma()
    heard = sorted(_repeat_bounds(beats, downbeats, times, chroma))
    assert {15, 16, 17} & set(heard) and {23, 24, 25} & set(heard)  # B starts, B is played again
    half = sorted(_repeat_bounds(beats[::2], downbeats, times, chroma))
    double = sorted(_repeat_bounds(sorted(beats + [b + 0.25 for b in beats]), downbeats, times, chroma))
    for other in (half, double):
        assert len(other) == len(heard) and max(abs(a - b) for a, b in zip(heard, other)) <= 1, (heard, other)
