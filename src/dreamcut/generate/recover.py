"""Rebuilding a lost catalog from what the takes carry beside them.

Every generated take has a sidecar, `takes/<shot>/<take>.json` (previews: `previews/...`), with
its request, seed, backend, provider job id and cost; an imported take's sidecar has its prompt,
model, seed and content hash. `rebuild_catalog` makes a new catalog from
them: one take row (size and length probed from the file), one completed job and one ledger
charge per take. Reviews and selections live only in the catalog: a rebuild cannot bring them
back (a restore from `.dreamcut/backups/` can), and it says so.

The old catalog, if any, is set aside (never deleted); the new one is written to a temp file and
renamed into place, so a crash mid-rebuild leaves the old state as it was.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from dreamcut.catalog import Catalog, Take, set_aside
from dreamcut.errors import BadInput


@dataclass
class Rebuilt:
    takes: int = 0
    charged_usd: float = 0.0
    skipped: list[str] = field(default_factory=list)  # "path: why"
    set_aside: Path | None = None


def rebuild_catalog(project) -> Rebuilt:
    """A fresh catalog from the take sidecars; the current catalog (if any) is set aside."""
    from dreamcut.backends.base import GenerationRequest
    from dreamcut.media import probe

    result = Rebuilt()
    tmp = project.catalog_path.with_name(f".rebuild.{os.getpid()}.sqlite")
    tmp.unlink(missing_ok=True)
    sidecars = []
    for folder, kind in ((project.takes_dir, "take"), (project.previews_dir, "preview")):
        if folder.is_dir():
            sidecars += [(p, kind) for p in sorted(folder.glob("*/*.json")) if not p.name.startswith(".")]
    if not sidecars:
        raise BadInput("no take sidecars (takes/<shot>/<take>.json) to rebuild from", where=project.rel(project.takes_dir),
                       fix="restore .dreamcut/catalog.sqlite from a backup, or `dreamcut import` the takes again")
    try:
        cat = Catalog(tmp)
        with cat.transaction():
            for sidecar, kind in sidecars:
                video = sidecar.with_suffix(".mp4")
                rel = project.rel(sidecar)
                try:
                    meta = json.loads(sidecar.read_text())
                    take_id, shot_id, backend = meta["take"], meta["shot"], meta["backend"]
                    request = meta.get("request") or {}
                except (OSError, ValueError, KeyError, TypeError) as e:
                    result.skipped.append(f"{rel}: not a take sidecar ({type(e).__name__})")
                    continue
                if not video.is_file():
                    result.skipped.append(f"{rel}: its video {video.name} is missing")
                    continue
                try:
                    info = probe(video)
                except BadInput:
                    info = None
                if info is None or info.video is None:
                    result.skipped.append(f"{rel}: {video.name} is not a readable video")
                    continue
                if meta.get("source") == "imported":  # made elsewhere: a take, no job, nothing charged here
                    cat.add_take(Take(id=take_id, shot_id=shot_id, kind="take", source="imported",
                                      path=project.rel(video), seed=meta.get("seed"), backend="imported",
                                      model=meta.get("model"), prompt=str(meta.get("prompt") or ""),
                                      seconds=info.duration, width=info.video.width, height=info.video.height,
                                      fps=info.video.fps, content_hash=meta.get("content_hash"),
                                      meta={"rebuilt_from": rel, "import": meta.get("import")},
                                      created_at=float(meta.get("created_at") or video.stat().st_mtime)))
                    result.takes += 1
                    continue
                key = meta.get("job_key")
                if not key:
                    try:
                        key = GenerationRequest.from_dict(request).key(backend)
                    except (KeyError, TypeError, ValueError):
                        key = f"rebuilt-{take_id}"
                name, _, model = backend.partition(":")
                cost = float(meta.get("cost_usd") or 0.0)
                created = float(meta.get("created_at") or video.stat().st_mtime)
                cat.add_take(Take(id=take_id, shot_id=shot_id, kind=meta.get("kind") or kind, job_key=key,
                                  path=project.rel(video), variant=int(meta.get("variant") or 0),
                                  seed=meta.get("seed"), backend=name, model=model or None,
                                  prompt=str(request.get("prompt") or ""), seconds=info.duration,
                                  width=info.video.width, height=info.video.height, fps=info.video.fps,
                                  cost_usd=cost, meta={"rebuilt_from": rel}, created_at=created))
                cat.add_finished_job(key, shot_id=shot_id, kind=meta.get("kind") or kind,
                                     variant=int(meta.get("variant") or 0), backend=backend,
                                     request_json=json.dumps(request), provider_job_id=meta.get("provider_job_id"),
                                     cost_usd=cost, take_id=take_id, created_at=created)
                if cost:
                    cat.ledger_add("charge", cost, key, note="rebuilt from the take's sidecar")
                result.takes += 1
                result.charged_usd += cost
        cat.close()
        result.set_aside = set_aside(project.catalog_path, "before-rebuild")
        os.replace(tmp, project.catalog_path)
    except sqlite3.DatabaseError as e:
        raise BadInput(f"cannot write the rebuilt catalog ({e})", where=project.rel(project.catalog_path),
                       fix="free some space, then run `dreamcut catalog rebuild` again") from None
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return result
