"""The one vocabulary of the edit: transition kinds, a typed view of a clip, and how speed is stored.

An edit is an OpenTimelineIO timeline (docs/internals.md, "The timeline"): V1 holds clips,
gaps and transitions; A1 holds the song. Every stage that reads or writes clips goes
through this module, so the facts below have one home:

- **Record length.** A clip's `source_range.duration` is how long it plays on the track
  (record frames), as OTIO defines it, so `track.duration()` is the picture's length in any
  OTIO reader. `source_range.start_time` is the in point in the take.
- **Speed** is an OTIO `LinearTimeWarp` effect (`time_scalar` = source seconds per record
  second: 0.85 plays the take slower). The clip reads `record * speed` source frames from
  its in point. No warp means 1.0x. Edits written before speed moved into the data
  (timeline version 1: speed in `metadata["dreamcut"]["speed"]`, a source-length range)
  are read with the same meaning.
- **Transition kinds** are OTIO `transition_type`s: `SMPTE_Dissolve` (OTIO's own) and
  `dreamcut_DipToBlack`, `dreamcut_ZoomThrough` (ours); the spec's words map to them.
- **A baked clip** is a transition rendered into its own media for NLEs that cannot carry
  it (`ClipView.baked` is the transition type it holds).

`ClipView` is a read-only view: change a clip with `set_range` / `make_clip`, never by
editing `metadata["dreamcut"]` by hand. This module does no I/O except `read_timeline`
and `write_timeline`.
"""

from __future__ import annotations

import copy
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import opentimelineio as otio

from dreamcut.errors import BadInput

#: the timeline format version written by this module (2: speed as LinearTimeWarp, record-length ranges)
VERSION = 2

# -- transition kinds ---------------------------------------------------------------------------

CUT = "cut"
DISSOLVE = "SMPTE_Dissolve"
DIP_TO_BLACK = "dreamcut_DipToBlack"
ZOOM_THROUGH = "dreamcut_ZoomThrough"

#: the spec's transition words -> OTIO transition types
KIND_TO_TYPE = {"cut": CUT, "dissolve": DISSOLVE, "dip": DIP_TO_BLACK, "zoom": ZOOM_THROUGH}
TYPE_TO_KIND = {v: k for k, v in KIND_TO_TYPE.items()}
#: transition types dreamcut renders; an NLE's other dissolve flavours render as a dissolve
RENDERED = (DISSOLVE, DIP_TO_BLACK, ZOOM_THROUGH)

#: speeds closer to 1.0 than this are 1.0 (no warp is written)
SPEED_EPS = 1e-6


def rt(frames: float, fps: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, fps)


def frames(t: otio.opentime.RationalTime, fps: int) -> int:
    """A time as a whole number of frames at `fps`."""
    return round(t.rescaled_to(fps).value)


# -- views --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipView:
    """One clip of V1, in frames at the timeline's rate.

    take: the take id (or the baked clip's name). shot: the shot id when known.
    media: the media URL as written (project-relative path, or a file URL).
    source_in: first source frame. record: frames on the track. record_start: where it starts.
    speed: source frames per record frame (LinearTimeWarp). baked: the transition type a
    baked transition clip holds, else None. meta: the rest of metadata["dreamcut"].
    """

    name: str
    take: str
    shot: str | None
    media: str
    source_in: int
    record: int
    speed: float = 1.0
    record_start: int = 0
    baked: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def source_frames(self) -> float:
        """Source frames the clip reads (record * speed)."""
        return self.record * self.speed

    @property
    def source_out(self) -> float:
        return self.source_in + self.source_frames

    @property
    def record_end(self) -> int:
        return self.record_start + self.record

    @property
    def retimed(self) -> bool:
        return abs(self.speed - 1.0) > SPEED_EPS

    @property
    def path(self) -> str:
        """The media as a file path (a file URL unquoted)."""
        return media_path(self.media)


@dataclass(frozen=True)
class TransitionView:
    """A transition on V1: its OTIO type and its frames before / after the cut."""

    name: str
    kind: str            # an OTIO transition type (DISSOLVE, DIP_TO_BLACK, ZOOM_THROUGH, or an NLE's own)
    in_frames: int
    out_frames: int

    @property
    def frames(self) -> int:
        return self.in_frames + self.out_frames

    @property
    def rendered_kind(self) -> str:
        """The kind dreamcut renders it as (an unknown NLE dissolve flavour is a dissolve)."""
        return self.kind if self.kind in RENDERED else DISSOLVE


@dataclass(frozen=True)
class GapView:
    """Empty record frames on V1 (an NLE's gap; it renders black)."""

    record: int
    record_start: int = 0


Item = ClipView | TransitionView | GapView


def speed_of(clip: otio.schema.Clip) -> float:
    """The clip's speed: its LinearTimeWarp's time_scalar, or a version-1 metadata speed, else 1.0."""
    for fx in clip.effects:
        if isinstance(fx, otio.schema.LinearTimeWarp):
            s = float(fx.time_scalar)
            if not s > 0:
                raise BadInput(f"clip has a time warp of {s} (reversed or frozen)", where=f"clip {clip.name}",
                               fix="play the clip forwards at a positive speed in the NLE")
            return s
    return _legacy_speed(clip) or 1.0


def _legacy_speed(clip: otio.schema.Clip) -> float | None:
    meta = clip.metadata.get("dreamcut") or {}
    try:
        s = float(meta.get("speed") or 0.0)
    except (TypeError, ValueError):
        return None
    if any(isinstance(fx, otio.schema.LinearTimeWarp) for fx in clip.effects) or not s > 0:
        return None
    return s


def clip_view(clip: otio.schema.Clip, fps: int, record_start: int = 0) -> ClipView:
    """A clip as a ClipView at `fps` (reads version-1 clips too)."""
    meta = dict(clip.metadata.get("dreamcut") or {})
    sr = clip.source_range or clip.trimmed_range()
    speed = speed_of(clip)
    duration = frames(sr.duration, fps)
    legacy = _legacy_speed(clip)
    if legacy is not None and abs(legacy - 1.0) > SPEED_EPS:
        duration = max(1, round(duration / legacy))  # version 1: the range counted source frames
    url = getattr(clip.media_reference, "target_url", None) or ""
    baked = meta.get("baked")
    take = str(meta.get("take") or clip.name or Path(media_path(url)).stem)
    shot = meta.get("shot")
    rest = {k: v for k, v in meta.items() if k not in ("take", "shot", "speed", "baked")}
    return ClipView(name=clip.name or take, take=take, shot=str(shot) if shot else None, media=url,
                    source_in=frames(sr.start_time, fps), record=duration, speed=speed,
                    record_start=record_start, baked=str(baked) if baked else None, meta=rest)


def transition_view(t: otio.schema.Transition, fps: int) -> TransitionView:
    return TransitionView(name=t.name or "", kind=t.transition_type or DISSOLVE,
                          in_frames=frames(t.in_offset, fps), out_frames=frames(t.out_offset, fps))


def video_track(timeline: otio.schema.Timeline) -> otio.schema.Track:
    """V1: the first video track (BadInput when there is none)."""
    for track in timeline.tracks:
        if track.kind == otio.schema.TrackKind.Video:
            return track
    raise BadInput("timeline has no video track", where=timeline.name or "timeline",
                   fix="plan the edit again (`dreamcut edit`)")


def items(timeline: otio.schema.Timeline, fps: int) -> list[Item]:
    """V1 as views, in order, with record positions (transitions overlap, they add no length)."""
    out: list[Item] = []
    at = 0
    for item in video_track(timeline):
        if isinstance(item, otio.schema.Transition):
            out.append(transition_view(item, fps))
        elif isinstance(item, otio.schema.Clip):
            view = clip_view(item, fps, at)
            out.append(view)
            at += view.record
        elif isinstance(item, otio.schema.Gap):
            n = frames((item.source_range or item.trimmed_range()).duration, fps)
            out.append(GapView(record=n, record_start=at))
            at += n
        else:
            raise BadInput(f"unsupported item {type(item).__name__} on V1", where=getattr(item, "name", "V1"),
                           fix="flatten nested sequences in the NLE before exporting")
    return out


def clips(timeline: otio.schema.Timeline, fps: int | None = None) -> list[ClipView]:
    """V1's clips as views, in order."""
    fps = fps or info(timeline).fps
    return [i for i in items(timeline, fps) if isinstance(i, ClipView)]


def record_frames(timeline: otio.schema.Timeline, fps: int) -> int:
    """The picture's length in frames (clips and gaps; transitions overlap)."""
    return sum(i.record for i in items(timeline, fps) if not isinstance(i, TransitionView))


# -- writing clips ------------------------------------------------------------------------------


def set_range(clip: otio.schema.Clip, *, source_in: int, record: int, speed: float, fps: int) -> otio.schema.Clip:
    """Set where `clip` reads (in point) and how long it plays (record frames) at `speed`; returns it."""
    if not speed > 0:
        raise ValueError(f"speed must be positive, not {speed}")
    clip.source_range = otio.opentime.TimeRange(rt(source_in, fps), rt(record, fps))
    kept = [fx for fx in clip.effects if not isinstance(fx, otio.schema.LinearTimeWarp)]
    clip.effects[:] = kept
    if abs(speed - 1.0) > SPEED_EPS:
        clip.effects.append(otio.schema.LinearTimeWarp(name="speed", time_scalar=float(speed)))
    meta = clip.metadata.get("dreamcut")
    if meta is not None and "speed" in meta:
        meta = dict(meta)
        meta.pop("speed")
        clip.metadata["dreamcut"] = meta
    return clip


def make_clip(*, take: str, media: str, source_in: int, record: int, fps: int, speed: float = 1.0,
              shot: str | None = None, available: int | None = None, name: str | None = None,
              baked: str | None = None, **meta: Any) -> otio.schema.Clip:
    """A V1 clip in dreamcut's conventions. available: the media's length in frames, when known."""
    ref = otio.schema.ExternalReference(target_url=media)
    if available is not None:
        ref.available_range = otio.opentime.TimeRange(rt(0, fps), rt(available, fps))
    clip = otio.schema.Clip(name=name or take, media_reference=ref)
    data: dict[str, Any] = {"take": take}
    if shot is not None:
        data["shot"] = shot
    if baked is not None:
        data["baked"] = baked
    data.update(meta)
    clip.metadata["dreamcut"] = data
    return set_range(clip, source_in=source_in, record=record, speed=speed, fps=fps)


def make_transition(kind: str, in_frames: int, out_frames: int, fps: int, *, name: str | None = None,
                    meta: dict[str, Any] | None = None) -> otio.schema.Transition:
    """A transition of an OTIO type (or a spec word: 'dissolve', 'dip', 'zoom'); meta goes to metadata["dreamcut"]."""
    ttype = KIND_TO_TYPE.get(kind, kind)
    return otio.schema.Transition(name=name or TYPE_TO_KIND.get(ttype, ttype), transition_type=ttype,
                                  in_offset=rt(in_frames, fps), out_offset=rt(out_frames, fps),
                                  metadata={"dreamcut": dict(meta)} if meta else {})


def upgrade(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy of `timeline` in the current version (version-1 speeds become LinearTimeWarps)."""
    out = copy.deepcopy(timeline)
    fps = info(out).fps
    for clip in video_track(out).find_clips():
        if _legacy_speed(clip) is not None:
            v = clip_view(clip, fps)
            set_range(clip, source_in=v.source_in, record=v.record, speed=v.speed, fps=fps)
    out.metadata.setdefault("dreamcut", {})["version"] = VERSION
    return out


# -- the timeline's own facts ---------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineInfo:
    fps: int
    size: tuple[int, int]
    song: str | None
    title: str
    version: int


def info(timeline: otio.schema.Timeline) -> TimelineInfo:
    """fps, master size, song and title from metadata["dreamcut"] (fps falls back to the clips' rate)."""
    meta = timeline.metadata.get("dreamcut") or {}
    fps = int(meta.get("fps") or 0)
    if not fps:
        fps = 24
        for clip in timeline.find_clips():
            if clip.source_range:
                fps = round(clip.source_range.duration.rate)
                break
    size = tuple(int(x) for x in (meta.get("size") or (1280, 720)))
    return TimelineInfo(fps=fps, size=(size[0], size[1]), song=meta.get("song"),
                        title=str(meta.get("title") or timeline.name or ""), version=int(meta.get("version") or 1))


def song_clip(timeline: otio.schema.Timeline) -> otio.schema.Clip | None:
    """The song: the first clip of the first audio track."""
    for track in timeline.tracks:
        if track.kind == otio.schema.TrackKind.Audio:
            for c in track:
                if isinstance(c, otio.schema.Clip):
                    return c
    return None


def media_path(url: str) -> str:
    """A file path from a media URL as written in an edit (file://[localhost]/..., %-quoted, or a plain path)."""
    url = (url or "").strip()
    if url.startswith("file:"):
        parsed = urllib.parse.urlparse(url)
        path = urllib.parse.unquote(parsed.path)
        if len(path) > 2 and path[0] == "/" and path[2] == ":" and path[1].isalpha():  # file:///D:/x.mov
            path = path[1:]
        return path
    return urllib.parse.unquote(url.replace("\\", "/")) if "%" in url else url.replace("\\", "/")


def iter_clips(timeline: otio.schema.Timeline) -> Iterator[otio.schema.Clip]:
    """V1's OTIO clips (for writers that change them through `set_range`)."""
    for item in video_track(timeline):
        if isinstance(item, otio.schema.Clip):
            yield item


# -- files ----------------------------------------------------------------------------------------


def effect_marker(name: str, start: int, frames: int, fps: int, *, effect: str, amount: float, time: float,
                  color: str) -> otio.schema.Marker:
    """A beat-synced effect as a V1 marker (`render.effects`): metadata dreamcut.effect names it."""
    return otio.schema.Marker(name=name, marked_range=otio.opentime.TimeRange(rt(start, fps), rt(frames, fps)),
                              color=color, metadata={"dreamcut": {"effect": effect, "amount": amount, "time": time}})


def effect_markers(timeline: otio.schema.Timeline) -> list[otio.schema.Marker]:
    """The beat-synced effect markers on V1, in order (the exports write them where a format can)."""
    return [m for m in video_track(timeline).markers if (m.metadata.get("dreamcut") or {}).get("effect")]


def read_timeline(path: Path, *, where: str | None = None) -> otio.schema.Timeline:
    """Read an .otio written by dreamcut (BadInput naming the file when it cannot be read)."""
    try:
        return otio.adapters.read_from_file(str(path), adapter_name="otio_json")
    except Exception as e:  # OTIO raises many exception types for a damaged file
        raise BadInput(f"the edit cannot be read ({type(e).__name__})", where=where or Path(path).name,
                       fix="run `dreamcut edit` to plan it again") from None


def to_json(timeline: otio.schema.Timeline) -> str:
    return otio.adapters.write_to_string(timeline, "otio_json")


def write_timeline(timeline: otio.schema.Timeline, path: Path) -> Path:
    """Write an .otio atomically."""
    from dreamcut.media import write_text_atomic

    write_text_atomic(Path(path), to_json(timeline))
    return Path(path)


__all__ = ["VERSION", "CUT", "DISSOLVE", "DIP_TO_BLACK", "ZOOM_THROUGH", "KIND_TO_TYPE", "TYPE_TO_KIND", "RENDERED",
           "ClipView", "TransitionView", "GapView", "clip_view", "items", "clips", "record_frames", "speed_of",
           "set_range", "make_clip", "make_transition", "upgrade", "info", "TimelineInfo", "song_clip",
           "media_path", "video_track", "effect_marker", "effect_markers", "iter_clips", "read_timeline", "write_timeline", "to_json", "frames", "rt"]
