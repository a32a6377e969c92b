"""Review board and take ranking speed.

1. First paint of the board at production size (700+ takes across 55 shots, rows pointing at
   a handful of small real mp4 files), in Debian's Chromium through Playwright: the browser's
   own first-contentful-paint and DOMContentLoaded, plus the server's HTML time and size.
2. Take analysis speed: a 20 s 720p take at 24 fps analysed from scratch (no cache).
Writes bench-results/review.json and prints a markdown table.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
CHROMIUM = Path("/usr/bin/chromium")


def first_paint(tmp: Path) -> dict:
    import httpx
    import uvicorn

    from _takes import make_project
    from dreamcut.web import create_app

    root = make_project(tmp / "big", shots=55, takes_per_shot=13, media=5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(root), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/"
    server_ms = []
    for _ in range(5):
        t0 = time.perf_counter()
        html = httpx.get(url).text
        server_ms.append((time.perf_counter() - t0) * 1000)
    out = {"takes": html.count('class="take'), "shots": 55, "html_kb": round(len(html.encode()) / 1024, 1),
           "server_html_ms_median": round(statistics.median(server_ms), 1)}
    if CHROMIUM.exists():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            fcp, dcl = [], []
            for _ in range(5):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url, wait_until="domcontentloaded")
                page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
                fcp.append(page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime"))
                dcl.append(page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"))
                page.close()
            browser.close()
        out.update(first_contentful_paint_ms_median=round(statistics.median(fcp), 1),
                   first_contentful_paint_ms_max=round(max(fcp), 1),
                   dom_content_loaded_ms_median=round(statistics.median(dcl), 1))
    server.should_exit = True
    return out


def analysis_speed(tmp: Path) -> dict:
    import numpy as np

    from _takes import texture
    from dreamcut.analysis.video import analyze_take
    from dreamcut.media import FrameWriter

    path = tmp / "take720.mp4"
    tex = texture(7, 1280, 720)
    with FrameWriter(path, 1280, 720, 24) as w:
        for i in range(480):
            x = int(120 + 100 * np.sin(i / 40)) % 240
            w.write(np.ascontiguousarray(tex[60:780, x:x + 1280]))
    times, cpu = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        analyze_take(path)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"take": "20 s, 1280x720, 24 fps (480 frames)", "analysis_s_median": round(statistics.median(times), 2),
            "analysis_s_min": round(min(times), 2), "analysis_cpu_s_median": round(statistics.median(cpu), 2),
            "cpu_cores": os.cpu_count(), "load_average": round(os.getloadavg()[0], 1)}


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        paint = first_paint(tmp)
        speed = analysis_speed(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| measure | value |\n|---|---|")
    print(f"| board: takes / shots | {paint['takes']} / {paint['shots']} |")
    print(f"| board: HTML size | {paint['html_kb']} kB (gzip on the wire) |")
    print(f"| board: server HTML time (median of 5) | {paint['server_html_ms_median']} ms |")
    if "first_contentful_paint_ms_median" in paint:
        print(f"| board: first contentful paint, Chromium (median / max of 5) | "
              f"{paint['first_contentful_paint_ms_median']} / {paint['first_contentful_paint_ms_max']} ms |")
        print(f"| board: DOMContentLoaded (median) | {paint['dom_content_loaded_ms_median']} ms |")
    print(f"| analysis: {speed['take']}, wall (median / min of 3) | {speed['analysis_s_median']} / "
          f"{speed['analysis_s_min']} s |")
    print(f"| analysis: same, CPU seconds (median) | {speed['analysis_cpu_s_median']} s |")
    print(f"\n(load average during the run: {speed['load_average']} on {speed['cpu_cores']} cores)")
    out = ROOT / "bench-results" / "review.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"board": paint, "analysis": speed, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")},
                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
