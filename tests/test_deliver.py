"""`dreamcut deliver`: the release versions of the master, reframed, cut, loudness-normalised, signed.

Real processes: a real master rendered by `dreamcut render`, the CLI in a subprocess, ffprobe for
sizes and durations, ffmpeg's ebur128 for loudness (measured here, independently of the code),
real signature verification. The subject is synthetic: a bright disc moving left to right over a
dark texture, so where it is in every frame is known.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

import conftest
from conftest import run_cli
from dreamcut import timeline as tl
from dreamcut.analysis.audio import Section, SongAnalysis
from dreamcut.media import FrameWriter, ffmpeg_exe, probe, read_frames
from dreamcut.provenance import verify
from dreamcut.render import deliver as dl
from finishing_kit import Cut, build_timeline, texture

FPS = 24
RADIUS = 0.09   # of the frame height


def disc_frames(n: int, size: tuple[int, int], *, x0: float, x1: float, seed: int = 7) -> list[np.ndarray]:
    """A bright disc moving from x0 to x1 (fractions of the width) over a dark textured background."""
    w, h = size
    background = (texture(seed, w, h).astype(np.float32) * 0.3).astype(np.uint8)
    out = []
    for i in range(n):
        frame = background.copy()
        x = x0 + (x1 - x0) * i / max(1, n - 1)
        cv2.circle(frame, (round(x * w), h // 2), round(RADIUS * h), (250, 240, 210), -1, lineType=cv2.LINE_AA)
        out.append(frame)
    return out


def write_take(path: Path, frames: list[np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with FrameWriter(path, w, h, FPS, codec_args=("-c:v", "libx264", "-preset", "ultrafast", "-crf", "16",
                                                  "-pix_fmt", "yuv420p")) as writer:
        for f in frames:
            writer.write(f)


def make_project(root: Path, *, size: tuple[int, int], seconds: list[float], song_seconds: float,
                 shot_extra: dict[int, dict] | None = None) -> Path:
    """Shots s0..: s0 the disc moving left to right; the others the disc standing at the left."""
    root.mkdir(parents=True, exist_ok=True)
    cuts = []
    for i, secs in enumerate(seconds):
        n = round(secs * FPS) + 2
        frames = disc_frames(n, size, x0=0.12, x1=0.88) if i == 0 else disc_frames(n, size, x0=0.15, x1=0.15, seed=9 + i)
        write_take(root / f"takes/s{i}/s{i}_t1.mp4", frames)
        cuts.append(Cut(f"takes/s{i}/s{i}_t1.mp4", 0.0, secs))
    w, h = size
    conftest.make_project(root, [{"id": f"s{i}", "prompt": f"a bright disc {i}", **(shot_extra or {}).get(i, {})}
                                 for i in range(len(seconds))],
                          song_seconds=song_seconds, title="deliver test", fps=FPS, takes_per_shot=1,
                          render={"master": f"{w}x{h}", "resolution": f"{w}x{h}", "preset": "ultrafast"})
    tl.write_timeline(build_timeline(cuts, song="song.wav", size=size), root / "edits" / "cut.otio")
    return root


def ebur128(path: Path) -> float:
    """Integrated loudness (LUFS) of a file, measured here with ffmpeg's ebur128 filter."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-vn", "-af", "ebur128",
                           "-f", "null", "-"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-500:]
    summary = proc.stderr[proc.stderr.rfind("Summary:"):]
    return float(re.search(r"I:\s*(-?[\d.]+) LUFS", summary).group(1))


def true_peak(path: Path) -> float:
    """True peak (dBTP) of a file's audio, measured here with ffmpeg's ebur128 filter (peak=true)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-vn", "-af", "ebur128=peak=true",
                           "-f", "null", "-"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-500:]
    summary = proc.stderr[proc.stderr.rfind("Summary:"):]
    return float(re.search(r"True peak:\s*Peak:\s*(-?[\d.]+) dBFS", summary).group(1))


def ffprobe(path: Path) -> tuple[int, int, float]:
    info = probe(path, deep=True)
    return info.video.width, info.video.height, info.duration


def deliver_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli("--project", str(root), "deliver", *args, timeout=600)


def test_vertical_1080x1920_keeps_the_moving_subject_and_honours_the_override(tmp_path):
    root = make_project(tmp_path / "p", size=(640, 360), seconds=[4.0, 1.5], song_seconds=6.0,
                        shot_extra={1: {"reframe": "right"}})
    run_cli("--project", str(root), "render", check=True)
    proc = deliver_cli(root, "--no-teasers", "--aspects", "16:9,9:16", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    by_name = {o["name"]: o for o in report["outputs"]}
    assert set(by_name) == {"full_16x9.mp4", "full_9x16.mp4"}
    out = root / "renders" / "deliver"
    master_seconds = 5.5
    for name, size in (("full_16x9.mp4", (640, 360)), ("full_9x16.mp4", (1080, 1920))):
        w, h, d = ffprobe(out / name)
        assert (w, h) == size
        assert abs(d - master_seconds) < 0.1
        assert abs(ebur128(out / name) - (-14.0)) <= 1.0
        assert abs(by_name[name]["integrated_lufs"] - (-14.0)) <= 1.0
        assert true_peak(out / name) <= -1.0, name  # under the default ceiling, after the AAC encode
        rep = verify(out / name)
        assert rep.has_manifest and rep.valid, rep.problems

    # Every sampled frame of the moving shot shows the whole disc inside the 9:16 frame.
    disc_area = np.pi * (RADIUS * 1920) ** 2
    xs = []
    for t, frame in read_frames(out / "full_9x16.mp4", every=3, size=(270, 480)):
        if t >= 4.0 - 1 / FPS:
            break
        # the disc's band of rows (a render may carry a caption band at the bottom)
        bright = frame[120:360].astype(np.float32).mean(axis=2) > 160
        area = bright.sum() * (1080 / 270) ** 2
        assert area > 0.85 * disc_area, f"the disc is cut off at {t:.2f} s ({area / disc_area:.0%} visible)"
        cols = np.nonzero(bright.any(axis=0))[0]
        assert cols.min() > 0 and cols.max() < 269, f"the disc touches the frame edge at {t:.2f} s"
        xs.append(t)
    assert len(xs) >= 25

    # Shot s1 says `reframe: right`: its 9:16 frames are the master's right edge (the disc, on the left, is not followed).
    master = dict(read_frames(root / "renders" / "final_640x360.mp4", size=(640, 360)))
    vertical = dict(read_frames(out / "full_9x16.mp4", size=(202, 360)))
    t = sorted(k for k in vertical if 4.5 <= k <= 5.2)[0]
    m = min(master, key=lambda k: abs(k - t))
    right = master[m][:, 640 - 202:].astype(np.float32)
    left = master[m][:, :202].astype(np.float32)
    got = vertical[t].astype(np.float32)
    assert np.abs(got - right).mean() < 12.0 < np.abs(got - left).mean()


def test_square_and_teasers_have_their_size_duration_and_loudness(tmp_path):
    # (the 16:9 and 9:16 full versions are checked above; here the 1:1 and both teasers, at a small size)
    root = make_project(tmp_path / "p", size=(256, 144), seconds=[16.0, 16.0], song_seconds=32.0)
    run_cli("--project", str(root), "render", check=True)
    proc = deliver_cli(root, "--short-side", "144", "--aspects", "1:1", "--teaser-aspects", "9:16", "--json",
                       "--lufs", "-16")
    assert proc.returncode == 0, proc.stderr
    outputs = {o["name"]: o for o in json.loads(proc.stdout)["outputs"]}
    expected = {"full_1x1.mp4": ((144, 144), 32.0), "teaser15s_9x16.mp4": ((144, 256), 15.0),
                "teaser30s_9x16.mp4": ((144, 256), 30.0)}
    assert set(outputs) == set(expected)
    out = root / "renders" / "deliver"
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)   # no temp file left
    for name, (size, seconds) in expected.items():
        w, h, d = ffprobe(out / name)
        assert (w, h) == size, name
        assert abs(d - seconds) < 0.1, (name, d)
        assert abs(ebur128(out / name) - (-16.0)) <= 1.0, name
        assert outputs[name]["width"] == w and outputs[name]["bytes"] == (out / name).stat().st_size
        assert verify(out / name).valid
    # the teasers start on a downbeat of the song the edit used
    assert "bar" in outputs["teaser15s_9x16.mp4"]["note"]


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    root = make_project(tmp_path / "p", size=(320, 180), seconds=[2.0], song_seconds=2.0)
    proc = deliver_cli(root)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no master render" in lines[0] and "dreamcut render" in lines[0]
    assert not (root / "renders" / "deliver").exists()

    spec = root / "dreamcut.yaml"
    spec.write_text(spec.read_text().replace("prompt: a bright disc 0", "prompt: a bright disc 0\n    reframe: middle"))
    proc = deliver_cli(root)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "reframe" in lines[0] and "left, center, right" in lines[0], lines

    spec.write_text(spec.read_text().replace("reframe: middle", "reframe: {x: 2}"))
    proc = deliver_cli(root)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "dreamcut.yaml" in lines[0] and "reframe.x" in lines[0], lines
    assert not (root / "renders" / "deliver").exists()


# -- the pure decisions --------------------------------------------------------------------------------


def _song(sections: list[Section], energy: dict[tuple[float, float], float], seconds: float = 120.0) -> SongAnalysis:
    times = [i * 0.5 for i in range(int(seconds * 2))]
    values = [next((e for (a, b), e in energy.items() if a <= t < b), 0.2) for t in times]
    beats = [i * 0.5 for i in range(int(seconds * 2))]
    return SongAnalysis(duration=seconds, sample_rate=44100, tempo=120.0, beats=beats, downbeats=beats[::4],
                        beats_per_bar=4, energy_times=times, energy=values, sections=sections)


def test_teaser_starts_on_the_downbeat_of_the_strongest_chorus_and_fits_the_master():
    sections = [Section(0, 16, "intro"), Section(16, 32, "chorus"), Section(32, 48, "verse"),
                Section(48, 64, "chorus"), Section(64, 120, "outro")]
    song = _song(sections, {(16, 32): 0.6, (48, 64): 0.9})
    w = dl.teaser_window(song, song_start=0.0, master_seconds=120.0, seconds=15.0)
    assert w.start == 48.0 and "chorus#2" in w.reason and not w.degraded
    # the master starts 10 s into the song: times are master times
    w = dl.teaser_window(song, song_start=10.0, master_seconds=110.0, seconds=30.0)
    assert w.start == 38.0
    # the strongest chorus too close to the end: moved back to a downbeat that fits
    w = dl.teaser_window(song, song_start=0.0, master_seconds=70.0, seconds=30.0)
    assert w.start + 30.0 <= 70.0 and w.start % 2.0 == 0.0 and w.start >= 38.0
    assert dl.teaser_window(song, song_start=0.0, master_seconds=10.0, seconds=15.0) is None
    no_chorus = _song([Section(0, 120, "verse")], {(60, 80): 0.9})
    w = dl.teaser_window(no_chorus, song_start=0.0, master_seconds=120.0, seconds=15.0)
    assert w.degraded and "no chorus" in w.reason and 58.0 <= w.start <= 62.0


def test_crop_path_is_smooth_bounded_and_holds_overrides():
    fps, frames = 24, 96
    rng = np.random.default_rng(1)
    # a subject stepping across with noisy detections and one wild outlier
    samples = [(i / 12, 0.2 + 0.6 * i / 47 + rng.normal(0, 0.03), 0.5) for i in range(48)]
    samples[20] = (samples[20][0], 0.99, 0.5)
    path = dl.crop_path(samples, frames=frames, fps=fps, shots=[(0, 72, None), (72, 96, 0.0)], crop_fraction=0.32)
    steps = np.abs(np.diff(path[:72]))
    assert steps.max() <= dl.MAX_PAN / fps + 1e-9
    assert np.abs(np.diff(path[:72], 2)).max() < 0.004          # no jitter
    assert path[0] < 0.3 and path[71] > 0.6                      # it follows the subject
    assert all(v == pytest.approx(0.16) for v in path[72:])      # `reframe: left`, held inside the frame


def test_loudness_plan_limits_only_when_the_gain_would_break_the_ceiling():
    target = dl.LoudnessTarget(integrated=-14.0, true_peak=-1.0)
    assert dl.loudness_gain(-21.0, target) == 7.0
    chain, limited = dl.loudness_filter(-3.0, -0.5, target)          # quieter: no limiter
    assert not limited and chain == "volume=-3.000dB"
    chain, limited = dl.loudness_filter(7.0, -1.2, target)           # +7 dB over peaks at -1.2 dBTP
    assert limited and "alimiter" in chain and "aresample=192000" in chain
    # a limiter gives back less than the gain: the next try follows the measured slope
    assert dl.next_gain([(7.0, -15.0)], -14.0) == 8.0
    assert dl.next_gain([(7.0, -15.0), (8.0, -14.5)], -14.0) == pytest.approx(9.0)
    with pytest.raises(Exception, match="out of range"):
        dl.LoudnessTarget(integrated=3.0)


def test_an_encode_that_overshoots_the_true_peak_is_measured_and_made_again(tmp_path):
    """The limiter holds the WAV under the ceiling, but the AAC encode can push the true peak over
    it: the encoded audio is measured, the limiter lowered by the overshoot, and the audio made
    again until the encoded file is under the ceiling. (margin=0: no head start, so it overshoots.)"""
    import soundfile as sf

    sr = 48000
    t = np.arange(8 * sr) / sr
    y = 0.1 * np.sign(np.sin(2 * np.pi * 220 * t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    clicks = np.zeros_like(t)
    clicks[np.arange(16) * sr // 2] = 0.9
    y = y + np.convolve(clicks, np.exp(-np.arange(200) / 20.0), mode="same")
    sf.write(tmp_path / "song.wav", np.stack([y, y], 1).astype(np.float32), sr)
    target = dl.LoudnessTarget(integrated=-10.0, true_peak=-1.0)
    audio = dl.normalise_audio(tmp_path / "song.wav", tmp_path / "out.wav", target, margin=0.0)
    assert audio.wav.suffix == ".m4a" and audio.limited
    assert audio.margin > 0.0  # the first encode went over the ceiling: the limiter was lowered
    assert true_peak(audio.wav) <= -1.0 and abs(ebur128(audio.wav) - (-10.0)) <= 0.5
    assert audio.loudness.true_peak == pytest.approx(true_peak(audio.wav), abs=0.05)
    assert dl.peak_margin(2.0, -0.5, target) == pytest.approx(2.7) and dl.peak_margin(2.0, -1.2, target) is None
