"""`dreamcut song`, `init --song`, and the lines `check` and `edit` now say instead of losing
things in silence: pins the song does not have, handle room, degraded decisions with
--strict, stale takes. Real processes, real files, a synthesized song."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from _takes import clean_frames, write_take
from dreamcut.catalog import Take
from dreamcut.demo.song import synthesize_song

STRUCTURE = [("intro", 4), ("verse", 8), ("chorus", 8), ("outro", 4)]


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("song")
    truth = synthesize_song(d / "song.wav", bpm=120, structure=STRUCTURE, seed=5)
    assert 20 < truth.duration < 70
    return d / "song.wav"


@pytest.fixture(scope="module")
def base(tmp_path_factory, song) -> Path:
    """One project made by `init --song`, its song heard once (the analysis cache travels with copies)."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("base") / "p"
    run_cli("init", str(root), "--song", str(song), check=True)
    run_cli("--project", str(root), "song", "--json", check=True)
    return root


@pytest.fixture
def project(tmp_path, base) -> Path:
    import shutil

    root = tmp_path / "p"
    shutil.copytree(base, root)
    return root


def _edit_spec(root: Path, fn) -> None:
    path = root / "dreamcut.yaml"
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_init_song_covers_the_song_and_checks(project, cli):
    spec = yaml.safe_load((project / "dreamcut.yaml").read_text())
    out = cli("--project", str(project), "song", "--json", check=True)
    m = json.loads(out.stdout)
    n = len(spec["shots"])
    assert n * spec["take_seconds"] >= m["duration"]  # the takes cover the song at 1x
    bars = 8 * 4 * 60 / m["tempo"]
    assert n >= m["duration"] / bars - 1
    assert cli("--project", str(project), "check").returncode == 0


def test_song_map_json_text_and_picture(project, cli):
    out = cli("--project", str(project), "song", "--json", check=True)
    m = json.loads(out.stdout)
    assert abs(m["tempo"] - 120) < 1.5 and m["beats_per_bar"] == 4
    assert m["bars"][0]["bar"] == 1 and len(m["bars"]) >= 20
    labels = [s["label"] for s in m["sections"]]
    assert labels[0] == "intro" and "chorus" in labels and not any("#" in x for x in labels)
    assert all(0 <= s["confidence"] <= 1 for s in m["sections"])
    png = project / m["picture"]
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] >= 800
    text = cli("--project", str(project), "song", check=True).stdout
    assert "bpm" in text and "sections" in text and "chorus#1" in text


def test_song_block_corrections_reach_the_song_map(project, cli):
    def fix(d):
        d["song"] = {"file": d["song"], "bpm": 121.0, "downbeat": 0.25, "meter": 4,
                     "sections": [{"name": "intro", "start": 0}, {"name": "verse", "bar": 3},
                                  {"name": "chorus", "bar": 9}]}
    _edit_spec(project, fix)
    m = json.loads(cli("--project", str(project), "song", "--json", check=True).stdout)
    assert m["first_downbeat"] == pytest.approx(0.25, abs=1e-4)
    assert [s["name"] for s in m["sections"]] == ["intro#1", "verse#1", "chorus#1"]
    assert [s["bar"] for s in m["sections"]] == [0, 3, 9]  # the intro starts in the pickup before bar 1
    assert set(m["corrected"]) >= {"tempo", "downbeat", "sections"}
    assert abs(m["tempo"] - 121.0) < 0.05


def test_a_corrected_downbeat_carries_the_heard_sections_onto_its_bar_lines(project, cli):
    # The director moves the first downbeat one beat later and gives no section list: the bar lines
    # move under the heard sections. `song` shows each section where `edit` cuts it (the bar line
    # `cut_places.section_downbeat` picks), not a beat before it.
    from dreamcut.edit.cut_places import section_downbeat
    from dreamcut.pipeline.cut import analyse_song
    from dreamcut.project import Project

    heard = json.loads(cli("--project", str(project), "song", "--json", check=True).stdout)
    beat = 60.0 / heard["tempo"]
    _edit_spec(project, lambda d: d.update(song={"file": d["song"], "downbeat": round(heard["first_downbeat"] + beat, 4)}))
    m = json.loads(cli("--project", str(project), "song", "--json", check=True).stdout)
    assert m["corrected"] == ["downbeat"]
    bar_lines = [b["start"] for b in m["bars"]]
    assert [s["label"] for s in m["sections"]] == [s["label"] for s in heard["sections"]]  # none lost
    for was, now in zip(heard["sections"][1:], m["sections"][1:]):
        assert min(abs(now["start"] - b) for b in bar_lines) < 1e-3, now  # on a corrected bar line
        assert 0 < abs(now["start"] - was["start"]) <= 4 * beat + 1e-3  # the nearest one, within a bar
    song = analyse_song(Project.open(project))
    assert [s.start for s in song.sections] == [s["start"] for s in m["sections"]]
    assert all(section_downbeat(song, i) == s.start for i, s in enumerate(song.sections))  # the edit's start


@pytest.mark.parametrize("place,expect", [({"section": "bridge#3"}, "does not have"),
                                          ({"second": 300}, "long"), ({"bar": 900}, "bars")])
def test_check_refuses_pins_the_song_does_not_have(project, cli, place, expect):
    _edit_spec(project, lambda d: d["shots"][1].update(place=place))
    out = cli("--project", str(project), "check")
    assert out.returncode == 2
    assert expect in out.stdout + out.stderr and d_shot(project) in out.stdout


def d_shot(project: Path) -> str:
    return yaml.safe_load((project / "dreamcut.yaml").read_text())["shots"][1]["id"]


def test_check_says_how_much_more_take_a_transition_needs(project, cli):
    def short(d):
        d["take_seconds"] = round(d["take_seconds"] * 0.85, 2)
        d["transition"] = {"kind": "zoom", "beats": 4}
    _edit_spec(project, short)
    out = cli("--project", str(project), "check")
    text = " ".join(out.stdout.split())
    assert "became a cut" in text or "shortened" in text
    assert "s more take" in text


SMALL = {"master": "256x144", "resolution": "256x144"}  # the render of tests that import takes but do not look at their size


def _import_takes(project: Path, seconds: float) -> None:
    """Real takes through the real importer (in-process: one Python start instead of one per shot)."""
    from dreamcut.importer import import_one
    from dreamcut.project import Project

    p = Project.open(project)
    for i, shot in enumerate(p.spec.shots):
        clip = project.parent / f"{shot.id}.mp4"
        write_take(clip, clean_frames(int(seconds * 24), seed=i + 1))
        import_one(p, shot.id, clip)


def test_edit_lists_degraded_decisions_and_strict_fails(project, cli):
    # A small master from the start: the takes are normalised to it on import (not to 720p, then rendered small).
    _edit_spec(project, lambda d: d.update(transition={"kind": "dissolve", "beats": 4}, render=SMALL))
    spec = yaml.safe_load((project / "dreamcut.yaml").read_text())
    _import_takes(project, spec["take_seconds"] * 0.85)
    out = cli("--project", str(project), "edit")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "degraded decision" in text
    assert "retimed" in text or "became a cut" in text or "shortened" in text
    strict = cli("--project", str(project), "edit", "--strict")
    assert strict.returncode == 1 and "degraded" in strict.stderr
    # incremental: a second render of an unchanged edit renders nothing, and says so
    _edit_spec(project, lambda d: d.update(render={"master": "256x144", "resolution": "256x144",
                                                   "preset": "ultrafast"}))
    first = cli("--project", str(project), "render", check=True)
    assert "unchanged" not in first.stdout
    video = project / "renders" / "final_256x144.mp4"
    stamp = video.stat().st_mtime_ns
    again = cli("--project", str(project), "render", check=True)
    assert "unchanged" in again.stdout and video.stat().st_mtime_ns == stamp
    forced = cli("--project", str(project), "render", "--force", check=True)
    assert "unchanged" not in forced.stdout and video.stat().st_mtime_ns != stamp
    # the program overlay (on by default for animatic projects) sits in the top-left corner only
    with_overlay = _frame(video, 5.2)
    _edit_spec(project, lambda d: d["render"].update(overlay=False))
    cli("--project", str(project), "render", check=True)
    plain = _frame(video, 5.2)
    corner = np.abs(with_overlay[:30, :90].astype(int) - plain[:30, :90]).mean()
    rest = np.abs(with_overlay[60:, 120:].astype(int) - plain[60:, 120:]).mean()
    assert corner > 20 and rest < 3, (corner, rest)
    ass = (project / ".dreamcut" / "overlay.ass").read_text()
    assert "Dialogue:" in ass and "bar 1.1" in ass


def _frame(video: Path, t: float) -> np.ndarray:
    import subprocess

    from dreamcut.media import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{t}", "-i", str(video), "-frames:v", "1", "-f",
                          "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(144, 256, 3)


def test_a_take_from_an_older_prompt_is_not_chosen_over_a_current_one(project):
    from dreamcut import pipeline
    from dreamcut.project import Project

    p = Project.open(project)
    shot = p.spec.shots[0]
    current = pipeline.current_prompts(p)[shot.id]
    made = dict(shot_id=shot.id, seconds=8.0, width=320, height=180, fps=24.0, backend="animatic",
                source="generated")
    old = Take(id="old-1", path="takes/old.mp4", prompt="an older prompt", score=0.99, created_at=1.0, **made)
    p.catalog.add_take(old)
    notes: list[str] = []
    assert pipeline.selected_takes(p, notes)[shot.id].id == "old-1"  # the only take: used, and said
    assert any("stale take old-1" in n for n in notes)
    new = Take(id="new-1", path="takes/new.mp4", prompt=sorted(current)[0], score=0.1, created_at=2.0, **made)
    p.catalog.add_take(new)
    notes = []
    assert pipeline.selected_takes(p, notes)[shot.id].id == "new-1"  # current beats a better-scored stale one
    assert notes == []
    p.catalog.select(shot.id, "old-1")  # the director's pick stands
    assert pipeline.selected_takes(p)[shot.id].id == "old-1"


def test_pacing_dropped_for_too_many_shots_is_said_by_check_and_edit(project, cli):
    # 8 shots of 6.5 s over a 24-bar song paced every 8 bars: 6 slots (takes fill 8 s at most), so the planner
    # places one cut per shot instead; `check` says it before anything is made, `edit` after.
    def crowd(d):
        d["song"] = {"file": d["song"], "pacing": 8}
        d["take_seconds"] = 6.5
        d["shots"] = [{"id": f"shot-{i + 1:02d}", "prompt": f"Shot {i + 1}: the camera drifts through a lit street"}
                      for i in range(8)]
    _edit_spec(project, crowd)
    _edit_spec(project, lambda d: d.update(render=SMALL))  # takes normalised to a small master on import
    out = cli("--project", str(project), "check")
    text = " ".join(out.stdout.split())
    assert out.returncode == 0 and re.search(r"warning: pacing 8: 8 shots for \d+ paced slots", text), text
    _import_takes(project, 6.5)
    edit = cli("--project", str(project), "edit", "--json", "--strict")
    assert edit.returncode == 1
    lines = [x for x in json.loads(edit.stdout)["degraded"] if x.startswith("pacing 8: 8 shots for")]
    assert len(lines) == 1 and "so the pace is dropped" in lines[0] and "use at most" in lines[0]
