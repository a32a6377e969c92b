"""`dreamcut deliver` crops the 9:16 and 1:1 versions from the sharpest current render.

The reference workflow renders a small master and upscales it (renders/final_2k.mp4): a 9:16
cropped from the upscale needs less blowing up. The final is used only when its Content
Credentials name the current master as its parent; a missing or stale final means the master,
said in one line. Real renders (`dreamcut render`), the CLI in a subprocess, real verification.
"""

from __future__ import annotations

import json
import shutil

from conftest import run_cli
from dreamcut.provenance import verify
from dreamcut.render import deliver as dl
from test_deliver import deliver_cli, ffprobe, make_project


def _project(tmp_path):
    root = make_project(tmp_path / "p", size=(320, 180), seconds=[2.0], song_seconds=2.0,
                        shot_extra={0: {"reframe": "center"}})
    spec = root / "dreamcut.yaml"
    spec.write_text(spec.read_text().replace("resolution: 320x180", "resolution: 640x360"))
    run_cli("--project", str(root), "render", check=True)
    return root


def test_the_vertical_is_cropped_from_the_current_final_else_from_the_master_said(tmp_path):
    root = _project(tmp_path)
    renders = root / "renders"
    args = ("--no-teasers", "--aspects", "16:9,9:16,1:1", "--short-side", "144", "--json")

    proc = deliver_cli(root, *args)
    assert proc.returncode == 0, proc.stderr
    outputs = {o["name"]: o for o in json.loads(proc.stdout)["outputs"]}
    assert outputs["full_9x16.mp4"]["source"] == outputs["full_1x1.mp4"]["source"] == "renders/final_640x360.mp4"
    assert outputs["full_16x9.mp4"]["source"] == "renders/final_320x180.mp4"   # the master's pictures, untouched
    assert "not from" not in proc.stderr
    vertical = root / "renders" / "deliver" / "full_9x16.mp4"
    assert ffprobe(vertical)[:2] == (144, 256)
    report = verify(vertical)
    assert report.valid and report.parent == "final_640x360.mp4"   # the parent ingredient is the file cropped
    assert verify(root / "renders" / "deliver" / "full_1x1.mp4").parent == "final_640x360.mp4"

    # A final that was not upscaled from this master (the master rendered again since): the master, said.
    old_final = tmp_path / "old_final.mp4"
    shutil.copy2(renders / "final_640x360.mp4", old_final)
    run_cli("--project", str(root), "render", "--force", check=True)
    shutil.copy2(old_final, renders / "final_640x360.mp4")
    proc = deliver_cli(root, *args)
    assert proc.returncode == 0, proc.stderr
    outputs = {o["name"]: o for o in json.loads(proc.stdout)["outputs"]}
    assert outputs["full_9x16.mp4"]["source"] == "renders/final_320x180.mp4"
    said = [line for line in proc.stderr.splitlines() if "final_640x360.mp4" in line]
    assert len(said) == 1 and "stale" in said[0] and "180p master" in said[0], proc.stderr
    assert verify(vertical).parent == "final_320x180.mp4"

    # No final at all: the master, said.
    (renders / "final_640x360.mp4").unlink()
    proc = deliver_cli(root, *args)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"][1]["source"] == "renders/final_320x180.mp4"
    assert "final_640x360.mp4 is missing" in proc.stderr


def test_reframe_source_prefers_a_larger_current_final():
    master = ("final_720p.mp4", (1280, 720))
    best = dl.reframe_source(master, ("final_2k.mp4", (2048, 1152)))
    assert best.final and best.size == (2048, 1152) and not best.degraded
    stale = dl.reframe_source(master, ("final_2k.mp4", (2048, 1152)), "final_2k.mp4 is missing")
    assert not stale.final and stale.degraded and "720p master" in stale.note and "missing" in stale.note
    assert not dl.reframe_source(master, None).final                               # the master is the final
    assert not dl.reframe_source(master, ("final_2k.mp4", (2048, 2048))).final      # another frame shape
    # the crop path is relative: the same centre lands on the same picture in either render
    path = [0.3, 0.5, 0.7]
    small = dl.crop_x_pixels(path, 1280, dl.crop_box("9:16", (1280, 720))[0])
    large = dl.crop_x_pixels(path, 2048, dl.crop_box("9:16", (2048, 1152))[0])
    assert all(abs(a / 1280 - b / 2048) < 2 / 1280 for a, b in zip(small, large))
