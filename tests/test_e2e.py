"""The main job end to end, through the real CLI: a short demo (15 s song, 3 shots, small frames).

Checked with probing (duration, resolution, audio stream), the cuts against the synthesized
song's true beats, and the exports read back by OpenTimelineIO.
"""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio
import pytest

from dreamcut.media import probe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def short_demo(short_demo_build, tmp_path_factory) -> Path:
    """The session's `dreamcut demo --short` (conftest), copied: test_rerun_makes_nothing_twice runs on it."""
    from conftest import copy_project

    return copy_project(short_demo_build, tmp_path_factory.mktemp("e2e") / "demo")


def test_final_render_matches_the_song(short_demo: Path):
    from dreamcut.project import Project

    project = Project.open(short_demo)
    spec = project.spec
    song = probe(project.song_path)
    renders = sorted((short_demo / "renders").glob("final_*.mp4"))
    assert len(renders) == 2, renders
    frame = 1.0 / spec.fps
    for path in renders:
        info = probe(path)
        assert info.video is not None and info.audio is not None
        assert info.video.codec == "h264"
        assert info.audio.codec == "aac"
        assert abs(info.duration - song.duration) <= frame + 0.03, (path.name, info.duration, song.duration)
    sizes = {(probe(p).video.width, probe(p).video.height) for p in renders}
    assert sizes == {spec.master_size, spec.final_size}


def test_every_cut_is_on_a_true_beat(short_demo: Path):
    truth = json.loads((short_demo / "song.truth.json").read_text())
    timeline = otio.adapters.read_from_file(str(short_demo / "edits" / "cut.otio"))
    fps = timeline.metadata["dreamcut"]["fps"]
    clips = [c for c in timeline.tracks[0] if isinstance(c, otio.schema.Clip)]
    from dreamcut.project import Project

    shot_order = [s.id for s in Project.open(short_demo).spec.shots]
    assert [c.metadata["dreamcut"]["shot"] for c in clips] == shot_order
    cuts = [timeline.tracks[0].range_of_child(c).start_time.to_seconds() for c in clips[1:]]
    for t in cuts:
        nearest = min(truth["beats"], key=lambda b: abs(b - t))
        assert abs(nearest - t) <= 1.0 / fps + 1e-6, (t, nearest)
    total = timeline.tracks[0].duration().to_seconds()
    assert abs(total - truth["duration"]) <= 1.0 / fps + 1e-6


def test_exports_read_back(short_demo: Path):
    exports = short_demo / "exports"
    for name, adapter in (("cut.otio", "otio_json"), ("premiere.xml", "fcp_xml"), ("cut.edl", "cmx_3600")):
        path = exports / name
        assert path.is_file(), name
        kwargs = {"rate": 24} if adapter == "cmx_3600" else {}
        tl = otio.adapters.read_from_file(str(path), adapter_name=adapter, **kwargs)
        clips = [c for c in tl.find_clips()]
        assert len([c for c in clips if "song" not in c.name.lower()]) >= 3, (name, [c.name for c in clips])


def test_rerun_makes_nothing_twice(short_demo: Path):
    from conftest import run_cli

    from dreamcut.project import Project

    before = {t.id for t in Project.open(short_demo).catalog.takes()}
    proc = run_cli("--project", str(short_demo), "generate", timeout=300)
    assert proc.returncode == 0, proc.stderr
    after = {t.id for t in Project.open(short_demo).catalog.takes()}
    assert before == after
