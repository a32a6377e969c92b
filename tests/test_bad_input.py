"""Bad input gets one clear line, a non-zero exit code, and nothing in the project lost or half-written."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from conftest import small_spec_head, write_song

GOOD = small_spec_head("Bad input") + """\
shots:
  - id: one
    prompt: a corridor at dusk, slow zoom
  - id: two
    prompt: a classroom in the 1980s
"""


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "dreamcut.yaml").write_text(GOOD)
    write_song(root / "song.wav", 3.0, rate=22050, channels=1)
    return root


def assert_one_line_error(proc, code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines[0]
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize("mutate,words", [
    (lambda t: t.replace("song: song.wav", "song: missing.wav"), ["dreamcut.yaml:3", "missing.wav", "fix:"]),
    (lambda t: t.replace("title: Bad input", "title: [unclosed"), ["dreamcut.yaml:2", "not valid YAML"]),
    (lambda t: t.replace("fps: 12", "fps: 12\nbackend: sorra:2"), ["dreamcut.yaml:5", "unknown backend 'sorra'"]),
    (lambda t: t.replace("take_seconds: 2", "take_seconds: 2\nbackend: runway"), ["needs a model"]),
    (lambda t: t + "    seconds: 0\n", ["shots[1] (id: two).seconds", "greater than 0"]),
    (lambda t: t + "    seconds: -4\n", ["shots[1] (id: two).seconds", "got -4"]),
    (lambda t: t.replace("a classroom in the 1980s", "x" * 100_000), ["shots[1] (id: two).prompt", "characters"]),
    (lambda t: t.replace("takes_per_shot: 1", "takes_per_shot: 100000"), ["takes_per_shot"]),
])
def test_bad_spec_is_one_line_exit_2_and_nothing_changes(project: Path, cli, mutate, words):
    (project / "dreamcut.yaml").write_text(mutate(GOOD))
    before = snapshot(project)
    for command in (["check"], ["generate"], ["make"]):
        proc = cli("--project", str(project), *command)
        assert_one_line_error(proc, 2, *words)
    assert snapshot(project) == before


def test_non_utf8_spec(project: Path, cli):
    (project / "dreamcut.yaml").write_bytes(GOOD.replace("1980s", "1980s caf\xe9").encode("latin-1"))
    before = snapshot(project)
    proc = cli("--project", str(project), "check")
    assert_one_line_error(proc, 2, "dreamcut.yaml:14", "not UTF-8", "save the file as UTF-8")
    assert snapshot(project) == before


def test_corrupt_song(project: Path, cli):
    (project / "song.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    before = snapshot(project)
    proc = cli("--project", str(project), "check")
    assert_one_line_error(proc, 2, "song.wav")
    assert snapshot(project) == before


def test_missing_project_and_unknown_command(tmp_path: Path, cli):
    proc = cli("--project", str(tmp_path / "nowhere"), "check")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:")
    proc = cli("frobnicate")
    assert proc.returncode == 2


def test_every_command_has_help(cli):
    import typer

    from dreamcut.cli import app, load_commands

    load_commands()
    commands = sorted(typer.main.get_command(app).commands)
    assert {"init", "check", "demo", "make", "edit", "render", "export", "conform"} <= set(commands), commands
    for name in commands:
        sub = cli(name, "--help")
        assert sub.returncode == 0, (name, sub.stderr)
        assert "Usage" in sub.stdout


def _make_unwritable(root: Path) -> None:
    """Make `root` refuse new files. Root ignores permission bits, so as root use the
    immutable attribute (chattr +i); otherwise plain permissions."""
    if os.geteuid() == 0:
        proc = subprocess.run(["chattr", "+i", str(root)], capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"running as root and chattr +i is not permitted here: {proc.stderr.decode().strip()}")
    else:
        root.chmod(0o555)


def _make_writable(root: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(root)], capture_output=True)
    root.chmod(0o755)


@pytest.mark.parametrize("command", ["generate", "make", "edit"])
def test_read_only_project_folder(project: Path, cli, command):
    before = snapshot(project)
    _make_unwritable(project)
    try:
        proc = cli("--project", str(project), command)
        assert_one_line_error(proc, 2, "not writable")
        assert snapshot(project) == before
    finally:
        _make_writable(project)
