"""Hand the edit to an NLE: `.otio`, FCP7 XML for Premiere, CMX 3600 EDL, and an `.otioz` bundle with media.

What each file carries:
- `cut.otio`: the edit as dreamcut keeps it, every transition included (zoom-through as
  `dreamcut_ZoomThrough`, speeds in clip metadata): the lossless round-trip format.
- `premiere.xml` (FCP7 XML, `fcp_xml` adapter) and `cut.edl` (CMX 3600, `cmx_3600` adapter):
  these formats carry a dissolve but not a zoom-through or a dip to black, so those are
  *baked*: rendered into a short clip in `exports/media/` that sits on the track between the
  two shots, which are shortened by the transition's offsets so every cut stays on its beat.
  Retimed clips are written at 1.0x from the same in point with their record length, so
  the song stays in sync; the speed is listed in the notes for the editor to re-apply.
- `cut.otioz`: `cut.otio`'s timeline zipped with its media (takes, baked clips, song).
- `NOTES.txt`: every bake and every simplification, one line each; also returned as the
  "notes" entry and stored in the .otio's metadata.

Media URLs. By default they are RELATIVE to the export file's folder (`../takes/s01/t1.mp4`),
URL-encoded: the exports stay valid when the project folder is moved or shared, and no
home-directory path is ever written. OTIO resolves them against the .otio's folder;
Premiere and Resolve open the XML with the media "offline" when they do not resolve a
relative pathurl, and one "Link Media" pointed at the project folder relinks them all by
name. The EDL names the file in `* FROM CLIP:` comments and a reel (<= 8 characters) per
take. `absolute=True` writes `file://localhost/...` URLs, the form Premiere itself writes,
for users who want the XML to open linked on this machine.

Every file is written atomically. This module never changes the edit it is given.
"""

from __future__ import annotations

import copy
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import opentimelineio as otio

from dreamcut.edit import transitions as tr
from dreamcut.errors import BadInput
from dreamcut.media import atomic_path, probe, write_text_atomic
from dreamcut.render.ffmpeg import Join, RenderPlan, Stream, ZoomSegment, render_plan

FILES = {"otio": "cut.otio", "premiere": "premiere.xml", "edl": "cut.edl", "otioz": "cut.otioz",
         "notes": "NOTES.txt"}
#: transitions FCP7 XML / CMX 3600 carry natively; everything else is baked.
NLE_TRANSITIONS = {tr.DISSOLVE}


@dataclass
class _Entry:
    """One clip of V1 in frames: where it reads in its take and how long it plays on the timeline."""

    clip: otio.schema.Clip
    url: str            # project-relative (or absolute) media path
    start: int          # source frame of the in point
    record: int         # frames on the timeline
    speed: float


def export_all(timeline: otio.schema.Timeline, root: Path, exports_dir: Path, *, absolute: bool = False,
               bundle: bool = True, progress: Callable[[float], None] | None = None) -> dict[str, Path]:
    """Write cut.otio, premiere.xml, cut.edl (+ cut.otioz) and NOTES.txt into `exports_dir`.

    absolute: write absolute file URLs instead of URLs relative to `exports_dir`.
    bundle: also write the .otioz bundle (copies every take the edit uses).
    Returns {"otio", "premiere", "edl", "otioz", "notes", "media:<name>"...} -> written path.
    """
    root, exports_dir = Path(root).resolve(), Path(exports_dir)
    exports_dir.mkdir(parents=True, exist_ok=True)
    exports_dir = exports_dir.resolve()
    meta = dict(timeline.metadata.get("dreamcut") or {})
    fps = int(meta.get("fps") or _rate_of(timeline))
    size = tuple(meta.get("size") or (1280, 720))
    notes: list[str] = []
    written: dict[str, Path] = {}
    durations = _media_frames(timeline, root, fps)

    # The NLE version: bake what FCP7/EDL cannot carry, write retimed clips at 1.0x.
    nle, baked = _for_nle(timeline, root, exports_dir, fps, size, notes, progress)
    for name, path in baked.items():
        written[f"media:{name}"] = path
    durations.update({str(p.relative_to(root)) if _inside(p, root) else str(p): n
                      for p, n in ((p, _frames_of(p, fps)) for p in baked.values())})

    def urls(tl: otio.schema.Timeline, style: str) -> otio.schema.Timeline:
        out = copy.deepcopy(tl)
        for clip in out.find_clips():
            ref = clip.media_reference
            if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
                continue
            rel = ref.target_url
            path = Path(rel) if Path(rel).is_absolute() else root / rel
            frames = durations.get(rel)
            if frames:
                ref.available_range = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps),
                                                              otio.opentime.RationalTime(frames, fps))
            ref.target_url = _url(path, exports_dir, absolute=absolute or style == "bundle",
                                  localhost=style == "fcp")
        return out

    full = urls(timeline, "otio")
    full.metadata.setdefault("dreamcut", {})["export_notes"] = list(notes)
    written["otio"] = exports_dir / FILES["otio"]
    write_text_atomic(written["otio"], otio.adapters.write_to_string(full, "otio_json"))

    written["premiere"] = exports_dir / FILES["premiere"]
    write_text_atomic(written["premiere"], otio.adapters.write_to_string(urls(nle, "fcp"), "fcp_xml"))

    edl = urls(nle, "edl")
    video_only = otio.schema.Timeline(name=edl.name)
    video_only.tracks.append(copy.deepcopy(edl.tracks[0]))
    written["edl"] = exports_dir / FILES["edl"]
    write_text_atomic(written["edl"], otio.adapters.write_to_string(video_only, "cmx_3600", rate=fps, style="avid"))

    if bundle:
        packed = urls(timeline, "bundle")
        packed.metadata.setdefault("dreamcut", {})["export_notes"] = list(notes)
        written["otioz"] = exports_dir / FILES["otioz"]
        with atomic_path(written["otioz"]) as tmp:
            tmp.unlink()  # the otioz adapter refuses to overwrite
            otio.adapters.write_to_file(packed, str(tmp), adapter_name="otioz")

    lines = ["dreamcut export notes", f"edit: {timeline.name}  ({fps} fps, {size[0]}x{size[1]})",
             "media URLs: " + ("absolute file URLs" if absolute else "relative to this folder"), ""]
    lines += [f"- {n}" for n in notes] or ["- nothing was baked or simplified: every format carries the edit as is"]
    written["notes"] = exports_dir / FILES["notes"]
    write_text_atomic(written["notes"], "\n".join(lines) + "\n")
    if progress:
        progress(1.0)
    return written


# -- the NLE version of the edit -----------------------------------------------------------------


def _entries(timeline: otio.schema.Timeline, fps: int) -> tuple[list[_Entry | otio.schema.Gap],
                                                               list[otio.schema.Transition | None]]:
    """V1 as entries (clips or gaps) and the transition after each."""
    items: list[_Entry | otio.schema.Gap] = []
    after: list[otio.schema.Transition | None] = []
    for item in timeline.tracks[0]:
        if isinstance(item, otio.schema.Transition):
            after[-1] = item
        elif isinstance(item, otio.schema.Gap):
            items.append(item)
            after.append(None)
        elif isinstance(item, otio.schema.Clip):
            sr = item.source_range or item.trimmed_range()
            speed = float((item.metadata.get("dreamcut") or {}).get("speed", 1.0) or 1.0)
            src = round(sr.duration.rescaled_to(fps).value)
            items.append(_Entry(clip=item, url=getattr(item.media_reference, "target_url", "") or "",
                                start=round(sr.start_time.rescaled_to(fps).value), record=max(1, round(src / speed)),
                                speed=speed))
            after.append(None)
    return items, after


def _for_nle(timeline: otio.schema.Timeline, root: Path, exports_dir: Path, fps: int, size: tuple[int, int],
             notes: list[str], progress: Callable[[float], None] | None) -> tuple[otio.schema.Timeline, dict[str, Path]]:
    items, after = _entries(timeline, fps)
    media_dir = exports_dir / "media"
    baked: dict[str, Path] = {}
    heads = [0] * len(items)   # frames cut from the head of each entry (by a baked transition before it)
    tails = [0] * len(items)   # ...and from its tail
    bakes: dict[int, tuple[str, Path, int]] = {}
    to_bake = [i for i, t in enumerate(after) if t is not None and (t.transition_type or tr.DISSOLVE)
               not in NLE_TRANSITIONS]
    for n_done, i in enumerate(to_bake):
        t = after[i]
        a, b = items[i], items[i + 1]
        assert isinstance(a, _Entry) and isinstance(b, _Entry)
        t_in = round(t.in_offset.rescaled_to(fps).value)
        t_out = round(t.out_offset.rescaled_to(fps).value)
        d = t_in + t_out
        kind = t.transition_type
        label = tr.TYPE_TO_KIND.get(kind, "transition")
        name = f"{a.clip.name}__{label}__{b.clip.name}"
        dest = media_dir / f"{_safe(name)}.mp4"
        a_from = Stream(media=a.url, start=(a.start + (a.record - t_in) * a.speed) / fps, frames=d, speed=a.speed,
                        clip=a.clip.name)
        b_from = Stream(media=b.url, start=(b.start - t_in * b.speed) / fps, frames=d, speed=b.speed,
                        clip=b.clip.name)
        if kind == tr.ZOOM_THROUGH:
            plan = RenderPlan(fps=fps, streams=[ZoomSegment(outgoing=a_from, incoming=b_from, frames=d)], joins=[],
                              total_frames=d)
        else:
            plan = RenderPlan(fps=fps, streams=[a_from, b_from], joins=[Join(kind if kind in tr.XFADE else
                                                                             tr.DISSOLVE, d)], total_frames=d)
        render_plan(plan, root, dest, size=size, crf=14)
        baked[dest.name] = dest
        tails[i] += t_in
        heads[i + 1] += t_out
        bakes[i] = (name, dest, d)
        notes.append(f"{label} between {a.clip.name} and {b.clip.name} ({d} frames) is baked into "
                     f"media/{dest.name}; {a.clip.name} ends {t_in} frames earlier and {b.clip.name} starts "
                     f"{t_out} frames later, so every cut keeps its time")
        if progress:
            progress(0.8 * (n_done + 1) / max(1, len(to_bake)))

    out = otio.schema.Timeline(name=timeline.name, metadata=copy.deepcopy(timeline.metadata))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for m in timeline.tracks[0].markers:
        video.markers.append(copy.deepcopy(m))
    reels = _reels([e for e in items if isinstance(e, _Entry)])
    for i, e in enumerate(items):
        if isinstance(e, otio.schema.Gap):
            video.append(copy.deepcopy(e))
            continue
        clip = copy.deepcopy(e.clip)
        start = e.start + round(heads[i] * e.speed)
        record = e.record - heads[i] - tails[i]
        if abs(e.speed - 1.0) > 1e-6:
            notes.append(f"{e.clip.name} plays at {e.speed:.3g}x in the render; the XML and EDL show it at 1.0x "
                         f"from the same in point (apply a {e.speed * 100:.0f}% speed change in the NLE)")
        clip.source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(start, fps),
                                                    otio.opentime.RationalTime(record, fps))
        clip.metadata.setdefault("cmx_3600", {})["reel"] = reels[e.clip.name]
        video.append(clip)
        if i in bakes:
            name, dest, d = bakes[i]
            bake = otio.schema.Clip(name=name, media_reference=otio.schema.ExternalReference(
                target_url=os.path.relpath(dest, root)),
                source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps),
                                                     otio.opentime.RationalTime(d, fps)))
            bake.metadata["dreamcut"] = {"baked": after[i].transition_type, "from": e.clip.name,
                                         "to": items[i + 1].clip.name, "speed": 1.0}
            bake.metadata["cmx_3600"] = {"reel": f"BAKED{sorted(bakes).index(i) + 1:03d}"}
            video.append(bake)
        elif after[i] is not None:
            video.append(copy.deepcopy(after[i]))
    out.tracks.append(video)
    for track in list(timeline.tracks)[1:]:
        out.tracks.append(copy.deepcopy(track))
    return out, baked


def _reels(entries: list[_Entry]) -> dict[str, str]:
    """A reel name (<= 8 letters and digits, unique per take) for each clip's take."""
    by_take: dict[str, str] = {}
    used: set[str] = set()
    for e in entries:
        take = e.clip.name
        if take in by_take:
            continue
        base = re.sub(r"[^A-Za-z0-9]", "", take).upper()[:8] or "TAKE"
        reel, k = base, 1
        while reel in used:
            suffix = str(k)
            reel, k = base[: 8 - len(suffix)] + suffix, k + 1
        used.add(reel)
        by_take[take] = reel
    return {e.clip.name: by_take[e.clip.name] for e in entries}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:120]


def _url(path: Path, base: Path, *, absolute: bool, localhost: bool = False) -> str:
    path = Path(path).resolve()
    if absolute:
        quoted = urllib.parse.quote(path.as_posix())
        return f"file://localhost{quoted}" if localhost else f"file://{quoted}"
    return urllib.parse.quote(Path(os.path.relpath(path, base)).as_posix())


def _inside(path: Path, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root)
        return True
    except ValueError:
        return False


def _rate_of(timeline: otio.schema.Timeline) -> float:
    for clip in timeline.find_clips():
        if clip.source_range:
            return clip.source_range.duration.rate
    return 24.0


def _frames_of(path: Path, fps: int) -> int:
    info = probe(path)
    if info.video and info.video.frames and info.video.fps:
        return round(info.video.frames / info.video.fps * fps)
    return round(info.duration * fps)


def _media_frames(timeline: otio.schema.Timeline, root: Path, fps: int) -> dict[str, int]:
    """Each referenced file's length in frames (NLEs need a file's duration). BadInput names a missing one."""
    out: dict[str, int] = {}
    for clip in timeline.find_clips():
        url = getattr(clip.media_reference, "target_url", None)
        if not url or url in out:
            continue
        path = Path(url) if Path(url).is_absolute() else root / url
        try:
            out[url] = _frames_of(path, fps)
        except BadInput as e:
            raise BadInput(e.message, where=url, fix="regenerate the take or conform the edit again") from None
    return out
