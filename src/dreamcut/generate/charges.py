"""The job runner's money (`Charging`, mixed into `Orchestrator`): what a take reserves before its first
paid request (`_reserve`: the job row and its price in one transaction, within the budget), what one
provider job costs (`job_price`) and what the provider bills for a job that ended (`charged`: its
billing rule, failures and cancels too), all through `cost.py` with the spec's `prices:` override."""

from __future__ import annotations

import json

from dreamcut.backends.base import Backend, GenerationRequest, JobState, JobStatus
from dreamcut.backends.registry import BackendRef, parse_backend
from dreamcut.generate.batch import KEY_VERSION, PlannedTake
from dreamcut.generate.cost import KEYFRAME_SUFFIX, at_spec_prices, job_price, keyframe_price, take_price
from dreamcut.generate.jobs import RunSummary, is_extension, stored_request


class Charging:
    """Methods of `Orchestrator` (see orchestrator.py for the state they use)."""

    def price(self, p: PlannedTake) -> float:
        """What the take costs (every segment of a chain): what is reserved for it."""
        return take_price(self.backend(p.backend), p.request, self.prices.get(str(p.backend)))

    def job_price(self, ref: BackendRef | str, request: GenerationRequest, key: str | None = None) -> float:
        """What one provider job costs (cost.job_price with the spec's override); `key` names the
        job, so that a chain segment made by `extend` is priced as the extension it is."""
        ref = parse_backend(ref) if isinstance(ref, str) else ref
        backend = self.backend(ref)
        if key is not None and key.endswith(KEYFRAME_SUFFIX):  # a take's cast keyframe: an image, priced as one
            return keyframe_price(backend, request)
        return job_price(backend, request, self.prices.get(str(ref)),
                         extends=key is not None and is_extension(key, backend))

    def charged(self, ref: BackendRef | str, backend: Backend, request: GenerationRequest, status: JobStatus,
                key: str | None = None) -> float:
        """Dollars the provider bills for job `key` that ended in `status` (failures and cancels too)."""
        fn = getattr(backend, "charged", None)
        # The billing rule's dollars are the table's: in the spec's prices (a keyframe's image table has none).
        override = None if key is not None and key.endswith(KEYFRAME_SUFFIX) else self.prices.get(str(ref))
        if fn is not None:
            billed = at_spec_prices(backend, float(fn(request, status)), override)
        elif status.cost_usd is not None:
            billed = at_spec_prices(backend, float(status.cost_usd), override)
        elif status.state == JobState.COMPLETED:
            billed = self.job_price(ref, request)
        else:
            billed = 0.0
        if billed and status.cost_usd is None and key is not None and is_extension(key, backend):
            # A billed extension costs an extension's price (Veo: its 7 s), not the generation the
            # segment's request would be on its own; the provider's own figure, when it gives one, wins.
            return self.job_price(ref, request, key)
        return billed

    # -- reservation -------------------------------------------------------------------------
    def _reserve(self, p: PlannedTake, summary: RunSummary) -> bool:
        """Create the job row and reserve its price, in one transaction; False when the budget is spent."""
        price = self.price(p)
        request_json = json.dumps(stored_request(p.request, self.project.root))
        with self._db, self.catalog.transaction():
            if self.catalog.job(p.key) is None:
                if price > 0:
                    left = self.budget_usd - self.catalog.committed_usd()
                    if price > left + 1e-9:
                        summary.failed += 1
                        summary.failures.append((p.key, f"budget: needs ${price:.2f}, ${max(0, left):.2f} left"))
                        return False
                self.catalog.add_job(p.key, shot_id=p.shot_id, kind=p.kind, variant=p.request.variant,
                                     backend=str(p.backend), request_json=request_json, reserved_usd=price,
                                     key_version=KEY_VERSION)
                if price:
                    self.catalog.ledger_add("reserve", price, p.key)
            return True
