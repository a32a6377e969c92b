"""The FluidSynth render cache of tests/midi_songs.py is safe for two processes rendering the same
piece at once (a benchmark and a test): each works in a folder of its own and publishes whole files
by `os.replace`, truth.json last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

import midi_songs
from conftest import REPO

_RENDER = "import sys; sys.path.insert(0, 'tests'); import midi_songs; print(midi_songs.render('bach').wav)"


def test_two_processes_rendering_one_piece_at_once_both_get_it_whole(tmp_path):
    if (why := midi_songs.available()) is not None:
        pytest.skip(why)
    env = dict(os.environ, DREAMCUT_MIDI_CACHE=str(tmp_path), PYTHONPATH=str(REPO / "src"))
    procs = [subprocess.Popen([sys.executable, "-c", _RENDER], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
    wavs = {Path(out.strip()) for out, _ in results}
    assert len(wavs) == 1  # the same cache folder
    folder = wavs.pop().parent
    assert sorted(x.name for x in folder.iterdir()) == ["song.mid", "song.wav", "truth.json"]  # no work folder left
    truth = json.loads((folder / "truth.json").read_text())
    y, sr = sf.read(str(folder / "song.wav"))
    assert sr == midi_songs.SR and 20 * sr < len(y) <= midi_songs.PIECES["bach"].seconds * sr  # the chorale is 28 s
    assert len(truth["beats"]) > 20 and truth["beats"][-1] < len(y) / sr and truth["beats_per_bar"] == 4


def test_publish_moves_whole_files_truth_last(tmp_path):
    """`_publish` replaces what is there (another process's render) file by file and writes no file in place."""
    d = tmp_path / "piece"
    work = d / ".render-x"
    work.mkdir(parents=True)
    for name, text in (("song.mid", "old mid"), ("song.wav", "old wav"), ("truth.json", "{}")):
        (d / name).write_text(text)
    (work / "song.mid").write_text("new mid")
    (work / "song.wav").write_text("new wav")
    inodes = {name: (work / name).stat().st_ino for name in ("song.mid", "song.wav")}
    midi_songs._publish(work, d, {"beats": [0.5]})
    assert (d / "song.mid").read_text() == "new mid" and (d / "song.wav").read_text() == "new wav"
    assert {name: (d / name).stat().st_ino for name in inodes} == inodes  # moved, not copied or rewritten
    assert json.loads((d / "truth.json").read_text()) == {"beats": [0.5]}
    assert list(work.iterdir()) == []


def test_a_score_is_parsed_from_its_source_and_leaves_no_pickle_for_another_process(tmp_path, monkeypatch):
    """music21 writes a pickle of each parsed score in place in its scratch folder, and a second
    process read one half-written (CI, session 9); `parse_score` neither reads nor writes one."""
    music21 = pytest.importorskip("music21")
    monkeypatch.setattr(music21.converter.environLocal, "getRootTempDir", lambda: tmp_path)
    piece = midi_songs.PIECES["bach"].corpus
    score = midi_songs.parse_score(piece)
    assert len(score.parts) == 4 and list(tmp_path.iterdir()) == []
    music21.corpus.parse(piece)  # music21's default: the pickle this test would see
    assert [p.suffixes[-2:] for p in tmp_path.iterdir()] == [[".p", ".gz"]]
