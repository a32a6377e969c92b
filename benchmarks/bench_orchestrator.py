"""Orchestrator at production scale: 700 jobs x 20 s against `dreamcut serve` (2 s per job), concurrency 16.

Measures, for the durable orchestrator (catalog rows, ledger, verified downloads, sidecars):
- CPU per job in this process (user + sys; the server runs in its own process) — target <= 5 ms;
- throughput against the concurrency bound (jobs x latency / concurrency) — target >= 95 %;
- RSS: peak, and growth between the first and last quarter of the run — target <= 300 MB and flat.
Peer, in the same run and against the same server: a naive runner (the openai SDK's own
`create_and_poll` + download in 16 threads; no catalog, no ledger, no verification, no resume).

    python benchmarks/bench_orchestrator.py [--jobs 700] [--latency 2] [--concurrency 16] [--no-peer]

Prints a markdown table and writes bench-results/orchestrator.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

warnings.filterwarnings("ignore", category=DeprecationWarning)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class RssSampler:
    def __init__(self, every: float = 0.25):
        import psutil

        self.proc = psutil.Process()
        self.samples: list[tuple[float, float]] = []
        self.every = every
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.proc.memory_info().rss / 2**20))
            self._stop.wait(self.every)

    def __enter__(self) -> "RssSampler":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()

    def summary(self) -> dict:
        values = [v for _, v in self.samples]
        n = len(values)
        q = max(1, n // 4)
        first, last = sum(values[:q]) / q, sum(values[-q:]) / q
        return {"peak_mb": round(max(values), 1), "first_quarter_mb": round(first, 1),
                "last_quarter_mb": round(last, 1), "growth_mb": round(last - first, 1)}


def run_orchestrator(serve, jobs: int, concurrency: int, root: Path) -> dict:
    from dreamcut.generate.batch import plan_takes
    from dreamcut.generate.orchestrator import Limits, Orchestrator
    from dreamcut.project import Project
    from serve_helpers import make_project

    shots = max(1, jobs // 20)
    make_project(root, shots=shots, takes=jobs // shots, seconds=20, backend="openai-videos:testcard",
                 budget=jobs * 20 * 0.046 + 1, size="64x64", fps=8)
    os.environ.update(serve.env())
    project = Project.open(root)
    planned = plan_takes(project.spec, root=str(project.root))
    orch = Orchestrator(project, default_limits=Limits(concurrency=concurrency))
    orch.check(planned)  # warm: backend, SDK client, the server's model list
    cpu0, t0 = _cpu(), time.monotonic()
    with RssSampler() as rss:
        summary = orch.run(planned)
    wall, cpu = time.monotonic() - t0, _cpu() - cpu0
    assert summary.made == len(planned), summary
    return {"jobs": len(planned), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "cpu_ms_per_job": round(1000 * cpu / len(planned), 2), "spent_usd": round(summary.spent_usd, 2),
            "rss": rss.summary()}


def run_naive(serve, jobs: int, concurrency: int, out: Path) -> dict:
    import openai

    client = openai.OpenAI(base_url=serve.base_url, api_key=serve.api_key, max_retries=0)
    out.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> None:
        v = client.videos.create_and_poll(prompt=f"naive {i}", model="testcard", seconds="20", size="64x64")
        client.videos.download_content(v.id).write_to_file(out / f"{i}.mp4")

    cpu0, t0 = _cpu(), time.monotonic()
    with RssSampler() as rss, ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(jobs)))
    wall, cpu = time.monotonic() - t0, _cpu() - cpu0
    return {"jobs": jobs, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "cpu_ms_per_job": round(1000 * cpu / jobs, 2), "rss": rss.summary()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=700)
    ap.add_argument("--latency", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()

    from serve_helpers import Serve

    bound = args.jobs * args.latency / args.concurrency
    results: dict = {"setup": {"jobs": args.jobs, "take_seconds": 20, "latency_s": args.latency,
                               "concurrency": args.concurrency, "bound_s": bound, "cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory(prefix="bench-orch-") as tmp:
        tmp = Path(tmp)
        serve = Serve("--backend", "testcard", "--latency", str(args.latency), "--workers", str(args.concurrency * 2),
                      "--price", "0.046", "--fps", "8", storage=tmp / "serve")
        try:
            results["orchestrator"] = run_orchestrator(serve, args.jobs, args.concurrency, tmp / "project")
            results["orchestrator"]["server_billing"] = serve.billing()
            if not args.no_peer:
                results["naive_sdk_threads"] = run_naive(serve, args.jobs, args.concurrency, tmp / "naive")
        finally:
            serve.close()
    o = results["orchestrator"]
    o["throughput_vs_bound"] = round(bound / o["wall_s"], 4)
    rows = [("orchestrator (durable)", o)]
    if "naive_sdk_threads" in results:
        n = results["naive_sdk_threads"]
        n["throughput_vs_bound"] = round(bound / n["wall_s"], 4)
        rows.append(("naive SDK threads (peer)", n))
        results["ratios"] = {"cpu_per_job_vs_naive": round(o["cpu_ms_per_job"] / n["cpu_ms_per_job"], 2),
                             "wall_vs_naive": round(o["wall_s"] / n["wall_s"], 3)}
    results["targets"] = {"cpu_ms_per_job<=5": o["cpu_ms_per_job"] <= 5.0,
                          "throughput>=0.95": o["throughput_vs_bound"] >= 0.95,
                          "rss_peak<=300MB": o["rss"]["peak_mb"] <= 300,
                          "rss_flat(growth<=30MB)": o["rss"]["growth_mb"] <= 30}
    print(f"\n{args.jobs} jobs x 20 s, {args.latency:g} s per job, concurrency {args.concurrency} "
          f"(bound {bound:.1f} s), {os.cpu_count()} CPUs\n")
    print("| runner | wall s | throughput vs bound | CPU ms/job | RSS peak MB | RSS growth MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['wall_s']:.1f} | {100 * r['throughput_vs_bound']:.1f} % | {r['cpu_ms_per_job']:.2f} | "
              f"{r['rss']['peak_mb']:.0f} | {r['rss']['growth_mb']:+.1f} |")
    if "ratios" in results:
        print(f"\nratios (orchestrator / naive): CPU per job x{results['ratios']['cpu_per_job_vs_naive']}, "
              f"wall x{results['ratios']['wall_vs_naive']}")
    print(f"targets: {results['targets']}")
    out = REPO / "bench-results" / "orchestrator.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
