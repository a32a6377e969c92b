"""The files `dreamcut serve` makes and accepts: references, stills, previews, stitched videos.

- `reference_png`: an uploaded / data-URL / fetched image checked by decoding it, stored as
  PNG (what every local backend's image conditioning reads).
- `decode_data_url`: `data:image/...;base64,...` -> bytes.
- `accept_video`: an uploaded video checked by probing it (a video stream, a duration).
- `still`: one frame of a video as PNG (edits, remixes and characters condition on it).
- `thumbnail_webp`, `spritesheet_jpg`: the `content?variant=` previews, in the media types the
  API documents (thumbnail image/webp, spritesheet image/jpeg).
- `stitch`: source + new segment -> one mp4 at the source's size (extensions).
"""

from __future__ import annotations

import base64
import binascii
import io
import subprocess
from pathlib import Path

from dreamcut.media import atomic_path, ffmpeg_exe, probe
from dreamcut.server.wire import ApiError


def decode_data_url(url: str, param: str) -> bytes:
    """The bytes of a base64 data URL; 400 naming `param` when it is not one."""
    head, sep, payload = url.partition(",")
    if not sep or not head.lower().startswith("data:") or ";base64" not in head.lower():
        raise ApiError(400, "image_url must be an http(s) URL or a base64 data URL (data:image/png;base64,...).",
                       param=param, code="invalid_image_url")
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "The data URL's base64 payload cannot be decoded.", param=param,
                       code="invalid_image_url") from None


def reference_png(data: bytes, dest: Path, param: str) -> Path:
    """Decode an image (PNG, JPEG, WebP, ...) and store it as RGB PNG; 400 when it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > 50_000_000:
                raise ApiError(400, "The reference image is larger than 50 megapixels.", param=param,
                               code="invalid_image")
            rgb = im.convert("RGB")
    except ApiError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ApiError(400, f"{param} must be an image (PNG, JPEG or WebP).", param=param,
                       code="invalid_image") from None
    with atomic_path(dest) as tmp:
        rgb.save(tmp, format="PNG")
    return dest


def accept_video(data: bytes, dest: Path, param: str) -> tuple[int, int, float]:
    """Store an uploaded video; (width, height, seconds) or 400 when it holds no readable video."""
    dest.write_bytes(data)
    try:
        info = probe(dest)
    except Exception:  # whatever the demuxer makes of untrusted bytes, it is the client's file
        info = None
    if info is None or info.video is None or not info.duration or info.duration <= 0:
        dest.unlink(missing_ok=True)
        raise ApiError(400, f"{param} must be a video file (MP4, MOV or WebM) with a video stream.", param=param,
                       code="invalid_video")
    return info.video.width, info.video.height, float(info.duration)


def _ffmpeg(args: list[str]) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True,
                   capture_output=True, timeout=600)


def still(video: Path, dest: Path, at: float = 0.0) -> Path:
    """The frame at `at` seconds as PNG (the first frame by default)."""
    if not dest.exists():
        with atomic_path(dest) as tmp:
            _ffmpeg(["-ss", f"{max(0.0, at):.3f}", "-i", str(video), "-frames:v", "1", "-f", "image2",
                     "-c:v", "png", str(tmp)])
    return dest


def thumbnail_webp(video: Path, dest: Path) -> Path:
    if not dest.exists():
        with atomic_path(dest) as tmp:
            _ffmpeg(["-i", str(video), "-vf", "scale=320:-2", "-frames:v", "1", "-c:v", "libwebp", "-f", "webp",
                     str(tmp)])
    return dest


def spritesheet_jpg(video: Path, dest: Path, seconds: float) -> Path:
    """16 frames spread over the clip, 4x4, each 160 px wide."""
    if not dest.exists():
        rate = max(16.0 / max(seconds, 0.1), 0.01)
        with atomic_path(dest) as tmp:
            _ffmpeg(["-i", str(video), "-vf", f"fps={rate:.4f},scale=160:-2,tile=4x4", "-frames:v", "1",
                     "-c:v", "mjpeg", "-f", "image2", str(tmp)])
    return dest


def stitch(first: Path, second: Path, dest: Path, width: int, height: int, fps: int) -> None:
    """`first` then `second` as one H.264 mp4 at width x height, fps (both re-encoded: any source works)."""
    norm = f"scale={width}:{height}:force_original_aspect_ratio=decrease,pad={width}:{height}:(ow-iw)/2:(oh-ih)/2," \
           f"setsar=1,fps={fps},format=yuv420p"
    with atomic_path(dest) as tmp:
        _ffmpeg(["-i", str(first), "-i", str(second), "-filter_complex",
                 f"[0:v]{norm}[a];[1:v]{norm}[b];[a][b]concat=n=2:v=1:a=0[v]", "-map", "[v]",
                 "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-f", "mp4", str(tmp)])
