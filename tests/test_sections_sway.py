"""Repeats heard through a wavering speed (no audio): a recording whose speed sways (a tape, a
turntable, a resampled file) sways in pitch with it, +-4 % being +-0.7 semitone, so a repeat
played at another point of the sway lands a chroma bin off; its repeats must still be found."""

from __future__ import annotations

import numpy as np

from dreamcut.analysis.sections import _repeat_bounds, _sways


def _swaying_aabb(sharp: int, sway: float = 0.08, bars_per_part: int = 8, hop: float = 0.02):
    """Chroma frames of A A B B, each beat its own random chord (a repeat plays the same ones),
    the second A and the second B heard `sharp` chroma bins up; beats whose period swings
    by +-sway over 16 beats. Returns beats, downbeats, frame times, chroma."""
    rng = np.random.default_rng(7)
    part = {p: rng.random((bars_per_part * 4, 12)) ** 4 for p in "AB"}
    per_beat = np.vstack([part["A"], np.roll(part["A"], sharp, axis=1), part["B"], np.roll(part["B"], sharp, axis=1)])
    n = len(per_beat)
    period = 0.5 * (1 + sway * np.sin(2 * np.pi * np.arange(n) / 16))
    beats = np.concatenate([[0.0], np.cumsum(period)[:-1]])
    frames = np.arange(0.0, beats[-1] + period[-1], hop)
    which = np.clip(np.searchsorted(beats, frames, side="right") - 1, 0, n - 1)
    return list(beats), list(beats[::4]), frames, per_beat[which].T


def test_a_swaying_recording_is_heard_as_swaying_and_a_steady_one_is_not():
    beats, *_ = _swaying_aabb(0)
    assert _sways(beats)
    assert not _sways(list(np.arange(64) * 0.5))


def test_repeats_a_chroma_bin_off_in_a_swaying_recording_still_start_sections():
    # A A' B B' (the primed parts a bin sharp): the second A starts at bar 8, B at 16, B' at 24.
    # Before the pitch slack the sharp A' was no repeat of A: no boundary near bar 8 (0 of 3 on
    # Haydn's Menuetto swaying +-4 %, 3 of 3 since).
    heard = set(_repeat_bounds(*_swaying_aabb(1)))
    for bar in (8, 16, 24):
        assert {bar - 1, bar, bar + 1} & heard, (bar, sorted(heard))


def test_a_swaying_menuettos_sections_are_found_within_a_bar():
    # Haydn Op. 1 No. 1, II rendered with its speed swaying +-4 % over 16 s (tests/midi_songs.py;
    # the same recording test_song_recordings follows the beat of). Was 0 of 3 boundaries within
    # a bar (the swaying pitch hid every repeat), 3 of 3 with the pitch slack.
    import pytest

    import midi_songs

    if midi_songs.available() is not None:
        pytest.skip(str(midi_songs.available()))
    from dreamcut.analysis.audio import analyze_song

    r = midi_songs.render("haydn-minuet-sway")
    a = analyze_song(r.wav, cache_dir=midi_songs.CACHE / "analysis")
    bar = float(np.median(np.diff(r.downbeats)))
    found = [s.start for s in a.sections[1:]]
    assert [b for b in r.sections if not any(abs(f - b) <= bar for f in found)] == []
