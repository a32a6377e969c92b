"""`.otioz`: the `.otio` zipped with its media (takes, baked clips, song), for handing the edit to another machine."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from dreamcut.media import atomic_path


def write(timeline: otio.schema.Timeline, dest: Path) -> Path:
    """Bundle `timeline` (its media URLs absolute file URLs) into `dest`, atomically."""
    with atomic_path(dest) as tmp:
        tmp.unlink()  # the otioz adapter refuses to overwrite
        otio.adapters.write_to_file(timeline, str(tmp), adapter_name="otioz")
    return Path(dest)
