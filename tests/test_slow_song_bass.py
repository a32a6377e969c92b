"""A ballad heard at twice its tempo whose eighths have a little between them, with the bass on every
other one (`beats._slow_song_eighths`, EIGHTHS_SPARSE and EIGHTHS_ALTERNATION): POP909 183 (SEEN_S7,
71 bpm) was heard at 142 (onsets between the heard beats 0.31 of those on them, bass alternating 0.38;
beat F 0.665) and is now heard at its tempo."""

from __future__ import annotations

import numpy as np
import pytest

import midi_songs
import pop909_songs


@pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))
def test_pop909_183_is_heard_at_its_tempo():
    import mir_eval

    from dreamcut.analysis.audio import analyze_song

    song = pop909_songs.render("183")
    a = analyze_song(song.wav, cache_dir=midi_songs.CACHE / "analysis")
    ref, est = np.array(song.beats), np.array(a.beats)
    assert a.tempo == pytest.approx(71.0, abs=0.5)
    assert mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est), 0.07) >= 0.95
    assert a.other_octave == pytest.approx(142.0, rel=0.03)
