"""`dreamcut verify` inside a project re-hashes the cast keyframe a take names in its Content
Credentials (`provenance.verification.check_keyframe_file`): "keyframe file matches" while the
project's keyframe is the image signed with the take; a clear line and exit 1 (like other tampering)
once it changed; --json carries it. Real project, Runway simulator, real signing."""

from __future__ import annotations

import json

from PIL import Image

from dreamcut.media import file_sha256
from test_keyframe_credentials import _project, _take, runway_running


def test_verify_rehashes_the_projects_keyframe_file(monkeypatch, tmp_path, cli):
    with runway_running(monkeypatch):
        root = _project(tmp_path / "k", keyframe=True)
        project, take = _take(root)
    keyframe = project.keyframes_dir / f"{take.job_key}.png"
    signed = file_sha256(keyframe)
    rel = keyframe.relative_to(root).as_posix()
    path = root / take.path
    project.catalog.close()

    out = cli("verify", str(path), cwd=root)  # the current folder's project
    text = " ".join(out.stdout.split())
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"keyframe file matches ({rel})" in text and "no tampering detected" in text, text
    doc = json.loads(cli("verify", str(path), "--json", cwd=root).stdout)
    assert doc["keyframe_file"] == {"path": rel, "sha256": signed, "state": "matches"} and doc["exit_code"] == 0
    # outside any project, the credentials are read but no project file is re-hashed
    away = cli("verify", str(path), "--json", cwd=tmp_path)
    assert away.returncode == 0 and json.loads(away.stdout)["keyframe_file"] is None

    Image.new("RGB", Image.open(keyframe).size, (0, 200, 0)).save(keyframe, "PNG")  # the keyframe is changed
    now = file_sha256(keyframe)
    out = cli("-p", str(root), "verify", str(path), cwd=tmp_path)  # --project names it
    text = " ".join(out.stdout.split())
    assert out.returncode == 1, out.stdout + out.stderr
    assert (f"KEYFRAME FILE CHANGED: {rel} is not the image signed with this take "
            f"(sha256 now {now[:16]}, signed {signed[:16]})") in text, text
    assert "the take itself is unchanged" in text and "no tampering detected" not in text, text
    js = cli("verify", str(path), "--json", cwd=root)
    doc = json.loads(js.stdout)
    assert js.returncode == 1 and doc["exit_code"] == 1
    assert doc["keyframe_file"] == {"path": rel, "sha256": now, "state": "changed"}

    keyframe.unlink()  # gone: said, not tampering
    out = cli("verify", str(path), cwd=root)
    assert out.returncode == 0 and "keyframe file no longer in this project (not re-hashed)" in " ".join(
        out.stdout.split()), out.stdout
