"""Release deliverables from the master render: 16:9, 9:16 and 1:1 versions, 15 s / 30 s teasers, loudness.

Decisions are pure functions:
- `subject_x`: where the subject is across one small frame (motion + spectral-residual saliency);
- `crop_path`: a crop centre per frame, per shot: tracked, median-filtered, smoothed over time
  (Gaussian, zero phase), pan speed bounded, clamped inside the frame; a shot's `reframe:` in the
  spec replaces tracking with a fixed position;
- `reframe_source`: which render the 9:16 and 1:1 versions are cropped from: the final
  (upscaled, e.g. 2K) render when it is larger and was made from this very master, else the
  master, with the reason said (the crop path is relative, so it applies to either);
- `teaser_window`: the strongest chorus (highest mean energy in the song analysis the edit
  used), started on a downbeat, moved back bar by bar to fit inside the master;
- loudness: `render.loudness` (the gain to the EBU R128 target, a true-peak limiter, measured
  again with ebur128 until within 0.2 LU).

I/O at the edge: `track_subject` decodes the master at a small size; `normalise_audio`
(render.loudness) makes each version's audio; `encode` writes one deliverable in
ONE ffmpeg process: the crop moves per frame through `sendcmd` commands to `crop` (no per-frame
Python over full frames), then scale, the teaser's cut (`-ss`/`-t`), and the normalised audio.
Signing and renaming into place are the pipeline's (`pipeline.deliver`), as for the renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dreamcut.errors import BadInput
from dreamcut.media import read_frames, run_ffmpeg
from dreamcut.render.ffmpeg import AAC_ARGS, output_args
# The loudness of each version is render.loudness's; its names are part of this module's interface.
from dreamcut.render.loudness import (Loudness, LoudnessTarget, NormalisedAudio, loudness_filter, loudness_gain,
                                      measure_ebur128, measure_loudnorm, next_gain, normalise_audio, parse_ebur128,
                                      peak_margin, window_args)

#: aspect name -> (width units, height units); 16:9 is the master itself
ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
TEASER_SECONDS = (15.0, 30.0)
ANALYSIS_WIDTH = 160       # the subject is found on frames this wide
ANALYSIS_RATE = 12.0       # frames per second looked at (the path is interpolated between them)
MAX_PAN = 0.35             # fraction of the master's width the crop may travel per second
SMOOTH_SECONDS = 0.35      # Gaussian sigma of the path, seconds


@dataclass(frozen=True)
class Deliverable:
    """One file to write: `aspect` of the master, from `start` for `seconds` (master seconds)."""

    name: str               # file name
    aspect: str             # a key of ASPECTS
    size: tuple[int, int]   # output width, height
    start: float
    seconds: float
    teaser: bool = False
    note: str = ""          # how a teaser window was chosen


@dataclass(frozen=True)
class TeaserWindow:
    start: float            # master seconds
    seconds: float
    reason: str
    degraded: bool = False  # not a chorus (said to the user)


@dataclass(frozen=True)
class ReframeSource:
    """The render the reframed versions (9:16, 1:1, their teasers) are cropped from."""

    name: str               # file name (renders/<name>)
    size: tuple[int, int]
    final: bool             # the final (upscaled) render, not the master
    note: str               # why, in one line
    degraded: bool = False  # a larger final exists but cannot be used (said to the user)


# -- pure decisions -------------------------------------------------------------------------------


def reframe_source(master: tuple[str, tuple[int, int]], final: tuple[str, tuple[int, int]] | None,
                   unusable: str | None = None) -> ReframeSource:
    """Crop the reframed versions from the final render when it has more pixels and is current.

    master, final: (file name, size); final None when the spec's final render is the master itself.
    unusable: why the final cannot be used (missing; not upscaled from this master), or None when
    its Content Credentials name this master as its parent. A 9:16 cropped from a 1280x720
    master is 405x720 blown up 2.67x; from a 2048x1152 final, 648x1152 blown up 1.67x.
    """
    (mname, msize), mw = master, master[1][0]
    if final is None:
        return ReframeSource(mname, msize, False, f"from {mname} (the master is the final render)")
    fname, fsize = final
    if fsize[0] <= mw or abs(fsize[0] / fsize[1] - msize[0] / msize[1]) > 0.01:
        return ReframeSource(mname, msize, False, f"from {mname} ({fname} is not a larger picture of the same frame)")
    if unusable is not None:
        return ReframeSource(mname, msize, False,
                             f"reframed versions cropped from the {msize[1]}p master {mname}, not from {fname}: "
                             f"{unusable} (run `dreamcut render` to make it again)", degraded=True)
    return ReframeSource(fname, fsize, True, f"from {fname} (upscaled from {mname}, its signed parent)")


def output_size(aspect: str, master: tuple[int, int], short_side: int) -> tuple[int, int]:
    """The size of a version: the master's for 16:9; else `short_side` on the short side (1080 -> 1080x1920)."""
    if aspect == "16:9":
        return master
    aw, ah = ASPECTS[aspect]
    if short_side < 16 or short_side % 2:
        raise BadInput(f"short side {short_side} must be an even number of pixels >= 16", where="--short-side",
                       fix="use 1080 (9:16 -> 1080x1920)")
    if aw <= ah:
        return short_side, _even(short_side * ah / aw)
    return _even(short_side * aw / ah), short_side


def crop_box(aspect: str, master: tuple[int, int]) -> tuple[int, int]:
    """Width and height of the largest `aspect` window inside the master frame, in whole pixels.

    The window spans the master's full height (9:16, 1:1 from a wide master) or full width; the
    other side is the exact aspect rounded to the NEAREST pixel, not down to an even number: the
    crop is only an intermediate picture (`encode` crops with `exact=1`, so ffmpeg keeps an odd
    width on yuv420p, and scales it to the even output size), so evenness is not needed here and
    the picture is stretched by at most half a pixel over the window (0 for 720p and 2K 9:16 / 1:1:
    1280x720 -> 405x720, 2048x1152 -> 648x1152; 1920x1080 -> 608x1080, 0.08 %).
    """
    W, H = master
    aw, ah = ASPECTS[aspect]
    if W * ah >= H * aw:    # wider than the aspect: full height
        return max(1, min(W, round(H * aw / ah))), H
    return W, max(1, min(H, round(W * ah / aw)))


def _even(x: float) -> int:
    return max(2, round(x / 2) * 2)


def subject_x(prev_gray: np.ndarray | None, gray: np.ndarray) -> tuple[float, float]:
    """(x in 0..1, confidence) of the subject in one small grey frame (float 0..1).

    Weights: what moves (difference to the previous frame) plus what stands out (spectral
    residual saliency, Hou & Zhang 2007), summed per column; the background level (the
    columns' median) is removed and the peaks weigh more (squared), so a bright moving disc
    pulls the centre and a flat textured background does not.
    """
    import cv2

    h, w = gray.shape
    spectrum = np.fft.fft2(cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA))
    log_amp = np.log(np.abs(spectrum) + 1e-6)
    residual = log_amp - cv2.blur(log_amp, (3, 3))
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sal = cv2.GaussianBlur(cv2.resize(sal.astype(np.float32), (w, h)), (0, 0), 2.5)
    sal = sal / max(1e-9, float(sal.max()))
    weight = sal * 0.5
    if prev_gray is not None:
        motion = cv2.GaussianBlur(np.abs(gray - prev_gray).astype(np.float32), (0, 0), 2.0)
        weight = weight + motion / max(0.02, float(motion.max())) * min(1.0, float(motion.max()) * 20.0)
    cols = weight.sum(axis=0)
    cols = np.clip(cols - np.median(cols), 0.0, None) ** 2
    total = float(cols.sum())
    if total <= 1e-9:
        return 0.5, 0.0
    x = float((cols * (np.arange(w) + 0.5)).sum() / total) / w
    confidence = float(cols.max() / (cols.mean() + 1e-9)) / w  # 1/w (flat) .. 1 (one column)
    return x, confidence


def crop_path(samples: list[tuple[float, float, float]], *, frames: int, fps: float,
              shots: list[tuple[int, int, float | None]], crop_fraction: float,
              max_pan: float = MAX_PAN, smooth: float = SMOOTH_SECONDS) -> list[float]:
    """The crop's centre (0..1 of the master's width) for each of `frames` frames.

    samples: (time s, subject x, confidence) from `track_subject`.
    shots: (first frame, end frame, fixed x or None) per shot; the path restarts at each cut (a
    cut may reframe at once), a fixed x (the spec's `reframe:`) holds for the whole shot.
    crop_fraction: the crop's width / the master's width (the centre stays in [f/2, 1 - f/2]).
    max_pan: the most the centre moves per second (fraction of the width): no whip pans.
    """
    lo, hi = crop_fraction / 2.0, 1.0 - crop_fraction / 2.0
    times = np.array([s[0] for s in samples], float)
    xs = np.array([s[1] for s in samples], float)
    conf = np.array([s[2] for s in samples], float)
    out = np.full(frames, 0.5)
    covered = np.zeros(frames, bool)
    for first, end, fixed in shots:
        first, end = max(0, first), min(frames, end)
        if end <= first:
            continue
        covered[first:end] = True
        if fixed is not None:
            out[first:end] = fixed
            continue
        t = (np.arange(first, end) + 0.5) / fps
        # a sample belongs to the frame it was decoded at (its time, less a quarter frame for rounding)
        inside = (times >= (first - 0.25) / fps) & (times < (end - 0.25) / fps) & (conf > 2.0 / ANALYSIS_WIDTH)
        if inside.sum() == 0:
            out[first:end] = 0.5
            continue
        st, sx = times[inside], xs[inside]
        k = max(1, int(round(ANALYSIS_RATE * 0.25)) | 1)  # a quarter-second median drops single-sample outliers
        if len(sx) >= k:
            pad = np.pad(sx, k // 2, mode="edge")
            sx = np.array([np.median(pad[i:i + k]) for i in range(len(sx))])
        path = np.interp(t, st, sx)
        sigma = smooth * fps
        if sigma > 0.5 and len(path) > 2:
            radius = int(3 * sigma)
            kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
            kernel /= kernel.sum()
            path = np.convolve(np.pad(path, radius, mode="edge"), kernel, mode="valid")
        path = np.clip(path, lo, hi)
        step = max_pan / fps
        for i in range(1, len(path)):
            path[i] = path[i - 1] + float(np.clip(path[i] - path[i - 1], -step, step))
        out[first:end] = path
    out[~covered] = 0.5
    return [float(v) for v in np.clip(out, lo, hi)]


def crop_x_pixels(path: list[float], master_width: int, crop_width: int) -> list[int]:
    """Left edge of the crop per frame, in master pixels (even, inside the frame)."""
    return [int(min(master_width - crop_width, max(0, round(c * master_width - crop_width / 2.0))) // 2 * 2)
            for c in path]


def crop_commands(xs: list[int], fps: float, first: int = 0, target: str = "crop@reframe") -> str:
    """sendcmd text that moves the crop to xs[i] at frame i (times from `first`, the output's frame 0)."""
    lines = []
    last = None
    for i in range(first, len(xs)):
        if xs[i] == last:
            continue
        last = xs[i]
        t = max(0.0, (i - first - 0.5) / fps)
        lines.append(f"{t:.6f} {target} x {xs[i]};")
    return "\n".join(lines) + "\n"


def section_energy(song, start: float, end: float) -> float:
    """Mean energy (0..1) of the song between two times, from its analysis."""
    vals = [e for t, e in zip(song.energy_times, song.energy) if start <= t < end]
    return float(np.mean(vals)) if vals else 0.0


def teaser_window(song, *, song_start: float, master_seconds: float, seconds: float) -> TeaserWindow | None:
    """The teaser of `seconds` around the strongest chorus, starting on a downbeat, inside the master.

    The strongest chorus is the one with the highest mean energy among those the master holds.
    Its start is the downbeat at or before the chorus (a chorus starts on one); if the teaser would
    run past the master's end it starts earlier, bar by bar. Without a chorus the loudest window
    that starts on a downbeat is used, and the reason says so. None when the master is shorter.
    """
    if master_seconds + 1e-6 < seconds:
        return None
    end_song = song_start + master_seconds
    downbeats = [d for d in song.downbeats if song_start - 1e-6 <= d <= end_song - seconds + 1e-6]
    names = song.section_names()
    choruses = [(names[i], s) for i, s in enumerate(song.sections)
                if s.label == "chorus" and s.end > song_start and s.start < end_song]
    if choruses:
        name, best = max(choruses, key=lambda c: section_energy(song, max(c[1].start, song_start),
                                                                min(c[1].end, end_song)))
        energy = section_energy(song, best.start, best.end)
        before = [d for d in downbeats if d <= best.start + 0.005]
        if before:
            start = before[-1]
        elif downbeats:
            start = downbeats[0]
        else:
            start = min(max(best.start, song_start), end_song - seconds)
            return TeaserWindow(start - song_start, seconds,
                                f"{name} (energy {energy:.2f}); no downbeat fits, from {start:.2f} s", degraded=True)
        bar = song.bar_index(start) + 1
        return TeaserWindow(start - song_start, seconds, f"{name} (energy {energy:.2f}), from bar {bar}")
    if downbeats:
        start = max(downbeats, key=lambda d: section_energy(song, d, d + seconds))
        bar = song.bar_index(start) + 1
        return TeaserWindow(start - song_start, seconds,
                            f"no chorus found in the song analysis: the loudest {seconds:g} s, from bar {bar}",
                            degraded=True)
    return TeaserWindow(0.0, seconds, "no chorus or bars found in the song analysis: from the start", degraded=True)


def plan_deliverables(*, master_size: tuple[int, int], master_seconds: float, short_side: int,
                      aspects: list[str], teaser_aspects: list[str],
                      windows: dict[float, TeaserWindow | None]) -> list[Deliverable]:
    """The files `dreamcut deliver` writes, in order: each full version, then each teaser per aspect."""
    out = []
    for aspect in aspects:
        out.append(Deliverable(name=f"full_{aspect.replace(':', 'x')}.mp4", aspect=aspect,
                               size=output_size(aspect, master_size, short_side), start=0.0, seconds=master_seconds))
    for seconds, window in windows.items():
        if window is None:
            continue
        for aspect in teaser_aspects:
            out.append(Deliverable(name=f"teaser{seconds:g}s_{aspect.replace(':', 'x')}.mp4", aspect=aspect,
                                   size=output_size(aspect, master_size, short_side), start=window.start,
                                   seconds=seconds, teaser=True, note=window.reason))
    return out


def parse_aspects(text: str, where: str) -> list[str]:
    items = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in items if a not in ASPECTS]
    if bad or not items:
        raise BadInput(f"unknown aspect {bad[0] if bad else text!r}", where=where,
                       fix=f"use a comma list of {', '.join(ASPECTS)}")
    return list(dict.fromkeys(items))


# -- I/O at the edge ---------------------------------------------------------------------------------


def track_subject(master: Path, progress: Callable[[float], None] | None = None,
                  seconds: float | None = None) -> list[tuple[float, float, float]]:
    """(time, subject x, confidence) about ANALYSIS_RATE times a second, from small frames of the master."""
    from dreamcut.media import probe

    info = probe(master)
    if info.video is None:
        raise BadInput("has no video stream", where=master.name, fix="run `dreamcut render` again")
    fps = info.video.fps or 24.0
    every = max(1, round(fps / ANALYSIS_RATE))
    w = ANALYSIS_WIDTH
    h = max(2, round(w * info.video.height / info.video.width / 2) * 2)
    total = seconds or info.duration
    samples: list[tuple[float, float, float]] = []
    prev = None
    for t, frame in read_frames(master, every=every, size=(w, h)):
        gray = frame.astype(np.float32).mean(axis=2) / 255.0
        x, c = subject_x(prev, gray)
        samples.append((t, x, c))
        prev = gray
        if progress and total:
            progress(min(1.0, t / total))
    return samples


def encode(source: Path, out: Path, item: Deliverable, *, fps: int, source_size: tuple[int, int],
           xs: list[int] | None, audio: Path, work_dir: Path, crf: int = 18, preset: str = "veryfast",
           metadata: dict[str, str] | None = None, progress: Callable[[float], None] | None = None) -> None:
    """Write one deliverable with one ffmpeg: cut, reframe (per-frame crop via sendcmd), scale; `audio` muxed in.

    source: the render the pictures come from (the master, or the final for a reframed version);
    xs: the crop's left edge per frame in `source` pixels (`crop_x_pixels` at the source's width).
    """
    vf: list[str] = []
    if item.aspect != "16:9" or item.size != source_size:
        if item.aspect != "16:9":
            cw, ch = crop_box(item.aspect, source_size)
            first = round(item.start * fps)
            assert xs is not None
            cmd_file = work_dir / f"{Path(item.name).stem}.cmds"
            cmd_file.write_text(crop_commands(xs, fps, first), encoding="utf-8")
            vf.append(f"sendcmd=f={_escape(str(cmd_file))}")
            x0 = xs[min(first, len(xs) - 1)]
            # exact=1: without it ffmpeg rounds an odd width down to even on yuv420p (405 -> 404, a 0.25 % stretch)
            vf.append(f"crop@reframe=w={cw}:h={ch}:x={x0}:y={(source_size[1] - ch) // 2 // 2 * 2}:exact=1")
        vf.append(f"scale={item.size[0]}:{item.size[1]}:flags=lanczos,setsar=1,format=yuv420p")
    frames = round(item.seconds * fps)
    args = [*(window_args(item.start, item.seconds) if item.teaser else []), "-i", str(source), "-i", str(audio),
            "-map", "0:v:0", "-map", "1:a:0"]
    video = output_args("h264", crf, fps, preset)
    if not vf and not item.teaser:
        video = ["-c:v", "copy", *video[video.index("-c:a"):]]  # the master's pictures, untouched
    else:
        args += ["-vf", ",".join(vf) or "null"]
    if Path(audio).suffix == ".m4a":  # the audio encoded and measured already (`normalise_audio`): as it is
        at = video.index("-c:a")
        video = [*video[:at], "-c:a", "copy", *video[at + len(AAC_ARGS):]]
    else:
        video += ["-ar", "48000"]
    args += [*video, "-frames:v", str(frames), "-shortest"]
    for k, v in (metadata or {}).items():
        args += ["-metadata", f"{k}={v}"]
    if metadata:
        args += ["-movflags", "+faststart+use_metadata_tags"]
    run_ffmpeg([*args, str(out)], duration=item.seconds, progress=progress, what=f"writing {item.name}")


def _escape(path: str) -> str:
    from dreamcut.render.ffmpeg import escape_graph_value

    return escape_graph_value(path)


@dataclass
class Delivered:
    """A written deliverable with its figures, for the table and --json."""

    name: str
    path: str
    aspect: str
    width: int
    height: int
    seconds: float
    bytes: int
    loudness: Loudness
    teaser: bool = False
    note: str = ""
    source: str = ""        # the render its pictures were cropped or copied from (project-relative)

    def to_dict(self) -> dict:
        return {"name": self.name, "path": self.path, "aspect": self.aspect, "width": self.width,
                "height": self.height, "seconds": round(self.seconds, 3), "bytes": self.bytes,
                "integrated_lufs": round(self.loudness.integrated, 2), "true_peak_dbtp": round(self.loudness.true_peak, 2),
                "lra_lu": round(self.loudness.lra, 2), "teaser": self.teaser, "note": self.note,
                "source": self.source}


__all__ = ["ASPECTS", "TEASER_SECONDS", "LoudnessTarget", "Loudness", "Deliverable", "TeaserWindow", "Delivered",
           "ReframeSource", "reframe_source",
           "output_size", "crop_box", "subject_x", "crop_path", "crop_x_pixels", "crop_commands", "teaser_window",
           "loudness_gain", "loudness_filter", "normalise_audio", "NormalisedAudio", "next_gain", "peak_margin", "parse_ebur128", "plan_deliverables", "parse_aspects", "track_subject",
           "measure_loudnorm", "measure_ebur128", "encode"]
