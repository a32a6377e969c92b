"""`--json` output: one JSON document per command, with stable keys (documented in the README).

Each builder is a pure function from the command's results to a dict; `emit` prints it. Commands
print either their tables or this document, never both, so a script can read stdout whole.
Every document carries `"command"` and `"version"` (of this format, bumped when a key changes).
Times are seconds (floats); money is US dollars.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable

JSON_VERSION = 1


def emit(doc: dict[str, Any]) -> None:
    """Print one JSON document on stdout (plain print: no Rich markup or wrapping)."""
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def document(command: str, **body: Any) -> dict[str, Any]:
    return {"command": command, "version": JSON_VERSION, **body}


def defect_items(defects: Iterable[Any]) -> list[dict[str, Any]]:
    """Defects as {kind, start, end, detail}, times in seconds from the take's first frame."""
    return [{"kind": d.kind, "start": round(float(d.start), 3), "end": round(float(d.end), 3), "detail": d.detail}
            for d in defects]


def rank_document(rows: Iterable[tuple[Any, Any, Any, str]]) -> dict[str, Any]:
    """rows: (score or None, take, TakeAnalysis or None, why), best first."""
    takes = []
    for score, take, analysis, why in rows:
        takes.append({"shot": take.shot_id, "take": take.id, "score": None if score is None else round(score, 4),
                      "why": why, "defects": defect_items(analysis.defects) if analysis is not None else [],
                      "source": take.source})
    return document("rank", takes=takes)
