"""The orchestrator in-process: budget, terminal failures, long takes, cancel, Ray; and the CLI's refusals."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from dreamcut.backends.base import Capabilities, GenerationRequest, LocalBackend
from dreamcut.backends.openai_videos import OpenAIVideosBackend
from dreamcut.errors import BadInput
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.cost import segment_plan
from dreamcut.generate.orchestrator import Limits, Orchestrator, RateLimiter, backoff_delay
from dreamcut.media import FrameWriter, probe, read_frames
from dreamcut.project import Project
from conftest import hear_song_once
from serve_helpers import make_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class SolidBackend(LocalBackend):
    """Test-only local backend: a flat clip whose colour comes from the reference image, if any."""

    name: str = "solid"
    max_seconds: float = 120.0
    requests: list = field(default_factory=list)

    def capabilities(self) -> Capabilities:
        return Capabilities(max_seconds=self.max_seconds, image_conditioning=True, local=True)

    def render(self, request: GenerationRequest, dest: Path, progress=None) -> None:
        self.requests.append(request)
        colour = 40 + 30 * len(self.requests)
        if request.refs:
            from PIL import Image

            colour = int(np.asarray(Image.open(request.refs[0])).mean()) + 20  # carries on from the last frame
        with FrameWriter(dest, request.width, request.height, request.fps,
                         codec_args=("-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p")) as w:
            for _ in range(request.frame_count):
                w.write(np.full((request.height, request.width, 3), min(colour, 250), np.uint8))


@pytest.fixture(scope="module")
def serve_args():
    return ("--backend", "testcard", "--latency", "0.3", "--workers", "4", "--poll-after-ms", "100",
            "--blocked-words", "forbidden", "--fps", "8")


@pytest.fixture
def cloud_env(serve, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", serve.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", serve.base_url)


def _sora_project(root: Path, *, seconds: float, budget: float, shots: int = 1, shot_extra: str = "") -> Project:
    make_project(root, shots=shots, takes=1, seconds=seconds, backend="openai-videos:sora-2", budget=budget,
                 size="1280x720", fps=8, shot_extra=shot_extra)
    return Project.open(root)


# -- pure decisions ---------------------------------------------------------------------------

def test_segment_plans():
    sora = Capabilities(min_seconds=4, max_seconds=12, durations=(4, 8, 12))
    assert segment_plan(sora, 8) == [8]
    assert segment_plan(sora, 20) == [12, 8]
    assert segment_plan(sora, 36) == [12, 12, 12]
    assert segment_plan(sora, 6) is None
    free = Capabilities(max_seconds=5)
    assert segment_plan(free, 4) == [4]
    assert segment_plan(free, 12) == pytest.approx([4, 4, 4])


def test_backoff_honours_retry_after_and_jitters():
    import random

    rng = random.Random(0)
    assert 2.0 <= backoff_delay(0, 0.5, 30, 2.0, rng) <= 2.3
    delays = [backoff_delay(3, 0.5, 30, None, rng) for _ in range(50)]
    assert all(2.0 <= d <= 4.0 for d in delays) and len(set(delays)) > 40
    assert all(backoff_delay(20, 0.5, 30, None, rng) <= 30 for _ in range(10))


def test_rate_limiter_spaces_calls():
    limiter = RateLimiter(20.0, burst=1)
    start = time.monotonic()
    for _ in range(6):
        limiter.acquire()
    assert time.monotonic() - start >= 0.2  # 5 waits of 1/20 s after the first


# -- against a real server -------------------------------------------------------------------------

def test_budget_refuses_before_any_request(tmp_path, serve, cloud_env):
    project = _sora_project(tmp_path / "p", seconds=20, budget=1.0)
    before = serve.billing()["creates"]
    with pytest.raises(BadInput, match=r"costs \$2.00 but the budget leaves \$1.00"):
        Orchestrator(project).run(plan_takes(project.spec, root=str(project.root)))
    assert serve.billing()["creates"] == before
    assert project.catalog.jobs() == []


def test_long_take_chains_with_extend(tmp_path, serve, cloud_env):
    project = _sora_project(tmp_path / "p", seconds=20, budget=5.0)
    before = serve.billing()
    summary = Orchestrator(project, poll_interval=0.05).run(plan_takes(project.spec, root=str(project.root)))
    assert summary.made == 1 and summary.failed == 0
    take = project.catalog.takes()[0]
    assert abs(probe(project.abs(take.path)).duration - 20) < 0.3
    kinds = sorted((r["kind"], r["key"][-3:]) for r in project.catalog.jobs())
    assert [k for k in kinds if k[0] == "segment"] == [("segment", ".s0"), ("segment", ".s1")]
    assert len(kinds) == 3  # the take and its two durable segments
    after = serve.billing()
    assert after["creates"] - before["creates"] == 2  # a 12 s create and an 8 s extension
    billed = after["billed_usd"] - before["billed_usd"]
    assert project.catalog.spent_usd() == pytest.approx(billed) == pytest.approx(2.0)
    assert take.cost_usd == pytest.approx(2.0) and project.catalog.reserved_usd() == 0
    # a re-run makes nothing and pays nothing
    again = Orchestrator(project).run(plan_takes(project.spec, root=str(project.root)))
    assert again.skipped == 1 and serve.billing()["creates"] == after["creates"]


def test_terminal_failure_is_recorded_and_not_retried(tmp_path, serve, cloud_env):
    project = _sora_project(tmp_path / "p", seconds=4, budget=5.0, shots=2, shot_extra=" with forbidden words")
    planned = plan_takes(project.spec, root=str(project.root))
    summary = Orchestrator(project, poll_interval=0.05).run(planned)
    assert summary.failed == 2 and all("moderation_blocked" in r for _, r in summary.failures)
    rows = project.catalog.jobs("failed")
    assert all(r["error_code"] == "moderation_blocked" and r["error_message"] for r in rows)
    creates = serve.billing()["creates"]
    again = Orchestrator(project).run(planned)
    assert again.failed == 2 and serve.billing()["creates"] == creates
    assert project.catalog.spent_usd() == 0 and project.catalog.reserved_usd() == 0


def test_cancel_from_another_process_view(start_serve, tmp_path, monkeypatch):
    slow = start_serve("--backend", "testcard", "--latency", "60")
    monkeypatch.setenv("OPENAI_API_KEY", slow.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", slow.base_url)
    project = _sora_project(tmp_path / "p", seconds=4, budget=5.0, shots=2)
    planned = plan_takes(project.spec, root=str(project.root))
    _ = project.catalog  # created before the thread starts, so this test can watch it
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault(
        "summary", Orchestrator(project, poll_interval=0.05).run(planned)))
    runner.start()
    db = project.catalog_path
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as c:
            if c.execute("SELECT COUNT(*) FROM jobs WHERE state='running'").fetchone()[0] == 2:
                break
        time.sleep(0.05)
    assert Project.open(project.root).catalog.reserved_usd() == pytest.approx(0.8)
    n = Orchestrator(Project.open(project.root)).cancel()  # its own catalog connection, like `dreamcut cancel`
    runner.join(timeout=30)
    assert n == 2 and result["summary"].canceled == 2
    assert slow.billing()["videos"] == 0  # the server was told: the jobs are gone and never billed
    check = Project.open(project.root).catalog
    assert check.reserved_usd() == 0 and check.spent_usd() == 0


def test_long_take_chains_image_to_video_from_last_frame(tmp_path):
    make_project(tmp_path / "p", shots=1, takes=1, seconds=3, backend="animatic", budget=0, size="64x64", fps=8)
    project = Project.open(tmp_path / "p")
    backend = SolidBackend(max_seconds=1.0)
    summary = Orchestrator(project, backend_factory=lambda ref: backend).run(
        plan_takes(project.spec, root=str(project.root)))
    assert summary.made == 1
    first, second, third = backend.requests
    assert first.refs == () and second.refs and third.refs and second.refs[0].endswith("0.last.png")
    take = project.catalog.takes()[0]
    path = project.abs(take.path)
    assert abs(probe(path).duration - 3.0) < 0.2
    means = [int(f.mean()) for _, f in read_frames(path, every=8)]
    assert means[0] < means[1] < means[2]  # each segment starts from the previous segment's last frame


def test_ray_executor_runs_local_renders(tmp_path):
    ray = pytest.importorskip("ray")
    import ray.cloudpickle

    from dreamcut.generate.executors import RayExecutor

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    make_project(tmp_path / "p", shots=2, takes=1, seconds=1, backend="animatic", size="64x64", fps=8)
    project = Project.open(tmp_path / "p")
    executor = RayExecutor(None, num_gpus=0, init_options={"num_cpus": 2})
    try:
        summary = Orchestrator(project, backend_factory=lambda ref: SolidBackend(), executor=executor,
                               default_limits=Limits(concurrency=2)).run(
            plan_takes(project.spec, root=str(project.root)))
    finally:
        executor.close()
    assert summary.made == 2
    for take in project.catalog.takes():
        assert abs(probe(project.abs(take.path)).duration - 1.0) < 0.2


# -- the CLI's refusals and estimate -----------------------------------------------------------------

def test_estimate_700_takes_of_20_seconds(tmp_path, cli):
    extra = "prices: {'openai-videos:sora-2': 0.046}"
    root = hear_song_once(make_project(tmp_path / "p", shots=35, takes=20, seconds=20, backend="openai-videos:sora-2",
                                       budget=600, size="1280x720", fps=8, extra=extra))
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}  # sora-2 lives on compatible servers only
    out = cli("-p", str(root), "estimate", env=env, check=True).stdout
    assert "700 takes" in out and "$644.00" in out and "233 minutes" in out and "OVER BUDGET" in out
    refused = cli("-p", str(root), "generate", env=env)
    assert refused.returncode == 2 and "budget" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("case", ["model", "duration", "key", "reference"])
def test_bad_input_is_one_line_before_any_money(tmp_path, cli, serve, case):
    backend, seconds, shot_extra, env = "openai-videos:sora-2", 4, "", {"OPENAI_API_KEY": serve.api_key,
                                                                        "OPENAI_BASE_URL": serve.base_url}
    if case == "model":
        backend = "openai-videos:sora-7"
    elif case == "duration":
        seconds = 6
    elif case == "key":
        env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": serve.base_url}
    root = hear_song_once(make_project(tmp_path / "p", shots=1, seconds=seconds, backend=backend, budget=10,
                                       size="1280x720", fps=8))
    if case == "reference":
        (root / "refs").mkdir()
        (root / "refs" / "still.png").write_text("not really a picture")
        text = (root / "dreamcut.yaml").read_text().replace("corridor\n", "corridor\n    refs: [refs/still.png]\n")
        (root / "dreamcut.yaml").write_text(text)
    before = serve.billing()["creates"]
    r = cli("-p", str(root), "generate", env=env)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1 and line.startswith("error:")
    expected = {"model": "unknown model 'sora-7'", "duration": "6 s is not a length sora-2 makes",
                "key": "OPENAI_API_KEY is not set", "reference": "not a readable picture"}[case]
    assert expected in line and serve.api_key not in line
    assert serve.billing()["creates"] == before
