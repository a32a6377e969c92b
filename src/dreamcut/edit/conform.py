"""Read back an edit changed in an NLE (.otio, FCP7 .xml, CMX 3600 .edl) as a timeline dreamcut renders.

An editor reorders, trims, swaps takes and deletes shots in Premiere or Resolve, then hands
back an export. `read_edit` maps every clip of the edit's picture back to a file of the
project and returns a timeline in dreamcut's conventions (docs/internals.md):

- which file a clip is: by the clip's name as a take id (`takes/<shot>/<name>.mp4`) or a baked
  transition (`exports/media/<name>.mp4`), by its media path (relative to the edit file, to
  the project, or absolute), or by its EDL reel (the reels `export.py` writes). EDLs are
  matched name-first because their file comments are not reliable per event; XML and OTIO
  path-first, because a swapped take keeps its old name in some NLEs;
- source ranges are made relative to the media's start (NLEs give files a start timecode,
  e.g. 01:00:00:00) and rescaled to the project's fps; speeds come from dreamcut metadata
  when the edit kept it (.otio), else 1.0;
- several video tracks are flattened top-down (what the viewer sees); gaps stay gaps (they
  render black); transitions keep their offsets (the NLE's dissolves render as dissolves);
- the song: the edit's audio is NOT used (an NLE mixes scratch audio in); A1 is the project's
  song from 0 for the picture's length, as the render muxes it.

This module never writes files and never changes the project's own edit (edits/cut.otio).
"""

from __future__ import annotations

import copy
import re
import urllib.parse
from pathlib import Path

import opentimelineio as otio

from dreamcut.errors import BadInput
from dreamcut.media import probe

READERS = {".otio": "otio_json", ".xml": "fcp_xml", ".edl": "cmx_3600", ".otioz": "otioz"}


def read_edit(path: Path, root: Path, *, fps: int | None = None, song: str | None = None,
              size: tuple[int, int] | None = None) -> otio.schema.Timeline:
    """Read an NLE's edit at `path` and return it as a dreamcut timeline with media under `root`.

    fps / song / size default to the project's spec (dreamcut.yaml in `root`).
    Raises BadInput naming the clip that matches no file of the project.
    """
    path, root = Path(path), Path(root).resolve()
    if not path.is_file():
        raise BadInput("edit file does not exist", where=path.name, fix="export the edit from your NLE first")
    adapter = READERS.get(path.suffix.lower())
    if adapter is None:
        raise BadInput(f"unknown edit format {path.suffix!r}", where=path.name,
                       fix="use an .otio, FCP7 .xml or CMX 3600 .edl export")
    title = None
    if fps is None or song is None or size is None:
        from dreamcut.spec import load_spec

        spec = load_spec(root / "dreamcut.yaml")
        fps = fps or spec.fps
        song = song or spec.song
        size = size or spec.master_size
        title = spec.title
    try:
        kwargs = {"rate": fps} if adapter == "cmx_3600" else {}
        edit = otio.adapters.read_from_file(str(path), adapter_name=adapter, **kwargs)
    except Exception as e:  # the adapters raise their own exception types on malformed files
        raise BadInput(f"cannot read this {adapter} file ({type(e).__name__}: {str(e)[:120]})", where=path.name,
                       fix="re-export the edit from the NLE") from None
    if isinstance(edit, otio.schema.SerializableCollection):
        timelines = list(edit.find_children(descended_from_type=otio.schema.Timeline))
        if not timelines:
            raise BadInput("the file holds no timeline", where=path.name)
        edit = timelines[0]

    picture = _picture(edit)
    finder = _Finder(root, path.parent, name_first=adapter == "cmx_3600")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    record = 0
    for item in picture:
        if isinstance(item, otio.schema.Transition):
            t = otio.schema.Transition(name=item.name, transition_type=item.transition_type or "SMPTE_Dissolve",
                                       in_offset=_at(item.in_offset, fps), out_offset=_at(item.out_offset, fps))
            track.append(t)
            continue
        if isinstance(item, otio.schema.Gap):
            n = _frames(item.source_range.duration if item.source_range else item.duration(), fps)
            if n > 0:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(n, fps))))
                record += n
            continue
        if not isinstance(item, otio.schema.Clip):
            continue
        media = finder.find(item)
        old = item.metadata.get("dreamcut") or {}
        speed = float(old.get("speed", 1.0) or 1.0) if adapter in ("otio_json", "otioz") else 1.0
        sr = item.source_range or item.trimmed_range()
        start = _frames(sr.start_time, fps) - _media_start(item, fps)
        duration = _frames(sr.duration, fps)
        start = finder.fit_start(media, start, duration, fps, item.name)
        clip = otio.schema.Clip(name=_take_id(media), media_reference=otio.schema.ExternalReference(target_url=media),
                                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start, fps),
                                                                     otio.opentime.RationalTime(duration, fps)))
        rec = max(1, round(duration / speed))
        parts = Path(media).parts
        clip.metadata["dreamcut"] = {
            "shot": parts[1] if len(parts) > 2 and parts[0] == "takes" else None,
            "take": _take_id(media), "speed": speed,
            "reason": f"conformed from {path.name}" + (f" (clip {item.name})" if item.name != _take_id(media) else ""),
            "score": old.get("score"), "record_start": record / fps, "record_end": (record + rec) / fps,
        }
        if "baked" in old:
            clip.metadata["dreamcut"]["baked"] = old["baked"]
        track.append(clip)
        record += rec
    if not any(isinstance(i, otio.schema.Clip) for i in track):
        raise BadInput("the edit has no picture clips", where=path.name, fix="export the sequence with its video track")
    # An NLE's empty tail (or a dangling transition) is not part of the picture.
    while len(track) and isinstance(track[-1], (otio.schema.Transition, otio.schema.Gap)):
        if isinstance(track[-1], otio.schema.Gap):
            record -= _frames(track[-1].source_range.duration, fps)
        del track[-1]

    tl = otio.schema.Timeline(name=edit.name or title or path.stem)
    tl.tracks.append(track)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(name=Path(song).stem, media_reference=otio.schema.ExternalReference(target_url=song),
                                  source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps),
                                                                       otio.opentime.RationalTime(record, fps))))
    tl.tracks.append(audio)
    for m in picture.markers:
        track.markers.append(copy.deepcopy(m))
    tl.metadata["dreamcut"] = {"version": 1, "song": song, "fps": fps, "size": list(size), "tempo": None,
                               "title": title or tl.name, "conformed_from": path.name}
    return tl


# -- picking the picture --------------------------------------------------------------------------


def _picture(edit: otio.schema.Timeline) -> otio.schema.Track:
    """The edit's picture as one track: the video tracks flattened, the top one winning."""
    videos = [t for t in edit.tracks if t.kind == otio.schema.TrackKind.Video
              and any(isinstance(c, otio.schema.Clip) for c in t.find_clips())]
    if not videos:
        raise BadInput("the edit has no video track with clips", where=edit.name or "edit",
                       fix="export the sequence with its video")
    if len(videos) == 1 and not any(isinstance(i, otio.schema.Stack) for i in videos[0]):
        return videos[0]
    # flatten_stack resolves nested sequences and lets upper tracks cover lower ones.
    return otio.algorithms.flatten_stack([_unnest(t) for t in videos])


def _unnest(track: otio.schema.Track) -> otio.schema.Track:
    """Replace nested sequences (Stacks) in a track by their flattened, trimmed picture."""
    if not any(isinstance(i, otio.schema.Stack) for i in track):
        return track
    out = otio.schema.Track(name=track.name, kind=track.kind)
    for item in track:
        if isinstance(item, otio.schema.Stack):
            inner = [t for t in item if isinstance(t, otio.schema.Track) and t.kind == otio.schema.TrackKind.Video]
            if not inner:
                out.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=item.duration())))
                continue
            flat = otio.algorithms.flatten_stack([_unnest(copy.deepcopy(t)) for t in inner])
            trimmed = otio.algorithms.track_trimmed_to_range(flat, item.trimmed_range())
            for child in list(trimmed):
                trimmed.remove(child)
                out.append(child)
        else:
            out.append(copy.deepcopy(item))
    return out


# -- finding each clip's file ----------------------------------------------------------------------


class _Finder:
    def __init__(self, root: Path, edit_dir: Path, *, name_first: bool):
        self.root, self.edit_dir, self.name_first = root, edit_dir.resolve(), name_first
        self.takes = {p.stem: p for p in sorted((root / "takes").glob("*/*.mp4"))} if (root / "takes").is_dir() else {}
        baked = root / "exports" / "media"
        self.baked = {p.stem: p for p in sorted(baked.glob("*.mp4"))} if baked.is_dir() else {}
        self.reels = _reel_names(self.takes)
        self.lengths: dict[str, float] = {}

    def find(self, clip: otio.schema.Clip) -> str:
        """The project-relative path of the file this clip shows."""
        tries = (self._by_name, self._by_path, self._by_reel) if self.name_first else \
            (self._by_path, self._by_name, self._by_reel)
        for attempt in tries:
            found = attempt(clip)
            if found is not None:
                return self._rel(found)
        url = getattr(clip.media_reference, "target_url", None)
        shown = Path(_url_path(url)).name if url else "no media path"
        raise BadInput(f"clip {clip.name!r} ({shown}) matches no take of the project", where=f"clip {clip.name}",
                       fix="name clips by their take id, keep the media paths, or relink the clip to a take")

    def _by_name(self, clip: otio.schema.Clip) -> Path | None:
        for name in {clip.name, Path(clip.name).stem} if clip.name else ():
            if name in self.takes:
                return self.takes[name]
            if name in self.baked:
                return self.baked[name]
        return None

    def _by_path(self, clip: otio.schema.Clip) -> Path | None:
        url = getattr(clip.media_reference, "target_url", None)
        if not url:
            return None
        p = Path(_url_path(url))
        candidates = [p] if p.is_absolute() else [self.edit_dir / p, self.root / p]
        for c in candidates:
            if c.is_file():
                return c.resolve()
        # The NLE's machine had another folder layout: a take of ours with the same file name.
        stem = Path(p.name).stem
        return self.takes.get(stem) or self.baked.get(stem)

    def _by_reel(self, clip: otio.schema.Clip) -> Path | None:
        reel = (clip.metadata.get("cmx_3600") or {}).get("reel")
        if reel and reel in self.reels:
            return self.takes[self.reels[reel]]
        from dreamcut.export import baked_reel

        for stem, path in self.baked.items():
            if reel == baked_reel(stem):
                return path
        return None

    def _rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(Path(path).resolve())  # outside the project: kept in memory only, never written by us

    def fit_start(self, media: str, start: int, duration: int, fps: int, clip_name: str) -> int:
        """Undo a start timecode the NLE gave the media (e.g. 01:00:00:00) when the range lies past the file."""
        if media not in self.lengths:
            p = Path(media) if Path(media).is_absolute() else self.root / media
            self.lengths[media] = probe(p).duration
        length = round(self.lengths[media] * fps)
        if start + duration <= length + 1 and start >= 0:
            return start
        hour = 3600 * fps
        shifted = start - (start // hour) * hour
        if start >= hour and shifted + duration <= length + 1:
            return shifted
        raise BadInput(f"clip reads frames {start}..{start + duration} but its file has {length}",
                       where=f"clip {clip_name} ({Path(media).name})", fix="trim the clip inside its take in the NLE")


def _reel_names(takes: dict[str, Path]) -> dict[str, str]:
    """The reel names export.py gives takes (<= 8 letters/digits), mapped back to take ids."""
    used: dict[str, str] = {}
    for take in takes:
        base = re.sub(r"[^A-Za-z0-9]", "", take).upper()[:8] or "TAKE"
        reel, k = base, 1
        while reel in used:
            suffix = str(k)
            reel, k = base[: 8 - len(suffix)] + suffix, k + 1
        used[reel] = take
    return used


def _url_path(url: str) -> str:
    """A file path from a URL or path as NLEs write them (file://localhost/D%3a/..., relative, Windows)."""
    url = url.strip()
    if url.startswith("file:"):
        parsed = urllib.parse.urlparse(url)
        path = urllib.parse.unquote(parsed.path)
        if re.match(r"^/[A-Za-z]:", path):  # file://localhost/D:/media/x.mov
            path = path[1:]
        return path
    return urllib.parse.unquote(url.replace("\\", "/")) if "%" in url else url.replace("\\", "/")


def _take_id(media: str) -> str:
    return Path(media).stem


def _media_start(clip: otio.schema.Clip, fps: int) -> int:
    ref = clip.media_reference
    ar = getattr(ref, "available_range", None)
    return _frames(ar.start_time, fps) if ar is not None else 0


def _frames(t: otio.opentime.RationalTime, fps: int) -> int:
    return round(t.rescaled_to(fps).value)


def _at(t: otio.opentime.RationalTime, fps: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(_frames(t, fps), fps)


__all__ = ["read_edit", "READERS"]
