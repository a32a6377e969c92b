"""Cast keyframes (`cast_keyframe: true`): every cast picture reaches the backend's IMAGE model in the form
its API documents (Runway gen4_image `referenceImages` with `@tag`s, Luma photon `character_ref.identity0`),
the video is then made from that keyframe, the ledger equals the provider's bill, the estimate equals the
reservation, `dreamcut check` says it, and a crash between the two steps does not pay the image twice.
All through the official SDKs against the provider simulators."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from _ledger import ledger_lines as _ledger, reserved as _reserved, spent as _spent
from conftest import hear_song_once, make_project
from dreamcut.generate.batch import plan_takes
from dreamcut.generate.cost import estimate, take_price
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.errors import BadInput
from dreamcut.project import Project
from serve_helpers import cli_env

KEYS = {"runway": "rw-secret-key-0123456789abcdef", "luma": "luma-secret-0123456789"}
SPEED = 500  # provider time runs this much faster than ours (the simulator's waits, and generate's)


def _sim(monkeypatch, cls, key):
    server = cls(key=key).start()
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DREAMCUT_PROVIDER_TIME_SCALE", str(SPEED))
    return server


def _project(root: Path, backend: str, refs: dict[str, list[str]], *, keyframe: bool = True, seconds: float = 5,
             own_refs: list[str] | None = None) -> Path:
    """A one-shot project whose shot names the cast in `refs` (member -> pictures: files made here, or URLs)."""
    root.mkdir(parents=True, exist_ok=True)
    colours = [(200, 30, 40), (30, 40, 200), (40, 160, 60), (220, 200, 30)]
    for i, name in enumerate(r for rs in refs.values() for r in rs if "://" not in r):
        Image.new("RGB", (48, 64), colours[i % 4]).save(root / name, "PNG")
    cast = [{"name": m, "description": f"{m}, a dancer in a yellow coat", "refs": rs} for m, rs in refs.items()]
    shot = {"id": "s1", "prompt": "dancing on a rooftop at dusk", "seconds": seconds, "cast": list(refs)}
    if keyframe:
        shot["cast_keyframe"] = True
    if own_refs:
        shot["refs"] = own_refs
    # its silent song heard once a session (`hear_song_once`): the subject is the keyframe, not the song
    return hear_song_once(make_project(
        root, [shot], song_kind="silence", song_seconds=seconds, title="cast keyframe", fps=24, backend=backend,
        budget_usd=50, takes_per_shot=1, caption=False, cast=cast, render={"master": "1280x720", "resolution": "1280x720"}))


def _run(root: Path):
    project = Project.open(root)
    planned = plan_takes(project.spec, root=str(root))
    orch = Orchestrator(project, poll_interval=0.01, sign_takes=False)
    return project, planned, orch, orch.run(planned)


def test_runway_cast_keyframe_tags_every_picture_then_animates_it(monkeypatch, tmp_path):
    from simulators.runway import RunwaySim, tiny_png

    server = _sim(monkeypatch, RunwaySim, KEYS["runway"])
    try:
        root = _project(tmp_path / "p", "runway:gen4_turbo", {"mia": ["mia1.png", "mia2.png", "mia3.png"]})
        project, planned, orch, summary = _run(root)
        assert summary.made == 1, summary.failures
        # the image request: all three of mia's pictures, tagged, named in the prompt by @tag
        [image] = server.calls("create_image")
        body = image.json()
        assert image.path == "/v1/text_to_image" and body["model"] == "gen4_image" and body["ratio"] == "1280:720"
        assert [r["tag"] for r in body["referenceImages"]] == ["mia", "mia_2", "mia_3"]
        sent = [base64.b64decode(r["uri"].split(",", 1)[1]) for r in body["referenceImages"]]
        assert sent == [(root / f"mia{i}.png").read_bytes() for i in (1, 2, 3)]
        assert "@mia" in body["promptText"] and "@mia_3" in body["promptText"]
        assert "yellow coat" in body["promptText"]  # the description travels too
        # the video request: image_to_video from the keyframe Runway made (the simulator's PNG)
        [video] = server.calls("create")
        assert video.path == "/v1/image_to_video"
        frame = video.json()["promptImage"]
        assert base64.b64decode(frame.split(",", 1)[1]) == tiny_png()
        # the ledger: one charge per provider job, each equal to what the provider bills
        key = planned[0].key
        charges = [(j, a) for k, a, j in _ledger(root) if k == "charge"]
        assert charges == [(key + ".k", 0.05), (key, 0.25)]
        assert _spent(root) == pytest.approx(server.books()["billed_usd"], abs=1e-9)
        assert _reserved(root) == pytest.approx(0.0, abs=1e-9)  # everything reserved was released
        take = project.catalog.take_for_job(key)
        assert take is not None and take.cost_usd == pytest.approx(0.30)  # the take cost both steps
        sidecar = json.loads((root / take.path).with_suffix(".json").read_text())
        assert sidecar["cast_keyframe"]["job_key"] == key + ".k" and sidecar["cost_usd"] == pytest.approx(0.30)
        [image_task] = [j.id for j in server.jobs.values() if j.extra.get("image")]
        assert sidecar["cast_keyframe"]["provider_job_id"] == image_task
    finally:
        server.stop()


def test_luma_cast_keyframe_is_a_character_reference_then_frame0(monkeypatch, tmp_path):
    from simulators.luma import LumaSim

    server = _sim(monkeypatch, LumaSim, KEYS["luma"])
    try:
        mia = ["https://cdn.example.com/mia-front.png", "https://cdn.example.com/mia-side.png"]
        leo = ["https://cdn.example.com/leo.png"]
        root = _project(tmp_path / "p", "luma:ray-flash-2", {"mia": mia, "leo": leo})
        project, planned, orch, summary = _run(root)
        assert summary.made == 1, summary.failures
        [image] = server.calls("create_image")
        body = image.json()
        assert image.path.endswith("/generations/image") and body["model"] == "photon-flash-1"
        assert body["character_ref"] == {"identity0": {"images": mia}}
        assert [r["url"] for r in body["image_ref"]] == leo
        assert body["aspect_ratio"] == "16:9"
        # the video starts from the image Luma made and hosts (its assets.image)
        image_id = [j for j in server.jobs.values() if j.request.get("generation_type") == "image"][0].id
        [video] = server.calls("create")
        assert video.json()["keyframes"]["frame0"] == {"type": "image", "url": server.media_url(f"{image_id}.jpg")}
        key = planned[0].key
        charges = [(j, a) for k, a, j in _ledger(root) if k == "charge"]
        assert charges[0] == (key + ".k", 0.0019) and charges[1][0] == key
        assert _spent(root) == pytest.approx(server.books()["billed_usd"], abs=1e-6)
        assert (root / ".dreamcut" / "keyframes" / f"{key}.jpg").is_file()
    finally:
        server.stop()


def test_estimate_is_the_reservation_and_check_says_it(monkeypatch, tmp_path, cli):
    monkeypatch.setenv("RUNWAYML_API_SECRET", KEYS["runway"])
    root = _project(tmp_path / "p", "runway:gen4_turbo", {"mia": ["mia1.png", "mia2.png", "mia3.png"]}, seconds=15)
    project = Project.open(root)
    planned = plan_takes(project.spec, root=str(root))
    orch = Orchestrator(project, poll_interval=0.01, sign_takes=False)
    # a 15 s take is a 10 s + 5 s chain at 5 credits/s, plus one 720p gen4_image keyframe
    assert orch.price(planned[0]) == pytest.approx(0.75 + 0.05)
    est = estimate(planned, orch.backend)
    assert est.usd == pytest.approx(orch.price(planned[0]))
    assert take_price(orch.backend(planned[0].backend), planned[0].request) == pytest.approx(est.usd)
    result = cli("-p", str(root), "check", env={"RUNWAYML_API_SECRET": KEYS["runway"]})
    assert result.returncode == 0, result.stderr
    assert "runway:gen4_turbo: cast keyframe from 3 references via gen4_image ($0.05), then gen4_turbo" in result.stdout
    assert "mia1.png -> cast keyframe (referenceImages @mia)" in result.stdout
    assert "shot s1: a cast keyframe first (runway gen4_image, $0.05 a take" in est.notes[0]
    # the video alone is never built for a take that starts from its keyframe (it would be paid without it)
    with pytest.raises(BadInput, match="cast keyframe"):
        orch.backend(planned[0].backend).build(planned[0].request)
    # without the opt-in, the first picture is the first frame, as before (no image step, no image price)
    plain = _project(tmp_path / "q", "runway:gen4_turbo", {"mia": ["mia1.png"]}, keyframe=False)
    p2 = Project.open(plain)
    o2 = Orchestrator(p2, sign_takes=False)
    assert o2.price(plan_takes(p2.spec, root=str(plain))[0]) == pytest.approx(0.25)
    # a local picture is still a problem for Luma before money, keyframe or not (the existing rule)
    monkeypatch.setenv("LUMAAI_API_KEY", KEYS["luma"])
    luma = _project(tmp_path / "l", "luma:ray-2", {"mia": ["mia1.png"]})
    p3 = Project.open(luma)
    [lp] = plan_takes(p3.spec, root=str(luma))
    problems = Orchestrator(p3, sign_takes=False).backend(lp.backend).problems(lp.request)
    assert any("hosted URLs only" in x and "mia1.png" in x for x in problems)


def test_a_crash_between_keyframe_and_video_does_not_pay_the_image_twice(monkeypatch, tmp_path):
    """kill -9 the real `dreamcut generate` while it downloads the finished keyframe (paid, not yet used),
    run it again: the keyframe is fetched again, not made again; the video is made once from it."""
    import threading

    from simulators.runway import RunwaySim

    server = _sim(monkeypatch, RunwaySim, KEYS["runway"])
    gate = threading.Event()
    server.hold_images = gate  # the keyframe's download waits here until the test says
    try:
        root = _project(tmp_path / "p", "runway:gen4_turbo", {"mia": ["mia1.png", "mia2.png"]})
        env = cli_env(**server.env, DREAMCUT_PROVIDER_TIME_SCALE=str(SPEED))
        cmd = [sys.executable, "-m", "dreamcut", "-p", str(root), "generate", "--poll-interval", "0.01"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(600):  # until the keyframe download is held (60 s at most)
                if any(r.path.endswith(".png") for r in server.calls("media")) or proc.poll() is not None:
                    break
                time.sleep(0.1)
            assert proc.poll() is None, proc.communicate()
            key = [j for _, _, j in _ledger(root) if j.endswith(".k")]
            assert key, "the keyframe was charged before its download"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not server.calls("create"), "the kill landed before the video was asked for"
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()  # a pid that is gone, like the killed run's: its half download is a stray
        stray = root / ".dreamcut" / "keyframes" / f"{key[0][:-2]}.{dead.pid}.part.png"
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"half a keyframe")
        gate.set()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert len(server.calls("create_image")) == 1  # the image was made (and billed) once
        assert len(server.calls("create")) == 1
        books = server.books()
        assert books["jobs_created"] == 2
        assert _spent(root) == pytest.approx(books["billed_usd"], abs=1e-9) == pytest.approx(0.05 + 0.25)
        charges = [j for k, _, j in _ledger(root) if k == "charge"]
        assert len(charges) == 2 and len(set(charges)) == 2  # the keyframe charged once, the video once
        assert not stray.exists()  # the dead run's half download was swept
        assert len(list((root / ".dreamcut" / "keyframes").iterdir())) == 1  # the keyframe, once
    finally:
        gate.set()
        server.stop()


def test_faults_reach_the_image_endpoint_too(monkeypatch, tmp_path):
    """An image create answered by a dropped connection (accepted, then lost) is never sent again:
    Runway cannot list tasks, so the keyframe is parked with its price still reserved."""
    from simulators.runway import RunwaySim

    server = _sim(monkeypatch, RunwaySim, KEYS["runway"])
    try:
        server.inject("create_image", "accept_drop")
        root = _project(tmp_path / "p", "runway:gen4_turbo", {"mia": ["mia1.png"]})
        project, planned, orch, summary = _run(root)
        assert summary.parked == 1 and summary.made == 0
        assert len(server.calls("create_image")) == 1 and not server.calls("create")
        row = project.catalog.job(planned[0].key + ".k")
        assert row["state"] == "needs_reconcile"
        # the take's whole price (image + video) stays reserved as the worst case
        assert _reserved(root) == pytest.approx(0.30)
        assert json.loads(row["request_json"])["cast"][0]["name"] == "mia"
        status = subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), "status", "--json"],
                                env=cli_env(**server.env), capture_output=True, text=True, timeout=120)
        assert json.loads(status.stdout)["shots"][0]["parked"] == 1, status.stdout  # the take waits on its keyframe
        # the director resubmits it (`dreamcut reconcile --resubmit`): the IMAGE is asked again, then the video
        key, provider_id = Orchestrator(Project.open(root), sign_takes=False).resubmit(planned[0].key + ".k")
        assert key.endswith(".k") and len(server.calls("create_image")) == 2 and not server.calls("create")
        project, planned, orch, summary = _run(root)
        assert summary.made == 1 and len(server.calls("create")) == 1, summary.failures
        assert len(server.calls("create_image")) == 2  # the resumed run polled the resubmitted keyframe
    finally:
        server.stop()


def test_a_lost_luma_image_create_is_found_in_the_list_not_sent_again(monkeypatch, tmp_path):
    """Luma can list generations: an image create whose answer was lost (accepted, then the connection
    dropped) is found by its request and adopted; the image is billed once and the video made from it."""
    from simulators.luma import LumaSim

    server = _sim(monkeypatch, LumaSim, KEYS["luma"])
    try:
        server.inject("create_image", "accept_drop")
        root = _project(tmp_path / "p", "luma:ray-2", {"mia": ["https://cdn.example.com/mia.png"]})
        project, planned, orch, summary = _run(root)
        assert summary.made == 1, summary.failures
        assert len(server.calls("create_image")) == 1 and len(server.calls("create")) == 1
        notes = [line["note"] for line in project.catalog.job_history(planned[0].key + ".k")]
        assert any(n.startswith("reconciled: adopted provider job") for n in notes)
        books = server.books()
        assert books["jobs_created"] == 2
        assert _spent(root) == pytest.approx(books["billed_usd"], abs=1e-6)
    finally:
        server.stop()


def test_a_keyframe_cancelled_while_running_is_charged_as_runway_bills_it(monkeypatch, tmp_path):
    """`dreamcut cancel` while the keyframe renders: Runway bills a task its cancel check sees RUNNING
    (runwayml 5.24.0 tasks.delete), so the keyframe's price is charged on its own line; the take's
    reservation is released; the ledger equals Runway's bill."""
    import threading

    from simulators.runway import RunwaySim

    server = _sim(monkeypatch, RunwaySim, KEYS["runway"])
    try:
        server.plan("stuck")  # the keyframe renders until it is cancelled
        root = _project(tmp_path / "p", "runway:gen4_turbo", {"mia": ["mia1.png"]})
        project = Project.open(root)
        planned = plan_takes(project.spec, root=str(root))
        orch = Orchestrator(project, poll_interval=0.01, sign_takes=False)
        result = {}
        runner = threading.Thread(target=lambda: result.update(summary=orch.run(planned)), daemon=True)
        runner.start()
        kkey = planned[0].key + ".k"
        for _ in range(600):  # until the keyframe is seen running (30 s at most)
            row = project.catalog.job(kkey) if runner.is_alive() else None
            if row is not None and row["state"] == "running":
                break
            time.sleep(0.05)
        assert row is not None and row["state"] == "running"
        assert Orchestrator(Project.open(root), sign_takes=False).cancel() == 2  # the take and its keyframe
        runner.join(60)
        assert not runner.is_alive() and result["summary"].canceled == 1
        assert not server.calls("create")  # no video was asked for
        assert [(k, a, j) for k, a, j in _ledger(root) if k == "charge"] == [("charge", 0.05, kkey)]
        assert _spent(root) == pytest.approx(server.books()["billed_usd"], abs=1e-9)
        assert _reserved(root) == pytest.approx(0.0, abs=1e-9)
    finally:
        server.stop()


def test_a_large_runway_reference_goes_inline_within_the_documented_data_uri_limit(monkeypatch, tmp_path):
    """Runway takes reference images as data URIs up to 5 MB (docs.dev.runwayml.com/assets/inputs/): a
    cast picture larger than that is re-encoded to fit, and the simulator's check of the limit passes."""
    import numpy as np

    from dreamcut.backends.base import CastMember
    from dreamcut.backends.registry import load_backend
    from simulators.common import request
    from simulators.runway import DATA_URI_LIMIT, _uri_problem

    monkeypatch.setenv("RUNWAYML_API_SECRET", KEYS["runway"])
    big = tmp_path / "mia-big.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (1400, 1400, 3), dtype=np.uint8)).save(big)
    assert big.stat().st_size > DATA_URI_LIMIT  # too large to go inline as it is
    req = request(cast=(CastMember("mia", "a dancer", (str(big),)),), options=(("cast_keyframe", True),))
    body = load_backend("runway:gen4_turbo").cast_keyframe(req).build(req)
    [ref] = body["reference_images"]  # the SDK keyword; it sends referenceImages
    assert ref["tag"] == "mia" and len(ref["uri"]) <= DATA_URI_LIMIT and _uri_problem(ref["uri"]) is None


def test_a_long_take_starts_its_chain_from_the_keyframe(monkeypatch, tmp_path):
    """A take longer than one generation: the first segment starts from the keyframe, the next ones
    go on as the chain does (Runway: from the last frame; Luma: `extend`, with no keyframe at its end)."""
    from simulators.luma import LumaSim
    from simulators.runway import RunwaySim, tiny_png

    runway = _sim(monkeypatch, RunwaySim, KEYS["runway"])
    try:
        root = _project(tmp_path / "r", "runway:gen4_turbo", {"mia": ["mia1.png"]}, seconds=15)
        _, _, orch, summary = _run(root)
        assert summary.made == 1, summary.failures
        assert len(runway.calls("create_image")) == 1
        first, second = (c.json()["promptImage"] for c in runway.calls("create"))
        assert base64.b64decode(first.split(",", 1)[1]) == tiny_png()  # the keyframe
        assert base64.b64decode(second.split(",", 1)[1]) != tiny_png()  # the first segment's last frame
        assert _spent(root) == pytest.approx(runway.books()["billed_usd"], abs=1e-9) == pytest.approx(0.80)
    finally:
        runway.stop()
    luma = _sim(monkeypatch, LumaSim, KEYS["luma"])
    try:
        root = _project(tmp_path / "l", "luma:ray-flash-2", {"mia": ["https://cdn.example.com/mia.png"]}, seconds=14)
        _, _, orch, summary = _run(root)
        assert summary.made == 1, summary.failures
        first, second = (c.json()["keyframes"] for c in luma.calls("create"))
        assert first["frame0"]["type"] == "image" and first["frame0"]["url"].endswith(".jpg")
        made = sorted((j for j in luma.jobs.values() if j.request.get("generation_type") != "image"),
                      key=lambda j: j.created_at)
        assert second == {"frame0": {"type": "generation", "id": made[0].id}}  # no cast picture at its end
        assert _spent(root) == pytest.approx(luma.books()["billed_usd"], abs=1e-6)
    finally:
        luma.stop()


def test_random_faults_on_both_steps_never_make_a_keyframe_or_a_video_twice(monkeypatch, tmp_path):
    """Luma at a 25% fault rate on every route (accept-then-drop, 5xx after accept, slow and HTML answers,
    rate limits, refused connections), three runs: no take has two images or two videos at the provider,
    and the ledger brackets the provider's bill (charged <= billed <= charged + still reserved)."""
    import re

    from simulators.luma import LumaSim

    server = LumaSim(key=KEYS["luma"], faults=0.25, seed=11).start()
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DREAMCUT_PROVIDER_TIME_SCALE", str(SPEED))
    try:
        root = tmp_path / "p"
        shots = [{"id": f"s{i}", "prompt": f"K{i:03d}Z dancing on a rooftop", "seconds": 5, "cast": ["mia"],
                  "cast_keyframe": True} for i in range(6)]
        hear_song_once(make_project(
            root, shots, song_kind="silence", song_seconds=5, title="faults", fps=24, backend="luma:ray-flash-2",
            budget_usd=50, takes_per_shot=1, caption=False, render={"master": "1280x720", "resolution": "1280x720"},
            cast=[{"name": "mia", "description": "a dancer", "refs": ["https://cdn.example.com/mia.png"]}]))
        for kind in ("accept_drop", "accept_5xx", "html"):  # whatever the random draws, the image route meets these
            server.inject("create_image", kind)
        for _ in range(3):
            _run(root)
        assert sum(1 for route, _ in server.faults_fired if route == "create_image") >= 3
        server.fault_rate = 0.0
        server.settle()
        made: dict[tuple[str, str], int] = {}
        for job in server.jobs.values():
            marker = re.search(r"K\d{3}Z", job.prompt or "").group(0)
            kind = job.request.get("generation_type", "video")
            made[(marker, kind)] = made.get((marker, kind), 0) + 1
        assert made and max(made.values()) == 1, made
        assert any(k == "image" for _, k in made)
        billed = server.books()["billed_usd"]
        eps = 1e-6 * len(server.jobs)  # the ledger keeps micro-dollars per job; the simulator bills exactly
        assert _spent(root) - eps <= billed <= _spent(root) + _reserved(root) + eps
    finally:
        server.stop()


def test_a_keyframe_not_made_because_the_shot_has_its_own_first_frame_is_said():
    from dreamcut.backends._cast import routing_for
    from dreamcut.backends.base import CastMember

    mia = CastMember("mia", "a dancer", ("https://example.com/mia1.png", "https://example.com/mia2.png"))
    asked = routing_for("runway", "gen4_turbo", [mia], ["https://example.com/own.png"], keyframe_size=(1280, 720))
    plain = routing_for("runway", "gen4_turbo", [mia], ["https://example.com/own.png"])
    assert "own first frame wins, so none is made" in asked.how
    assert "cast_keyframe" not in plain.how and asked.sent == plain.sent
    made = routing_for("runway", "gen4_turbo", [mia], [], keyframe_size=(1280, 720))
    assert "none is made" not in made.how
