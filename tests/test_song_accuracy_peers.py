"""The named peers of `benchmarks/song_accuracy.py --peers` (benchmarks/song_peers.py) on a real
recording: Mozart's K. 80 Menuetto (a steady 3/4 at 126 bpm, 75 s, 3 annotated boundaries) as
FluidSynth renders it for the other score tests.

Measured (session 16, 2026-12-02, librosa 0.11): librosa's beat_track beat F 0.746 (it is not
dreamcut: it must not be held to dreamcut's 0.9); the Laplacian segmentation (k = 5) 16 boundaries,
the 3 annotated ones each within a bar of one; agglomerative 4 boundaries (k = 5 from 75 s).

Skipped, with the reason, where fluidsynth / the soundfont / music21 are missing (`make test`
installs them). The render is cached under DREAMCUT_MIDI_CACHE.
"""

from __future__ import annotations

import time

import pytest

import midi_songs
import song_accuracy
import song_peers

pytestmark = pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))


def test_the_peers_hear_a_steady_score_and_are_scored_as_dreamcut_is(tmp_path):
    r = midi_songs.render("k80-minuet")
    heard = song_peers.hear(r.wav, cache_dir=tmp_path)
    assert heard["duration"] == pytest.approx(r.seconds, abs=0.05)
    # librosa's tracker on a steady string quartet: most beats within 70 ms (0.746 measured)
    assert song_accuracy.beat_f_measure(r.beats, heard["librosa_beats"]) > 0.5
    for name in ("laplacian", "agglomerative"):
        bounds = heard[name]
        assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), name
        assert all(0.0 < t <= heard["duration"] for t in bounds), name
    # k from the song's length: one segment per AGGLOMERATIVE_SECONDS, so k - 1 boundaries
    assert len(heard["agglomerative"]) == round(r.seconds / song_peers.AGGLOMERATIVE_SECONDS) - 1
    # the adapter gives sections_heard the peer's boundaries, the song's opening not among them
    row = song_accuracy.score_peers("k80-minuet")
    assert row["laplacian"]["sections"] == len(r.sections) == 3
    assert row["laplacian"]["section_found"] == sum(t < r.seconds - 1.0 for t in heard["laplacian"])
    assert row["laplacian"]["section_hit_count"] == 3  # 3 of 3 measured


def test_the_peers_are_cached_by_the_songs_content(tmp_path):
    r = midi_songs.render("k80-minuet")
    first = song_peers.hear(r.wav, cache_dir=tmp_path)
    assert len(list(tmp_path.glob(f"peers-*-p{song_peers.PEER_VERSION}-*.json"))) == 1
    t0 = time.perf_counter()
    assert song_peers.hear(r.wav, cache_dir=tmp_path) == first
    assert time.perf_counter() - t0 < 1.0  # read back, not heard again (hearing it takes seconds)
