"""A song that repeats whole phrases exactly gets a boundary where a long repeat starts or stops and
the section search found none near (`analysis.repeats`).

Checked on bars of a known form (pure) and on POP909 renders against their annotator's sections.
"""

from __future__ import annotations

import numpy as np
import pytest

import midi_songs
import pop909_songs
from dreamcut.analysis.repeats import STRONG_BARS, clear_repeats, repeat_ends, stripes, with_exact_repeats


def _form(letters: str, bars_each: int = 8, seed: int = 0) -> np.ndarray:
    """Unit rows, one a bar, for a form such as 'iABAB': each letter's bars are its own (random)
    material, the same bars in the same order every time the letter comes back (a lower-case
    letter is fresh material each time: an intro, a turn)."""
    rng = np.random.default_rng(seed)
    material = {c: rng.standard_normal((bars_each, 48)) for c in sorted(set(letters)) if c.isupper()}
    rows = np.vstack([(material[c] if c.isupper() else rng.standard_normal((bars_each, 48)))
                      + 0.05 * rng.standard_normal((bars_each, 48)) for c in letters])
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_a_repeat_is_found_with_its_lag_and_its_ends():
    rows = _form("iABxAB")  # bars 8..23 come back at 32..47
    reps = stripes(rows)
    assert (32, 48, 24) in reps
    ends = repeat_ends(len(rows), reps)
    assert {8, 24, 32} <= set(ends) and ends[8] == 16.0
    assert clear_repeats(len(rows), reps)


def test_a_long_repeats_start_is_added_where_no_boundary_was_found():
    rows = _form("iABxAB")
    # the search found the verse, the chorus and the turn, but not where the second verse starts
    assert with_exact_repeats(rows, [8, 16, 24, 40]) == [32]
    # a boundary found a bar or two from the repeat's start stands: nothing is added or moved
    assert with_exact_repeats(rows, [8, 16, 24, 31, 40]) == []
    assert with_exact_repeats(rows, [8, 16, 24, 34, 40]) == []


def test_a_short_repeat_adds_nothing_and_a_song_that_repeats_little_is_left_alone():
    rows = _form("AiAjAkA", bars_each=4)  # only a 4-bar phrase repeats (16 of 28 bars)
    assert clear_repeats(len(rows), stripes(rows))
    assert 4 < STRONG_BARS and with_exact_repeats(rows, []) == []
    assert with_exact_repeats(_form("ijkAlA"), []) is None  # 16 of 48 bars in repeats


@pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))
@pytest.mark.parametrize("song_id,before,after,on_bar", [("205", 3, 9, 5), ("024", 4, 6, 5)])
def test_pop_songs_exact_repeats_give_the_annotators_boundaries(song_id, before, after, on_bar):
    """POP909 205 (i4A8A8X1B9A8A8X1B9A8b4b4b4b4X10A8X1o3, SEEN_S8) and 024
    (i4A4A4B4B4b4b4x1A4A4B4B4B4B4o4, SEEN_S5): annotated
    boundaries within a bar, `before` without the repeat ends and `after` with them; found near
    one: 205 3/8 -> 6/11, 024 3/10 -> 5/12. Since the benchmark counts the bar line either side
    without float luck (`song_accuracy.BAR_SLACK`), `after` is that count on main (205: 7 -> 9) and
    `on_bar` the boundaries on the annotated bar line itself."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import song_accuracy

    row = song_accuracy.score(pop909_songs.render(song_id))
    assert row["section_hit_count"] >= after > before
    assert row["section_on_bar_count"] >= on_bar
