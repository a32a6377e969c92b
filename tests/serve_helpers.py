"""Helpers shared by the generation tests: a real `dreamcut serve` subprocess and tiny projects."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Serve:
    """`python -m dreamcut serve ...` on a free localhost port; stopped by `close()`.

    The key reaches the server through DREAMCUT_API_KEY (or, with `key_file`, through
    --api-key-file), never on the command line where `ps` would show it.
    """

    def __init__(self, *args: str, api_key: str = "test-key", storage: Path | None = None,
                 key_file: Path | None = None):
        self.port = free_port()
        self.api_key = api_key
        cmd = [sys.executable, "-m", "dreamcut", "serve", "--port", str(self.port), *args]
        env = cli_env(DREAMCUT_API_KEY=api_key)
        if key_file is not None:
            key_file.write_text(api_key + "\n")
            cmd += ["--api-key-file", str(key_file)]
            del env["DREAMCUT_API_KEY"]
        if storage is not None:
            cmd += ["--storage", str(storage)]
        # The server's log goes to a file: a pipe nobody reads would fill up and stall the server.
        self.log = tempfile.NamedTemporaryFile(prefix="dreamcut-serve-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.get("/_dreamcut/health")
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"serve exited: {Path(self.log.name).read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("serve did not start in 30 s")
                time.sleep(0.1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def get(self, path: str) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                     headers={"Authorization": f"Bearer {self.api_key}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def billing(self) -> dict:
        return self.get("/_dreamcut/billing")

    def env(self) -> dict[str, str]:
        return {"OPENAI_API_KEY": self.api_key, "OPENAI_BASE_URL": self.base_url}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def make_project(root: Path, *, shots: int, takes: int = 1, seconds: float = 1.0,
                 backend: str = "openai-videos:testcard", budget: float = 100.0, size: str = "128x72",
                 fps: int = 12, extra: str = "", shot_extra: str = "") -> Path:
    """A generation batch (conftest's `make_project`): `shots` shots of `takes` takes of `seconds`, a silent song."""
    from conftest import make_project as project_folder

    return project_folder(root, shots, song_kind="silence", song_rate=8000, song_channels=1,
                          prompt="shot number {i}, a slow zoom through a corridor" + shot_extra.replace("{", "{{"),
                          extra_yaml=extra, version=1, title="test batch", fps=fps, backend=backend,
                          budget_usd=budget, takes_per_shot=takes, take_seconds=seconds, caption=False,
                          render={"master": size, "resolution": size})
