"""The tempo's octave and whether it moves (analysis.tempo.choose_octave / moves): a level found in
place of a heard tempo that is no level of the score goes to the octave its grid and the tempo prior
support; a steady song whose local tempo has spikes is not taken for a moving one."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

import midi_songs
from dreamcut.analysis.audio import analyze_song
from dreamcut.analysis.tempo import DRIFT, HOP, choose_octave, moves

SR = 22050
FPS = SR / HOP


def test_the_octave_its_grid_supports_weighed_by_the_tempo_prior():
    # Measured grid contrasts (onsets + bass + chord changes) of Op. 59/3's Menuetto at 150, heard at
    # 117.5: the half-tempo grid stands out 1.5x more (it keeps the stronger beats), the prior keeps 150
    assert choose_octave({75.2: 2.65, 150.3: 1.72, 300.7: 0.83}) == 150.3
    # K.155's Andante played at 84: its grid stands out 1.5x over twice its tempo's, the prior is even
    assert choose_octave({41.8: 5.58, 84.5: 3.81, 167.4: 2.49}) == 84.5
    # a grid that stands out no more than its octave's is placed by the prior alone
    assert choose_octave({60.0: 1.0, 120.0: 1.0, 240.0: 1.0}) == 120.0


def test_a_steady_tempo_with_spikes_does_not_move_and_a_swing_does():
    t = np.arange(int(60 * FPS)) / FPS
    steady = np.full(len(t), 150.0)
    spiky = steady.copy()
    spiky[(t % 3.0) < 0.75] = 120.0  # a quarter of the windows heard a dotted figure for the beat
    lo, hi = np.percentile(spiky, [20, 80])
    assert hi / lo > DRIFT  # as measured, the spikes alone would say "moving"
    assert not moves(spiky, SR)
    assert not moves(steady, SR)
    assert moves(132.0 * (1 + 0.12 * np.sin(2 * np.pi * t / 20.0)), SR)  # rubato, +-12 % over 20 s


pytestmark_recordings = pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))


@pytestmark_recordings
@pytest.mark.parametrize("name", ["op59-3-minuet", "k156-minuet-fast", "op41-adagio"])
def test_a_steady_score_is_heard_at_its_beat(name):
    # Op. 59/3's Menuetto at 150 (3/4) was heard at 75 (beat F 0.422): its heard tempo, 117.5, is no
    # level of the score, and of the levels found the half-tempo one stood out most. Its local tempo's
    # spikes also took it for a moving song. K.156's Menuetto at 165: a fast 3/4 kept at its beat.
    # R. Schumann's Op. 41/1 III at 120 (0.640) was tracked on a local tempo of 108-118 as moving;
    # tracked steady, its beats sit on 1.9x the onsets, bass and chord changes.
    r = midi_songs.render(name)
    a = analyze_song(r.wav, cache_dir=midi_songs.CACHE / "analysis")
    ref = np.array(r.beats)
    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(np.array(a.beats)), 0.07)
    assert f >= 0.95
    assert abs(a.tempo - r.piece.bpm) < 0.01 * r.piece.bpm


@pytestmark_recordings
def test_a_pop_song_at_136_is_not_halved():
    # POP909 development song 007 (136 bpm, piano arrangement): heard at 2/3 of its beat, its level
    # was found at 68 (beat F 0.664); the octave's grid and the prior keep 136.
    import pop909_songs

    song = pop909_songs.render("007")
    a = analyze_song(song.wav, cache_dir=midi_songs.CACHE / "analysis")
    ref = np.array(song.beats)
    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(np.array(a.beats)), 0.07)
    assert f >= 0.95
    assert abs(a.tempo - 136.0) < 1.5
