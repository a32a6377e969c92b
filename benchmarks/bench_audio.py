"""Song analysis speed: a 4-minute synthesized song, analysed cold (no cache), and its accuracy.

The issue's bar: a 4-minute song analysed in <= 10 s on the 2-core reference machine.
Timed three ways, wall clock and CPU seconds (the machine is shared; CPU time shows what
the work costs when others are busy too):
- a fresh process doing everything `dreamcut edit` does for the song on a cold cache
  (interpreter start, imports, decode, analysis, cache write);
- in one process: the librosa import, then the analysis (no cache), again, then cached.
Peer, measured in the same run: librosa's own `beat_track` on the same samples (the beat
stage alone), so the table shows what bars, sections, onsets and energy add.

Prints a markdown table; writes bench-results/audio.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mir_eval  # noqa: E402
import numpy as np  # noqa: E402

from dreamcut.demo.song import synthesize_song  # noqa: E402

STRUCTURE = [("intro", 8), ("verse", 16), ("chorus", 16), ("verse", 16), ("chorus", 16), ("bridge", 8),
             ("chorus", 16), ("outro", 24)]  # 120 bars at 120 bpm = 240 s


class Timer:
    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def fresh_process(song: Path, cache: Path) -> tuple[float, float]:
    code = ("import sys; from pathlib import Path; from dreamcut.analysis.audio import analyze_song; "
            "analyze_song(Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(song), str(cache)], check=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    out_dir = ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "four_minutes.wav"
        with Timer() as t:
            truth = synthesize_song(song, structure=STRUCTURE, seed=7)
        rows.append(("synthesize the 4:00 song (numpy)", t))

        wall, cpu = fresh_process(song, Path(tmp) / "fresh-cache")
        fresh = Timer()
        fresh.wall, fresh.cpu = wall, cpu
        rows.append(("**fresh process: start + imports + decode + analysis (cold cache)**", fresh))

        with Timer() as t:
            import librosa
            import librosa.beat  # noqa: F401  (librosa imports lazily: pay it here, visibly)
            import librosa.feature  # noqa: F401
            import librosa.onset  # noqa: F401

            from dreamcut.analysis.audio import ANALYSIS_SR, analyze_song, load_audio
        rows.append(("in process: import librosa", t))
        with Timer() as t:
            first = analyze_song(song)
        rows.append(("in process: analyze_song, no cache", t))
        with Timer() as t:
            again = analyze_song(song)
        rows.append(("in process: analyze_song, no cache, again", t))
        cache = Path(tmp) / "cache"
        analyze_song(song, cache_dir=cache)
        with Timer() as t:
            analyze_song(song, cache_dir=cache)
        rows.append(("in process: analyze_song, cached", t))
        y, _ = load_audio(song)
        with Timer() as peer:
            librosa.beat.beat_track(y=y, sr=ANALYSIS_SR)
        rows.append(("peer: librosa.beat.beat_track alone, same samples", peer))

    assert again.to_dict() == first.to_dict()
    ref = np.array(truth.beats)
    est = np.array(first.beats)
    beat_f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est), 0.07)
    down_f = mir_eval.beat.f_measure(np.array(truth.downbeats), np.array(first.downbeats), 0.07)
    worst_beat = max(float(np.min(np.abs(est - b))) for b in ref)
    bar = 60.0 / truth.bpm * truth.beats_per_bar
    est_b = [s.start for s in first.sections]
    ref_b = [s.start for s in truth.sections]
    # each true section start against the nearest found one (the song's looping phrases may add found ones)
    boundary_err = max(min(abs(e - t) for e in est_b) for t in ref_b)
    labels_match = [s.label for s in first.sections] == [s.label for s in truth.sections]

    print(f"song: {truth.duration:.0f} s, {truth.bpm:g} bpm, {len(truth.sections)} sections; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print()
    print("| step | wall s | CPU s |")
    print("|---|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t.wall:.2f} | {t.cpu:.2f} |")
    analysis = rows[3][1]
    print(f"| analysis / peer beat tracker (ratio, wall) | {analysis.wall / peer.wall:.2f}x | "
          f"{analysis.cpu / max(peer.cpu, 1e-9):.2f}x |")
    print()
    print(f"accuracy (mir_eval, +-70 ms): beat F {beat_f:.3f}, downbeat F {down_f:.3f}, worst beat error "
          f"{worst_beat * 1000:.1f} ms; sections {len(est_b)} found for {len(ref_b)}, every true start within "
          f"{boundary_err:.3f} s of a found one (a bar is {bar:.1f} s), labels {'match' if labels_match else 'differ'}")
    ok = fresh.wall <= 10.0
    print(f"target: a 4-minute song analysed in <= 10 s, fresh process, cold cache: "
          f"{'met' if ok else 'NOT met'} on wall time ({fresh.wall:.2f} s); {fresh.cpu:.2f} s of CPU "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    result = {
        "song_seconds": truth.duration,
        "rows": [{"step": name, "wall_s": t.wall, "cpu_s": t.cpu} for name, t in rows],
        "fresh_process_wall_s": fresh.wall, "fresh_process_cpu_s": fresh.cpu,
        "analysis_wall_s": analysis.wall, "analysis_cpu_s": analysis.cpu,
        "peer_librosa_beat_track_wall_s": peer.wall, "ratio_vs_peer_wall": analysis.wall / peer.wall,
        "beat_f": beat_f, "downbeat_f": down_f, "worst_beat_error_s": worst_beat,
        "max_boundary_error_s": boundary_err, "sections_found": len(est_b), "sections_true": len(ref_b),
        "labels_match": labels_match, "target_s": 10.0, "target_met": ok, "load_average": os.getloadavg()[0],
    }
    (out_dir / "audio.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
