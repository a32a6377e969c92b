"""Read back an edit changed in an NLE (.otio, .otioz, FCP7 .xml, CMX 3600 .edl) as a timeline dreamcut renders.

An editor reorders, trims, swaps takes, retimes and deletes shots in Premiere or Resolve,
then hands back an export. `read_edit` maps every clip of the edit's picture back to a
file of the project and returns a timeline in dreamcut's conventions (`dreamcut.timeline`):

- the formats are read by their own files: `nle.fcp7` (Time Remap filters become speeds),
  `nle.edl` (M2 lines become speeds, dissolves centred), OTIO's adapter for .otio/.otioz;
- which file a clip is: by the clip's name as a take id (`takes/<shot>/<name>.mp4`) or a
  baked transition (`exports/media/<name>.mp4`), by its media path (relative to the edit
  file, to the project, or absolute; for EDLs the `* SOURCE FILE:` comment), or by its EDL
  reel through the reel table the export wrote (`nle.reels`: the reel a clip left with is
  the reel it comes back as). EDLs are matched name-first (their file comments are not
  reliable per event); XML and OTIO path-first (a swapped take keeps its old name in
  some NLEs);
- source ranges are made relative to the media's start (NLEs give files a start timecode,
  e.g. 01:00:00:00) and rescaled to the project's fps; speeds come from the edit's data;
- a baked transition clip (zoom-through, dip) that still sits between its own two shots
  becomes the transition again, so it follows trims made in the NLE; one moved elsewhere
  stays a clip of its baked media;
- several video tracks are flattened top-down (what the viewer sees); gaps (and EDL black)
  stay gaps; the NLE's dissolves render as dissolves;
- the song: the edit's audio is NOT used (an NLE mixes scratch audio in); A1 is the project's
  song from 0 for the picture's length, as the render muxes it.

This module never writes files and never changes the project's own edit (edits/cut.otio).
"""

from __future__ import annotations

import copy
from pathlib import Path

import opentimelineio as otio

from dreamcut import timeline as tl
from dreamcut.errors import BadInput
from dreamcut.media import probe
from dreamcut.nle import edl, fcp7, reels

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
                       fix="use an .otio, .otioz, FCP7 .xml or CMX 3600 .edl export")
    title = None
    if fps is None or song is None or size is None:
        from dreamcut.spec import load_spec

        spec = load_spec(root / "dreamcut.yaml")
        fps = fps or spec.fps
        song = song or spec.song
        size = size or spec.master_size
        title = spec.title
    try:
        if adapter == "cmx_3600":
            edit = edl.read(path, fps)
        elif adapter == "fcp_xml":
            edit = fcp7.read(path, fps)
        else:
            edit = otio.adapters.read_from_file(str(path), adapter_name=adapter)
    except BadInput:
        raise
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
    for item in picture:
        if isinstance(item, otio.schema.Transition):
            v = tl.transition_view(item, fps)
            track.append(tl.make_transition(v.kind, v.in_frames, v.out_frames, fps, name=item.name or None))
            continue
        if isinstance(item, otio.schema.Clip) and isinstance(item.media_reference, otio.schema.GeneratorReference):
            item = otio.schema.Gap(source_range=item.source_range)  # EDL black, an NLE's slug: black
        if isinstance(item, otio.schema.Gap):
            n = tl.frames(item.source_range.duration if item.source_range else item.duration(), fps)
            if n > 0:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(tl.rt(0, fps), tl.rt(n, fps))))
            continue
        if not isinstance(item, otio.schema.Clip):
            continue
        media = finder.find(item)
        view = tl.clip_view(item, fps)
        start = view.source_in - _media_start(item, fps)
        start = finder.fit_start(media, start, view.source_frames, fps, item.name)
        take = Path(media).stem
        parts = Path(media).parts
        old = view.meta
        extra = {k: old[k] for k in ("from", "to", "in", "out") if k in old}
        track.append(tl.make_clip(
            take=take, media=media, source_in=start, record=view.record, speed=view.speed, fps=fps,
            shot=parts[1] if len(parts) > 2 and parts[0] == "takes" else None,
            baked=view.baked or finder.baked_kind(media),
            reason=f"conformed from {path.name}" + (f" (clip {item.name})" if item.name != take else ""),
            score=old.get("score"), **extra))
    _unbake(track, fps)
    # An NLE's empty tail (or a dangling transition) is not part of the picture.
    while len(track) and isinstance(track[-1], (otio.schema.Transition, otio.schema.Gap)):
        del track[-1]
    if not any(isinstance(i, otio.schema.Clip) for i in track):
        raise BadInput("the edit has no picture clips", where=path.name, fix="export the sequence with its video track")
    record = 0
    for item in track:  # record positions, for the board and `edit --explain`
        if isinstance(item, otio.schema.Clip):
            v = tl.clip_view(item, fps)
            item.metadata["dreamcut"]["record_start"] = record / fps
            item.metadata["dreamcut"]["record_end"] = (record + v.record) / fps
            record += v.record
        elif isinstance(item, otio.schema.Gap):
            record += tl.frames(item.source_range.duration, fps)

    out = otio.schema.Timeline(name=edit.name or title or path.stem)
    out.tracks.append(track)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(name=Path(song).stem, media_reference=otio.schema.ExternalReference(target_url=song),
                                  source_range=otio.opentime.TimeRange(tl.rt(0, fps), tl.rt(record, fps))))
    out.tracks.append(audio)
    for m in picture.markers:
        track.markers.append(copy.deepcopy(m))
    out.metadata["dreamcut"] = {"version": tl.VERSION, "song": song, "fps": fps, "size": list(size), "tempo": None,
                                "title": title or out.name, "conformed_from": path.name}
    return out


def _unbake(track: otio.schema.Track, fps: int) -> None:
    """A baked transition clip between its own two shots becomes the transition again (it follows their trims)."""
    k = 1
    while k + 1 < len(track):
        mid, a, b = track[k], track[k - 1], track[k + 1]
        if not (isinstance(mid, otio.schema.Clip) and isinstance(a, otio.schema.Clip)
                and isinstance(b, otio.schema.Clip)):
            k += 1
            continue
        vm, va, vb = tl.clip_view(mid, fps), tl.clip_view(a, fps), tl.clip_view(b, fps)
        src, dst = _baked_ends(vm)
        if not vm.baked or (src, dst) != (va.take, vb.take):
            k += 1
            continue
        d = vm.record
        t_in = int(vm.meta["in"]) if "in" in vm.meta and "out" in vm.meta and \
            int(vm.meta["in"]) + int(vm.meta["out"]) == d else d // 2
        t_out = d - t_in
        tl.set_range(a, source_in=va.source_in, record=va.record + t_in, speed=va.speed, fps=fps)
        tl.set_range(b, source_in=vb.source_in - round(t_out * vb.speed), record=vb.record + t_out, speed=vb.speed,
                     fps=fps)
        track.remove(mid)
        track.insert(k, tl.make_transition(vm.baked, t_in, t_out, fps))
        k += 2


def _baked_ends(view: tl.ClipView) -> tuple[str | None, str | None]:
    """The take ids a baked clip joins: from its metadata, else from its name `<a>__<kind>__<b>`."""
    if "from" in view.meta and "to" in view.meta:
        return str(view.meta["from"]), str(view.meta["to"])
    parts = view.take.split("__")
    if len(parts) == 3 and parts[1] in tl.KIND_TO_TYPE:
        return parts[0], parts[2]
    return None, None


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
        self.takes = reels.project_takes(root)
        baked = root / "exports" / "media"
        self.baked = {p.stem: p for p in sorted(baked.glob("*.mp4"))} if baked.is_dir() else {}
        self.reels = reels.reel_to_take(root, edit_dir)
        self.lengths: dict[str, float] = {}

    def find(self, clip: otio.schema.Clip) -> str:
        """The project-relative path of the file this clip shows."""
        tries = (self._by_name, self._by_path, self._by_reel) if self.name_first else \
            (self._by_path, self._by_name, self._by_reel)
        for attempt in tries:
            found = attempt(clip)
            if found is not None:
                return self._rel(found)
        url = getattr(clip.media_reference, "target_url", None) or edl.source_file_of(clip)
        shown = Path(tl.media_path(url)).name if url else "no media path"
        raise BadInput(f"clip {clip.name!r} ({shown}) matches no take of the project", where=f"clip {clip.name}",
                       fix="name clips by their take id, keep the media paths, or relink the clip to a take")

    def baked_kind(self, media: str) -> str | None:
        """The transition type of a baked clip's file (exports/media/<a>__<kind>__<b>.mp4), else None."""
        parts = Path(media).stem.split("__")
        if Path(media).parent.as_posix().endswith("exports/media") and len(parts) == 3:
            return tl.KIND_TO_TYPE.get(parts[1])
        return None

    def _by_name(self, clip: otio.schema.Clip) -> Path | None:
        for name in {clip.name, Path(clip.name).stem} if clip.name else ():
            if name in self.takes:
                return self.takes[name]
            if name in self.baked:
                return self.baked[name]
        return None

    def _by_path(self, clip: otio.schema.Clip) -> Path | None:
        url = getattr(clip.media_reference, "target_url", None) or edl.source_file_of(clip)
        if not url:
            return None
        p = Path(tl.media_path(url))
        candidates = [p] if p.is_absolute() else [self.edit_dir / p, self.root / p]
        for c in candidates:
            if c.is_file():
                return c.resolve()
        # The NLE's machine had another folder layout: a take of ours with the same file name.
        stem = Path(p.name).stem
        return self.takes.get(stem) or self.baked.get(stem)

    def _by_reel(self, clip: otio.schema.Clip) -> Path | None:
        reel = (clip.metadata.get("cmx_3600") or {}).get("reel")
        if not reel:
            return None
        take = self.reels.get(reel)
        if take in self.takes:
            return self.takes[take]
        for stem, path in self.baked.items():
            if reel == reels.baked_reel(stem):
                return path
        return None

    def _rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(Path(path).resolve())  # outside the project: kept in memory only, never written by us

    def fit_start(self, media: str, start: int, frames: float, fps: int, clip_name: str) -> int:
        """Undo a start timecode the NLE gave the media (e.g. 01:00:00:00) when the range lies past the file."""
        if media not in self.lengths:
            p = Path(media) if Path(media).is_absolute() else self.root / media
            self.lengths[media] = probe(p).duration
        length = round(self.lengths[media] * fps)
        if start + frames <= length + 1 and start >= 0:
            return start
        hour = 3600 * fps
        shifted = start - (start // hour) * hour
        if start >= hour and shifted + frames <= length + 1:
            return shifted
        raise BadInput(f"clip reads frames {start}..{start + frames:.0f} but its file has {length}",
                       where=f"clip {clip_name} ({Path(media).name})", fix="trim the clip inside its take in the NLE")


def _media_start(clip: otio.schema.Clip, fps: int) -> int:
    ref = clip.media_reference
    ar = getattr(ref, "available_range", None)
    return tl.frames(ar.start_time, fps) if ar is not None else 0


__all__ = ["read_edit", "READERS"]
