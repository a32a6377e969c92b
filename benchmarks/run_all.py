"""Run every benchmark in this folder, one after another, and print their tables.

Each `bench_*.py` prints a markdown table and writes `bench-results/<area>.json`.
`gpu_generate.py` runs in `--smoke` mode unless a CUDA device is present.
Usage: `make bench` (or `python benchmarks/run_all.py [NAME ...]` for a subset).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py")) + sorted(HERE.glob("gpu_*.py"))
    if argv:
        scripts = [s for s in scripts if any(name in s.stem for name in argv)]
    failed = []
    for script in scripts:
        print(f"\n## {script.stem}\n", flush=True)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        print(f"\n({script.name}: {time.monotonic() - t0:.0f} s, exit {proc.returncode})", flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
