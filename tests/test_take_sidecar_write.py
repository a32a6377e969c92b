"""A take's sidecar is written whole or not at all (`takefiles._write_sidecar`): one temp file that
names this process (so `sweep_stale` removes it after a kill -9), then one rename."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dreamcut.generate import takefiles
from dreamcut.media import sweep_stale


def test_the_sidecar_lands_whole_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "t001.json"
    takefiles._write_sidecar(target, json.dumps({"take": "t001"}, indent=2))
    assert json.loads(target.read_text()) == {"take": "t001"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t001.json"]


def test_a_failed_rename_leaves_neither_a_sidecar_nor_a_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "t001.json"
    seen: list[Path] = []

    def refuse(src, dst):
        seen.append(Path(src))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(takefiles.os, "replace", refuse)
    with pytest.raises(OSError):
        takefiles._write_sidecar(target, "{}")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    # the temp name is one sweep_stale knows: a dead writer's copy is removed, a live one's kept
    (tmp := seen[0]).write_text("{}")
    assert sweep_stale(tmp_path) == []  # this process is alive
    dead = tmp.with_name(tmp.name.replace(f"pid{os.getpid()}", "pid999999999"))
    tmp.rename(dead)
    assert sweep_stale(tmp_path) == [dead]
