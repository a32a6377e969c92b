"""Issue 16's pacing line on the studied POP909 songs, judged against annotator 1 (see
tests/test_pacing_real_songs.py for the measure): per song, the longest stretch without a cut inside
an annotated chorus (B) and verse (A) in annotated bars, the cuts on the annotated 4-bar phrase grid,
and the cuts more than 70 ms from an annotated beat; with the analysis' own sections (what `dreamcut
edit` does) and with the annotated sections given as the director's `song:` block.

    PYTHONPATH=src python benchmarks/pacing_real_songs.py            # 007 009 248 261 327 (130-138 bpm)
    PYTHONPATH=src python benchmarks/pacing_real_songs.py --studied  # every studied song, and totals
    PYTHONPATH=src python benchmarks/pacing_real_songs.py 16 007     # another pacing (bars per cut)

Never the SEALED songs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import pop909_songs as P  # noqa: E402
from test_pacing_real_songs import holds, paced_by_annotation  # noqa: E402

NEAR_140 = ("007", "009", "248", "261", "327")  # studied songs heard correctly at 130-138 bpm


def main() -> None:
    args = sys.argv[1:]
    pacing = "auto"
    if args and args[0].replace(".", "").isdigit() and len(args[0]) < 3:
        pacing = float(args.pop(0))
    if args == ["--studied"]:
        ids = list(P.STUDIED)
    else:
        ids = args or list(NEAR_140)
    if set(ids) & set(P.SEALED):
        raise SystemExit("sealed songs are never measured here")
    print(f"pacing {pacing}; per song: heard sections | annotated sections given")
    print("song  chorus verse grid        off | chorus verse grid        off")
    tot = {False: [0, 0, 0, 0], True: [0, 0, 0, 0]}
    for sid in ids:
        row = []
        for given in (False, True):
            m = paced_by_annotation(sid, pacing, given_sections=given)
            t = tot[given]
            t[0] += m["on_grid"]
            t[1] += m["cuts"]
            t[2] += len(m["off_beat"])
            t[3] += holds(m)
            row.append(f"{m['chorus']:5.1f}  {m['verse']:5.1f} {m['on_grid']:>3}/{m['cuts']:<3} ({m['on_grid'] / max(1, m['cuts']):.2f}) "
                       f"{len(m['off_beat']):>3}{' ok' if holds(m) else '   '}")
        print(f"{sid}   " + " | ".join(row), flush=True)
    for given, (g, n, off, ok) in tot.items():
        print(f"{'annotated sections given' if given else 'heard sections'}: on the 4-bar grid {g}/{n} "
              f"({g / max(1, n):.2f}), {off} cuts off a beat, the line holds on {ok} of {len(ids)} songs")


if __name__ == "__main__":
    main()
