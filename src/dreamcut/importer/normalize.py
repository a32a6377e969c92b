"""The mezzanine: when a file already conforms to the project's format, and the ffmpeg pass that
makes it conform (fit, frame rate, colours, pixel shape) with damaged frames concealed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dreamcut.errors import BadInput
from dreamcut.media import MediaInfo, ffmpeg_exe
from dreamcut.importer.base import AUTO_CROP_TOLERANCE, FITS, Refused
from dreamcut.importer.facts import colour_filter, source_colour, square_pixels_filter


# -- normalisation ---------------------------------------------------------------------------------


def choose_fit(fit: str, w: int, h: int, mw: int, mh: int) -> str:
    if fit != "auto":
        return fit
    src_aspect, dst_aspect = w / h, mw / mh
    return "crop" if abs(src_aspect / dst_aspect - 1) <= AUTO_CROP_TOLERANCE else "blur"


def conforms(info: MediaInfo, fps: int, mw: int, mh: int, src: Path) -> bool:
    v = info.video
    assert v is not None
    return (src.suffix.lower() in (".mp4", ".m4v") and v.codec == "h264" and v.pix_fmt == "yuv420p"
            and (v.width, v.height) == (mw, mh) and abs(v.fps - fps) < 0.01 and not v.variable_frame_rate
            and v.rotation == 0 and (info.audio is None or info.audio.codec == "aac")
            and abs(v.sample_aspect - 1.0) < 0.01)  # colours: a copy keeps pixels and tags as they are


def fit_filter(fit: str, mw: int, mh: int) -> str:
    """The ffmpeg filter chain that fits any picture into mw x mh (after rotation is applied)."""
    if fit == "crop":
        return f"scale={mw}:{mh}:force_original_aspect_ratio=increase,crop={mw}:{mh}"
    if fit == "pad":
        return f"scale={mw}:{mh}:force_original_aspect_ratio=decrease,pad={mw}:{mh}:(ow-iw)/2:(oh-ih)/2:black"
    if fit == "blur":
        blur = max(4, min(mw, mh) // 16)
        return (f"split[bgsrc][fgsrc];[bgsrc]scale={mw}:{mh}:force_original_aspect_ratio=increase,crop={mw}:{mh},"
                f"boxblur={blur}:2[bg];[fgsrc]scale={mw}:{mh}:force_original_aspect_ratio=decrease[fg];"
                f"[bg][fg]overlay=(W-w)/2:(H-h)/2")
    raise BadInput(f"unknown fit {fit!r}", fix=f"use one of: {', '.join(FITS)}")


def normalize(src: Path, dst: Path, info: MediaInfo, fps: int, mw: int, mh: int, fit: str) -> int:
    """Transcode to the mezzanine; returns the number of decode errors ffmpeg concealed."""
    graph = f"[0:v:0]{colour_filter(info)}fps={fps},{square_pixels_filter(info)}{fit_filter(fit, mw, mh)},setsar=1," \
            f"format=yuv420p[v]"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", str(src),
           "-filter_complex", graph, "-map", "[v]"]
    if info.audio is not None:
        cmd += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "192k", "-ar", "48000"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", "-fps_mode", "cfr",
            "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
            "-map_metadata", "-1", "-map_chapters", "-1", "-movflags", "+faststart", "-f", "mp4", str(dst)]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if proc.returncode != 0 or not dst.is_file() or dst.stat().st_size == 0:
        last = errors[-1] if errors else f"exit code {proc.returncode}"
        # the ffmpeg line may name the temp path: keep only its message
        last = last.replace(str(src), src.name).replace(str(dst), dst.name)
        raise Refused(f"could not be decoded ({last[:160]})")
    return len(errors)


def decode_check(src: Path, info: MediaInfo) -> int:
    """Decode every frame of a file we would keep as is; refuse it when much of it is missing.

    Returns the number of decode errors ffmpeg reported (frames it concealed)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(src), "-map", "0:v:0",
           "-f", "null", "-progress", "pipe:1", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    frames = [int(m) for m in re.findall(r"^frame=(\d+)", proc.stdout, re.MULTILINE)]
    decoded = frames[-1] if frames else 0
    assert info.video is not None
    expected = max(1, int(info.duration * info.video.fps))
    if proc.returncode != 0 or decoded < expected * 0.8 - 1:
        raise Refused(f"damaged: only {decoded / max(info.video.fps, 1):.1f} s of {info.duration:.1f} s "
                       f"could be decoded")
    return len([ln for ln in proc.stderr.splitlines() if ln.strip()])


def describe_normalization(info: MediaInfo, fps: int, mw: int, mh: int, fit: str, dw: int, dh: int) -> str:
    v = info.video
    assert v is not None
    bits = []
    if v.variable_frame_rate:
        bits.append(f"variable frame rate -> {fps} fps")
    elif abs(v.fps - fps) >= 0.01:
        bits.append(f"{v.fps:.3f} -> {fps} fps")
    if v.rotation:
        bits.append(f"rotated {v.rotation} deg")
    if (dw, dh) != (mw, mh):
        bits.append(f"{dw}x{dh} -> {mw}x{mh} ({fit})")
    if abs(v.sample_aspect - 1.0) >= 0.01:
        bits.append(f"non-square pixels {v.width}x{v.height} shown as {int(round(v.width * v.sample_aspect))}x{v.height}")
    src = source_colour(info)
    if src.system != "bt709":
        bits.append(f"colours {src.system}{' (untagged SD, assumed)' if src.assumed else ''} -> bt709")
    if v.codec != "h264" or v.pix_fmt != "yuv420p":
        bits.append(f"{v.codec} {v.pix_fmt or ''} {v.bit_depth}-bit -> h264 yuv420p 8-bit".replace("  ", " "))
    return "normalized: " + (", ".join(bits) if bits else "re-encoded to h264 mp4")
