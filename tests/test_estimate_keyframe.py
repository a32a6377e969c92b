"""`dreamcut estimate` says what `dreamcut check` says of a take that starts from a cast keyframe
(how many references go to which image model at what price, then which video model): the same line,
from the same function (`generate.keyframes.cast_keyframe_lines`), in its text and its --json.
Projects built as tests/test_cast_keyframe.py builds them; nothing is sent anywhere."""

from __future__ import annotations

import json

import pytest

from dreamcut.generate.keyframes import cast_keyframe_lines
from dreamcut.project import Project
from test_cast_keyframe import KEYS, _project

CASES = {
    "runway": ("runway:gen4_turbo", {"mia": ["mia1.png", "mia2.png", "mia3.png"]}, {"RUNWAYML_API_SECRET": KEYS["runway"]},
               "runway:gen4_turbo: cast keyframe from 3 references via gen4_image ($0.05), then gen4_turbo"),
    "luma": ("luma:ray-2", {"mia": ["https://example.com/mia1.png"], "leo": ["https://example.com/leo1.png"]},
             {"LUMAAI_API_KEY": KEYS["luma"]}, "luma:ray-2: cast keyframe from 2 references via photon"),
}


def _keyframe_line(stdout: str) -> str:
    lines = [line.strip() for line in stdout.splitlines() if "cast keyframe from" in line]
    assert len(lines) == 1, stdout
    return lines[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_estimate_repeats_checks_cast_keyframe_line(case, tmp_path, cli):
    backend, refs, env, start = CASES[case]
    root = _project(tmp_path / "p", backend, refs)
    [line] = cast_keyframe_lines(Project.open(root).spec, str(root))
    assert line.startswith(start) and line.endswith(f"[shots s1: {', '.join(refs)}]"), line
    check = cli("-p", str(root), "check", env={**env, "COLUMNS": "400"})
    assert check.returncode == 0, check.stdout + check.stderr
    assert _keyframe_line(check.stdout) == line
    est = cli("-p", str(root), "estimate", env={**env, "COLUMNS": "400"})
    assert est.returncode == 0, est.stdout + est.stderr
    assert _keyframe_line(est.stdout) == f"cast keyframe: {line}"
    doc = json.loads(cli("-p", str(root), "estimate", "--json", env=env, check=True).stdout)
    assert doc["cast_keyframes"] == [line]


def test_no_keyframe_line_without_the_opt_in(tmp_path, cli):
    root = _project(tmp_path / "q", "runway:gen4_turbo", {"mia": ["mia1.png"]}, keyframe=False)
    env = {"RUNWAYML_API_SECRET": KEYS["runway"]}
    assert cast_keyframe_lines(Project.open(root).spec, str(root)) == []
    est = cli("-p", str(root), "estimate", env=env, check=True)
    assert "cast keyframe" not in est.stdout
    assert json.loads(cli("-p", str(root), "estimate", "--json", env=env, check=True).stdout)["cast_keyframes"] == []
