"""Text-to-video backends, one file each, behind the protocol in `base.py`."""

from dreamcut.backends.registry import BACKENDS, BackendRef, load_backend, parse_backend

__all__ = ["BACKENDS", "BackendRef", "load_backend", "parse_backend"]
