"""Hand the edit to an NLE: `cut.otio`, `premiere.xml` (FCP7 XML), `cut.edl` (CMX 3600), `cut.otioz`, and notes.

What each file carries (one writer per format: `nle.otio`, `nle.fcp7`, `nle.edl`, `nle.otioz`):

- `cut.otio`: the edit as dreamcut keeps it, every transition included (zoom-through as
  `dreamcut_ZoomThrough`), speeds as LinearTimeWarps: the lossless round-trip format.
- `premiere.xml` and `cut.edl` carry a dissolve but not a zoom-through or a dip to black,
  so those are *baked*: rendered into a short clip in `exports/media/` that sits between
  the two shots, which are shortened by the transition's offsets so every cut keeps its
  time. Conform turns a baked clip that still sits between its own two shots back into the
  transition, so it follows trims made in the NLE. Retimed clips go out as speed changes
  (a Time Remap filter in the XML, an M2 line in the EDL), reading exactly the frames the
  render reads: no source range reads past its media (checked before anything is written).
- the song goes out as WAV (`exports/media/<song>.wav` when the project's song is another
  format: Premiere does not import Ogg).
- `reels.txt`: the EDL's reel table (`nle.reels`), which conform reads back.
- `NOTES.txt`: every bake and every simplification, one line each (also in the .otio's metadata).

Media URLs: relative to `exports/` in cut.otio (portable; `absolute=True` for file URLs),
absolute `file://localhost/` URLs in premiere.xml (Premiere opens relative pathurls
offline), absolute paths in the EDL's `* SOURCE FILE:` comments.

Every file is written to a temp name and renamed into place. This module never changes
the edit it is given.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Callable

import opentimelineio as otio

from dreamcut import timeline as tl
from dreamcut.errors import BadInput
from dreamcut.media import atomic_path, probe, run_ffmpeg, sweep_stale, write_text_atomic
from dreamcut.nle import edl, fcp7, otioz, reels
from dreamcut.nle import otio as otio_fmt
from dreamcut.render.ffmpeg import Join, RenderPlan, Stream, ZoomSegment, render_plan

FILES = {"otio": "cut.otio", "premiere": "premiere.xml", "edl": "cut.edl", "otioz": "cut.otioz",
         "notes": "NOTES.txt", "reels": reels.TABLE}
#: transitions FCP7 XML / CMX 3600 carry natively; everything else is baked.
NLE_TRANSITIONS = {tl.DISSOLVE}
#: song formats every NLE imports; anything else is converted to WAV for the exports
NLE_AUDIO = {".wav", ".aif", ".aiff"}


def export_all(timeline: otio.schema.Timeline, root: Path, exports_dir: Path, *, absolute: bool = False,
               bundle: bool = True, progress: Callable[[float], None] | None = None,
               stage_dir: Path | None = None) -> dict[str, Path]:
    """Write cut.otio, premiere.xml, cut.edl, reels.txt (+ cut.otioz) and NOTES.txt into `exports_dir`.

    absolute: write absolute file URLs in cut.otio instead of URLs relative to `exports_dir`.
    bundle: also write the .otioz bundle (copies every take the edit uses).
    stage_dir: write those files there instead (URLs still point from `exports_dir`), for a
    caller that signs and checks them before moving them into place. Media (baked clips, the
    song's WAV) always go to `exports_dir/media`, each written atomically.
    Returns {"otio", "premiere", "edl", "reels", "otioz", "notes", "media:<name>"...} -> written path.
    """
    root, exports_dir = Path(root).resolve(), Path(exports_dir)
    exports_dir.mkdir(parents=True, exist_ok=True)
    exports_dir = exports_dir.resolve()
    media_dir = exports_dir / "media"
    for folder in (exports_dir, media_dir):
        sweep_stale(folder)
    out_dir = Path(stage_dir) if stage_dir is not None else exports_dir
    meta = tl.info(timeline)
    fps, size = meta.fps, meta.size
    notes: list[str] = []
    written: dict[str, Path] = {}
    lengths = _media_frames(timeline, root, fps)

    song_rel = _song_for_nle(timeline, root, media_dir, notes, written)
    if song_rel is not None:
        lengths[song_rel] = _frames_of(root / song_rel, fps)

    nle = _for_nle(timeline, root, media_dir, fps, size, notes, progress)
    for view in tl.clips(nle, fps):
        if view.baked:
            written[f"media:{Path(view.path).name}"] = root / view.path
            lengths[view.path] = _frames_of(root / view.path, fps)
    _check_ranges(nle, lengths, fps)

    full = otio_fmt.with_urls(timeline, root, exports_dir, lengths, fps, absolute=absolute, song=song_rel)
    full.metadata.setdefault("dreamcut", {})["export_notes"] = list(notes)
    written["otio"] = out_dir / FILES["otio"]
    write_text_atomic(written["otio"], otio_fmt.write(full))

    xml = otio_fmt.with_urls(nle, root, exports_dir, lengths, fps, absolute=True, localhost=True, song=song_rel)
    written["premiere"] = out_dir / FILES["premiere"]
    write_text_atomic(written["premiere"], fcp7.write(xml, fps))

    table = reels.assign(set(reels.project_takes(root)) | {v.take for v in tl.clips(nle, fps) if not v.baked})
    written["reels"] = out_dir / FILES["reels"]
    write_text_atomic(written["reels"], reels.table_text(table))

    def reel(view: tl.ClipView) -> str:
        return reels.baked_reel(view.name) if view.baked else table[view.take]

    written["edl"] = out_dir / FILES["edl"]
    write_text_atomic(written["edl"], edl.write(nle, fps, title=meta.title or timeline.name or "dreamcut edit",
                                                reel=reel, source_file=lambda v: str((root / v.path).resolve())))

    if bundle:
        packed = otio_fmt.with_urls(timeline, root, exports_dir, lengths, fps, absolute=True, song=song_rel)
        packed.metadata.setdefault("dreamcut", {})["export_notes"] = list(notes)
        written["otioz"] = otioz.write(packed, out_dir / FILES["otioz"])

    lines = ["dreamcut export notes", f"edit: {meta.title or timeline.name}  ({fps} fps, {size[0]}x{size[1]})",
             "media URLs: cut.otio " + ("absolute file URLs" if absolute else "relative to this folder")
             + "; premiere.xml absolute file URLs; cut.edl absolute paths in * SOURCE FILE comments", ""]
    lines += [f"- {n}" for n in notes] or ["- nothing was baked or simplified: every format carries the edit as is"]
    written["notes"] = out_dir / FILES["notes"]
    write_text_atomic(written["notes"], "\n".join(lines) + "\n")
    if progress:
        progress(1.0)
    return written


# -- the NLE version of the edit -----------------------------------------------------------------


def _for_nle(timeline: otio.schema.Timeline, root: Path, media_dir: Path, fps: int, size: tuple[int, int],
             notes: list[str], progress: Callable[[float], None] | None) -> otio.schema.Timeline:
    """The edit with every transition but dissolves baked into clips (media under `media_dir`)."""
    items = tl.items(timeline, fps)
    flat: list[tl.ClipView | tl.GapView] = []
    after: dict[int, tl.TransitionView] = {}
    for item in items:
        if isinstance(item, tl.TransitionView):
            after[len(flat) - 1] = item
        else:
            flat.append(item)
    heads = [0] * len(flat)   # record frames cut from the head of each item (by a bake before it)
    tails = [0] * len(flat)   # ...and from its tail
    bakes: dict[int, otio.schema.Clip] = {}
    to_bake = [i for i, t in after.items() if t.kind not in NLE_TRANSITIONS]
    for n_done, i in enumerate(to_bake):
        t = after[i]
        a, b = flat[i], flat[i + 1]
        if not (isinstance(a, tl.ClipView) and isinstance(b, tl.ClipView)):
            raise BadInput("a transition next to a gap", where=f"transition {t.name}",
                           fix="remove the transition or fill the gap")
        d = t.frames
        kind = t.rendered_kind
        label = tl.TYPE_TO_KIND.get(kind, "transition")
        name = f"{a.name}__{label}__{b.name}"
        dest = media_dir / f"{_safe(name)}.mp4"
        a_from = Stream(media=a.path, start=(a.source_in + (a.record - t.in_frames) * a.speed) / fps, frames=d,
                        speed=a.speed, clip=a.name)
        b_from = Stream(media=b.path, start=(b.source_in - t.in_frames * b.speed) / fps, frames=d, speed=b.speed,
                        clip=b.name)
        if kind == tl.ZOOM_THROUGH:
            plan = RenderPlan(fps=fps, streams=[ZoomSegment(outgoing=a_from, incoming=b_from, frames=d)], joins=[],
                              total_frames=d)
        else:
            plan = RenderPlan(fps=fps, streams=[a_from, b_from], joins=[Join(kind, d)], total_frames=d)
        render_plan(plan, root, dest, size=size, crf=14)
        tails[i] += t.in_frames
        heads[i + 1] += t.out_frames
        bakes[i] = tl.make_clip(take=name, media=os.path.relpath(dest, root), source_in=0, record=d, fps=fps,
                                baked=kind, available=d, **{"from": a.name, "to": b.name,
                                                            "in": t.in_frames, "out": t.out_frames})
        notes.append(f"{label} between {a.name} and {b.name} ({d} frames) is baked into media/{dest.name}; "
                     f"{a.name} ends {t.in_frames} frames earlier and {b.name} starts {t.out_frames} frames later, "
                     "so every cut keeps its time (conform turns it back into the transition)")
        if progress:
            progress(0.8 * (n_done + 1) / max(1, len(to_bake)))

    out = otio.schema.Timeline(name=timeline.name, metadata=copy.deepcopy(timeline.metadata))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for m in tl.video_track(timeline).markers:
        video.markers.append(copy.deepcopy(m))
    for i, e in enumerate(flat):
        if isinstance(e, tl.GapView):
            video.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(tl.rt(0, fps), tl.rt(e.record, fps))))
        else:
            if e.retimed:
                notes.append(f"{e.name} plays at {e.speed:.4g}x: a speed change in premiere.xml (Time Remap) and "
                             f"cut.edl (M2)")
            video.append(tl.make_clip(take=e.take, media=e.path, name=e.name, shot=e.shot,
                                      source_in=e.source_in + round(heads[i] * e.speed),
                                      record=e.record - heads[i] - tails[i], speed=e.speed, fps=fps))
        if i in bakes:
            video.append(bakes[i])
        elif i in after:
            t = after[i]
            video.append(tl.make_transition(t.kind, t.in_frames, t.out_frames, fps, name=t.name))
    out.tracks.append(video)
    for track in list(timeline.tracks):
        if track.kind == otio.schema.TrackKind.Audio:
            out.tracks.append(copy.deepcopy(track))
    return out


def _check_ranges(nle: otio.schema.Timeline, lengths: dict[str, int], fps: int) -> None:
    """No clip (with its dissolve handles) reads before its media starts or past its end."""
    items = tl.items(nle, fps)
    for k, item in enumerate(items):
        if not isinstance(item, tl.ClipView):
            continue
        head = items[k - 1].in_frames if k > 0 and isinstance(items[k - 1], tl.TransitionView) else 0
        tail = items[k + 1].out_frames if k + 1 < len(items) and isinstance(items[k + 1], tl.TransitionView) else 0
        first = item.source_in - head * item.speed
        last = item.source_in + (item.record + tail) * item.speed
        length = lengths.get(item.path)
        if first < -0.5 or (length is not None and last > length + 0.5):
            raise BadInput(f"reads source frames {first:.0f}..{last:.0f} but the file has {length}",
                           where=f"clip {item.name} ({item.path})", fix="move the in point or shorten the clip")


def _song_for_nle(timeline: otio.schema.Timeline, root: Path, media_dir: Path, notes: list[str],
                  written: dict[str, Path]) -> str | None:
    """The project-relative song file the NLE exports reference: the song itself, or a WAV made from it."""
    song = tl.song_clip(timeline)
    url = getattr(song.media_reference, "target_url", None) if song is not None else None
    rel = tl.media_path(url) if url else tl.info(timeline).song
    if not rel:
        return None
    src = Path(rel) if Path(rel).is_absolute() else root / rel
    if src.suffix.lower() in NLE_AUDIO:
        return rel
    dest = media_dir / f"{src.stem}.wav"
    if not (dest.is_file() and dest.stat().st_mtime >= src.stat().st_mtime):
        with atomic_path(dest) as tmp:
            run_ffmpeg(["-i", str(src), "-vn", "-map", "0:a:0", "-c:a", "pcm_s24le", str(tmp)],
                       what=f"converting {src.name} to WAV")
    written[f"media:{dest.name}"] = dest
    notes.append(f"the song {src.name} goes to NLEs as media/{dest.name} (24-bit PCM; Premiere does not import "
                 f"{src.suffix.lstrip('.').upper()})")
    return os.path.relpath(dest, root)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:120]


def _frames_of(path: Path, fps: int) -> int:
    info = probe(path)
    if info.video and info.video.frames and info.video.fps:
        return round(info.video.frames / info.video.fps * fps)
    return round(info.duration * fps)


def _media_frames(timeline: otio.schema.Timeline, root: Path, fps: int) -> dict[str, int]:
    """Each referenced file's length in frames (NLEs need a file's duration). BadInput names a missing one."""
    out: dict[str, int] = {}
    for clip in tl.video_track(timeline).find_clips():
        url = getattr(clip.media_reference, "target_url", None)
        rel = tl.media_path(url) if url else None
        if not rel or rel in out:
            continue
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        try:
            out[rel] = _frames_of(path, fps)
        except BadInput as e:
            raise BadInput(e.message, where=rel, fix="regenerate the take or conform the edit again") from None
    song = tl.song_clip(timeline)
    url = getattr(song.media_reference, "target_url", None) if song is not None else None
    if url:
        rel = tl.media_path(url)
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        if path.is_file():
            out[rel] = round(probe(path).duration * fps)
    return out
