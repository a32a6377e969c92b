"""The benchmark's naming measure (`benchmarks/song_accuracy.naming`): of the bars annotated B (A),
the share heard in a section named chorus (verse), and of the bars heard chorus (verse) the share
annotated B (A). On a hand-made song of eight 2 s bars, no media needed."""

from __future__ import annotations

import song_accuracy

BARS = [2.0 * k for k in range(9)]  # eight bars, 0-16 s
ANNOTATED = [(0.0, "i"), (2.0, "A"), (6.0, "B"), (10.0, "A"), (12.0, "B"), (16.0, "o")]  # i A A B B A B B


def test_a_chorus_named_verse_counts_against_both_names():
    # heard: intro, then the first chorus a bar late and named verse, the second chorus chorus
    heard = [(0.0, 2.0, "intro"), (2.0, 8.0, "verse"), (8.0, 10.0, "chorus"), (10.0, 12.0, "verse"),
             (12.0, 16.0, "chorus")]
    got = song_accuracy.naming(ANNOTATED, heard, BARS)
    # bars counted from 0: B bars 3, 4, 6, 7; heard chorus 4, 6, 7 (bar 3's middle, 7 s, is still
    # the verse) -> 3 of 4 and all three annotated B
    assert got["chorus"] == [4, 3, 3, 3]
    # A bars 1, 2, 5, all heard verse; verse bars 1, 2, 3, 5 -> 3 of 4 annotated A
    assert got["verse"] == [3, 3, 4, 3]


def test_names_swapped_score_nothing_and_the_totals_say_so():
    swapped = [(0.0, 2.0, "intro"), (2.0, 6.0, "chorus"), (6.0, 10.0, "verse"), (10.0, 12.0, "chorus"),
               (12.0, 16.0, "verse")]
    got = song_accuracy.naming(ANNOTATED, swapped, BARS)
    assert got == {"chorus": [4, 0, 3, 0], "verse": [3, 0, 4, 0]}
    line = song_accuracy.naming_totals([{"naming": got}, {"naming": None}])
    assert "B bars heard chorus 0 of 4 (0.00)" in line
    assert "verse bars annotated A 0 of 4 (0.00)" in line
