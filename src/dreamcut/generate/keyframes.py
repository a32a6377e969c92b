"""Cast keyframes, for the job runner (`CastKeyframes`, mixed into `Orchestrator`): a take whose shot says
`cast_keyframe: true` is made in two paid steps. First the backend's image model makes the take's first
frame from every cast picture it takes (Runway gen4_image with `@tag`ged references, Luma photon with
`character_ref`), then the video model animates it. The keyframe is a child job `<key>.k`: its own row,
its own provider job, its price moved from the take's reservation to a charge once (like a chain
segment), its image kept under `.dreamcut/keyframes/`. A crash anywhere resumes it, never re-pays it:
a finished keyframe is downloaded again (not made again), an unknown create is reconciled or parked."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dreamcut.backends._cast import after_keyframe
from dreamcut.backends.base import Backend, GenerationRequest, ProviderError
from dreamcut.generate.batch import KEY_VERSION, PlannedTake
from dreamcut.generate.cost import KEYFRAME_SUFFIX, cast_keyframe
from dreamcut.generate.jobs import stored_request
from dreamcut.media import pid_alive


def _image_ok(path: Path) -> bool:
    """A whole image file (decodable), as a finished download leaves it."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file() or not path.stat().st_size:
        return False
    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def cast_keyframe_lines(spec, root: str = ".", shots=None) -> list[str]:
    """One line per group of shots whose takes start from a cast keyframe: how many references the
    image model gets, at what price a keyframe, then which video model ("runway:gen4_turbo: cast
    keyframe from 3 references via gen4_image ($0.05), then gen4_turbo ... [shots s1: mia]"). The
    first line of that group's block in `dreamcut check`'s cast section (`backends._cast.cast_blocks`),
    printed by `dreamcut check` and `dreamcut estimate` alike. `shots`: only these shot ids."""
    from dreamcut.backends._cast import cast_blocks

    return [lines[0] for through, lines in cast_blocks(spec, root, shots) if through]


class CastKeyframes:
    """Methods of `Orchestrator` (see orchestrator.py for the state they use)."""

    @property
    def keyframes_dir(self) -> Path:
        return self.project.keyframes_dir

    def _video_request(self, p: PlannedTake, backend: Backend) -> GenerationRequest:
        """The request the video is made from: `p.request`, or, for a take with a cast keyframe, the same
        request starting from the keyframe (made first, once). The take's row then stores that request, so
        `dreamcut reconcile` resubmits the video from its keyframe."""
        step = cast_keyframe(backend, p.request)
        if step is None:
            return p.request
        ref = self._make_keyframe(p, step)
        video = after_keyframe(p.request, ref)
        with self._db:
            self.catalog.update_job(p.key, request_json=json.dumps(stored_request(video, self.project.root)))
        return video

    def _make_keyframe(self, p: PlannedTake, step) -> str:
        """Make (or resume) the keyframe job of take `p`; the reference the video request carries."""
        kkey = p.key + KEYFRAME_SUFFIX
        dest = self.keyframes_dir / f"{p.key}{step.suffix}"
        with self._db:
            row = self.catalog.job(kkey)
            if row is None:
                self.catalog.add_job(kkey, shot_id=p.shot_id, kind="keyframe", variant=p.request.variant,
                                     backend=str(p.backend),
                                     request_json=json.dumps(stored_request(p.request, self.project.root)),
                                     reserved_usd=0.0, key_version=KEY_VERSION)
                row = self.catalog.job(kkey)
        if row["state"] == "completed":
            provider_id = row["provider_job_id"]
        else:
            with self._slots_for(p.backend):  # a keyframe is a job at the provider like any other
                provider_id = self._submit_and_wait(p.backend, step, kkey, lambda b, k: b.submit(p.request, k),
                                                    p.request)
            self._charge_keyframe(p.key, kkey, step, p.request)
        if not _image_ok(dest):
            self._fetch_keyframe(p, step, kkey, provider_id, dest)
        return self._call(p.backend, kkey, lambda: step.video_ref(provider_id, dest))

    def _fetch_keyframe(self, p: PlannedTake, step, kkey: str, provider_id: str, dest: Path) -> None:
        self._ensure_dir(dest.parent)
        part = dest.with_name(f"{dest.stem}.{os.getpid()}.part{dest.suffix}")

        def download() -> None:
            step.download(provider_id, part)
            if not _image_ok(part):
                part.unlink(missing_ok=True)
                raise ProviderError("the keyframe download is not an image", code="corrupt_download", transient=True)
            os.replace(part, dest)

        self._call(p.backend, kkey, download)

    def _charge_keyframe(self, parent: str, kkey: str, step, request: GenerationRequest) -> None:
        """A finished keyframe moves its price from the take's reservation to a charge, once."""
        with self._db, self.catalog.transaction():
            row = self.catalog.job(kkey)
            if row["state"] == "completed":
                return
            cost = row["cost_usd"] or round(step.price(request), 6)
            parent_row = self.catalog.job(parent)
            moved = min(cost, parent_row["reserved_usd"])
            self.catalog.update_job(kkey, state="completed", cost_usd=cost, finished_at=time.time())
            self.catalog.update_job(parent, reserved_usd=parent_row["reserved_usd"] - moved)
            if cost:
                self.catalog.ledger_add("charge", cost, kkey, f"cast keyframe ({step.name} {step.model})")
            if moved:
                self.catalog.ledger_add("release", -moved, parent)

    def _sweep_keyframe_parts(self) -> list[Path]:
        """Remove `<key>.<pid>.part.<ext>` keyframe downloads of processes that are gone (kill -9)."""
        removed: list[Path] = []
        folder = self.keyframes_dir
        for part in folder.glob("*.part.*") if folder.is_dir() else ():
            pid = part.name.split(".part.", 1)[0].rsplit(".", 1)[-1]
            if pid.isdigit() and not pid_alive(int(pid)):
                part.unlink(missing_ok=True)
                removed.append(part)
        return removed


def keyframe_cost(row) -> float:
    """What a cast keyframe's job row says it was charged: its cost once completed, else 0 (none, or not made)."""
    return float(row["cost_usd"] or 0.0) if row is not None and row["state"] == "completed" else 0.0
