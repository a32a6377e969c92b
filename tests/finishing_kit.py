"""Test media and timelines for the finishing tests (render, transitions, export, conform, upscale).

Takes are procedural textures with a continuous forward zoom, written with `media.FrameWriter`;
the song is a synthesized tone with clicks; timelines are built directly with the
OpenTimelineIO API following docs/internals.md, so these tests do not depend on the planner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import opentimelineio as otio

import conftest
from conftest import write_song  # noqa: F401  (the one song writer; finishing tests import it from here)
from dreamcut import timeline
from dreamcut.media import FrameWriter

TRANSITION_TYPES = {"dissolve": "SMPTE_Dissolve", "dip": "dreamcut_DipToBlack", "zoom": "dreamcut_ZoomThrough"}


def texture(seed: int, width: int, height: int) -> np.ndarray:
    """A colourful multi-octave smooth-noise texture (RGB uint8), different per seed."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((height, width, 3), np.float32)
    for octave, weight in ((4, 1.0), (8, 0.6), (16, 0.4), (48, 0.25)):
        small = rng.random((max(2, octave * height // width), octave, 3), dtype=np.float32)
        acc += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    acc -= acc.min()
    acc /= acc.max()
    tint = rng.random(3).astype(np.float32) * 0.6 + 0.4
    return np.clip(acc * tint * 255.0, 0, 255).astype(np.uint8)


def zoom_frames(seed: int, frames: int, size: tuple[int, int], rate: float, start: int = 0) -> list[np.ndarray]:
    """`frames` frames of a forward zoom at `rate` (log-scale per frame) into a seeded texture."""
    w, h = size
    total = math.exp(rate * (start + frames)) * 1.05
    base = texture(seed, int(w * total), int(h * total))
    bh, bw = base.shape[:2]
    out = []
    for t in range(start, start + frames):
        view = 1.0 / math.exp(rate * t)  # fraction of the base visible
        cw, ch = bw * view, bh * view
        x0, y0 = (bw - cw) / 2.0, (bh - ch) / 2.0
        m = np.array([[w / cw, 0, -x0 * w / cw], [0, h / ch, -y0 * h / ch]], np.float64)
        out.append(cv2.warpAffine(base, m, (w, h), flags=cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR))
    return out


def write_zoom_take(path: Path, seed: int, *, seconds: float, fps: int = 24, size: tuple[int, int] = (320, 180),
                    rate: float = 0.02) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = round(seconds * fps)
    rate = min(rate, math.log(4.0) / frames)  # long takes zoom slower, so the texture stays finite
    with FrameWriter(path, size[0], size[1], fps,
                     codec_args=("-c:v", "libx264", "-preset", "ultrafast", "-crf", "16", "-pix_fmt", "yuv420p",
                                 "-g", str(fps))) as w:
        for frame in zoom_frames(seed, frames, size, rate):
            w.write(frame)
    return path


@dataclass
class Cut:
    """One clip of a test edit: take file (project-relative), in/out in take seconds, the transition INTO the next."""

    take: str
    start: float
    end: float
    transition: str = "cut"
    transition_frames: int = 0
    speed: float = 1.0


def build_timeline(cuts: list[Cut], *, song: str, song_seconds: float | None = None, fps: int = 24,
                   size: tuple[int, int] = (320, 180), title: str = "test cut") -> otio.schema.Timeline:
    """A timeline in dreamcut's conventions (docs/internals.md), written through `dreamcut.timeline`.

    Each cut reads `end - start` seconds of its take at `speed`, so it plays `(end - start) / speed`.
    """
    tl = otio.schema.Timeline(name=title)
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    record = 0
    for i, cut in enumerate(cuts):
        source_in = round(cut.start * fps)
        record_len = round((cut.end - cut.start) * fps / cut.speed)
        take_id = Path(cut.take).stem
        video.append(timeline.make_clip(take=take_id, media=cut.take, source_in=source_in, record=record_len, fps=fps,
                                        speed=cut.speed, shot=Path(cut.take).parent.name, reason="test", score=None,
                                        record_start=record / fps, record_end=(record + record_len) / fps))
        record += record_len
        if i + 1 < len(cuts) and cut.transition != "cut":
            half = cut.transition_frames // 2
            video.append(timeline.make_transition(TRANSITION_TYPES[cut.transition], half, half, fps,
                                                  name=cut.transition))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    song_len = round(song_seconds * fps) if song_seconds is not None else record
    audio.append(otio.schema.Clip(name=Path(song).stem, media_reference=otio.schema.ExternalReference(target_url=song),
                                  source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps),
                                                                       otio.opentime.RationalTime(song_len, fps))))
    tl.tracks.append(video)
    tl.tracks.append(audio)
    tl.metadata["dreamcut"] = {"version": timeline.VERSION, "song": song, "fps": fps, "size": list(size),
                               "tempo": 120.0, "title": title}
    return tl


def make_project(root: Path, *, shots: int = 3, seconds: float = 3.0, song_seconds: float = 8.0,
                 fps: int = 24, size: tuple[int, int] = (320, 180)) -> Path:
    """A tiny project folder: takes/s<i>/s<i>_t1.mp4 (zooming textures), song.wav, and a dreamcut.yaml."""
    for i in range(shots):
        write_zoom_take(root / f"takes/s{i}/s{i}_t1.mp4", 100 + i, seconds=seconds, fps=fps, size=size,
                        rate=0.02 + 0.005 * i)
    return conftest.make_project(
        root, [{"id": f"s{i}", "prompt": f"a slow zoom into texture {i}"} for i in range(shots)],
        song_seconds=song_seconds, title="finishing test", fps=fps, takes_per_shot=1,
        render={"master": f"{size[0]}x{size[1]}", "resolution": f"{size[0] * 2}x{size[1] * 2}"})


def standard_cuts() -> list[Cut]:
    """Every transition kind plus a retimed clip, 6 s in all."""
    return [Cut("takes/s0/s0_t1.mp4", 0.5, 2.0, "dissolve", 12),
            Cut("takes/s1/s1_t1.mp4", 0.5, 2.0, "zoom", 12, speed=1.1),
            Cut("takes/s2/s2_t1.mp4", 0.5, 2.0, "dip", 8),
            Cut("takes/s0/s0_t1.mp4", 1.0, 2.5)]


def edit_summary(t: otio.schema.Timeline, fps: int = 24) -> list[tuple]:
    """What an edit is, read through dreamcut.timeline: each clip's media, in point, record length and
    speed (2 decimals: an EDL's M2 line carries 0.1 fps), each transition's kind and offsets, each gap's length."""
    out: list[tuple] = []
    for item in timeline.items(t, fps):
        if isinstance(item, timeline.ClipView):
            out.append(("clip", item.path, item.source_in, item.record, round(item.speed, 2)))
        elif isinstance(item, timeline.TransitionView):
            out.append(("transition", item.rendered_kind, item.in_frames, item.out_frames))
        else:
            out.append(("gap", item.record))
    return out
