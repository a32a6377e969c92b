"""Shared fixtures. Tests use real ffmpeg, real SQLite and real files: no mocks of our own code."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# Before any test module imports librosa (numba): dreamcut's import makes numba's compiles take the
# numba cache folder's lock, which the pytest-xdist workers and the CLI processes they start share.
importlib.import_module("dreamcut")

# A worker that dies in native code is reported with its stack and the numba cache's setting.
pytest_plugins = ["_crash_report"]

REPO = Path(__file__).resolve().parents[1]
# shared/ lives beside the checkout; DREAMCUT_SHARED_DATA points elsewhere (e.g. from a git worktree).
SHARED_DATA = Path(os.environ.get("DREAMCUT_SHARED_DATA") or REPO.parent / "shared" / "data")

# The benchmarks' scoring (song_accuracy, bench_audio) is imported by the tests that hold a number to it.
sys.path.insert(0, str(REPO / "benchmarks"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


WARM_NUMBA = """
import faulthandler, sys
faulthandler.enable()
import dreamcut  # first: numba's compiles take the cache folder's lock
from pathlib import Path
from dreamcut.analysis.audio import analyze_song
analyze_song(Path(sys.argv[1]))
"""


def pytest_configure(config):
    """Before pytest-xdist starts its workers, one process compiles librosa's numba functions into the
    shared cache by hearing a short song, so the workers load what it left instead of compiling the
    same functions at the same moment; the cross-process lock (dreamcut/_startup.py) covers what one
    song leaves out. Seconds on a warm cache; on an empty one, the compile the first worker would do."""
    import tempfile

    from dreamcut._startup import crash_line

    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    with tempfile.TemporaryDirectory(prefix="dreamcut-warm-") as folder:
        song = write_song(Path(folder) / "song.wav", seconds=20.0, kind="swell")
        try:
            proc = subprocess.run([sys.executable, "-c", WARM_NUMBA, str(song)], env=src_env(), capture_output=True,
                                  text=True, timeout=600)
        except subprocess.TimeoutExpired:
            print("warming numba's cache took over 600 s; the workers compile what it left", file=sys.stderr)
            return
    if proc.returncode:  # said, and the run goes on: the tests that hear songs will say more
        lines = proc.stderr.strip().splitlines() or ["no message"]
        print(crash_line(proc.returncode, "warming numba's cache") or f"warming numba's cache failed: {lines[-1]}",
              *[line for line in lines if line.startswith("  File")][:8], sep="\n", file=sys.stderr)


# Code run before dreamcut loads (`python -c`, or a sitecustomize.py) that makes this machine a file system
# whose flock cannot be trusted: numba's cache (tests/test_startup.py) and the writer lock (test_one_writer.py).
NO_FLOCK = {
    "excludes nothing": "import fcntl\nfcntl.flock = lambda fd, op: None\n",
    "ENOLCK": "import errno, fcntl\n"
              "def flock(fd, op):\n    raise OSError(errno.ENOLCK, 'No locks available')\nfcntl.flock = flock\n",
}


def src_env(extra: dict | None = None) -> dict:
    """This process's environment with the checkout's src/ first on PYTHONPATH, then `extra`."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra or {})
    return env


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600,
            check: bool = False) -> subprocess.CompletedProcess:
    """Run `python -m dreamcut ARGS` as a real process (so exit codes and stderr are real)."""
    proc = subprocess.run([sys.executable, "-m", "dreamcut", *args], cwd=cwd, env=src_env(env), capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"dreamcut {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_song(path: Path, seconds: float = 6.0, *, rate: int = 44100, channels: int = 2,
               kind: str = "clicks") -> Path:
    """THE test song writer (16-bit WAV), one of three known signals:

    clicks: a 220 Hz tone with a click every half second from t=0 (120 bpm), so loudness and beats are known;
    swell: a 220 Hz tone swelling every 4 s with 120 bpm clicks a quarter beat in (the review and
        ranking tests' song; their expected cuts follow its beats);
    silence: nothing (generation tests, which never listen to it).
    """
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    if kind == "clicks":
        mono = 0.25 * np.sin(2 * np.pi * 220.0 * t) + (np.mod(t, 0.5) < 0.01) * 0.5
    elif kind == "swell":
        beat = (np.sin(2 * np.pi * 2.0 * t) > 0.95).astype(np.float32)
        mono = 0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.25 * t)) + 0.5 * beat
    elif kind == "silence":
        mono = np.zeros_like(t)
    else:
        raise ValueError(f"no song kind {kind!r}")
    mono = mono.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.stack([mono, mono * 0.8], axis=1) if channels == 2 else mono
    sf.write(str(path), data, rate, subtype="PCM_16")
    return path


def small_spec_head(title: str) -> str:
    """The top of a small hand-written dreamcut.yaml (12 fps, one 2 s take per shot, 160x90
    master), up to its `shots:`; for tests that write the shot list as YAML text themselves."""
    return (f"version: 1\ntitle: {title}\nsong: song.wav\nfps: 12\ntakes_per_shot: 1\ntake_seconds: 2\n"
            "render:\n  master: 160x90\n  resolution: 320x180\n")


def make_project(root: Path, shots: int | list[dict] = 3, *, song_seconds: float = 1.0, song_kind: str = "clicks",
                 song_rate: int = 44100, song_channels: int = 2, prompt: str = "shot number {i}",
                 extra_yaml: str = "", **fields: Any) -> Path:
    """THE project factory: a folder with `song.wav` (`write_song`) and a `dreamcut.yaml`.

    shots: the shot entries (dicts: id, prompt, and any shot field), or a count: ids s000, s001, ...
        with `prompt.format(i=i)` as their prompts.
    fields: the spec's top-level fields (title, backend, budget_usd, render, ...; a dict becomes a
        YAML map); `song: song.wav` and `title: test project` unless given.
    extra_yaml: YAML appended as written (for fields a test wants in a form `fields` cannot say).
    Takes are the callers' own (each kind of test wants its own pictures); see `_takes`,
    `finishing_kit` and `serve_helpers` for the presets built on this.
    """
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    write_song(root / "song.wav", song_seconds, rate=song_rate, channels=song_channels, kind=song_kind)
    if isinstance(shots, int):
        shots = [{"id": f"s{i:03d}", "prompt": prompt.format(i=i)} for i in range(shots)]
    spec = {"title": "test project", "song": "song.wav", **fields, "shots": shots}
    class Indented(yaml.SafeDumper):  # lists indented under their key, as people write dreamcut.yaml
        def increase_indent(self, flow: bool = False, indentless: bool = False):
            return super().increase_indent(flow, False)

    text = yaml.dump(spec, Dumper=Indented, sort_keys=False, allow_unicode=True, width=1000)
    (root / "dreamcut.yaml").write_text(text + (extra_yaml + "\n" if extra_yaml else ""), encoding="utf-8")
    return root


_HEARD: dict[str, Path] = {}  # a song's sha256 -> the folder holding its analysis cache, made this session


def hear_song_once(root: Path) -> Path:
    """Put the song map of `root/song.wav` in the project's analysis cache, as `dreamcut check` leaves it.

    For tests whose subject is not the song (kill -9 and resume, billing): each distinct song is heard
    once per session by the real analysis (`analyze_song`, the function `check` and `generate` call),
    and every project with the same song starts with that cache file instead of hearing it again in its
    first CLI process (librosa's import and numba's compiles: seconds per process on this machine).
    The file is keyed by the song's content hash and ANALYSIS_VERSION, so a changed song is heard anew."""
    import atexit
    import tempfile

    from dreamcut.analysis.audio import analyze_song
    from dreamcut.media import file_sha256

    song = root / "song.wav"
    digest = file_sha256(song)
    if digest not in _HEARD:
        folder = Path(tempfile.mkdtemp(prefix="dreamcut-heard-"))
        atexit.register(shutil.rmtree, folder, True)
        analyze_song(song, cache_dir=folder)
        _HEARD[digest] = folder
    cache = root / ".dreamcut" / "cache" / "audio"
    cache.mkdir(parents=True, exist_ok=True)
    for f in _HEARD[digest].glob("song-*.json"):
        shutil.copy2(f, cache / f.name)
    return root


def point_at(monkeypatch, server, time_scale: float = 500):
    """This test's environment points the backend (and its official SDK) at simulator `server`,
    with the provider's clock `time_scale` times faster. Returns the server."""
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DREAMCUT_PROVIDER_TIME_SCALE", f"{time_scale:g}")
    return server


@pytest.fixture
def cli():
    return run_cli


# -- THE demo project (`dreamcut demo --short`): built once per session ----------------------------


@pytest.fixture(scope="session")
def short_demo_build(tmp_path_factory) -> Path:
    """`dreamcut demo --short` built once for the session (it takes half a minute); never change it:
    take a copy with `copy_project` (tests/test_e2e.py, tests/test_edit_room_demo.py)."""
    root = tmp_path_factory.mktemp("short-demo") / "demo"
    run_cli("demo", str(root), "--short", timeout=900, check=True)
    return root


def copy_project(src: Path, dest: Path) -> Path:
    """A copy of project `src` at `dest` to change (times kept: its renders stay current)."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


@pytest.fixture(scope="session")
def shared_nle() -> Path:
    path = SHARED_DATA / "nle"
    if not path.is_dir():
        pytest.skip(f"shared test data not present at {path} (it lives beside the checkout)")
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


# -- `dreamcut serve`: the one fixture -------------------------------------------------------------


@pytest.fixture(scope="module")
def serve_args() -> tuple[str, ...]:
    """The options of this module's `serve`; a module that wants others overrides this fixture."""
    return ("--backend", "testcard")


@pytest.fixture(scope="module")
def serve_key_file() -> bool:
    """Whether this module's `serve` reads its key from --api-key-file (else DREAMCUT_API_KEY)."""
    return False


@pytest.fixture(scope="module")
def serve(serve_args, serve_key_file, tmp_path_factory):
    """A real `dreamcut serve` subprocess (serve_helpers.Serve) for the whole module, with `serve_args`."""
    from serve_helpers import Serve

    root = tmp_path_factory.mktemp("serve")
    s = Serve(*serve_args, storage=root / "store", key_file=root / "key.txt" if serve_key_file else None)
    yield s
    s.close()


@pytest.fixture
def start_serve(tmp_path):
    """Start further `dreamcut serve` processes inside one test: `start_serve(*args, **Serve options)`;
    each has its own storage under tmp_path and all are stopped when the test ends."""
    from serve_helpers import Serve

    started: list = []

    def start(*args: str, **options):
        options.setdefault("storage", tmp_path / f"serve-{len(started)}")
        s = Serve(*args, **options)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()
