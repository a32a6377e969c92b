"""Decoding a song file to mono samples: soundfile where it reads the format, else ffmpeg.

BadInput (naming the file and the fix) when the file is missing, unreadable or too short.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from dreamcut.errors import BadInput, WorkFailed
from dreamcut.media import ffmpeg_exe


ANALYSIS_SR = 22050


def _fix_for(path: Path) -> str:
    return "point `song:` in dreamcut.yaml at a readable audio file (wav, mp3, m4a, flac...)"


def load_audio(path: Path, sr: int = ANALYSIS_SR) -> tuple[np.ndarray, int]:
    """Mono float32 samples at `sr`, and the file's own sample rate. BadInput if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise BadInput("the song file does not exist", where=str(path), fix=_fix_for(path))
    y = None
    native_sr = 0
    try:
        import soundfile as sf

        data, native_sr = sf.read(str(path), dtype="float32", always_2d=True)
        y = data.mean(axis=1)
    except Exception:  # soundfile cannot read mp3/m4a/...: let ffmpeg decode it
        y = None
    if y is None:
        y, native_sr = _ffmpeg_decode(path, sr)
    elif native_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    if y.size < sr // 2 or not np.all(np.isfinite(y)):
        raise BadInput(f"the song has {y.size / sr:.2f} s of readable audio; it needs at least 0.5 s",
                       where=str(path), fix=_fix_for(path))
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)


def _ffmpeg_decode(path: Path, sr: int) -> tuple[np.ndarray, int]:
    native_sr = 0
    try:
        from dreamcut.media import probe

        info = probe(path)
        if info.audio is None:
            raise BadInput("the file has no audio stream", where=str(path), fix=_fix_for(path))
        native_sr = info.audio.sample_rate
    except BadInput:
        raise
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sr),
           "-f", "f32le", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WorkFailed(f"ffmpeg could not decode the song ({type(e).__name__})", where=str(path),
                         fix="check that ffmpeg runs (DREAMCUT_FFMPEG or imageio-ffmpeg)") from None
    if proc.returncode != 0 or not proc.stdout:
        raise BadInput("the song cannot be decoded (corrupt or not audio)", where=str(path), fix=_fix_for(path))
    return np.frombuffer(proc.stdout, dtype="<f4").copy(), native_sr or sr
