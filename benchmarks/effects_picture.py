"""Draws docs/img/effects.png: frames of a render with a zoom pulse, a flash, a shake and a speed ramp.

Each row is one effect, rendered by the same `render.ffmpeg.render_timeline` pass `dreamcut render`
uses (effects through `render.effects.filter_chain`, the ramp through the clip's retime), on
a take that shows its own frame number (so the ramp row shows the speed: 1x, then faster up to
the downbeat, then 1x again). Columns: frames around the hit (the ramp: before its downbeat).
Usage: python benchmarks/effects_picture.py [--out docs/img/effects.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import opentimelineio as otio  # noqa: E402

from dreamcut import timeline as tl  # noqa: E402
from dreamcut.media import FrameWriter, read_frames  # noqa: E402
from dreamcut.render import effects as fx  # noqa: E402
from dreamcut.render.ffmpeg import render_timeline  # noqa: E402

FPS, SIZE = 24, (640, 360)
HIT = {"pulse": 24, "flash": 60, "shake": 96}
RAMP_AT = 144            # the downbeat the ramp lands on
COLUMNS = (-1, 0, 1, 2, 3, 5)


def write_counter_take(path: Path, frames: int) -> None:
    """A take of a colour grid (zoom and shake show on its lines) with its own frame number drawn large."""
    w, h = SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // w), (yy * 255 // h), 255 - (xx * 255 // w)], axis=-1).astype(np.uint8)
    base[(xx % 40 < 2) | (yy % 40 < 2)] = 30
    with FrameWriter(path, w, h, FPS) as writer:
        for n in range(frames):
            frame = base.copy()
            cv2.putText(frame, f"{n}", (w // 2 - 90, h // 2 + 40), cv2.FONT_HERSHEY_SIMPLEX, 3.2, (255, 255, 255), 8,
                        cv2.LINE_AA)
            writer.write(frame)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "img" / "effects.png"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        take = root / "take.mp4"
        write_counter_take(take, 12 * FPS)
        timeline = otio.schema.Timeline(name="effects picture")
        video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
        video.append(tl.make_clip(take="take", media="take.mp4", source_in=0, record=168, fps=FPS))
        timeline.tracks.append(video)
        cues = [fx.Cue(kind, frame, {"flash": fx.FLASH_FRAMES}.get(kind, 6), 1.0, frame / FPS)
                for kind, frame in HIT.items()]
        ramp = fx.SpeedRamp(clip="take", record_start=0, downbeat=RAMP_AT, frames=24, peak=3.0, speed=1.0,
                            time=RAMP_AT / FPS)
        out = root / "fx.mp4"
        render_timeline(timeline, root, out, size=SIZE, fps=FPS, crf=14,
                        effects=lambda work: fx.filter_chain(cues, FPS, work), ramps=[ramp])
        frames = [f for _, f in read_frames(out)]
    tw, th = 224, 126
    rows = []
    for name, hit in [*HIT.items(), ("ramp", RAMP_AT)]:
        cols = (-13, -7, -3, -1, 0, 1) if name == "ramp" else COLUMNS
        cells = []
        for d in cols:
            cell = cv2.resize(frames[hit + d], (tw, th), interpolation=cv2.INTER_AREA)
            label = f"{'downbeat' if d == 0 else f'{d:+d}'}" if name == "ramp" else f"{'hit' if d == 0 else f'{d:+d}'}"
            cv2.putText(cell, label, (6, th - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
            cells.append(np.pad(cell, ((2, 2), (2, 2), (0, 0))))
        head = np.zeros((th + 4, 110, 3), np.uint8)
        cv2.putText(head, name, (8, th // 2 + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        rows.append(np.hstack([head, *cells]))
    picture = np.vstack(rows)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(a.out, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
