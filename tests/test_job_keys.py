"""Job identity from the shot's inputs: formatting code and the project's folder do not re-key takes.

A take's job key hashes what the director wrote (and the refs' bytes), never the text our code
formats from it nor where the project lives. These tests do exactly what the issue says: change
the prompt formatting code, or copy the project folder elsewhere, and `generate` creates nothing.
Older catalogs (key version 0: the hash of the formatted request) are re-keyed, not re-made.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from PIL import Image

from dreamcut.generate import batch
from dreamcut.generate.batch import KEY_VERSION, plan_takes
from dreamcut.generate.orchestrator import Orchestrator, migrate_job_keys
from dreamcut.project import Project
from conftest import hear_song_once
from serve_helpers import cli_env, make_project


def _project(root: Path) -> Path:
    hear_song_once(make_project(root, shots=3, takes=2, seconds=1, backend="animatic", size="64x64", fps=8,
                                extra="style: grainy 16mm film", shot_extra=""))  # keys, not the song, are the subject
    Image.new("RGB", (64, 64), (200, 40, 40)).save(root / "refs.png")
    (root / "refs").mkdir()
    shutil.move(root / "refs.png", root / "refs" / "red.png")
    text = (root / "dreamcut.yaml").read_text().replace(
        "  - id: s000\n", "  - id: s000\n    refs: [refs/red.png]\n")
    (root / "dreamcut.yaml").write_text(text)
    return root


def _generate(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), "generate"], env=cli_env(),
                          capture_output=True, text=True, timeout=120)


def _counts(root: Path) -> tuple[int, int]:
    with sqlite3.connect(root / ".dreamcut" / "catalog.sqlite") as db:
        return (db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM takes").fetchone()[0])


def _run(root: Path):
    project = Project.open(root)
    planned = plan_takes(project.spec, root=str(project.root))
    return planned, Orchestrator(project, sign_takes=False).run(planned)


def test_changing_prompt_formatting_creates_nothing(tmp_path, monkeypatch):
    root = _project(tmp_path / "p")
    planned, first = _run(root)
    assert first.made == 6 and first.failed == 0
    before_keys = [p.key for p in planned]
    jobs, takes = _counts(root)

    # Change the prompt formatting code: a different separator between subject and style, and
    # a different shaping per backend. The formatted text changes; the take identity must not.
    real_compose = batch.compose

    def compose_with_new_separator(spec, shot, variant=0, seconds=None):
        c = real_compose(spec, shot, variant, seconds)
        return replace(c, text=f"{c.style} — {c.subject}")

    monkeypatch.setattr(batch, "compose", compose_with_new_separator)
    monkeypatch.setattr(batch, "format_for_backend", lambda composed, name, n: composed.text.upper())
    planned2, again = _run(root)
    assert [p.request.prompt for p in planned2] != [p.request.prompt for p in planned]  # the formatting did change
    assert [p.key for p in planned2] == before_keys
    assert again.made == 0 and again.skipped == 6
    assert _counts(root) == (jobs, takes)


def test_the_key_does_not_read_the_formatted_text(tmp_path):
    root = _project(tmp_path / "p")
    project = Project.open(root)
    p = plan_takes(project.spec, root=str(project.root))[0]
    reformatted = replace(p, request=replace(p.request, prompt="anything our code writes", caption="other caption"))
    assert reformatted.key == p.key
    # ...but the director's words, the seed and the refs' bytes are the take's identity
    shot = project.spec.shots[0]
    edited = replace(p, inputs=batch.spec_inputs(project.spec, shot.model_copy(update={"prompt": "a new idea"})))
    assert edited.key != p.key
    assert replace(p, request=replace(p.request, seed=p.request.seed + 1)).key != p.key
    key = p.key
    Image.new("RGB", (64, 64), (0, 200, 0)).save(root / "refs" / "red.png")  # same path, other bytes
    assert plan_takes(project.spec, root=str(project.root))[0].key != key


def test_copying_the_project_folder_creates_nothing(tmp_path):
    root = _project(tmp_path / "p")
    r = _generate(root)
    assert r.returncode == 0, r.stderr
    counts = _counts(root)
    copy = tmp_path / "elsewhere" / "copied"
    shutil.copytree(root, copy)
    shutil.rmtree(root)  # the refs' old absolute paths are gone too
    r = _generate(copy)
    assert r.returncode == 0, r.stderr
    assert "made 0, already there 6," in r.stdout, r.stdout
    assert _counts(copy) == counts
    sidecars = list((copy / "takes").rglob("*.json"))
    assert sidecars and all(str(tmp_path) not in s.read_text() for s in sidecars)  # refs stored relative


def test_a_key_version_0_catalog_is_rekeyed_not_remade(tmp_path):
    """An existing project keyed the old way (hash of the formatted request) keeps its takes."""
    root = _project(tmp_path / "p")
    planned, first = _run(root)
    assert first.made == 6
    project = Project.open(root)
    db = project.catalog.db
    for p in planned:  # write the catalog as the previous dreamcut did: old keys, key version 0
        old = p.request.key(str(p.backend))
        db.execute("UPDATE jobs SET key=?, key_version=0 WHERE key=?", (old, p.key))
        db.execute("UPDATE takes SET job_key=? WHERE job_key=?", (old, p.key))
        db.execute("UPDATE ledger SET job_key=? WHERE job_key=?", (old, p.key))
    assert db.execute("SELECT COUNT(*) FROM jobs WHERE key_version=0").fetchone()[0] == 6
    project.catalog.close()
    r = _generate(root)
    assert r.returncode == 0, r.stderr
    assert "made 0, already there 6," in r.stdout, r.stdout
    with sqlite3.connect(root / ".dreamcut" / "catalog.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM jobs WHERE key_version=?", (KEY_VERSION,)).fetchone()[0] == 6
        assert sorted(r[0] for r in db.execute("SELECT job_key FROM takes")) == sorted(p.key for p in planned)
    assert migrate_job_keys(Project.open(root), planned) == 0  # once
