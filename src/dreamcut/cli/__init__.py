"""`dreamcut` command line. Every module in this package registers its commands on `app`."""

from __future__ import annotations

import importlib
import pkgutil

from dreamcut.cli.app import app, main

__all__ = ["app", "main", "load_commands"]

_loaded = False


def load_commands() -> None:
    """Import every command module of this package (each adds its commands to `app`)."""
    global _loaded
    if _loaded:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name != "app":
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True
