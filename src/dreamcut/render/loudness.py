"""Loudness of a release version: measured, brought to an EBU R128 target, and measured again.

Pure: `loudness_gain` / `loudness_filter` (the gain to the target, and a 4x-oversampled peak
limiter when that gain would break the true-peak ceiling), `parse_ebur128`, `next_gain`.
I/O at the edge: `normalise_audio` makes the audio of a version in two or more passes:
loudnorm's first pass measures it (`measure_loudnorm`), then the gain (and limiter) is applied
into a WAV which ebur128 measures (`measure_ebur128`); the gain is corrected by what was missed
until it is within 0.2 LU (at most 4 passes). Then the audio is encoded as it will go out (AAC,
`AAC_ARGS`) and measured again: the encode's overshoot of the true peak (1.8 dB on the full demo
song, over a 2 dB limiter margin) lowers the limiter's ceiling by what it missed, and the audio
is made again, until the encoded true peak is under the ceiling (at most 3 rounds). The version
then carries that encoded audio as it is (stream copy), so what was measured is what is
delivered. (loudnorm's own second pass is not used for the
gain: when the gain would break the peak ceiling it falls back to its dynamic mode and misses
the target, -15.7 LUFS for -14 on the demo song.)
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dreamcut.errors import BadInput, WorkFailed
from dreamcut.media import die_with_parent, ffmpeg_exe
from dreamcut.render.ffmpeg import AAC_ARGS

TEASER_FADE = 0.5          # seconds of audio fade in and out on a teaser
PEAK_MARGIN = 2.0          # dB under the true-peak ceiling the limiter first holds (the AAC encode overshoots; measured, then corrected)
PEAK_ROUNDS = 3            # audio made again at most this often while the encoded true peak is over the ceiling


@dataclass(frozen=True)
class LoudnessTarget:
    """EBU R128 target: integrated loudness (LUFS), true peak ceiling (dBTP), loudness range (LU)."""

    integrated: float = -14.0
    true_peak: float = -1.0
    lra: float = 11.0

    def __post_init__(self) -> None:
        if not -70.0 <= self.integrated <= -5.0:
            raise BadInput(f"loudness target {self.integrated:g} LUFS is out of range", where="--lufs",
                           fix="use -70..-5 (streaming platforms use -14)")
        if not -9.0 <= self.true_peak <= 0.0:
            raise BadInput(f"true peak {self.true_peak:g} dBTP is out of range", where="--true-peak", fix="use -9..0")


@dataclass(frozen=True)
class Loudness:
    integrated: float       # LUFS
    true_peak: float        # dBTP
    lra: float              # LU


def loudness_gain(measured_i: float, target: LoudnessTarget) -> float:
    """dB of gain from a measured integrated loudness to the target."""
    return target.integrated - measured_i


def loudness_filter(gain_db: float, measured_tp: float, target: LoudnessTarget,
                    margin: float = PEAK_MARGIN) -> tuple[str, bool]:
    """(audio filter, limited): the gain, and a peak limiter when the gain would push the true
    peak over the ceiling less `margin` dB (run at 4x the rate so it catches inter-sample peaks;
    the margin is for the AAC encode's overshoot, which `normalise_audio` measures and corrects)."""
    chain = f"volume={gain_db:.3f}dB"
    limited = measured_tp + gain_db > target.true_peak - margin
    if limited:
        ceiling = 10 ** ((target.true_peak - margin) / 20)
        chain += (f",aresample=192000,alimiter=limit={ceiling:.5f}:attack=1:release=50:level=false"
                  f",aresample=48000")
    return chain, limited


_EBU_I = re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf)\s*LUFS")
_EBU_LRA = re.compile(r"Loudness range:\s*\n\s*LRA:\s*(-?[\d.]+)\s*LU")
_EBU_TP = re.compile(r"True peak:\s*\n\s*Peak:\s*(-?[\d.]+|-inf)\s*dBFS")


def parse_ebur128(log: str) -> Loudness:
    """Integrated loudness, true peak and range from ffmpeg ebur128's summary."""
    summary = log[log.rfind("Summary:"):] if "Summary:" in log else log
    i, lra, tp = _EBU_I.search(summary), _EBU_LRA.search(summary), _EBU_TP.search(summary)
    if not i:
        raise WorkFailed("ffmpeg's ebur128 printed no integrated loudness")

    def num(m) -> float:
        return float("-inf") if m is None or m.group(1) == "-inf" else float(m.group(1))
    return Loudness(integrated=num(i), true_peak=num(tp), lra=num(lra) if lra else 0.0)


def _ffmpeg_log(args: list[str], what: str) -> str:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", preexec_fn=die_with_parent())
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise WorkFailed(f"{what} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stderr


def window_args(start: float, seconds: float | None) -> list[str]:
    """ffmpeg input options that read `seconds` from `start` (all of it when None)."""
    return (["-ss", f"{start:.6f}"] if start > 0 else []) + (["-t", f"{seconds:.6f}"] if seconds else [])


def measure_loudnorm(media: Path, target: LoudnessTarget, *, start: float = 0.0, seconds: float | None = None,
                     fades: bool = False) -> dict:
    """loudnorm's first pass over the audio that will go out (a teaser's window, its fades)."""
    chain = fade_chain(seconds) if fades and seconds else ""
    log = _ffmpeg_log([*window_args(start, seconds), "-i", str(media), "-vn", "-af",
                       f"{chain}loudnorm=I={target.integrated:g}:TP={target.true_peak:g}:LRA={target.lra:g}"
                       f":print_format=json", "-f", "null", "-"], f"measuring the loudness of {media.name}")
    m = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", log)
    if not m:
        raise WorkFailed(f"loudnorm printed no measurement for {media.name}")
    measured = json.loads(m.group(0))
    if measured["input_i"] in ("-inf", "inf"):
        raise BadInput("the audio is silent: there is no loudness to normalise", where=media.name,
                       fix="check the song of the project")
    return measured


@dataclass(frozen=True)
class NormalisedAudio:
    wav: Path               # the encoded audio (AAC in .m4a) a version carries as it is
    gain_db: float
    limited: bool
    passes: int
    loudness: Loudness      # of the encoded audio (the version is measured again)
    margin: float = PEAK_MARGIN  # dB under the ceiling the limiter held, after the encode's overshoot was measured


def peak_margin(margin: float, encoded_tp: float, target: LoudnessTarget) -> float | None:
    """The limiter margin for the next round when the encoded true peak went over the ceiling (the
    overshoot added, plus 0.2 dB); None when it is under."""
    if encoded_tp <= target.true_peak:
        return None
    return margin + (encoded_tp - target.true_peak) + 0.2


def normalise_audio(media: Path, wav: Path, target: LoudnessTarget, *, start: float = 0.0,
                    seconds: float | None = None, fades: bool = False, tolerance: float = 0.2,
                    max_passes: int = 4, margin: float = PEAK_MARGIN) -> NormalisedAudio:
    """The audio of a version (a window of `media`, with fades for a teaser) at the target loudness,
    encoded as it goes out (`wav` with the suffix .m4a), its true peak under the ceiling. `margin`:
    the limiter's first margin under the ceiling (raised by the encode's measured overshoot)."""
    first = measure_loudnorm(media, target, start=start, seconds=seconds, fades=fades)
    gain = loudness_gain(float(first["input_i"]), target)
    tp = float(first["input_tp"])
    chain = fade_chain(seconds) if fades and seconds else ""
    encoded = wav.with_suffix(".m4a")
    passes = 1
    for _ in range(PEAK_ROUNDS):
        tried: list[tuple[float, float]] = []   # (gain, loudness it gave)
        for n in range(1, max_passes + 1):
            af, limited = loudness_filter(gain, tp, target, margin)
            _ffmpeg_log(["-y", *window_args(start, seconds), "-i", str(media), "-vn", "-af", f"{chain}{af}",
                         "-ar", "48000", "-c:a", "pcm_s24le", str(wav)], f"normalising the audio of {media.name}")
            passes += 1
            got = measure_ebur128(wav)
            if abs(got.integrated - target.integrated) <= tolerance or n == max_passes:
                break
            tried.append((gain, got.integrated))
            gain = next_gain(tried, target.integrated)
        _ffmpeg_log(["-y", "-i", str(wav), *AAC_ARGS, str(encoded)], f"encoding the audio of {media.name}")
        got = measure_ebur128(encoded)
        more = peak_margin(margin, got.true_peak, target)
        if more is None:
            break
        margin = more
    return NormalisedAudio(wav=encoded, gain_db=gain, limited=limited, passes=passes, loudness=got, margin=margin)


def next_gain(tried: list[tuple[float, float]], target: float) -> float:
    """The next gain to try from (gain, loudness) pairs: the secant through the last two (a limiter
    gives back less than 1 dB of loudness per dB of gain), else the miss added once."""
    g2, i2 = tried[-1]
    slope = 1.0
    if len(tried) >= 2:
        g1, i1 = tried[-2]
        if abs(g2 - g1) > 1e-3:
            slope = min(1.0, max(0.2, (i2 - i1) / (g2 - g1)))
    return g2 + (target - i2) / slope


def measure_ebur128(media: Path) -> Loudness:
    """The loudness of a file as ffmpeg's ebur128 filter measures it (integrated, true peak, range)."""
    log = _ffmpeg_log(["-i", str(media), "-vn", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
                      f"measuring {media.name}")
    return parse_ebur128(log)


def fade_chain(seconds: float) -> str:
    """An audio fade in and out (a teaser's), as the head of a filter chain."""
    fade = min(TEASER_FADE, seconds / 4)
    return f"afade=t=in:d={fade:g},afade=t=out:st={seconds - fade:.6f}:d={fade:g},"
