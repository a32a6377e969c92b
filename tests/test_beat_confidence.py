"""Per-beat confidence: a second tracker's agreement marks the beats the analysis is sure of,
the planner cuts on those when one is within the phrase, and the director's grid is sure."""

from __future__ import annotations

import numpy as np
import opentimelineio as otio

from dreamcut.analysis.audio import apply_corrections, song_map
from dreamcut.analysis.beats import AGREE, _beat_confidence
from dreamcut.analysis.song import SURE_BEAT, SongAnalysis
from dreamcut.edit.planner import plan_edit
from dreamcut.spec import SongSpec
from test_planner import FPS, grid_song, shots_for


def test_a_beat_is_sure_where_a_second_tracker_agrees():
    beats = np.arange(0.0, 10.0, 0.5)
    other = beats + 0.01
    other[6] += 0.2  # the second tracker heard beat 6 elsewhere
    conf = _beat_confidence(beats, other)
    assert conf[6] < SURE_BEAT
    assert np.all(np.delete(conf, 6) >= SURE_BEAT)
    assert _beat_confidence(beats, beats + AGREE * 1.5)[0] < SURE_BEAT


def _cut_starts(song: SongAnalysis) -> list[float]:
    tl = plan_edit(song, shots_for([16.0] * 5), fps=FPS, size=(320, 180), title="T", song_media="song.wav",
                   pacing=8)
    assert list(tl.metadata["dreamcut"]["warnings"]) == []  # the 8-bar pace holds every shot: no balanced fallback
    return [c.metadata["dreamcut"]["record_start"] for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)][1:]


def test_a_paced_cut_moves_off_a_doubtful_downbeat_to_a_sure_one_in_the_phrase():
    song = grid_song(bpm=120.0, sections=(("verse", 40),))
    doubtful = song.downbeats[8]  # an 8-bar pace cuts here
    assert any(abs(c - doubtful) < 0.05 for c in _cut_starts(song))  # with every beat sure
    i = song.beats.index(doubtful)
    song.beat_confidence = [1.0] * len(song.beats)
    song.beat_confidence[i] = 0.1
    cuts = _cut_starts(song)
    assert all(abs(c - doubtful) > 0.05 for c in cuts)
    bar = 2.0
    # it moved to a sure downbeat within half the phrase
    assert any(0.9 * bar < abs(c - doubtful) <= 4.05 * bar and
               min(abs(c - d) for d in song.downbeats) < 0.05 for c in cuts)
    tl = plan_edit(song, shots_for([16.0] * 5), fps=FPS, size=(320, 180), title="T", song_media="song.wav",
                   pacing=8)
    assert not any("doubtful" in c.metadata["dreamcut"]["reason"] for c in tl.tracks[0]
                   if isinstance(c, otio.schema.Clip))
    assert song_map(song)["doubtful_beats"] == [doubtful]  # `dreamcut song --json` shows it


def test_a_cut_left_on_a_doubtful_beat_is_said():
    from dreamcut.edit.planner import degraded

    song = grid_song(bpm=120.0, sections=(("verse", 40),))
    song.beat_confidence = [0.0] * len(song.beats)  # no beat is sure: the cuts stay, and say so
    tl = plan_edit(song, shots_for([16.0] * 6), fps=FPS, size=(320, 180), title="T", song_media="song.wav",
                   pacing=8)
    lines = degraded(tl)
    cuts = len([c for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]) - 1
    assert cuts >= 5 and len([x for x in lines if "on a doubtful beat" in x]) == cuts


def test_the_directors_grid_is_sure_and_a_given_downbeat_too():
    song = grid_song(bpm=120.0, sections=(("verse", 16),))
    song.beat_confidence = [0.0] * len(song.beats)
    fixed = apply_corrections(song, SongSpec(file="song.wav", bpm=121.0))
    assert fixed.beat_confidence == [] and all(fixed.sure_beat(i) for i in range(len(fixed.beats)))
    moved = apply_corrections(song, SongSpec(file="song.wav", downbeat=2.5))
    k = moved.beats.index(2.5)
    assert moved.sure_beat(k) and not moved.sure_beat(k + 1)
    # the song map's cache keeps the confidence
    again = SongAnalysis.from_dict(moved.to_dict())
    assert again.beat_confidence == moved.beat_confidence


def test_the_joint_tracker_keeps_the_whole_grid_through_a_jump_in_its_tempo_curve():
    # A held-out quartet lost all but 2 beats: where its tempo curve jumped an octave, every path
    # paid more than it had gained, restarted, and the beats before were dropped. Clicks at
    # 120 bpm for 40 s; the curve says 240 bpm for 2 s in the middle.
    from dreamcut.analysis.beats import _follow_tempo, _z
    from dreamcut.analysis.tempo import HOP

    sr = 22050
    fps = sr / HOP
    n = int(40 * fps)
    env = np.random.default_rng(1).random(n) * 0.3
    for t in np.arange(0.0, 40.0, 0.5):
        env[int(round(t * fps))] += 3.0
    curve = np.full(n, 120.0)
    curve[int(19 * fps):int(21 * fps)] = 240.0
    times = _follow_tempo(_z(env), curve, sr) / fps
    assert times[0] < 0.6 and times[-1] > 39.0
    assert np.max(np.diff(times)) < 0.75  # no gap: a beat at least every half second throughout
