"""A take animated from its cast keyframe names that image in its Content Credentials: a `componentOf`
ingredient (the keyframe is the take's first frame) placed by a `c2pa.placed` action, its SHA-256 in
dreamcut's take assertion, and `dreamcut verify` says it. Real project, Runway simulator, real signing."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from PIL import Image

from conftest import make_project, point_at
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.media import file_sha256
from dreamcut.project import Project
from dreamcut.provenance import TAKE_ASSERTION, active_manifest, assertion, read_manifest_store, verify

KEY = "rw-secret-key-0123456789abcdef"


def _project(root: Path, keyframe: bool) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 64), (200, 30, 40)).save(root / "mia.png", "PNG")
    cast = [{"name": "mia", "description": "mia, a dancer in a yellow coat", "refs": ["mia.png"]}]
    shot = {"id": "s1", "prompt": "dancing on a rooftop at dusk", "seconds": 5, "cast": ["mia"]}
    if keyframe:
        shot["cast_keyframe"] = True
    else:
        shot["refs"] = ["mia.png"]
    return make_project(root, [shot], song_kind="silence", song_seconds=5, title="keyframe credentials", fps=24,
                        backend="runway:gen4_turbo", budget_usd=50, takes_per_shot=1, caption=False, cast=cast,
                        render={"master": "1280x720", "resolution": "1280x720"})


def _take(root: Path):
    project = Project.open(root)
    planned = plan_takes(project.spec, root=str(root))
    summary = Orchestrator(project, poll_interval=0.01).run(planned)  # takes signed, as `generate` does
    assert summary.made == 1, summary.failures
    return project, project.catalog.take_for_job(planned[0].key)


@contextlib.contextmanager
def runway_running(monkeypatch):
    """The Runway simulator, with this test's environment pointing the backend at it (fast clock)."""
    from simulators.runway import RunwaySim

    server = RunwaySim(key=KEY).start()
    try:
        yield point_at(monkeypatch, server)
    finally:
        server.stop()


def test_a_take_names_its_cast_keyframe_as_an_ingredient_and_verify_says_it(monkeypatch, tmp_path, cli):
    with runway_running(monkeypatch):
        root = _project(tmp_path / "k", keyframe=True)
        project, take = _take(root)
        keyframe = project.keyframes_dir / f"{take.job_key}.png"
        digest = file_sha256(keyframe)
        path = root / take.path
        m = active_manifest(read_manifest_store(path))
        [ing] = m["ingredients"]
        assert ing["relationship"] == "componentOf" and ing["title"] == keyframe.name
        assert ing["format"] == "image/png"
        placed = [a for a in next(x["data"]["actions"] for x in m["assertions"] if x["label"].startswith("c2pa.actions"))
                  if a["action"] == "c2pa.placed"]
        assert len(placed) == 1
        assert assertion(m, TAKE_ASSERTION)["cast_keyframe"] == {"file": keyframe.name, "sha256": digest}
        report = verify(path, project)
        assert report.valid and not report.tampered and report.takes == []
        assert report.keyframe == {"file": keyframe.name, "sha256": digest}
        out = cli("verify", str(path), cwd=root)
        assert out.returncode == 0, out.stderr
        assert f"animated from its cast keyframe {keyframe.name} (sha256 {digest[:16]})" in " ".join(out.stdout.split())
        js = cli("verify", str(path), "--json", cwd=root)
        assert json.loads(js.stdout)["keyframe"] == {"file": keyframe.name, "sha256": digest}

        plain = _project(tmp_path / "p", keyframe=False)  # no keyframe: no ingredient, nothing said
        _, take = _take(plain)
        m = active_manifest(read_manifest_store(plain / take.path))
        assert not m.get("ingredients") and "cast_keyframe" not in assertion(m, TAKE_ASSERTION)
        assert verify(plain / take.path).keyframe is None
