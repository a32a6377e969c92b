"""`dreamcut check` explains what every backend does with the cast without loading a provider SDK:
each backend decides its routing in a pure `cast_routing` (the openai SDK, for one, loads only with
the backend's first client). Measured on the real CLI: the modules loaded when `check` ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np

from conftest import REPO, make_project

SDKS = ("openai", "runwayml", "lumaai", "google.genai", "fal_client", "replicate", "diffusers", "torch")
CLOUD = ("openai-videos:sora-2", "runway:gen4_turbo", "luma:ray-2", "veo:veo-3.1-generate-001",
         "fal:fal-ai/kling-video/v2.5-turbo/pro/text-to-video", "replicate:bytedance/seedance-1-lite")


def test_check_explains_the_cast_for_every_backend_without_importing_an_sdk(tmp_path):
    shots = [{"id": f"s{i}", "prompt": "mia walks by the sea", "cast": ["mia"], "backend": b}
             for i, b in enumerate(CLOUD)]
    root = make_project(tmp_path / "p", shots, song_seconds=6.0,
                        cast=[{"name": "mia", "description": "a woman in a red coat", "refs": ["mia.png"]}])
    cv2.imwrite(str(root / "mia.png"), np.full((64, 48, 3), 90, np.uint8))
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               DREAMCUT_OPENAI_BASE_URL="http://127.0.0.1:9/v1")  # a compatible server (never reached by check)
    for key in ("OPENAI_API_KEY", "RUNWAYML_API_SECRET", "LUMAAI_API_KEY", "GEMINI_API_KEY", "FAL_KEY",
                "REPLICATE_API_TOKEN"):
        env.pop(key, None)
    seen = tmp_path / "modules.json"
    run = ("import json, runpy, sys\n"
           f"sys.argv = ['dreamcut', '--project', {str(root)!r}, 'check', '--json']\n"
           "try:\n    runpy.run_module('dreamcut', run_name='__main__')\n"
           f"finally:\n    open({str(seen)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", run], env=env, capture_output=True, text=True, timeout=300)
    doc = json.loads(proc.stdout)
    said = "\n".join(doc["cast"])
    for backend in CLOUD:
        assert f"{backend}: " in said, (backend, said)
    assert "cannot tell" not in said, said
    imported = set(json.loads(seen.read_text()))
    assert "dreamcut.backends.openai_videos" in imported  # its routing was asked: its module loaded ...
    assert sorted(m for m in imported if m in SDKS) == []  # ... and no provider SDK with it
