"""MiniClips: previews through the orchestrator, contact sheets, promotion, and their cost."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest
from PIL import Image

from _takes import PatternBackend, make_project

from dreamcut.errors import BadInput
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.media import count_frames, probe, read_frames
from dreamcut.preview import (contact_sheet, first_frames, plan_previews, preview_cost_report, preview_seed,
                              preview_shot, promote, sheet_layout, variant_costs)
from dreamcut.project import Project

SIZE = (256, 144)


@pytest.fixture
def project(tmp_path):
    root = make_project(tmp_path / "proj", shots=5, takes_per_shot=1, size=SIZE)
    return Project.open(root)


def _mad(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _psnr(a, b) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def _soft_psnr(a, b) -> float:
    return _psnr(cv2.GaussianBlur(a, (0, 0), 1.5), cv2.GaussianBlur(b, (0, 0), 1.5))


def orch(project, backend=None):
    backend = backend or PatternBackend()
    return Orchestrator(project, backend_factory=lambda ref: backend, poll_interval=0.01)


def test_preview_renders_first_frames_of_n_variants(project):
    result = preview_shot(project, "s02", 8, orchestrator=orch(project))
    assert len(result.takes) == 8 and not result.failed
    takes = project.catalog.takes("s02", kind="preview")
    assert len(takes) == 8
    assert len({t.seed for t in takes}) == 8
    assert {t.variant for t in takes} == set(range(8))
    for t in takes:
        assert t.path.startswith("previews/s02/")
        assert count_frames(project.abs(t.path)) == 4
    jobs = project.catalog.jobs("completed", shot_id="s02")
    assert len(jobs) == 8 and {j["kind"] for j in jobs} == {"preview"}
    # previews are not takes: the planner and the board's take rows do not see them as such
    assert all(t.kind == "take" for t in project.catalog.takes("s02"))
    # running it again makes nothing new (the orchestrator's idempotency keys)
    again = preview_shot(project, "s02", 8, orchestrator=orch(project))
    assert again.takes == result.takes and len(project.catalog.takes("s02", kind="preview")) == 8


def test_prompt_alternatives_vary_with_the_variant(project):
    planned = plan_previews(project, "s05", 4)  # "... after the prom, {blue|pink} light"
    prompts = [p.request.prompt for p in planned]
    assert "blue light" in prompts[0] and "pink light" in prompts[1] and prompts[2] == prompts[0]
    assert [p.request.seed for p in planned] == [preview_seed("s05", k) for k in range(4)]
    assert all(p.request.preview and p.request.preview_frames == 4 for p in planned)


def test_contact_sheet_size_and_layout(project):
    result = preview_shot(project, "s01", 8, orchestrator=orch(project))
    sheet = Image.open(result.sheet)
    layout = sheet_layout(8, SIZE)
    assert sheet.size == layout.size
    assert layout.size == (layout.label_width + 4 * (192 + layout.pad) + layout.pad,
                           layout.header + 8 * (108 + layout.pad) + layout.pad)
    pixels = np.asarray(sheet.convert("RGB")).astype(np.int16)
    takes = sorted(project.catalog.takes("s01", kind="preview"), key=lambda t: t.variant)
    import cv2

    for row, take in enumerate(takes):
        frames = first_frames(project.abs(take.path))
        for col in range(4):
            x0, y0, x1, y1 = layout.box(row, col)
            want = cv2.resize(frames[col], layout.cell, interpolation=cv2.INTER_AREA).astype(np.int16)
            assert np.abs(pixels[y0:y1, x0:x1] - want).mean() < 1.0, (row, col)
        # each row carries a label (text pixels in the label column)
        label = pixels[layout.box(row, 0)[1]:layout.box(row, 0)[3], :layout.label_width]
        assert (label.max(axis=2) > 150).sum() > 50
    assert all(row.label().startswith(f"v{row.variant}  seed {row.seed}") for row in result.costs)


def test_contact_sheet_with_a_short_preview_keeps_its_grid(tmp_path):
    frames = [np.full((90, 160, 3), 200, np.uint8)] * 2  # a backend that gave only 2 frames
    layout = contact_sheet("t", [("v0", frames), ("v1", frames * 2)], tmp_path / "s.png")
    assert Image.open(tmp_path / "s.png").size == layout.size == sheet_layout(2, (160, 90)).size


def test_promoted_take_starts_with_the_preview_frames(project):
    o = orch(project)
    preview_shot(project, "s03", 4, orchestrator=o)
    ids = promote(project, "s03", [1, 3], orchestrator=o)
    assert len(ids) == 2
    previews = {t.variant: t for t in project.catalog.takes("s03", kind="preview")}
    for tid in ids:
        take = project.catalog.take(tid)
        assert take.kind == "take" and take.path.startswith("takes/s03/")
        pv = previews[take.variant]
        assert take.seed == pv.seed and take.prompt == pv.prompt
        full = [f for _, f in read_frames(project.abs(take.path), max_frames=4)]
        small = first_frames(project.abs(pv.path))
        other = first_frames(project.abs(previews[2].path))
        for a, b, c in zip(full, small, other):
            # equal up to H.264 noise (two encodes of the same pixels), unlike another variant's
            assert _mad(a, b) < 4.0 < 15.0 < _mad(a, c)
        assert probe(project.abs(take.path)).duration > 1.5  # a full take, not 4 frames


def test_promoted_takes_get_numbers_no_other_take_of_the_shot_has(project):
    """Planned takes are t01, t02 (takes_per_shot 2); promoting variants 1 and 0 gives t03 and t04,
    not a second "take 2"; promoting variant 1 again keeps its id; a later promotion goes on counting."""
    from dreamcut.generate.batch import plan_takes
    from dreamcut.preview import take_number

    o = orch(project)
    o.run(plan_takes(project.spec, root=str(project.root), shots=["s03"]))
    preview_shot(project, "s03", 4, orchestrator=o)
    first = promote(project, "s03", [1, 0], orchestrator=o)
    again = promote(project, "s03", [1], orchestrator=o)
    later = promote(project, "s03", [2], orchestrator=o)
    numbers = [take_number(t.id) for t in project.catalog.takes("s03") if t.job_key]  # the generated takes
    assert [take_number(t) for t in first] == [3, 4] and again == first[:1]
    assert take_number(later[0]) == 5
    assert sorted(numbers) == sorted(set(numbers)), numbers  # unique per shot


def test_local_preview_cost_is_measured_compute(project):
    """Local backends cost compute seconds: each preview and full job's render time is recorded and
    the report divides them (the 5% bound itself is measured in benchmarks/bench_preview.py: tests
    never assert wall-clock time)."""
    o = orch(project)
    preview_shot(project, "s04", 4, orchestrator=o)
    backend = lambda ref: PatternBackend()  # noqa: E731
    before = variant_costs(project, "s04", backend_for=backend)
    assert all(c.preview_compute_s > 0 and c.full_compute_s is None and not c.full_measured for c in before)
    assert "? full (compute)" in before[0].label()
    promote(project, "s04", [0, 1], orchestrator=o)
    costs = variant_costs(project, "s04", backend_for=backend)
    assert [c.full_measured for c in costs] == [True, True, False, False]
    assert costs[2].full_compute_s is not None  # estimated from this backend's measured full takes
    (line,) = preview_cost_report(project, variants=4, shots=["s04"], backend_for=backend)
    assert line.full_usd == 0 and line.preview_compute_s > 0 and line.full_compute_s > 0
    assert line.ratio == pytest.approx(line.preview_compute_s / line.full_compute_s)


def test_cloud_preview_cost_comes_from_the_price_table(project):
    cloud = PatternBackend(price_per_second=0.10, local=False)
    (line,) = preview_cost_report(project, variants=8, shots=["s01"], backend_for=lambda ref: cloud)
    # previews bill the model's shortest length (1 s) against 2 s takes
    assert line.full_usd == pytest.approx(8 * 0.10 * 2.0)
    assert line.preview_usd == pytest.approx(8 * 0.10 * 1.0)
    assert line.ratio == pytest.approx(0.5)


def test_bad_input(project):
    with pytest.raises(BadInput):
        preview_shot(project, "nope", 8, orchestrator=orch(project))
    with pytest.raises(BadInput):
        preview_shot(project, "s01", 0, orchestrator=orch(project))
    with pytest.raises(BadInput):
        promote(project, "s01", [], orchestrator=orch(project))


@pytest.mark.skipif(importlib.util.find_spec("dreamcut.backends.animatic") is None,
                    reason="the animatic backend is not on this branch yet")
def test_animatic_preview_matches_its_promoted_take(project):
    # s02 (teenagers on a field at dusk) has seeded parts -- where the sun and the people are -- so
    # a promotion with the wrong seed would show a different picture.
    preview_shot(project, "s02", 2)
    (tid,) = promote(project, "s02", [1])
    take = project.catalog.take(tid)
    pv = {t.variant: t for t in project.catalog.takes("s02", kind="preview")}
    small, other = first_frames(project.abs(pv[1].path)), first_frames(project.abs(pv[0].path))
    assert len(small) == 4
    # The animatic draws previews at a fraction of the take's size (that is what keeps them under
    # 5% of a take's compute), with every random choice keyed to the take's size. So they are
    # compared at the preview's size, with the take's first frames shrunk: what differs then is
    # edges drawn small and two lossy encodes, not the picture.
    ph, pw = small[0].shape[:2]
    assert pw < SIZE[0] and abs(pw / ph - SIZE[0] / SIZE[1]) < 0.02
    full = [cv2.resize(f, (pw, ph), interpolation=cv2.INTER_AREA)
            for _, f in read_frames(project.abs(take.path), max_frames=4)]
    for a, b, c in zip(full, small, other):
        assert _psnr(a, b) > 30 and _mad(a, b) < 5.0
        # Blurred (encoder noise gone), the preview agrees with its take; another seed does not.
        assert _soft_psnr(a, b) > 36 > _soft_psnr(a, c) + 3


def test_preview_and_promote_commands(tmp_path, cli):
    root = make_project(tmp_path / "cli", shots=2, takes_per_shot=1, size=SIZE, take_seconds=1.0)
    r = cli("--project", str(root), "preview", "s01", "--variants", "4")
    assert r.returncode == 0, r.stderr
    assert "contact sheet: previews/s01/contact_sheet.png" in r.stdout
    r = cli("--project", str(root), "promote", "s01", "2")
    assert r.returncode == 0, r.stderr
    p = Project.open(root)
    (take,) = [t for t in p.catalog.takes("s01") if t.variant == 2 and t.seed == preview_seed("s01", 2)]
    assert take.id in r.stdout and (root / take.path).is_file()
    assert "never previewed" not in r.stdout
    # variant 6 was never previewed: it is still rendered, after a warning line naming it
    r = cli("--project", str(root), "promote", "s01", "6")
    assert r.returncode == 0, r.stderr
    assert "warning: s01 variant 6 was never previewed" in r.stdout
    bad = cli("--project", str(root), "preview", "s01", "--variants", "5")
    assert bad.returncode == 2 and "--variants" in bad.stderr
    assert cli("--project", str(root), "promote", "nope", "1").returncode == 2
