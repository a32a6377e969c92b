"""`dreamcut render` outputs: written once before signing, replaced only when finished and signed, no orphans.

Real processes throughout: the CLI in a subprocess, real ffmpeg (wrapped by a shell script that logs
each call's output file, to count writes), real signing and verification, real `kill -9`.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO
from dreamcut import timeline as tl
from dreamcut.media import ffmpeg_exe, probe, sweep_stale
from dreamcut.provenance import verify
from finishing_kit import Cut, build_timeline, make_project

MASTER, FINAL = "final_320x180.mp4", "final_640x360.mp4"


def _env(log: Path | None = None, *, detached: bool = False) -> dict[str, str]:
    """The CLI's environment; with `log`, ffmpeg runs through a wrapper that logs each call's output file.

    detached: the wrapper gives ffmpeg no pipe back to its parent (progress and errors to
    /dev/null), so a dead parent's closed pipes cannot stop it, and reads the song at real-time
    speed (`-readrate 1`), so the render cannot finish by itself while the test looks: only
    the parent-death signal can stop it.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    if log is not None:
        wrapper = log.with_suffix(".py")
        wrapper.write_text(f"""#!{sys.executable}
import os, sys
args = sys.argv[1:]
with open({str(log)!r}, "a") as f:
    f.write(args[-1] + "\\n")
if {detached!r}:
    args = ["/dev/null" if a == "pipe:1" and args[i - 1] == "-progress" else a for i, a in enumerate(args)]
    if "-i" in args:
        k = args.index("-i")
        args[k:k] = ["-readrate", "1"]
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
os.execv({ffmpeg_exe()!r}, [{ffmpeg_exe()!r}, *args])
""")
        wrapper.chmod(0o755)
        env["DREAMCUT_FFMPEG"] = str(wrapper)
    return env


def _dreamcut(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=600)


def _write_edit(root: Path, cuts: list[Cut]) -> None:
    tl.write_timeline(build_timeline(cuts, song="song.wav"), root / "edits" / "cut.otio")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _strays(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "renders").iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("outputs") / "p")
    _write_edit(root, [Cut("takes/s0/s0_t1.mp4", 0.5, 2.0, "zoom", 12), Cut("takes/s1/s1_t1.mp4", 0.5, 2.0, speed=0.9),
                       Cut("takes/s2/s2_t1.mp4", 0.5, 2.0)])
    return root


def test_each_output_is_encoded_once_then_signed(project, tmp_path):
    log = tmp_path / "ffmpeg.log"
    proc = _dreamcut(project, "render", env=_env(log))
    assert proc.returncode == 0, proc.stderr
    outputs = [Path(line).name for line in log.read_text().splitlines()]
    # every ffmpeg run that wrote a render file (under its temp name): one for the master, one for the final
    assert sum(1 for n in outputs if "final_320x180" in n) == 1, outputs
    assert sum(1 for n in outputs if "final_640x360" in n) == 1, outputs
    assert all(n.startswith(".") for n in outputs if "final_" in n), "written under temp names only"
    for name in (MASTER, FINAL):
        path = project / "renders" / name
        report = verify(path)
        assert report.has_manifest and report.valid, (name, report.problems)
        tags = probe(path).metadata
        assert tags.get("ai_generated") in ("true", "false") and "dreamcut" in tags.get("comment", "")
    assert verify(project / "renders" / FINAL).parent == MASTER   # the manifest names the file, not a temp name
    assert _strays(project) == []


def test_a_failing_render_leaves_the_previous_signed_render_byte_identical(project):
    if not (project / "renders" / FINAL).exists():
        assert _dreamcut(project, "render", env=_env()).returncode == 0
    before = {n: _digest(project / "renders" / n) for n in (MASTER, FINAL)}
    env = _env()
    env["DREAMCUT_C2PA_CERT"] = str(project / "dreamcut.yaml")   # a bad signing setting: a cert without a key
    env.pop("DREAMCUT_C2PA_KEY", None)
    _write_edit(project, [Cut("takes/s2/s2_t1.mp4", 0.0, 1.5), Cut("takes/s0/s0_t1.mp4", 0.0, 1.5)])  # a new edit
    proc = _dreamcut(project, "render", env=env)
    assert proc.returncode == 2 and "DREAMCUT_C2PA_KEY" in proc.stderr
    assert {n: _digest(project / "renders" / n) for n in (MASTER, FINAL)} == before
    assert _strays(project) == []


def test_kill_9_takes_ffmpeg_with_it_and_the_next_run_sweeps(tmp_path):
    root = make_project(tmp_path / "p", song_seconds=70.0)
    # a long cut (no transitions, so ffmpeg starts at once)
    _write_edit(root, [Cut(f"takes/s{i % 3}/s{i % 3}_t1.mp4", 0.0, 3.0) for i in range(22)])
    env = _env(tmp_path / "ffmpeg.log", detached=True)
    proc = subprocess.Popen([sys.executable, "-m", "dreamcut", "--project", str(root), "render"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ffmpeg = None
    deadline = time.monotonic() + 120
    while ffmpeg is None and time.monotonic() < deadline and proc.poll() is None:
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                if any("final_320x180.pid" in a for a in child.cmdline()):
                    ffmpeg = child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.02)
    assert ffmpeg is not None, "the render's ffmpeg was never seen"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    gone = False
    deadline = time.monotonic() + 30
    while not gone and time.monotonic() < deadline:
        try:
            gone = ffmpeg.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            gone = True
        time.sleep(0.05)
    assert gone, "ffmpeg outlived the render it belonged to"
    assert any(n.startswith(".") for n in os.listdir(root / "renders"))   # the dead run's temp files
    _write_edit(root, [Cut("takes/s0/s0_t1.mp4", 0.0, 1.0)])
    again = _dreamcut(root, "render", env=_env())
    assert again.returncode == 0, again.stderr
    assert _strays(root) == []


def test_sweep_keeps_a_live_writers_files(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = [f".final.pid{dead.pid}.x1.part.mp4", f".cut.pid{os.getpid()}.x2.part.otio", ".old.x3.part.mp4",
             "final.mp4", ".hidden"]
    for n in names:
        (tmp_path / n).write_text("x")
    (tmp_path / f".dreamcut-render-pid{dead.pid}-abc").mkdir()
    (tmp_path / f".dreamcut-render-pid{os.getpid()}-def").mkdir()
    removed = sorted(p.name for p in sweep_stale(tmp_path))
    assert removed == sorted([f".final.pid{dead.pid}.x1.part.mp4", ".old.x3.part.mp4",
                              f".dreamcut-render-pid{dead.pid}-abc"])
    assert sorted(os.listdir(tmp_path)) == sorted([f".cut.pid{os.getpid()}.x2.part.otio", "final.mp4", ".hidden",
                                                   f".dreamcut-render-pid{os.getpid()}-def"])


def test_a_failing_export_leaves_the_previous_exports(project):
    assert _dreamcut(project, "export", env=_env()).returncode == 0
    names = ("cut.otio", "premiere.xml", "cut.edl", "reels.txt", "NOTES.txt", "cut.otio.c2pa.json")
    before = {n: _digest(project / "exports" / n) for n in names}
    assert verify(project / "exports" / "premiere.xml").valid
    env = _env()
    env["DREAMCUT_C2PA_CERT"] = str(project / "dreamcut.yaml")
    env.pop("DREAMCUT_C2PA_KEY", None)
    _write_edit(project, [Cut("takes/s1/s1_t1.mp4", 0.0, 1.0), Cut("takes/s0/s0_t1.mp4", 0.0, 1.0)])
    proc = _dreamcut(project, "export", env=env)
    assert proc.returncode == 2 and "DREAMCUT_C2PA_KEY" in proc.stderr
    assert {n: _digest(project / "exports" / n) for n in names} == before
    assert not [p.name for p in (project / "exports").iterdir() if p.name.startswith(".")]


def test_kill_9_during_export_and_the_next_export_sweeps(tmp_path):
    """The export's work folder and temp files of a killed run are gone after the next export."""
    root = make_project(tmp_path / "p")
    _write_edit(root, [Cut("takes/s0/s0_t1.mp4", 0.5, 2.0, "zoom", 12), Cut("takes/s1/s1_t1.mp4", 0.5, 2.0, "dip", 8),
                       Cut("takes/s2/s2_t1.mp4", 0.5, 2.0)])
    proc = subprocess.Popen([sys.executable, "-m", "dreamcut", "--project", str(root), "export"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    exports = root / "exports"
    seen = False
    deadline = time.monotonic() + 120
    while not seen and time.monotonic() < deadline and proc.poll() is None:
        seen = exports.is_dir() and any(p.name.startswith(".dreamcut-export-pid") for p in exports.iterdir())
        time.sleep(0.01)
    assert seen, "the export's work folder was never seen"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert any(p.name.startswith(".") for p in exports.iterdir())
    again = _dreamcut(root, "export", env=_env())
    assert again.returncode == 0, again.stderr
    strays = [p.relative_to(exports).as_posix() for p in exports.rglob(".*")]
    assert strays == [], strays
    assert (exports / "premiere.xml").is_file() and (exports / "cut.edl").is_file()


@pytest.mark.slow
def test_twenty_kills_of_render_and_export_lose_nothing_and_leave_no_stray(tmp_path):
    """Issue 19: 20 `kill -9`s of render and export at staggered moments; after each, the previous
    outputs are still there and signed; after the next full run, no stray file is left anywhere."""
    root = make_project(tmp_path / "p", song_seconds=12.0)
    _write_edit(root, [Cut(f"takes/s{i % 3}/s{i % 3}_t1.mp4", 0.25, 2.0, "zoom" if i % 2 else "cut", 6)
                       for i in range(5)])
    env = _env()
    assert _dreamcut(root, "render", env=env).returncode == 0
    assert _dreamcut(root, "export", env=env).returncode == 0
    delays = [0.4 + 0.35 * k for k in range(10)]  # from start-up to deep into the encode
    for n in range(20):
        command = ["render", "--force"] if n % 2 == 0 else ["export"]
        proc = subprocess.Popen([sys.executable, "-m", "dreamcut", "--project", str(root), *command], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delays[n // 2])
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        for name in (MASTER, FINAL):  # the last good render survives every kill, signed
            report = verify(root / "renders" / name)
            assert report.has_manifest and report.valid, (n, command, name, report.problems)
        assert (root / "exports" / "premiere.xml").is_file() and verify(root / "exports" / "premiere.xml").valid
    assert _dreamcut(root, "render", "--force", env=env).returncode == 0
    assert _dreamcut(root, "export", env=env).returncode == 0
    assert _strays(root) == []
    strays = [p.relative_to(root).as_posix() for folder in ("renders", "exports") for p in (root / folder).rglob(".*")]
    assert strays == [], strays
