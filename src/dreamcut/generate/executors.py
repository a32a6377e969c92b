"""Where local-model renders run: in this process (default) or as Ray tasks on a cluster.

The orchestrator keeps the durable bookkeeping (job rows, files, ledger) in this process
and hands an executor only the pixels: `render(ref, backend, request, dest, key)` must
leave a finished video at `dest` or raise. Cloud backends never go through an executor:
they scale by concurrency against the provider.

The Ray executor runs each render as a Ray task with `num_gpus` GPUs (0 on a CPU machine)
and brings the file's bytes back through Ray's object store, so workers need no shared
filesystem with the driver. Backends are shipped to workers with cloudpickle: they must be
picklable and should load model weights lazily, on first render.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Protocol

from dreamcut.backends.base import Backend, GenerationRequest
from dreamcut.backends.registry import BackendRef
from dreamcut.errors import BadInput, WorkFailed


class Executor(Protocol):
    def render(self, ref: BackendRef, backend: Backend, request: GenerationRequest, dest: Path, key: str) -> None: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """Render in the calling thread through the backend protocol (submit, then download)."""

    def render(self, ref: BackendRef, backend: Backend, request: GenerationRequest, dest: Path, key: str) -> None:
        job = backend.submit(request, key)
        backend.download(job, Path(dest))

    def close(self) -> None:
        pass


def _render_to_bytes(backend: Backend, request_dict: dict, key: str) -> bytes:
    """Runs on a Ray worker: render into a temp file there and return its bytes."""
    request = GenerationRequest.from_dict(request_dict)
    with tempfile.TemporaryDirectory(prefix="dreamcut-ray-") as tmp:
        dest = Path(tmp) / "take.mp4"
        job = backend.submit(request, key)
        backend.download(job, dest)
        return dest.read_bytes()


class RayExecutor:
    """Run local renders as Ray tasks.

    address: a running cluster ("ray://host:10001" or "auto"); None starts a local Ray.
    num_gpus / num_cpus: resources each render asks for.
    init_options: passed to `ray.init` when this executor starts Ray (e.g. num_cpus for a local one).
    """

    def __init__(self, address: str | None = None, *, num_gpus: float = 0.0, num_cpus: float = 1.0,
                 init_options: dict | None = None):
        try:
            import ray
        except ImportError:
            raise BadInput("the Ray executor needs the ray package", where="--executor ray",
                           fix="pip install 'dreamcut[ray]'") from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            import dreamcut

            # Ship dreamcut's own code to the workers, so a cluster needs only its dependencies.
            options = {"include_dashboard": False, "log_to_driver": False,
                       "runtime_env": {"py_modules": [str(Path(dreamcut.__file__).parent)]}, **(init_options or {})}
            try:
                ray.init(address=address, **options)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise BadInput(f"cannot reach Ray at {address or 'a new local instance'}: {str(e)[:200]}",
                               where="--ray-address", fix="start the cluster or check the address") from None
            self._started = True
        self._remote = ray.remote(num_gpus=num_gpus, num_cpus=num_cpus, max_retries=2)(_render_to_bytes)

    def render(self, ref: BackendRef, backend: Backend, request: GenerationRequest, dest: Path, key: str) -> None:
        try:
            data = self._ray.get(self._remote.remote(backend, request.to_dict(), key))
        except self._ray.exceptions.RayError as e:
            lines = [x for x in str(e).splitlines() if x.strip()]
            raise WorkFailed(f"the Ray task for {request.shot_id} failed: {lines[-1][:300] if lines else type(e).__name__}",
                             where=f"shot {request.shot_id}") from None
        Path(dest).write_bytes(data)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def make_executor(name: str = "local", *, ray_address: str | None = None, num_gpus: float = 0.0) -> Executor:
    if name in ("local", "inprocess", "in-process"):
        return InProcessExecutor()
    if name == "ray":
        return RayExecutor(ray_address, num_gpus=num_gpus)
    raise BadInput(f"unknown executor {name!r}", where="--executor", fix="use local or ray")
