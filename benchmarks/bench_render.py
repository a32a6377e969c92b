"""Final render of a 55-shot, 4-minute edit with dissolves, on the path `dreamcut render` runs, vs hand-written ffmpeg.

Both produce the same two files from the same edit: 55 takes (720p, procedurally generated once
into bench-results/cache/), each trimmed to its slot, a 0.5 s dissolve at every cut, the song
as AAC 256k, H.264 (libx264 veryfast, crf 18) at 24 fps:
  - the 1280x720 master, and
  - the 2048x1152 final (lanczos upscale of the master picture).

- dreamcut: the `dreamcut render` command on a project folder (bench-results/render_project:
  the takes, the song, dreamcut.yaml and edits/cut.otio), run as its own process: the one
  ffmpeg process for the master (takes pulled by `movie` sources), the lanczos upscale to 2K,
  each file's disclosure tags set by its encode, C2PA signing and verification of both, and
  the rename into place. Exactly what a user runs.
- hand ffmpeg: ONE ffmpeg command an expert would type that writes both files (inputs with
  -ss/-t, setpts, scale, fps, a chain of xfades, `split` into the master and a lanczos 2K),
  with no signing.
- MoviePy 2.x (only with --moviepy): the same edit straight to 2K with `CrossFadeIn`; it
  composites every frame in Python, so it renders `--moviepy-shots` shots and its time is
  extrapolated linearly (the table says so). It writes one file, not two.

Wall time and peak RSS (this process + all children, sampled every 50 ms with psutil).
Prints a markdown table; writes bench-results/render.json.
Usage: python benchmarks/bench_render.py [--shots 55] [--minutes 4] [--moviepy --moviepy-shots 6]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402
import opentimelineio as otio  # noqa: E402
import psutil  # noqa: E402

from dreamcut import timeline as tl  # noqa: E402
from dreamcut.media import ffmpeg_exe, probe  # noqa: E402

OUT = REPO / "bench-results"
CACHE = OUT / "cache"
FPS = 24
MASTER = (1280, 720)
SIZE = (2048, 1152)
DISSOLVE = 12          # frames (0.5 s)
TAKE_SECONDS = 6.0
IN_POINT = 0.75        # seconds into each take
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]


# -- media ------------------------------------------------------------------------------------


def make_sources(shots: int, song_seconds: float) -> tuple[list[Path], Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    takes = []
    for i in range(shots):
        path = CACHE / f"take_{i:02d}.mp4"
        if not path.exists():
            tmp = path.with_suffix(".part.mp4")
            # testsrc2 with a different hue and zoom per take, so dissolves mix different pictures
            vf = (f"hue=h={(i * 37) % 360},zoompan=z='1+0.002*on':d=1:s=1280x720:fps={FPS},"
                  f"drawtext=text='take {i:02d}':x=40:y=40:fontsize=48:fontcolor=white" if _has_drawtext()
                  else f"hue=h={(i * 37) % 360},zoompan=z='1+0.002*on':d=1:s=1280x720:fps={FPS}")
            subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                            "-i", f"testsrc2=s=1280x720:r={FPS}:d={TAKE_SECONDS}", "-vf", vf,
                            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p",
                            "-g", "48", str(tmp)], check=True)
            tmp.rename(path)
        takes.append(path)
    song = CACHE / f"song_{int(song_seconds)}s.wav"
    if not song.exists():
        tmp = song.with_suffix(".part.wav")
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"sine=frequency=220:sample_rate=44100:duration={song_seconds}", "-f", "lavfi",
                        "-i", f"sine=frequency=330:sample_rate=44100:duration={song_seconds}",
                        "-filter_complex", "[0][1]amerge=inputs=2,volume=0.5", "-c:a", "pcm_s16le", str(tmp)],
                       check=True)
        tmp.rename(song)
    return takes, song


def _has_drawtext() -> bool:
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    return " drawtext " in out


def slots(shots: int, total_frames: int) -> list[int]:
    """Record frames per shot: the song split evenly, in whole frames."""
    return [(i + 1) * total_frames // shots - i * total_frames // shots for i in range(shots)]


def build_timeline(takes: list[str], song: str, total_frames: int) -> otio.schema.Timeline:
    """The edit in dreamcut's conventions (through dreamcut.timeline): every cut a centred 0.5 s dissolve."""
    t = otio.schema.Timeline(name="bench")
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i, (take, n) in enumerate(zip(takes, slots(len(takes), total_frames))):
        if i:
            video.append(tl.make_transition(tl.DISSOLVE, DISSOLVE // 2, DISSOLVE // 2, FPS))
        video.append(tl.make_clip(take=Path(take).stem, media=take, source_in=round(IN_POINT * FPS), record=n,
                                  fps=FPS, shot="bench"))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(name="song", media_reference=otio.schema.ExternalReference(target_url=song),
                                  source_range=otio.opentime.TimeRange(tl.rt(0, FPS), tl.rt(total_frames, FPS))))
    t.tracks.extend([video, audio])
    t.metadata["dreamcut"] = {"version": tl.VERSION, "fps": FPS, "size": list(MASTER), "song": song,
                              "title": "bench"}
    return t


def make_project(takes: list[Path], song: Path, total_frames: int) -> Path:
    """A project folder for `dreamcut render`: the takes and song hard-linked in (provenance signs only
    files inside the project), the spec, the edit."""
    import shutil

    root = OUT / "render_project"
    if root.exists():
        shutil.rmtree(root)
    (root / "takes" / "bench").mkdir(parents=True)
    rel_takes = []
    for take in takes:
        os.link(take, root / "takes" / "bench" / take.name)
        rel_takes.append(f"takes/bench/{take.name}")
    os.link(song, root / song.name)
    (root / "dreamcut.yaml").write_text(
        f"title: render bench\nsong: {song.name}\nfps: {FPS}\n"
        f"render:\n  master: {MASTER[0]}x{MASTER[1]}\n  resolution: {SIZE[0]}x{SIZE[1]}\n  crf: 18\n"
        "  overlay: false\n"  # the hand command draws no program overlay: the same pictures
        "shots:\n  - id: bench\n    prompt: the bench takes\n", encoding="utf-8")
    tl.write_timeline(build_timeline(rel_takes, song.name, total_frames), root / "edits" / "cut.otio")
    from dreamcut.project import Project

    Project(root)  # the catalog, as `dreamcut init` would leave it
    return root


# -- the contenders -------------------------------------------------------------------------------


def run_dreamcut(root: Path) -> tuple[Path, Path]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), "render"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return (root / "renders" / f"final_{MASTER[0]}x{MASTER[1]}.mp4", root / "renders" / f"final_{SIZE[0]}x{SIZE[1]}.mp4")


def hand_command(takes, song, total_frames, master: Path, final: Path) -> list[str]:
    """The single ffmpeg command an expert would write for this edit: the master and the 2K in one run."""
    w, h = MASTER
    half = DISSOLVE // 2
    args, graph = [], []
    lengths = slots(len(takes), total_frames)
    for i, (take, n) in enumerate(zip(takes, lengths)):
        head = half if i else 0
        tail = half if i < len(takes) - 1 else 0
        start = IN_POINT - head / FPS
        frames = head + n + tail
        args += ["-ss", f"{start:.4f}", "-t", f"{frames / FPS:.4f}", "-i", str(take)]
        graph.append(f"[{i}:v]setpts=PTS-STARTPTS,scale={w}:{h},fps={FPS},format=yuv420p,"
                     f"trim=end_frame={frames}[v{i}]")
    prev, length = "v0", lengths[0] + half
    for i in range(1, len(takes)):
        offset = (length - DISSOLVE) / FPS
        graph.append(f"[{prev}][v{i}]xfade=transition=fade:duration={DISSOLVE / FPS}:offset={offset:.4f}[x{i}]")
        prev = f"x{i}"
        length += lengths[i] + (half if i < len(takes) - 1 else 0) + half - DISSOLVE
    graph.append(f"[{prev}]split=2[master][up];[up]scale={SIZE[0]}:{SIZE[1]}:flags=lanczos[final]")
    graph_file = master.with_suffix(".graph.txt")
    graph_file.write_text(";".join(graph))
    out = ["-c:a", "aac", "-b:a", "256k", "-frames:v", str(total_frames), "-movflags", "+faststart"]
    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, "-t", f"{total_frames / FPS:.4f}",
            "-i", str(song), "-/filter_complex", str(graph_file),
            "-map", "[master]", "-map", f"{len(takes)}:a", *X264, *out, str(master),
            "-map", "[final]", "-map", f"{len(takes)}:a", *X264, *out, str(final)]


def run_hand(takes, song, total_frames, master: Path, final: Path) -> None:
    subprocess.run(hand_command(takes, song, total_frames, master, final), check=True)


def run_moviepy(takes, song, total_frames, out: Path, shots: int) -> float:
    """Render the first `shots` shots of the edit with MoviePy; returns the fraction of the edit rendered."""
    from moviepy import AudioFileClip, VideoFileClip, concatenate_videoclips, vfx

    half = DISSOLVE // 2
    lengths = slots(len(takes), total_frames)[:shots]
    clips = []
    for i, (take, n) in enumerate(zip(takes[:shots], lengths)):
        head = half if i else 0
        tail = half if i < len(lengths) - 1 else 0
        start = IN_POINT - head / FPS
        clip = VideoFileClip(str(take), audio=False).subclipped(start, start + (head + n + tail) / FPS)
        clip = clip.resized(new_size=SIZE)
        if i:
            clip = clip.with_effects([vfx.CrossFadeIn(DISSOLVE / FPS)])
        clips.append(clip)
    video = concatenate_videoclips(clips, method="compose", padding=-DISSOLVE / FPS)
    seconds = sum(lengths) / FPS
    video = video.with_duration(seconds).with_audio(AudioFileClip(str(song)).subclipped(0, seconds))
    video.write_videofile(str(out), fps=FPS, codec="libx264", audio_codec="aac", audio_bitrate="256k",
                          preset="veryfast", ffmpeg_params=["-crf", "18", "-pix_fmt", "yuv420p"], threads=2,
                          logger=None)
    for c in clips:
        c.close()
    return sum(lengths) / total_frames


# -- measuring ------------------------------------------------------------------------------------


class PeakRSS:
    """Peak resident memory of this process plus all its children, sampled every 50 ms."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._me = psutil.Process()

    def _sample(self) -> int:
        total = 0
        for p in [self._me, *self._me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _loop(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(0.05)

    def __enter__(self):
        self.base = self._sample()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def timed(fn, *args) -> tuple[float, int, object]:
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        result = fn(*args)
        wall = time.perf_counter() - t0
    return wall, mem.peak, result


def frame_psnr(a: Path, b: Path, at: list[float]) -> float:
    """Mean PSNR between two renders at a few times (same result check), on 512x288 frames."""
    from dreamcut.media import read_frames

    vals = []
    for t in at:
        fa = next(read_frames(a, start=t, size=(512, 288), max_frames=1))[1].astype(np.float64)
        fb = next(read_frames(b, start=t, size=(512, 288), max_frames=1))[1].astype(np.float64)
        mse = np.mean((fa - fb) ** 2)
        vals.append(99.0 if mse == 0 else 10 * math.log10(255 ** 2 / mse))
    return float(np.mean(vals))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=55)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--moviepy", action="store_true", help="also time MoviePy (straight to 2K, extrapolated)")
    ap.add_argument("--moviepy-shots", type=int, default=6, help="shots MoviePy renders (extrapolated to all)")
    ap.add_argument("--moviepy-full", action="store_true", help="let MoviePy render the whole edit")
    args = ap.parse_args()

    total_frames = round(args.minutes * 60 * FPS)
    takes, song = make_sources(args.shots, args.minutes * 60 + 1)
    OUT.mkdir(exist_ok=True)
    root = make_project(takes, song, total_frames)
    results: dict[str, dict] = {}

    wall, peak, (ours_master, ours_final) = timed(run_dreamcut, root)
    results["dreamcut render"] = {"wall_s": wall, "peak_rss_mb": peak / 2**20,
                                  "duration_s": probe(ours_final).duration, "files": 2, "signed": True}
    print(f"dreamcut render: {wall:.1f} s", flush=True)

    hand_master, hand_final = OUT / "render_hand_master.mp4", OUT / "render_hand_2k.mp4"
    wall, peak, _ = timed(run_hand, takes, song, total_frames, hand_master, hand_final)
    results["hand ffmpeg"] = {"wall_s": wall, "peak_rss_mb": peak / 2**20, "duration_s": probe(hand_final).duration,
                              "files": 2, "signed": False}
    print(f"hand ffmpeg: {wall:.1f} s", flush=True)

    seconds = total_frames / FPS
    at = [seconds * f for f in (0.1, 0.33, 0.5, 0.77, 0.95)]
    results["dreamcut render"]["psnr_vs_hand_db"] = {"master": frame_psnr(ours_master, hand_master, at),
                                                     "final": frame_psnr(ours_final, hand_final, at)}

    if args.moviepy:
        mp = OUT / "render_moviepy.mp4"
        shots = args.shots if args.moviepy_full else min(args.shots, args.moviepy_shots)
        wall, peak, fraction = timed(run_moviepy, takes, song, total_frames, mp, shots)
        results["moviepy (2K only)"] = {"wall_s": wall / fraction, "measured_wall_s": wall,
                                        "fraction_rendered": fraction, "extrapolated": fraction < 1.0,
                                        "peak_rss_mb": peak / 2**20, "duration_s": probe(mp).duration, "files": 1,
                                        "signed": False}
        print(f"moviepy: {wall:.1f} s for {fraction:.1%} of the edit", flush=True)

    base = results["hand ffmpeg"]["wall_s"]
    psnr = results["dreamcut render"]["psnr_vs_hand_db"]
    lines = [f"Final render: {args.shots} shots, {args.minutes:g} min, 0.5 s dissolves, 720p takes -> "
             f"{MASTER[0]}x{MASTER[1]} master + {SIZE[0]}x{SIZE[1]} final, H.264 crf 18 veryfast + AAC "
             f"({os.cpu_count()} CPU cores, {platform.machine()})", "",
             "| renderer | files | wall time | vs hand ffmpeg | peak RSS (incl. children) | output duration |",
             "|---|---|---:|---:|---:|---:|"]
    for name, r in results.items():
        note = f" (extrapolated from {r['fraction_rendered']:.0%})" if r.get("extrapolated") else ""
        files = f"{r['files']}" + (" signed" if r["signed"] else "")
        lines.append(f"| {name} | {files} | {r['wall_s']:.1f} s{note} | {r['wall_s'] / base:.2f}x | "
                     f"{r['peak_rss_mb']:.0f} MB | {r['duration_s']:.3f} s |")
    lines.append("")
    lines.append(f"`dreamcut render` takes {results['dreamcut render']['wall_s'] / base:.2f}x the hand-written "
                 f"command's time, signing both files included (same result: mean PSNR {psnr['master']:.1f} dB "
                 f"master, {psnr['final']:.1f} dB 2K).")
    table = "\n".join(lines)
    print(table)
    report = {"shots": args.shots, "minutes": args.minutes, "master": MASTER, "size": SIZE, "fps": FPS,
              "frames": total_frames, "cpu_count": os.cpu_count(), "results": results, "table": table,
              "targets": {"vs_hand_max": 1.15, "peak_rss_max_mb": 1536}}
    (OUT / "render.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
