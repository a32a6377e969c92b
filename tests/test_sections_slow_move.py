"""A slow song's boundaries move onto repeat ends where its bars and half bars agree
(`sections._slow_to_repeat_ends`).

POP909 042 (SEEN_S5, 73 bpm heard at its true quarter note since session 8: bars of 3.3 s, over
`LONG_BAR`; annotated i8A8B9x1b8A8B9X1B...): its boundaries were kept as found, 3 of 8 within a
bar; moved where the bar and half-bar analyses agree, 5 of 8 (the boundaries at 21.4 s, 113.5 s
and 143.0 s move a bar, onto 24.7 s, 110.2 s and 139.8 s). The true bars alone moved two of
POP909 021's annotated boundaries a bar late (tests/test_sections_slow.py keeps that out:
`test_the_agreement_keeps_a_boundary_the_half_bars_put_elsewhere`).
"""

from __future__ import annotations


import pytest

import midi_songs
import pop909_songs

pytestmark = pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))


def test_a_slow_songs_boundaries_move_onto_its_repeats_where_bars_and_half_bars_agree():
    import song_accuracy

    song = pop909_songs.render("042")
    row = song_accuracy.score(song)
    assert row["tempo"] < 90  # heard at its true quarter note: bars over LONG_BAR
    # measured 5 of 8 (3 before the move); session 9, the bar line either side counted without float
    # luck: 7 of 8, 3 on the annotated bar line
    assert row["section_hit_count"] >= 7
    assert row["section_on_bar_count"] >= 3
    assert row["section_hits"] is not None and row["sections"] == 8
