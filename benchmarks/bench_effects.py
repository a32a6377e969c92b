"""Beat-synced effects: a render with zoom pulses, flashes and shakes vs the same render without.

Footage (`--footage`): `animatic` (the default) uses moving takes like users' — the demo's 12 shots
generated once by the real `dreamcut generate` with the default backend (the animatic: camera moves,
zoom-throughs, grain) into bench-results/cache/; `still` is the named worst case: testsrc2 patterns,
hue-shifted per shot, mostly still pictures (x264 skips still blocks cheaply, and every frame an
effect moves or brightens is coded in full, so the ratio is at its highest).
The edit: `--shots` takes cut back to back over a song of `--seconds` seconds with a drum pattern (kick on 1 and 3, snare
on 2 and 4 at 120 bpm, over a pad). Both renders go through `render.ffmpeg.render_timeline`, the
one ffmpeg pass `dreamcut render` uses for the master (H.264 veryfast crf 18), at `--size`
(`--path master`):
  - without effects, and
  - with pulse 0.8, flash 0.5, shake 0.5 (every kick pulses, every snare flashes, the
    strongest quarter of the hits shake), the cues planned from the song's percussive onsets.
The onset analysis (hpss + onset detection, cached by the song's hash like the song map) is
timed on its own. Each render runs `--repeats` times, alternating; the table gives the fastest
of each (the machine is shared) and the ratio; and the CPU seconds of the ffmpeg process (user +
system, fastest of each), which a loaded machine disturbs less than the wall time. Target: effects
cost at most 15 % more.
`--path render` (the default) times what a user runs: `dreamcut render --force` on a project folder
holding the same edit (the master at `--size`, then the upscale to 2K, signing included), with and
without `effects:` in its dreamcut.yaml (caches warmed first, so both runs only render); its CPU
seconds are those of the command and every process it starts (ffmpeg for the master and the
upscale, ffprobe, signing).
Every run's wall and CPU seconds are printed and kept, so the spread on a shared machine shows.
Writes bench-results/effects.json (or --out).
Usage: python benchmarks/bench_effects.py [--footage animatic|still] [--path render|master] [--seconds 60] [--shots 12] [--size 1280x720]
       [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402
import opentimelineio as otio  # noqa: E402
import soundfile as sf  # noqa: E402

from dreamcut import timeline as tl  # noqa: E402
from dreamcut.analysis.audio import SongAnalysis  # noqa: E402
from dreamcut.media import ffmpeg_exe  # noqa: E402
from dreamcut.render import effects as fx  # noqa: E402
from dreamcut.render.ffmpeg import render_timeline  # noqa: E402
from dreamcut.spec import EffectsSpec  # noqa: E402

OUT = REPO / "bench-results"
CACHE = OUT / "cache"
FPS = 24
SR = 22050


def make_takes(shots: int, seconds: float, size: tuple[int, int]) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(shots):
        path = CACHE / f"fx_take_{size[0]}x{size[1]}_{int(seconds * 10)}_{i:02d}.mp4"
        if not path.exists():
            tmp = path.with_suffix(".part.mp4")
            subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                            "-i", f"testsrc2=s={size[0]}x{size[1]}:r={FPS}:d={seconds}",
                            "-vf", f"hue=h={(i * 37) % 360}", "-c:v", "libx264", "-preset", "ultrafast",
                            "-crf", "20", "-pix_fmt", "yuv420p", "-g", "48", str(tmp)], check=True)
            tmp.rename(path)
        out.append(path)
    return out


def make_animatic_takes(shots: int, seconds: float, size: tuple[int, int], song: Path) -> list[Path]:
    """The demo's shots generated once, one take each (the demo's length) at `size`, by `dreamcut generate` (animatic)."""
    import re
    import shutil

    from dreamcut.demo.project import demo_spec_text
    from dreamcut.spec import SPEC_FILE

    root = CACHE / f"fx_animatic_{size[0]}x{size[1]}"
    text = demo_spec_text(short=False)
    take_seconds = float(re.search(r"take_seconds: (\d+)", text).group(1))
    if seconds > take_seconds:
        raise SystemExit(f"bench_effects: each shot needs {seconds:g} s but the demo's takes are {take_seconds:g} s; "
                         "use more --shots or fewer --seconds")
    for pattern, value in ((r"takes_per_shot: \d+", "takes_per_shot: 1"),
                           (r"master: 720p", f'master: "{size[0]}x{size[1]}"')):
        text, n = re.subn(pattern, value, text, count=1)
        if n != 1:
            raise SystemExit(f"bench_effects: the demo shot list has no `{pattern}` line to set; update this bench")
    root.mkdir(parents=True, exist_ok=True)
    if not (root / SPEC_FILE).exists() or (root / SPEC_FILE).read_text(encoding="utf-8") != text:
        (root / SPEC_FILE).write_text(text, encoding="utf-8")
    if not (root / "song.wav").exists():
        shutil.copy(song, root / "song.wav")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), "generate"], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"dreamcut generate failed: {proc.stderr.strip()[-400:]}")
    from dreamcut.project import Project

    project = Project.open(root)
    found = []
    for shot in project.spec.shots:
        mp4s = sorted((project.takes_dir / shot.id).glob("*.mp4"))
        if not mp4s:
            raise SystemExit(f"bench_effects: `dreamcut generate` left no take for shot {shot.id} in {root}")
        found.append(mp4s[0])
    return [found[i % len(found)] for i in range(shots)]


def make_song(seconds: float) -> Path:
    path = CACHE / f"fx_drums_{int(seconds)}s.wav"
    if path.exists():
        return path
    rng = np.random.default_rng(7)
    n = np.arange(int(SR * seconds))
    y = (0.06 * np.sin(2 * np.pi * 196 * n / SR) + 0.04 * np.sin(2 * np.pi * 294 * n / SR)).astype(np.float32)
    beat = 0.5
    for b, t in enumerate(np.arange(0.25, seconds - 0.3, beat)):
        s, k = int(t * SR), np.arange(int(0.25 * SR))
        k = k[: max(0, min(k.size, y.size - s))]
        if b % 2 == 0:
            y[s:s + k.size] += 0.8 * np.sin(2 * np.pi * 60 * k / SR) * np.exp(-k / (0.03 * SR))
        else:
            y[s:s + k.size] += 0.4 * rng.standard_normal(k.size) * np.exp(-k / (0.02 * SR))
    sf.write(path, y, SR)
    return path


def build_edit(takes: list[Path], song: Path, seconds: float) -> otio.schema.Timeline:
    total = int(seconds * FPS)
    per = total // len(takes)
    timeline = otio.schema.Timeline(name="bench effects")
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i, take in enumerate(takes):
        n = per if i < len(takes) - 1 else total - per * (len(takes) - 1)
        video.append(tl.make_clip(take=take.stem, media=str(take), source_in=6, record=n, fps=FPS, shot="bench"))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(name="song", media_reference=otio.schema.ExternalReference(target_url=str(song)),
                                  source_range=otio.opentime.TimeRange(tl.rt(0, FPS), tl.rt(total, FPS))))
    timeline.tracks.append(video)
    timeline.tracks.append(audio)
    return timeline


EFFECTS_YAML = "effects: {pulse: 0.8, flash: 0.5, shake: 0.5}\n"


def render_command(tmp: Path, takes: list[Path], song: Path, seconds: float, size: tuple[int, int]):
    """A project folder holding the edit, and a function that times `dreamcut render --force` on it (with effects or not)."""
    import shutil

    root = tmp / "project"
    (root / "edits").mkdir(parents=True)
    (root / "takes").mkdir()
    shutil.copy(song, root / "song.wav")
    names = [f"{i:02d}-{take.parent.name}-{take.name}" for i, take in enumerate(takes)]  # generated takes share names
    for take, name in zip(takes, names):
        shutil.copy(take, root / "takes" / name)
    edit = build_edit([Path("takes") / n for n in names], Path("song.wav"), seconds)
    tl.write_timeline(edit, root / "edits" / "cut.otio")
    base = (f"title: bench effects\nsong: song.wav\nfps: {FPS}\ntakes_per_shot: 1\n"
            f"render: {{master: {size[0]}x{size[1]}, resolution: 2k}}\n"
            "shots:\n  - id: bench\n    prompt: a test pattern\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}

    def run(effects: bool) -> tuple[float, float]:
        (root / "dreamcut.yaml").write_text(base + (EFFECTS_YAML if effects else ""), encoding="utf-8")
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), "render", "--force"], env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"dreamcut render failed: {proc.stderr.strip()[-400:]}")
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime

    # warm the song map and onset caches (and the signing key) outside the timed runs
    (root / "dreamcut.yaml").write_text(base + EFFECTS_YAML, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), "song"], env=env, check=True,
                   capture_output=True)
    from dreamcut import pipeline
    from dreamcut.project import Project

    pipeline.beat_effects(Project.open(root), edit)
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--shots", type=int, default=12)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(OUT / "effects.json"))
    ap.add_argument("--footage", choices=("animatic", "still"), default="animatic",
                    help="animatic: moving takes from `dreamcut generate` (the default backend); "
                         "still: test patterns, the worst case for the ratio")
    ap.add_argument("--path", choices=("master", "render"), default="render",
                    help="master: the one ffmpeg pass; render: the `dreamcut render` command (master + 2K upscale)")
    a = ap.parse_args()
    size = tuple(int(x) for x in a.size.split("x"))
    per_shot = a.seconds / a.shots + 1.0
    song = make_song(a.seconds)
    takes = (make_animatic_takes(a.shots, per_shot, size, song) if a.footage == "animatic"
             else make_takes(a.shots, per_shot, size))
    edit = build_edit(takes, song, a.seconds)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        hits = fx.song_hits(song, cache_dir=Path(tmp) / "cache")
        analysis_s = time.monotonic() - t0
        t0 = time.monotonic()
        hits = fx.song_hits(song, cache_dir=Path(tmp) / "cache")
        cached_s = time.monotonic() - t0
        analysis = SongAnalysis(duration=a.seconds, sample_rate=SR, tempo=120.0, beats=[], downbeats=[],
                                beats_per_bar=4)
        cues = fx.timeline_cues(edit, EffectsSpec(pulse=0.8, flash=0.5, shake=0.5), analysis, hits, FPS)
        times: dict[str, list[float]] = {"without": [], "with": []}
        cpu: dict[str, list[float]] = {"without": [], "with": []}
        run = render_command(Path(tmp), takes, song, a.seconds, size) if a.path == "render" else None
        for _ in range(a.repeats):
            for name in ("without", "with"):
                if run is not None:
                    wall, used = run(name == "with")
                    times[name].append(wall)
                    cpu[name].append(used)
                    continue
                effects = (lambda work: fx.filter_chain(cues, FPS, work)) if name == "with" else None
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.monotonic()
                render_timeline(edit, Path("/"), Path(tmp) / f"{name}.mp4", size=size, fps=FPS, effects=effects)
                times[name].append(time.monotonic() - t0)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    plain, with_fx = min(times["without"]), min(times["with"])
    ratio = with_fx / plain
    cpu_plain, cpu_fx = min(cpu["without"]), min(cpu["with"])
    load = os.getloadavg()[0]
    kinds = {k: sum(1 for c in cues if c.kind == k) for k in fx.EFFECT_KINDS}
    result = {"footage": a.footage, "path": a.path, "seconds": a.seconds, "shots": a.shots, "size": a.size, "hits": len(hits), "cues": kinds,
              "render_without_s": round(plain, 2), "render_with_s": round(with_fx, 2), "ratio": round(ratio, 3),
              "onset_analysis_s": round(analysis_s, 2), "onset_analysis_cached_s": round(cached_s, 3),
              "cpu_without_s": round(cpu_plain, 2), "cpu_with_s": round(cpu_fx, 2),
              "cpu_ratio": round(cpu_fx / cpu_plain, 3), "load_at_end": round(load, 1),
              "all_runs": times, "all_cpu": cpu, "target_ratio": 1.15, "meets_target": ratio <= 1.15}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"edit ({a.footage} takes): {a.seconds:.0f} s, {a.shots} shots, {a.size}, {len(hits)} percussive hits -> "
          f"{kinds['pulse']} pulses, {kinds['flash']} flashes, {kinds['shake']} shakes\n")
    print("| render | wall s (fastest of %d) | CPU s (user+sys of its processes) |" % a.repeats)
    print("|---|---|---|")
    print(f"| without effects | {plain:.2f} | {cpu_plain:.2f} |")
    print(f"| with effects | {with_fx:.2f} | {cpu_fx:.2f} |")
    print(f"| ratio | {ratio:.3f} (target <= 1.15) | {cpu_fx / cpu_plain:.3f} |")
    for name in ("without", "with"):
        print(f"every run {name} effects: wall " + ", ".join(f"{t:.1f}" for t in times[name])
              + " s; CPU " + ", ".join(f"{c:.1f}" for c in cpu[name]) + " s")
    print(f"load average (1 min) at the end: {load:.1f}")
    print(f"| onset analysis (once per song, cached) | {analysis_s:.2f} (cached: {cached_s:.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
