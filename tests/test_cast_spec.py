"""`cast:` in the shot list: validated like the rest of the spec, woven into prompts from one
source, and keyed so an unused cast block re-keys nothing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import run_cli, small_spec_head, write_song
from dreamcut.generate.batch import plan_takes
from dreamcut.spec import load_spec, parse_spec_text

BASE = small_spec_head("Cast") + """\
{cast}shots:
  - id: one
    prompt: a corridor at dusk, slow zoom
{shot_cast}  - id: two
    prompt: a classroom in the 1980s
"""

CAST = """\
cast:
  - name: mia
    description: a young woman in a red raincoat with short black hair
    refs: [mia.png]
  - name: lighthouse
    kind: place
    description: a white lighthouse on black rocks
"""


def write_project(root: Path, cast: str = CAST, shot_cast: str = "    cast: [mia, lighthouse]\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dreamcut.yaml").write_text(BASE.format(cast=cast, shot_cast=shot_cast))
    write_song(root / "song.wav", 3.0, rate=22050, channels=1)
    img = np.zeros((64, 48, 3), np.uint8)
    img[:] = (40, 40, 200)
    cv2.imwrite(str(root / "mia.png"), img)
    return root


def one_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_description_is_woven_into_prompts_of_the_shots_that_name_the_member(tmp_path):
    root = write_project(tmp_path / "p")
    spec = load_spec(root / "dreamcut.yaml")
    plans = {p.shot_id: p for p in plan_takes(spec, root=str(root))}
    one, two = plans["one"].request.prompt, plans["two"].request.prompt
    assert "Mia is a young woman in a red raincoat with short black hair" in one
    assert "Lighthouse: a white lighthouse on black rocks" in one
    assert "raincoat" not in two and "lighthouse" not in two.lower()
    # every cloud backend's text carries it too (one source: compose -> format_for_backend)
    from dreamcut.prompts import compose, format_for_backend

    composed = compose(spec, spec.shots[0])
    for backend in ("runway", "veo", "luma", "openai-videos", "diffusers"):
        assert "red raincoat" in format_for_backend(composed, backend, 1000), backend


def test_cast_description_trimmed_after_style_before_the_scene():
    from dreamcut.prompts import compose, format_for_backend

    text = BASE.format(cast=CAST.replace("refs: [mia.png]", "refs: []"), shot_cast="    cast: [mia, lighthouse]\n")
    text = text.replace("fps: 12", "fps: 12\nstyle: grainy 16mm film, warm tungsten light, deep shadows, halation")
    spec = parse_spec_text(text)
    composed = compose(spec, spec.shots[0])
    full = format_for_backend(composed, "runway", 1000)
    assert "halation" in full and "lighthouse" in full.lower()
    short = format_for_backend(composed, "runway", len(full) - 30)
    assert "halation" not in short and "red raincoat" in short
    shorter = format_for_backend(composed, "runway", len(composed.subject) + len("Mia is a young woman in a red raincoat with short black hair.") + 2)
    assert "red raincoat" in shorter and "white lighthouse" not in shorter and "corridor" in shorter


def test_unused_cast_block_rekeys_nothing_and_naming_a_member_does(tmp_path):
    plain = write_project(tmp_path / "plain", cast="", shot_cast="")
    unused = write_project(tmp_path / "unused", shot_cast="")
    used = write_project(tmp_path / "used")
    keys = {name: {p.shot_id: p.key for p in plan_takes(load_spec(r / "dreamcut.yaml"), root=str(r))}
            for name, r in (("plain", plain), ("unused", unused), ("used", used))}
    assert keys["plain"] == keys["unused"]
    assert keys["used"]["one"] != keys["plain"]["one"] and keys["used"]["two"] == keys["plain"]["two"]


def test_unknown_name_in_a_shot_is_one_line_with_file_line_and_fix(tmp_path):
    root = write_project(tmp_path / "p", shot_cast="    cast: [mia, leo]\n")
    line = one_line(run_cli("check", cwd=root))
    assert "dreamcut.yaml:20" in line and "shots[0] (id: one).cast" in line and "'leo'" in line
    assert "mia, lighthouse" in line and "fix:" in line


@pytest.mark.parametrize("problem,words", [
    ("missing", ("cast[0] (mia).refs[0]", "'gone.png' does not exist", "dreamcut.yaml:13")),
    ("not-image", ("cast[0] (mia).refs[0]", "not a PNG, JPEG or WebP", "dreamcut.yaml:13")),
])
def test_bad_reference_is_one_line_naming_file_field_and_fix(tmp_path, problem, words):
    root = write_project(tmp_path / "p")
    if problem == "missing":
        (root / "dreamcut.yaml").write_text((root / "dreamcut.yaml").read_text().replace("mia.png", "gone.png"))
    else:
        (root / "mia.png").write_text("not a picture")
    line = one_line(run_cli("check", cwd=root))
    for w in words:
        assert w in line, line
    assert "fix:" in line


@pytest.mark.parametrize("cast,words", [
    ("cast:\n  - name: Two Words\n    description: x\n", ("cast[0].name", "one word")),
    ("cast:\n  - name: mia\n    description: '  '\n", ("cast[0].description", "empty")),
    ("cast:\n  - name: mia\n    description: a\n  - name: mia\n    description: b\n", ("cast[1].name", "used twice")),
    ("cast:\n  - name: mia\n    description: a\n    refs: [ftp://x/y.png]\n", ("cast[0].refs", "https://")),
    ("cast:\n  - name: mia\n    description: " + "x" * 500 + "\n", ("cast[0].description", "400")),
])
def test_cast_fields_are_bounded(cast, words):
    from dreamcut.errors import BadInput

    with pytest.raises(BadInput) as e:
        parse_spec_text(BASE.format(cast=cast, shot_cast=""))
    for w in words:
        assert w in e.value.line(), e.value.line()


def test_a_cast_picture_is_keyed_by_its_content(tmp_path):
    root = write_project(tmp_path / "p")
    before = {p.shot_id: p.key for p in plan_takes(load_spec(root / "dreamcut.yaml"), root=str(root))}
    moved = tmp_path / "moved"
    import shutil

    shutil.copytree(root, moved)  # the same pictures elsewhere: the same keys
    assert {p.shot_id: p.key for p in plan_takes(load_spec(moved / "dreamcut.yaml"), root=str(moved))} == before
    img = np.zeros((64, 48, 3), np.uint8)
    img[:] = (200, 40, 40)
    cv2.imwrite(str(root / "mia.png"), img)  # a new picture of mia: her shots' takes are new takes
    after = {p.shot_id: p.key for p in plan_takes(load_spec(root / "dreamcut.yaml"), root=str(root))}
    assert after["one"] != before["one"] and after["two"] == before["two"]
    plan = next(p for p in plan_takes(load_spec(root / "dreamcut.yaml"), root=str(root)) if p.shot_id == "one")
    assert [(m.name, m.refs) for m in plan.request.cast] == [("mia", (str((root / "mia.png").resolve()),)),
                                                              ("lighthouse", ())]


def test_check_says_what_each_backend_does_with_the_cast(tmp_path):
    import json

    root = write_project(tmp_path / "p")
    text = (root / "dreamcut.yaml").read_text().replace("fps: 12", "fps: 12\nbudget_usd: 10\nbackend: runway:gen4.5")
    text = text.replace("  - id: two\n", "  - id: two\n    backend: animatic\n    cast: [mia]\n")
    (root / "dreamcut.yaml").write_text(text)
    r = run_cli("check", cwd=root)
    assert "cast (what each backend does with the reference images):" in r.stdout, r.stdout + r.stderr
    out = " ".join(r.stdout.split())
    assert "runway:gen4.5: the first cast picture goes in as the first frame (promptImage)" in out
    assert "[shots one: mia, lighthouse]" in out and "mia: mia.png -> first frame (promptImage)" in out
    assert "lighthouse: no pictures (its description in the prompt only)" in out
    assert "animatic: each member drawn as its own figure" in out
    assert "mia: mia.png dropped: the animatic draws the member from its name, not its picture" in out
    doc = json.loads(run_cli("check", "--json", cwd=root).stdout)
    assert any(line.startswith("runway:gen4.5:") for line in doc["cast"])
    # Luma cannot fetch a local picture: check refuses before any money is spent
    (root / "dreamcut.yaml").write_text(text.replace("backend: runway:gen4.5", "backend: luma:ray-2"))
    r = run_cli("check", cwd=root)
    assert r.returncode == 2 and "hosted URLs only" in r.stdout + r.stderr, r.stdout + r.stderr
