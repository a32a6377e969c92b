"""What Content Credentials and importing cost, next to the plain ffmpeg work they wrap.

- sign a 720p take (C2PA manifest embedded, temp file + rename) vs. `ffmpeg -c copy` of the same
  file (the cheapest possible rewrite of a take);
- verify it vs. probing it;
- sign a final render with 12 takes as ingredients;
- import a 1080p 29.97 fps clip (hash, probe, copy, normalise to 720p 24 fps, sign, catalog)
  vs. one hand-written ffmpeg command doing the same transcode.

Prints a markdown table; writes bench-results/provenance.json.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dreamcut import provenance as prov  # noqa: E402
from dreamcut.catalog import Take  # noqa: E402
from dreamcut.importer import fit_filter, import_files  # noqa: E402
from dreamcut.media import ffmpeg_exe, probe  # noqa: E402
from dreamcut.project import Project  # noqa: E402

SPEC = """\
version: 1
title: Bench
song: song.wav
fps: 24
shots:
  - id: a
    prompt: a corridor
"""


def ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-prov-"))
    root = work / "proj"
    root.mkdir()
    (root / "dreamcut.yaml").write_text(SPEC)
    ff("-f", "lavfi", "-i", "sine=d=8", str(root / "song.wav"))
    project = Project.open(root)
    take_src = work / "take720.mp4"
    ff("-f", "lavfi", "-i", "testsrc2=s=1280x720:r=24:d=8", "-c:v", "libx264", "-preset", "veryfast",
       "-pix_fmt", "yuv420p", str(take_src))
    size_mb = take_src.stat().st_size / 1e6
    rows = []

    counter = {"n": 0}

    def sign_once() -> None:
        counter["n"] += 1
        dest = project.take_path("a", f"a-t{counter['n']:03d}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(take_src.read_bytes())
        take = Take(id=dest.stem, shot_id="a", path=project.rel(dest), seconds=8, width=1280, height=720, fps=24,
                    backend="animatic", seed=counter["n"], prompt="a corridor")
        prov.sign_take(project, dest, take)

    prov.signing_identity(project)  # key made once, outside the timing

    def copy_once() -> None:
        out = work / "copy.mp4"
        out.write_bytes(take_src.read_bytes())
        ff("-i", str(out), "-c", "copy", "-movflags", "+faststart", str(work / "remux.mp4"))

    t_sign, t_copy = timed(sign_once), timed(copy_once)
    rows.append(("sign a 720p 8 s take", t_sign, "ffmpeg -c copy remux", t_copy))
    signed = project.take_path("a", "a-t001")
    t_verify, t_probe = timed(lambda: prov.verify(signed)), timed(lambda: probe(signed))
    rows.append(("verify a signed take", t_verify, "probe (PyAV)", t_probe))

    # a render with 12 takes as ingredients
    import opentimelineio as otio

    takes = []
    for i in range(12):
        sign_once()
        takes.append(project.take_path("a", f"a-t{counter['n']:03d}"))
    tl = otio.schema.Timeline(name="bench")
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for p in takes:
        v1.append(otio.schema.Clip(name=p.stem, media_reference=otio.schema.ExternalReference(
            target_url=project.rel(p)), metadata={"dreamcut": {"shot": "a", "take": p.stem, "speed": 1.0}}))
    tl.tracks.append(v1)
    render = project.renders_dir / "final_720p.mp4"
    render.parent.mkdir(parents=True, exist_ok=True)

    def sign_render_once() -> None:
        render.write_bytes(take_src.read_bytes())
        prov.sign_render(project, render, tl)

    rows.append(("sign a render with 12 take ingredients", timed(sign_render_once, 2), "ffmpeg -c copy remux", t_copy))

    # import: a 1080p 29.97 fps clip into a 720p 24 fps project
    clip = work / "dl.mp4"
    ff("-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30000/1001:d=4", "-c:v", "libx264", "-preset", "veryfast",
       "-pix_fmt", "yuv420p", str(clip))
    n = {"i": 0}

    def import_once() -> None:
        n["i"] += 1
        variant = work / f"dl{n['i']}.mp4"
        variant.write_bytes(clip.read_bytes() + b"\0" * n["i"])  # a new hash each time (not a duplicate)
        (r,) = import_files(project, "a", [variant])
        assert r.status == "imported", r.line()

    def ffmpeg_once() -> None:
        graph = f"[0:v:0]fps=24,{fit_filter('crop', 1280, 720)},setsar=1,format=yuv420p[v]"
        ff("-i", str(clip), "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "18", "-movflags", "+faststart", str(work / "hand.mp4"))

    rows.append(("import a 1080p 29.97 fps 4 s clip", timed(import_once, 2), "one hand-written ffmpeg transcode",
                 timed(ffmpeg_once, 2)))

    print(f"take file: {size_mb:.1f} MB (720p, 8 s, H.264)\n")
    print("| dreamcut | seconds | peer | seconds | ratio |")
    print("|---|---:|---|---:|---:|")
    results = []
    for what, t, peer, tp in rows:
        print(f"| {what} | {t:.3f} | {peer} | {tp:.3f} | {t / tp:.2f}x |")
        results.append({"what": what, "seconds": t, "peer": peer, "peer_seconds": tp, "ratio": t / tp})
    out = ROOT / "bench-results" / "provenance.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"take_mb": size_mb, "results": results}, indent=2))


if __name__ == "__main__":
    main()
