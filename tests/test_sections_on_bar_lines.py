"""In a song in four every section after the first starts on a heard bar line
(`analysis.sections._on_bar_lines`).

Where the bar lines are heard unclearly the search puts a repeat's start on the repeat's own beat
(the heard downbeats may be a beat or two off) and the move onto repeat ends and the names look
from there; a section still starts on its nearest bar line. Measured on the studied POP909 songs:
273 -> 280 of 421 annotated boundaries within a bar, 174 -> 181 on the annotated bar line; the
scores' renders in four unchanged. In a bar of three (the minuets: a repeat's own beat is the pickup
into the next bar) the starts stay.
"""

from __future__ import annotations

import numpy as np
import pytest

import midi_songs
import pop909_songs
from dreamcut.analysis.sections import _on_bar_lines
from dreamcut.analysis.song import Section


def test_starts_move_onto_their_nearest_bar_line_and_two_on_one_are_one():
    downbeats = [i * 2.0 for i in range(20)]
    secs = [Section(0.0, 9.3, "intro"), Section(9.3, 10.6, "verse"), Section(10.6, 20.9, "verse"),
            Section(20.9, 40.0, "chorus")]
    out = _on_bar_lines(secs, downbeats, [i * 0.5 for i in range(80)], 40.0)
    assert [(s.start, s.end, s.label) for s in out] == [(0.0, 10.0, "intro"), (10.0, 20.0, "verse"),
                                                        (20.0, 40.0, "chorus")]


def test_in_a_bar_of_three_the_starts_stay():
    downbeats = [i * 1.5 for i in range(20)]
    secs = [Section(0.0, 9.5, "intro"), Section(9.5, 30.0, "verse")]
    assert _on_bar_lines(secs, downbeats, [i * 0.5 for i in range(60)], 30.0) == secs


@pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))
def test_pop909_052s_boundaries_start_on_the_annotated_bar_lines():
    # POP909 052 (SEEN_S5; bar lines heard unclearly): its repeats' own beats put 5 of 7 annotated
    # boundaries within a bar, 5 on the annotated bar line; on the nearest heard bar line, 6 and 6.
    # (Written first on 248, whose bars were unclear only while it was heard at half its tempo.)
    from dreamcut.analysis.audio import analyze_song

    song = pop909_songs.render("052")
    a = analyze_song(song.wav, cache_dir=midi_songs.CACHE / "analysis")
    d = np.asarray(a.downbeats)
    assert all(float(np.min(np.abs(d - s.start))) < 1e-3 for s in a.sections[1:])
    heard = midi_songs.sections_heard(song, a)
    assert heard["section_hit_count"] >= 6 and heard["section_on_bar_count"] >= 6
