"""Song analysis speed: a 4-minute synthesized song, analysed cold (no cache), and its accuracy.

The issue's bar: a 4-minute song analysed in <= 10 s on the 2-core reference machine.
"Cold" = no analysis cache; the first analysis in a fresh process also pays librosa's
import and numba compilation, so both the first and a repeat (uncached, same process)
are timed. Peer, measured in the same run: librosa's own `beat_track` on the same
samples (the beat stage alone), so the table shows what the extra stages cost.

Prints a markdown table; writes bench-results/audio.json.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import mir_eval  # noqa: E402
import numpy as np  # noqa: E402

from dreamcut.demo.song import SongTruth, synthesize_song  # noqa: E402

STRUCTURE = [("intro", 8), ("verse", 16), ("chorus", 16), ("verse", 16), ("chorus", 16), ("bridge", 8),
             ("chorus", 16), ("outro", 24)]  # 120 bars at 120 bpm = 240 s


def main() -> int:
    out_dir = ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "four_minutes.wav"
        t0 = time.perf_counter()
        truth = synthesize_song(song, structure=STRUCTURE, seed=7)
        synth_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        from dreamcut.analysis.audio import ANALYSIS_SR, analyze_song, load_audio  # noqa: E402
        import librosa  # noqa: E402
        import_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        first = analyze_song(song)  # no cache_dir: cold
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = analyze_song(song)
        again_s = time.perf_counter() - t0
        cache = Path(tmp) / "cache"
        analyze_song(song, cache_dir=cache)
        t0 = time.perf_counter()
        analyze_song(song, cache_dir=cache)
        cached_s = time.perf_counter() - t0

        y, _ = load_audio(song)
        t0 = time.perf_counter()
        librosa.beat.beat_track(y=y, sr=ANALYSIS_SR)
        peer_s = time.perf_counter() - t0

    ref = mir_eval.beat.trim_beats(np.array(truth.beats))
    beat_f = mir_eval.beat.f_measure(ref, mir_eval.beat.trim_beats(np.array(first.beats)), 0.07)
    down_f = mir_eval.beat.f_measure(np.array(truth.downbeats), np.array(first.downbeats), 0.07)
    bar = 60.0 / truth.bpm * truth.beats_per_bar
    est = [s.start for s in first.sections]
    ref_b = [s.start for s in truth.sections]
    if len(est) == len(ref_b):
        boundary_err = max(abs(a - b) for a, b in zip(est, ref_b))
    else:
        boundary_err = float("nan")
    assert again.to_dict() == first.to_dict()

    rows = [
        ("synthesize the 4:00 song (numpy)", synth_s),
        ("import librosa + analysis module", import_s),
        ("analyze_song, first in process (cold cache, numba warm-up)", first_s),
        ("analyze_song, again (cold cache)", again_s),
        ("analyze_song, cached", cached_s),
        ("peer: librosa.beat.beat_track alone (same samples)", peer_s),
    ]
    print(f"song: {truth.duration:.0f} s, {truth.bpm:g} bpm, {len(truth.sections)} sections; "
          f"{platform.processor() or platform.machine()}")
    print()
    print("| step | seconds |")
    print("|---|---:|")
    for name, s in rows:
        print(f"| {name} | {s:.2f} |")
    print(f"| analysis / peer beat tracker (ratio) | {again_s / peer_s:.2f}x |")
    print()
    print(f"accuracy (mir_eval, +-70 ms): beat F {beat_f:.3f}, downbeat F {down_f:.3f}, "
          f"sections {len(est)}/{len(ref_b)}, worst boundary error {boundary_err:.3f} s (bar = {bar:.1f} s), "
          f"labels {'match' if [s.label for s in first.sections] == [s.label for s in truth.sections] else 'differ'}")
    ok = first_s <= 10.0
    print(f"target: 4-minute song analysed in <= 10 s (first, cold): {'met' if ok else 'NOT met'} ({first_s:.2f} s)")
    result = {
        "song_seconds": truth.duration, "synthesize_s": synth_s, "import_s": import_s,
        "analyze_first_s": first_s, "analyze_again_s": again_s, "analyze_cached_s": cached_s,
        "peer_librosa_beat_track_s": peer_s, "ratio_vs_peer": again_s / peer_s,
        "beat_f": beat_f, "downbeat_f": down_f, "max_boundary_error_s": boundary_err,
        "sections_found": len(est), "sections_true": len(ref_b), "target_s": 10.0, "target_met": ok,
    }
    (out_dir / "audio.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
