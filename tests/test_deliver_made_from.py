"""`made_from` decides whether the 9:16 / 1:1 are cropped from the final (upscaled) render.

It reads each render's Content Credentials once (it read them four times: `verify` of each file
beside `read_manifest_store` of each). The decision is checked unchanged for a current, a stale,
a tampered and a missing final, on real renders signed by `dreamcut render`; the reads are counted
at the C2PA library's Reader (the third-party edge), per file.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import c2pa
import pytest

from conftest import run_cli
from dreamcut.pipeline.deliverables import made_from
from dreamcut.render import deliver as dl
from test_deliver import make_project


@pytest.fixture
def reads(monkeypatch):
    """How many times each file's manifest store was opened by the C2PA Reader."""
    count: Counter[str] = Counter()

    class CountingReader(c2pa.Reader):
        def __init__(self, format_or_path=None, stream=None, *args, **kwargs):
            name = getattr(stream, "name", None) or format_or_path
            count[Path(str(name)).name] += 1
            super().__init__(format_or_path, stream, *args, **kwargs)

    monkeypatch.setattr(c2pa, "Reader", CountingReader)
    return count


def _decision(master: Path, final: Path):
    why = made_from(final, master)
    return why, dl.reframe_source((master.name, (320, 180)), (final.name, (640, 360)), why)


def test_the_final_is_used_only_when_current_and_each_manifest_is_read_once(tmp_path, reads):
    root = make_project(tmp_path / "p", size=(320, 180), seconds=[1.0], song_seconds=1.0,
                        shot_extra={0: {"reframe": "center"}})
    spec = root / "dreamcut.yaml"
    spec.write_text(spec.read_text().replace("resolution: 320x180", "resolution: 640x360"))
    run_cli("--project", str(root), "render", check=True)
    renders = root / "renders"
    master, final = renders / "final_320x180.mp4", renders / "final_640x360.mp4"

    # current: the final is used, one read of each
    reads.clear()
    why, source = _decision(master, final)
    assert why is None and source.final and source.name == final.name and not source.degraded
    assert reads == {final.name: 1, master.name: 1}

    # stale: the master rendered again since; the master is used and the line says why
    old = tmp_path / "old_final.mp4"
    shutil.copy2(final, old)
    run_cli("--project", str(root), "render", "--force", check=True)
    shutil.copy2(old, final)
    reads.clear()
    why, source = _decision(master, final)
    assert why == "final_640x360.mp4 was not upscaled from the current final_320x180.mp4 (it is stale)"
    assert not source.final and source.degraded and "180p master" in source.note and why in source.note
    assert reads == {final.name: 1, master.name: 1}

    # tampered: the final's pictures changed after signing; the master is not read at all
    data = bytearray(final.read_bytes())
    data[len(data) // 2] ^= 0xFF
    final.write_bytes(bytes(data))
    reads.clear()
    why, source = _decision(master, final)
    assert why == "final_640x360.mp4's Content Credentials do not validate"
    assert not source.final and source.degraded
    assert reads == {final.name: 1}

    # missing: nothing read
    final.unlink()
    reads.clear()
    why, source = _decision(master, final)
    assert why == "final_640x360.mp4 is missing" and not source.final and source.degraded
    assert reads == {}
