"""MiniClips: cheap previews of a shot before paying for full takes.

`preview_shot(project, shot, variants=8)` asks the shot's backend for N variants (different
seeds; different `{a|b}` prompt alternatives where the prompt has them) in preview mode:
only the first four frames (`GenerationRequest.preview`), at the backend's cheapest
setting. Previews run through the orchestrator like any take (durable, in the ledger) and
land as takes of kind 'preview' under previews/<shot>/, with a contact sheet beside them:
previews/<shot>/contact_sheet.png, one row per variant, four frames a row, each row
labelled with its variant, seed, and the preview's cost beside a full take's cost.

`promote(project, shot, [variant, ...])` renders full takes from exactly the same request
(seed, prompt variant, caption), so a deterministic backend's full take begins with the
preview's frames.

`preview_cost_report(project)` prices previews against full takes for `dreamcut estimate`:
the price table for cloud backends, measured compute seconds for local ones.

This module plans and lays out; it never talks to a backend directly (the orchestrator
does) and never decides which variant is best (the director does).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from dreamcut.backends.base import Progress  # the one progress callback type: fraction 0..1
from dreamcut.errors import BadInput
from dreamcut.generate.batch import PlannedTake, planned_take
from dreamcut.project import Project
from dreamcut.prompts import variant_count

PREVIEW_FRAMES = 4
ALLOWED_VARIANTS = (4, 8, 16, 32)


def preview_seed(shot_id: str, variant: int) -> int:
    """A stable seed per (shot, preview variant), distinct from the seeds of planned takes."""
    return zlib.crc32(f"{shot_id}:preview:{variant}".encode()) & 0x7FFFFFFF


def plan_previews(project: Project, shot_id: str, variants: int, *, start: int = 0) -> list[PlannedTake]:
    """N preview requests for a shot: variant k has seed preview_seed(shot, k) and the k-th prompt
    alternative (k modulo the number of `{a|b}` combinations). Pure apart from reading the spec."""
    spec = project.spec
    shot = spec.shot(shot_id)
    return [planned_take(spec, shot, k, root=str(project.root), preview=True, seed=preview_seed(shot.id, k),
                         variant=k, kind="preview") for k in range(start, start + variants)]


def full_take_for(project: Project, shot_id: str, variant: int, seed: int | None = None) -> PlannedTake:
    """The full take that matches preview `variant` (same seed, prompt variant and caption)."""
    spec = project.spec
    shot = spec.shot(shot_id)
    return planned_take(spec, shot, variant, root=str(project.root), preview=False,
                        seed=preview_seed(shot.id, variant) if seed is None else seed, variant=variant, kind="take")


# -- cost ---------------------------------------------------------------------------------------


@dataclass
class VariantCost:
    """What one preview cost and what its full take costs (or would cost)."""

    variant: int
    seed: int
    take_id: str | None
    prompt: str
    preview_usd: float
    full_usd: float
    preview_compute_s: float | None  # measured wall seconds of rendering (local backends)
    full_compute_s: float | None  # measured, or estimated from this backend's full takes
    full_measured: bool = False

    def label(self) -> str:
        if self.preview_usd or self.full_usd:
            cost = f"${self.preview_usd:.3f} vs ${self.full_usd:.2f} full"
        elif self.preview_compute_s is not None:
            full = f"{self.full_compute_s:.1f} s" if self.full_compute_s is not None else "?"
            cost = f"{self.preview_compute_s:.2f} s vs {'' if self.full_measured else '~'}{full} full (compute)"
        else:
            cost = "free"
        return f"v{self.variant}  seed {self.seed}\n{cost}"


def _job_seconds(row) -> float | None:
    if row is None or row["submitted_at"] is None or row["finished_at"] is None:
        return None
    return max(0.0, float(row["finished_at"]) - float(row["submitted_at"]))


def measured_compute(project: Project, backend: str, kind: str) -> list[tuple[float, int]]:
    """(compute seconds, frames) of this backend's completed jobs of `kind` in the catalog."""
    import json

    out = []
    for row in project.catalog.completed_jobs(backend, kind):
        secs = _job_seconds(row)
        if secs is None:
            continue
        req = json.loads(row["request_json"])
        frames = req.get("preview_frames", PREVIEW_FRAMES) if req.get("preview") else \
            max(1, int(round(req["seconds"] * req["fps"])))
        out.append((secs, frames))
    return out


def _full_compute_estimate(project: Project, backend: str, frames: int) -> float | None:
    """Seconds a full take of `frames` takes on this backend: measured seconds per frame of its full
    takes (None until one has been rendered: extrapolating from 4-frame previews would flatter)."""
    full = measured_compute(project, backend, "take")
    if not full:
        return None
    per_frame = sum(s for s, _ in full) / sum(f for _, f in full)
    return per_frame * frames


def _default_backend(ref):
    from dreamcut.backends.registry import load_backend

    try:
        return load_backend(ref)
    except BadInput:  # a backend whose SDK is not installed here: show compute only
        return None


def variant_costs(project: Project, shot_id: str, backend_for=None) -> list[VariantCost]:
    """Cost rows of the previews a shot has, ordered by variant. `backend_for(BackendRef)` gives the
    backend (default: load it through the registry; None where its SDK is not installed here)."""
    from dreamcut.generate.cost import take_price

    backend_for = backend_for or _default_backend
    spec = project.spec
    rows = []
    previews = sorted(project.catalog.takes(shot_id, kind="preview"), key=lambda t: (t.variant, t.created_at))
    caps_cache: dict[str, object] = {}
    for t in previews:
        planned = full_take_for(project, shot_id, t.variant, seed=t.seed)
        ref = str(planned.backend)
        if ref not in caps_cache:
            caps_cache[ref] = backend_for(planned.backend)
        backend = caps_cache[ref]
        full_usd = take_price(backend, planned.request, spec.prices.get(ref)) if backend is not None else 0.0
        job = project.catalog.job(t.job_key) if t.job_key else None
        preview_s = _job_seconds(job)
        full_job = project.catalog.job(planned.key)
        full_s = _job_seconds(full_job) if full_job is not None and full_job["state"] == "completed" else None
        measured = full_s is not None
        if full_s is None:
            full_s = _full_compute_estimate(project, ref, planned.request.frame_count)
        rows.append(VariantCost(t.variant, int(t.seed or 0), t.id, t.prompt, float(t.cost_usd), float(full_usd),
                                preview_s, full_s, measured))
    return rows


@dataclass
class PreviewCostLine:
    backend: str
    variants: int
    preview_usd: float
    full_usd: float
    preview_compute_s: float | None = None
    full_compute_s: float | None = None

    @property
    def ratio(self) -> float | None:
        """Preview cost as a share of full-take cost: money where money is charged, else compute."""
        if self.full_usd > 0:
            return self.preview_usd / self.full_usd
        if self.preview_compute_s is not None and self.full_compute_s:
            return self.preview_compute_s / self.full_compute_s
        return None


def preview_cost_report(project: Project, *, variants: int = 8, shots: list[str] | None = None,
                        backend_for=None) -> list[PreviewCostLine]:
    """What previewing `variants` of each shot costs against rendering that many full takes, per
    backend. Cloud: the price table (spec `prices:` override it). Local: compute seconds measured
    in this project's jobs (None until both kinds have run once). For `dreamcut estimate`."""
    from dreamcut.backends.registry import load_backend
    from dreamcut.generate.cost import take_price

    spec = project.spec
    backend_for = backend_for or load_backend
    lines: dict[str, PreviewCostLine] = {}
    for shot in spec.shots:
        if shots and shot.id not in shots:
            continue
        for p in plan_previews(project, shot.id, variants):
            ref = str(p.backend)
            backend = backend_for(p.backend)
            caps = backend.capabilities()
            full = full_take_for(project, shot.id, p.index)
            line = lines.setdefault(ref, PreviewCostLine(ref, 0, 0.0, 0.0))
            line.variants += 1
            line.preview_usd += take_price(backend, p.request, spec.prices.get(ref))
            line.full_usd += take_price(backend, full.request, spec.prices.get(ref))
            if caps.local:
                prev = measured_compute(project, ref, "preview")
                fulls = measured_compute(project, ref, "take")
                if prev and fulls:
                    line.preview_compute_s = (line.preview_compute_s or 0.0) + sum(s for s, _ in prev) / len(prev)
                    per_frame = sum(s for s, _ in fulls) / sum(f for _, f in fulls)
                    line.full_compute_s = (line.full_compute_s or 0.0) + per_frame * full.request.frame_count
    return list(lines.values())


# -- the contact sheet ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetLayout:
    """Geometry of a contact sheet: `rows` x 4 frame cells of `cell` size, a label column on the left."""

    rows: int
    cell: tuple[int, int]
    label_width: int = 230
    pad: int = 6
    header: int = 30
    columns: int = PREVIEW_FRAMES

    @property
    def size(self) -> tuple[int, int]:
        w = self.label_width + self.columns * (self.cell[0] + self.pad) + self.pad
        h = self.header + self.rows * (self.cell[1] + self.pad) + self.pad
        return w, h

    def box(self, row: int, column: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of a frame cell."""
        x = self.label_width + self.pad + column * (self.cell[0] + self.pad)
        y = self.header + self.pad + row * (self.cell[1] + self.pad)
        return x, y, x + self.cell[0], y + self.cell[1]


def sheet_layout(rows: int, frame_size: tuple[int, int], cell_width: int = 192) -> SheetLayout:
    w, h = frame_size
    cell_h = max(2, int(round(cell_width * h / w)))
    return SheetLayout(rows=rows, cell=(cell_width, cell_h))


def contact_sheet(title: str, rows: list[tuple[str, list[np.ndarray]]], dest: Path, *,
                  cell_width: int = 192) -> SheetLayout:
    """Write a PNG: one row per (label, frames); frames are RGB arrays, at most four used."""
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    from dreamcut.media import atomic_path

    if not rows:
        raise BadInput("no previews to lay out", where=title, fix="run `dreamcut preview SHOT` first")
    first = next((f[0] for _, f in rows if f), None)
    frame_size = (first.shape[1], first.shape[0]) if first is not None else (16, 9)
    layout = sheet_layout(len(rows), frame_size, cell_width)
    sheet = Image.new("RGB", layout.size, (22, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    draw.text((layout.pad, 8), title, fill=(235, 235, 235), font=font)
    for r, (label, frames) in enumerate(rows):
        top = layout.box(r, 0)[1]
        draw.multiline_text((layout.pad, top + 4), label, fill=(210, 210, 210), font=font, spacing=4)
        for c in range(layout.columns):
            x0, y0, x1, y1 = layout.box(r, c)
            if c < len(frames):
                cell = cv2.resize(frames[c], layout.cell, interpolation=cv2.INTER_AREA)
                sheet.paste(Image.fromarray(cell), (x0, y0))
            else:
                draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=(70, 70, 70))
    with atomic_path(dest) as tmp:
        sheet.save(tmp, format="PNG")
    return layout


def first_frames(path: Path, n: int = PREVIEW_FRAMES) -> list[np.ndarray]:
    from dreamcut.media import read_frames

    return [f for _, f in read_frames(path, max_frames=n)]


def write_contact_sheet(project: Project, shot_id: str, backend_for=None) -> Path:
    """previews/<shot>/contact_sheet.png from the shot's previews in the catalog."""
    costs = variant_costs(project, shot_id, backend_for)
    rows = []
    for vc in costs:
        take = project.catalog.take(vc.take_id) if vc.take_id else None
        frames = first_frames(project.abs(take.path)) if take and project.inside(project.abs(take.path)) else []
        rows.append((vc.label(), frames))
    dest = project.previews_dir / shot_id / "contact_sheet.png"
    contact_sheet(f"{shot_id}: {len(rows)} previews (first {PREVIEW_FRAMES} frames each)", rows, dest)
    return dest


# -- the two actions ----------------------------------------------------------------------------


@dataclass
class PreviewResult:
    shot_id: str
    takes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    sheet: Path | None = None
    costs: list[VariantCost] = field(default_factory=list)


def _orchestrator(project: Project, orchestrator):
    if orchestrator is not None:
        return orchestrator
    from dreamcut.generate.orchestrator import Orchestrator

    return Orchestrator(project)


def preview_shot(project: Project, shot_id: str, variants: int = 8, progress: Progress | None = None, *,
                 orchestrator=None) -> PreviewResult:
    """Render `variants` previews of a shot (cheap: first frames only) and its contact sheet."""
    from dreamcut.generate.orchestrator import take_id_for

    if variants < 1 or variants > 64:
        raise BadInput(f"--variants {variants} is out of range", where=shot_id, fix="use 8 or 32")
    project.spec.shot(shot_id)  # BadInput naming the known shots
    planned = plan_previews(project, shot_id, variants)
    orch = _orchestrator(project, orchestrator)
    summary = _run_counting(orch, planned, progress)
    result = PreviewResult(shot_id)
    for p in planned:
        take = project.catalog.take_for_job(p.key)
        (result.takes if take else result.failed).append(take.id if take else take_id_for(p))
    result.sheet = write_contact_sheet(project, shot_id, orch.backend)  # the backends that ran
    result.costs = variant_costs(project, shot_id, orch.backend)
    if summary.failed and not result.takes:
        from dreamcut.errors import WorkFailed

        reason = summary.failures[0][1] if summary.failures else "see `dreamcut status`"
        raise WorkFailed(f"every preview failed: {reason}", where=shot_id, fix="check the backend, then run again")
    return result


def _run_counting(orch, planned: list[PlannedTake], progress: Progress | None):
    """Run the planned jobs, reporting the fraction of them finished."""
    done = 0

    def step(p: PlannedTake, state: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done / len(planned))

    return orch.run(planned, on_progress=step)


_TAKE_NUMBER = re.compile(r"-t(\d+)(?:-|$)")


def take_number(take_id: str) -> int | None:
    """The number in a take id (`corridor-t02-bb11fd` -> 2), None when it has none."""
    m = _TAKE_NUMBER.search(take_id)
    return int(m.group(1)) if m else None


def promoted_numbers(planned_count: int, existing_ids: list[str], count: int) -> list[int]:
    """Take numbers for `count` promoted takes: after the spec's planned takes and every number the
    shot's takes already carry, so no two takes of a shot share a number ("take 2" twice)."""
    used = [n for n in (take_number(t) for t in existing_ids) if n is not None]
    first = max([planned_count, *used]) + 1
    return list(range(first, first + count))


def unpreviewed(project: Project, shot_id: str, variants: list[int]) -> list[int]:
    """The variants in `variants` that have no preview of this shot in the catalog."""
    previewed = {t.variant for t in project.catalog.takes(shot_id, kind="preview")}
    return [v for v in variants if v not in previewed]


def promote(project: Project, shot_id: str, variants: list[int], progress: Progress | None = None, *,
            orchestrator=None, warn: Callable[[str], None] | None = None) -> list[str]:
    """Render full takes for preview variants (same seed, prompt variant and caption). Returns take ids.

    A variant never previewed is still rendered (its seed is the preview seed it would have had),
    but `warn` is told so first: the director has not seen what will be paid for."""
    spec = project.spec
    shot = spec.shot(shot_id)
    if not variants:
        raise BadInput("no variants to promote", where=shot_id, fix="name variants, e.g. `dreamcut promote s01 0 3`")
    for v in variants:
        if v < 0:
            raise BadInput(f"variant {v} is negative", where=shot_id, fix="use the numbers on the contact sheet")
    if warn:
        for v in unpreviewed(project, shot_id, variants):
            warn(f"warning: {shot_id} variant {v} was never previewed; promoting it renders a take you have not "
                 f"seen (run `dreamcut preview {shot_id}` first to look)")
    seeds = {t.variant: t.seed for t in project.catalog.takes(shot_id, kind="preview")}
    planned = [full_take_for(project, shot_id, v, seed=seeds.get(v)) for v in variants]
    # Numbers only for takes not made yet: a promotion run again keeps the id it was given.
    existing = [t.id for t in project.catalog.takes(shot_id)]
    fresh = [i for i, p in enumerate(planned) if project.catalog.take_for_job(p.key) is None]
    for i, n in zip(fresh, promoted_numbers(spec.shot_takes(shot), existing, len(fresh))):
        planned[i] = replace(planned[i], number=n)
    orch = _orchestrator(project, orchestrator)
    summary = _run_counting(orch, planned, progress)
    ids = [t.id for p in planned if (t := project.catalog.take_for_job(p.key))]
    if summary.failed and not ids:
        from dreamcut.errors import WorkFailed

        raise WorkFailed(f"promotion failed: {summary.failures[0][1] if summary.failures else 'unknown'}",
                         where=shot_id, fix="check the backend, then run again")
    return ids


def prompt_variants(project: Project, shot_id: str) -> int:
    """How many distinct prompt alternatives the shot has ({a|b} groups multiplied)."""
    return variant_count(project.spec.shot(shot_id).prompt_text)
