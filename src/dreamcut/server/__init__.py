"""`dreamcut serve`: an OpenAI-compatible videos API on local backends (see `app.py`)."""

from __future__ import annotations

import logging
from pathlib import Path

from dreamcut.errors import BadInput


def load_local_backend(name: str, cache_dir: Path | None = None):
    """`testcard` (flat colour, for plumbing tests) or any local backend of the registry (`animatic`, ...)."""
    from dreamcut.backends.base import LocalBackend

    if name == "testcard":
        from dreamcut.server.testcard import TestcardBackend

        return TestcardBackend(cache_dir=cache_dir)
    from dreamcut.backends.registry import load_backend

    try:
        backend = load_backend(name)
    except ValueError as e:
        raise BadInput(str(e), where="--backend", fix="use testcard, animatic or diffusers:PATH") from None
    if not isinstance(backend, LocalBackend):
        raise BadInput(f"{name} is not a local backend; serve renders on this machine", where="--backend",
                       fix="use testcard, animatic or diffusers:PATH")
    return backend


def resolve_api_key(*, flag: str | None, file: Path | None, env: str | None) -> tuple[str | None, str | None]:
    """The server's key and a warning line: --api-key-file, else DREAMCUT_API_KEY, else the deprecated --api-key.

    A key on the command line is visible to every user of the machine (`ps`), so --api-key
    still works but says so.
    """
    if flag and file:
        raise BadInput("--api-key and --api-key-file both given", where="--api-key", fix="keep only --api-key-file")
    if file is not None:
        try:
            key = Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"cannot read the key file ({type(e).__name__})", where=str(file),
                           fix="give a readable text file holding only the key") from None
        if not key or any(c.isspace() for c in key):
            raise BadInput("the key file must hold one key (no spaces, not empty)", where=str(file),
                           fix="write only the key into the file, e.g. `openssl rand -hex 24 > key.txt`")
        return key, None
    if flag:
        return flag, ("warning: --api-key is deprecated: the key shows in the process list to every user of this "
                      "machine; use --api-key-file FILE or the DREAMCUT_API_KEY environment variable")
    return (env or None), None


def run(*, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None, backend: str = "animatic",
        workers: int = 2, chaos: float = 0.0, chaos_seed: int | None = None, latency: float = 0.0,
        price_per_second: float = 0.0, storage: Path | None = None, blocked_words: tuple[str, ...] = (),
        poll_after_ms: int = 1000, fps: int = 24, log_level: str = "warning", max_request_bytes: int = 64 << 20,
        max_pending: int = 1000, fetch_urls: bool = True) -> None:
    import uvicorn

    from dreamcut.server.app import VideoServer, create_app

    if not 0.0 <= chaos <= 1.0:
        raise BadInput(f"--chaos {chaos} is not a rate", where="--chaos", fix="give a number from 0 to 1, e.g. 0.2")
    server = VideoServer(load_local_backend(backend, cache_dir=storage / "cache" if storage else None),
                         storage=storage, api_key=api_key, workers=workers, chaos=chaos, chaos_seed=chaos_seed,
                         latency=latency, price_per_second=price_per_second, blocked_words=blocked_words,
                         poll_after_ms=poll_after_ms, fps=fps, max_request_bytes=max_request_bytes,
                         max_pending=max_pending, fetch_urls=fetch_urls)
    if storage is None and backend == "testcard":
        server.backend.cache_dir = server.storage / "cache"
    # Chaos drops raise inside the app on purpose; keep uvicorn from printing a traceback for each.
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL if chaos > 0 else logging.WARNING)
    try:
        uvicorn.run(create_app(server), host=host, port=port, log_level=log_level, access_log=False,
                    timeout_keep_alive=30)
    finally:
        server.close()
