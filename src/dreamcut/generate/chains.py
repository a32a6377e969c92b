"""Long takes as chains of segment jobs, for the job runner (`Chains`, mixed into `Orchestrator`):
the provider's `extend` where it has one (each extension priced as one), else image-to-video from
the previous segment's last frame, joined by ffmpeg; each segment durable and charged once."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from dreamcut.backends.base import Backend, Capabilities, GenerationRequest
from dreamcut.generate.batch import KEY_VERSION, PlannedTake
from dreamcut.generate.cost import take_jobs, uses_extend
from dreamcut.media import atomic_path
from dreamcut.generate.takefiles import _concat, _last_frame, _verified, _verify
from dreamcut.generate.jobs import stored_request


class Chains:
    """Methods of `Orchestrator` (see orchestrator.py for the state they use)."""

    # -- long takes: a chain of segments --------------------------------------------------------
    def _produce_chain(self, p: PlannedTake, backend: Backend, caps: Capabilities, plan: list[float],
                       video: GenerationRequest | None = None) -> Path:
        """Make take `p` as a chain of segments; `video` is its request made from its cast keyframe, if any
        (the first segment starts from the keyframe; the chain is priced and cut from `p.request`)."""
        final = self.downloads_dir / f"{p.key}.mp4"
        if _verified(final):
            return final
        use_extend = uses_extend(backend)
        seg_dir = self.segments_dir / p.key
        parts: list[Path] = []
        prev_provider: str | None = None
        requests = [j.request for j in take_jobs(backend, p.request)]  # the same segments `take_price` priced
        if video is not None and video is not p.request:
            requests = [replace(r, refs=video.refs if i == 0 else r.refs, options=video.options)
                        for i, r in enumerate(requests)]
        for i, _seconds in enumerate(plan):
            ckey = f"{p.key}.s{i}"
            request = requests[i]
            last = i == len(plan) - 1
            if use_extend:
                if i == 0:
                    def submit(b, k, r=request):
                        return b.submit(r, k)
                else:
                    def submit(b, k, r=request, prev=prev_provider):
                        return b.extend(prev, r, k)
                self._child(p, ckey, request)
                if last:
                    # The provider stitches: the last extension's download is the whole take.
                    self._produce(p.backend, backend, caps, ckey, request, submit, dest=final)
                else:
                    with self._slots_for(p.backend):
                        prev_provider = self._submit_and_wait(p.backend, backend, ckey, submit, request)
                self._charge_child(p.key, ckey, backend, request)
            else:
                if parts:
                    still = seg_dir / f"{i - 1}.last.png"
                    if not still.exists():
                        _last_frame(parts[-1], still)
                    request = replace(request, refs=(str(still),))
                self._child(p, ckey, request)
                seg = seg_dir / f"{i}.mp4"
                self._produce(p.backend, backend, caps, ckey, request, lambda b, k, r=request: b.submit(r, k),
                              dest=seg)
                self._charge_child(p.key, ckey, backend, request)
                parts.append(seg)
        if not use_extend:
            with atomic_path(final) as tmp:
                _concat(parts, tmp)
                _verify(tmp, p.key)
        return final

    def _child(self, p: PlannedTake, ckey: str, request: GenerationRequest) -> None:
        with self._db:
            self.catalog.add_job(ckey, shot_id=p.shot_id, kind="segment", variant=p.request.variant,
                                 backend=str(p.backend),
                                 request_json=json.dumps(stored_request(request, self.project.root)),
                                 reserved_usd=0.0, key_version=KEY_VERSION)

    def _charge_child(self, parent: str, ckey: str, backend: Backend, request: GenerationRequest) -> None:
        """A finished segment moves its price from the parent's reservation to a charge, once."""
        with self._db, self.catalog.transaction():
            row = self.catalog.job(ckey)
            if row["state"] == "completed":
                return
            cost = row["cost_usd"] or self.job_price(row["backend"], request, ckey)
            parent_row = self.catalog.job(parent)
            moved = min(cost, parent_row["reserved_usd"])
            self.catalog.update_job(ckey, state="completed", cost_usd=cost, finished_at=time.time())
            self.catalog.update_job(parent, reserved_usd=parent_row["reserved_usd"] - moved,
                                    cost_usd=parent_row["cost_usd"] + cost)
            if cost:
                self.catalog.ledger_add("charge", cost, ckey)
            if moved:
                self.catalog.ledger_add("release", -moved, parent)
