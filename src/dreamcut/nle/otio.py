"""`.otio`: the edit as dreamcut keeps it (every transition, speeds as LinearTimeWarps), with media URLs for a folder.

The lossless round-trip format. Media URLs are relative to the export's folder by default
(`../takes/s01/t1.mp4`, URL-quoted), so the export stays valid when the project folder is
moved; `absolute=True` writes `file://` URLs. Each referenced file's length goes into its
`available_range`, which NLEs need to place handles.
"""

from __future__ import annotations

import copy
import os
import urllib.parse
from pathlib import Path

import opentimelineio as otio

from dreamcut import timeline as tl


def url(path: Path, base: Path, *, absolute: bool, localhost: bool = False) -> str:
    """A media URL for `path`: relative to `base` (quoted), or an absolute file URL."""
    path = Path(path).resolve()
    if absolute:
        quoted = urllib.parse.quote(path.as_posix())
        return f"file://localhost{quoted}" if localhost else f"file://{quoted}"
    return urllib.parse.quote(Path(os.path.relpath(path, base)).as_posix())


def with_urls(timeline: otio.schema.Timeline, root: Path, base: Path, lengths: dict[str, int], fps: int, *,
              absolute: bool, localhost: bool = False, song: str | None = None) -> otio.schema.Timeline:
    """A copy whose media URLs point from `base` (or are absolute), with each file's length set.

    lengths: project-relative media path -> frames. song: the song file NLEs get (e.g. its WAV).
    """
    out = copy.deepcopy(timeline)
    for clip in out.find_clips():
        ref = clip.media_reference
        if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
            continue
        rel = tl.media_path(ref.target_url)
        track = clip.parent()
        if song is not None and track is not None and track.kind == otio.schema.TrackKind.Audio:
            rel = song
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        frames = lengths.get(rel)
        if frames:
            ref.available_range = otio.opentime.TimeRange(tl.rt(0, fps), tl.rt(frames, fps))
        ref.target_url = url(path, base, absolute=absolute, localhost=localhost)
    return out


def write(timeline: otio.schema.Timeline) -> str:
    return tl.to_json(timeline)
