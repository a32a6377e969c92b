"""The spec's `prices:` override reaches every charge computed from the price table, not only the
reservation: a take, a chain's segments and what the backend's billing rule charges (Runway reports
`cost.credits`, read at the table's $0.01 a credit) are all in the spec's prices, so estimate ==
reservation == charge. A cast keyframe is billed per image, which a per-second override cannot reach:
the keyframe stays at its table price and `dreamcut check` says so in one line.
Real project, the Runway simulator over HTTP, the real SDK."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from _ledger import ledger_lines as _ledger
from conftest import make_project
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.cost import estimate
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.project import Project

KEY = "rw-secret-key-0123456789abcdef"
OVERRIDE = {"runway:gen4_turbo": 0.10}  # the table says $0.05 a second


def _project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 120, 40)).save(root / "dusk.png", "PNG")
    cast = [{"name": "mia", "description": "mia, a dancer in a yellow coat", "refs": ["dusk.png"]}]
    shots = [{"id": "s1", "prompt": "a lighthouse at dusk", "seconds": 5, "refs": ["dusk.png"]},
             {"id": "s2", "prompt": "waves below the lighthouse", "seconds": 15, "refs": ["dusk.png"]},  # 10 + 5 s
             {"id": "s3", "prompt": "dancing on the pier", "seconds": 5, "cast": ["mia"], "cast_keyframe": True}]
    return make_project(root, shots, song_kind="silence", song_seconds=20, title="override", fps=24,
                        backend="runway:gen4_turbo", budget_usd=50, takes_per_shot=1, caption=False, cast=cast,
                        prices=OVERRIDE, render={"master": "1280x720", "resolution": "1280x720"})


def test_an_override_reaches_every_charge_and_check_names_the_keyframe_it_cannot(monkeypatch, tmp_path, cli):
    from simulators.runway import RunwaySim

    server = RunwaySim(key=KEY).start()
    try:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DREAMCUT_PROVIDER_TIME_SCALE", "500")
        root = _project(tmp_path / "p")
        project = Project.open(root)
        planned = plan_takes(project.spec, root=str(root))
        orch = Orchestrator(project, poll_interval=0.01, sign_takes=False)
        est = estimate(planned, orch.backend, prices=project.spec.prices)
        assert est.usd == pytest.approx(0.50 + 1.50 + 0.50 + 0.05)  # the keyframe at its table's $0.05
        summary = orch.run(planned)
        assert summary.made == 3, summary.failures
        ledger = _ledger(root)
        reserved = round(sum(a for k, a, _ in ledger if k == "reserve"), 6)
        charges = {j: a for k, a, j in ledger if k == "charge"}
        assert reserved == pytest.approx(est.usd, abs=1e-9)
        assert sum(charges.values()) == pytest.approx(est.usd, abs=1e-9)  # table prices would be $1.30
        by_shot = {p.shot_id: p.key for p in planned}
        assert charges[by_shot["s1"]] == pytest.approx(0.50)
        assert charges[by_shot["s2"] + ".s0"] == pytest.approx(1.00)  # a segment: Runway's 100 credits, at $0.10/s
        assert charges[by_shot["s2"] + ".s1"] == pytest.approx(0.50)
        assert charges[by_shot["s3"] + ".k"] == pytest.approx(0.05)
        assert server.books()["billed_usd"] == pytest.approx(1.30)  # what the table says it bills
        assert round(sum(a for k, a, _ in ledger if k in ("reserve", "release")), 6) == pytest.approx(0.0, abs=1e-9)
    finally:
        server.stop()
    out = cli("check", cwd=root)
    said = " ".join(out.stdout.split())  # the console wraps long lines at its width
    line = ("warning: shot s3: prices: runway:gen4_turbo $0.1/s is per second of video; its cast keyframe "
            "(runway gen4_image) is billed per image and stays at the table's $0.05 an image")
    assert said.count(line) == 1 and said.count("per second of video") == 1, out.stdout
