"""The bar line in doubt is said (`metre.half_bar_margin`, `SongAnalysis.downbeat_doubt`): where the two
halves of a 4-beat bar sound nearly alike, `dreamcut song` names the other half's first downbeat and
the `song:` correction that takes it. Seen on POP909 611 (session 24's unseen set): every beat on a
true beat, every bar line on beat 3 (downbeat F 0.000), nothing said."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import midi_songs
import pop909_songs
from dreamcut.analysis.metre import HALF_BAR_DOUBT, half_bar_margin
from dreamcut.analysis.song import SongAnalysis

PER = 20  # frames a beat
N = 64 * PER


def _song_with(bars_alike: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(beat frames, chroma, low, onsets) of 64 beats in four: a new chord every two beats and the low end
    and accents alike on beats 1 and 3 (`bars_alike`), or a new chord every bar with the low end and the
    accents on beat 1."""
    beats = np.arange(0, N, PER)
    chords = [(0, 4, 7), (5, 9, 0), (7, 11, 2), (9, 0, 4)]
    chroma = np.full((12, N), 0.05)
    low, oenv = np.zeros(N), np.zeros(N)
    for k, f in enumerate(beats):
        span = 2 if bars_alike else 4
        for p in chords[(k // span) % len(chords)]:
            chroma[p, f:f + PER] = 1.0
        strong = k % 2 == 0 if bars_alike else k % 4 == 0
        low[f] = 1.0 if strong else 0.3
        oenv[f] = 1.0 if strong else 0.5
    return beats, chroma, low, oenv


def test_a_bar_whose_halves_sound_alike_is_in_doubt_and_a_clear_one_is_not():
    beats, chroma, low, oenv = _song_with(bars_alike=True)
    assert abs(half_bar_margin(beats, chroma, low, N, oenv, 0)) < HALF_BAR_DOUBT
    beats, chroma, low, oenv = _song_with(bars_alike=False)
    assert half_bar_margin(beats, chroma, low, N, oenv, 0) > 3 * HALF_BAR_DOUBT
    assert half_bar_margin(beats, chroma, low, N, oenv, 2) < -3 * HALF_BAR_DOUBT  # beat 3 taken for 1


def test_the_doubt_is_said_until_the_director_sets_the_bar():
    song = SongAnalysis(duration=10.0, sample_rate=22050, tempo=120.0, beats=[i * 0.5 for i in range(20)],
                        downbeats=[i * 2.0 for i in range(5)], beats_per_bar=4, other_downbeat=1.0)
    assert "set `song: downbeat: 1.00`" in song.downbeat_doubt()
    assert SongAnalysis.from_dict(song.to_dict()).downbeat_doubt() == song.downbeat_doubt()
    for fact in ("downbeat", "tempo", "meter"):
        song.corrected = [fact]
        assert song.downbeat_doubt() == ""
    song.corrected, song.other_downbeat = [], None
    assert song.downbeat_doubt() == ""


@pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))
def test_pop909_611s_bar_line_in_doubt_names_the_annotated_one(tmp_path: Path, cli):
    """611 (100 bpm) is heard on its beats with every bar line on beat 3 by the annotation; `dreamcut song`
    says the bar line is in doubt and names the annotated first downbeat; the correction it gives puts
    every bar line on the annotated ones and the doubt is no longer said."""
    song = pop909_songs.render("611")
    root = tmp_path / "p"
    cli("init", str(root), "--song", str(song.wav), check=True)
    m = json.loads(cli("--project", str(root), "song", "--json", check=True).stdout)
    truth = np.asarray(song.downbeats)

    def on_truth(times: list[float]) -> float:
        t = np.asarray(times)
        t = t[(t >= truth[0] - 0.1) & (t <= truth[-1] + 0.1)]
        return float(np.mean(np.min(np.abs(t[:, None] - truth[None, :]), axis=1) <= 0.07))

    heard = [b["start"] for b in m["bars"]]
    assert on_truth(heard) == 0.0  # every heard bar line half a bar off the annotated ones
    said = m["downbeat_doubt"]
    assert said and "song: downbeat:" in said
    second = float(said.rsplit("song: downbeat: ", 1)[1].rstrip("`"))
    assert abs(m["other_downbeat"] - second) <= 0.005  # the value the line names (to 0.01 s), for a script
    assert np.min(np.abs(truth - second)) <= 0.07 or on_truth([second + 4 * 60.0 / m["tempo"]]) == 1.0
    text = " ".join(cli("--project", str(root), "song", check=True).stdout.split())  # the console wraps lines
    assert f"bar line in doubt: {said}" in text

    spec = yaml.safe_load((root / "dreamcut.yaml").read_text())
    spec["song"] = {"file": spec["song"], "downbeat": second}
    (root / "dreamcut.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    m = json.loads(cli("--project", str(root), "song", "--json", check=True).stdout)
    assert m["downbeat_doubt"] is None and m["other_downbeat"] is None and "downbeat" in m["corrected"]
    assert on_truth([b["start"] for b in m["bars"]]) >= 0.95
