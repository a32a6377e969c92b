"""`dreamcut` command line. Every module in this package registers its commands on `app`."""

from __future__ import annotations

from dreamcut.cli.app import app, load_commands, main

__all__ = ["app", "main", "load_commands"]
