"""song.png draws the tempo curve exactly where `dreamcut song` says the tempo moves: one rule
(`analysis.audio.tempo_moves`). Seen in a trial: a steady 63 bpm pop song (POP909 605, heard at
126.8) got a yellow curve swinging over the whole waveform, labelled "tempo 125-130 bpm" (its bar-to-bar
jitter, 4 %), while `dreamcut song` called the same song steady."""

from __future__ import annotations

import numpy as np
from PIL import Image

from dreamcut.analysis.audio import song_map, tempo_moves
from dreamcut.render.song_picture import TEMPO, draw_song_map
from test_planner import grid_song


def _with_curve(bpms: list[float]):
    """A steady grid song whose tempo curve (a point every 4 beats) reads `bpms`, repeated over the song."""
    song = grid_song()
    starts = song.beats[::4]
    song.tempo_curve = [[round(t, 3), bpms[i % len(bpms)]] for i, t in enumerate(starts)]
    return song


def _draws_a_tempo_curve(song, path) -> bool:
    px = np.asarray(Image.open(draw_song_map(song, path)).convert("RGB"))
    return int(np.count_nonzero(np.all(px == TEMPO, axis=2))) > 200  # a line, not a stray pixel


def test_a_steady_songs_jitter_is_not_drawn_as_a_moving_tempo(tmp_path):
    jitter = _with_curve([125.0, 128.5, 126.0, 130.0, 127.0])  # 4 %: what 605 measured
    assert not tempo_moves(jitter) and not song_map(jitter)["tempo_moves"]
    assert not _draws_a_tempo_curve(jitter, tmp_path / "steady.png")


def test_a_tempo_that_moves_is_drawn_and_said_alike(tmp_path):
    ramp = _with_curve([116.0, 125.0, 134.0, 143.0, 151.0, 143.0, 134.0, 125.0])  # the accelerando recording's
    assert tempo_moves(ramp) and song_map(ramp)["tempo_moves"]
    assert _draws_a_tempo_curve(ramp, tmp_path / "moving.png")
