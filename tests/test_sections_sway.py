"""Repeats heard through a swaying tempo: Haydn's Menuetto played with a slow rubato (its tempo
+-4 % over 16 s, written into the MIDI's tempo map; tests/midi_songs.py) finds its sections."""

from __future__ import annotations

import pytest

import midi_songs


def test_a_swaying_menuettos_sections_are_found_within_a_bar():
    # Haydn Op. 1 No. 1, II (the same recording test_song_recordings follows the beat of). When its
    # rubato was made by resampling the audio, the pitch swayed with the speed (+-0.7 semitone) and
    # hid every repeat: 0 of 3 boundaries within a bar. Rendered from the tempo map the pitch holds:
    # 3 of 3 (3 of the 6 found boundaries near an annotated one).
    if midi_songs.available() is not None:
        pytest.skip(str(midi_songs.available()))
    r, a = midi_songs.analysed("haydn-minuet-sway")
    assert midi_songs.sections_heard(r, a)["section_hit_count"] == len(r.sections)
