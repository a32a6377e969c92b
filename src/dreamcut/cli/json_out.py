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


def rank_document(rows: Iterable[tuple[Any, Any, Any, str, str | None]]) -> dict[str, Any]:
    """rows: (score or None, take, TakeAnalysis or None, why, file analysed (project-relative) or None), best first."""
    takes = []
    for score, take, analysis, why, analysed in rows:
        takes.append({"shot": take.shot_id, "take": take.id, "score": None if score is None else round(score, 4),
                      "why": why, "defects": defect_items(analysis.defects) if analysis is not None else [],
                      "source": take.source, "analysed": analysed})
    return document("rank", takes=takes)


def estimate_document(est: Any, *, spent: float, reserved: float, budget: float) -> dict[str, Any]:
    backends = [{"backend": b.backend, "takes": b.takes, "seconds": round(b.seconds, 3),
                 "generation_minutes": round(b.generation_minutes, 3), "usd_per_second": b.price_per_second,
                 "usd": round(b.usd, 4), "price_source": b.price_source or None} for b in est.by_backend.values()]
    total = round(est.usd, 4)
    return document("estimate", takes=est.takes, seconds=round(est.seconds, 3), usd=total, spent_usd=round(spent, 4),
                    reserved_usd=round(reserved, 4), budget_usd=budget,
                    over_budget=bool(est.usd > 0 and est.usd + spent + reserved > budget + 1e-9), backends=backends,
                    notes=list(getattr(est, "notes", [])))


def status_document(per_shot: dict[str, dict], *, spent: float, reserved: float, budget: float,
                    eta_seconds: float | None) -> dict[str, Any]:
    shots = [{"shot": shot_id, "done": s["done"], "running": s["running"], "parked": s.get("parked", 0),
              "failed": s["failed"], "to_do": s["todo"],
              "seconds": round(s["seconds"], 3), "spent_usd": round(s["spent"], 4),
              "reserved_usd": round(s["reserved"], 4), "failures": list(s["reasons"])}
             for shot_id, s in per_shot.items()]
    return document("status", shots=shots, done=sum(x["done"] for x in shots),
                    to_go=sum(x["running"] + x["to_do"] for x in shots), spent_usd=round(spent, 4),
                    reserved_usd=round(reserved, 4), budget_usd=budget,
                    eta_seconds=None if eta_seconds is None else round(eta_seconds, 1))


def check_document(problems: list[Any], est: Any, *, song: str, song_seconds: float, budget: float) -> dict[str, Any]:
    items = [{"shot": p.shot_id, "severity": p.severity, "message": p.message, "fix": p.fix or None} for p in problems]
    ok = not any(p["severity"] == "error" for p in items) and not est.over_budget
    return document("check", ok=ok, problems=items, song=song, song_seconds=round(song_seconds, 3),
                    takes=est.takes, seconds=round(est.seconds, 3), usd=round(est.usd, 4), budget_usd=budget,
                    over_budget=bool(est.over_budget))


def verify_document(report: Any) -> dict[str, Any]:
    import dataclasses

    d = dataclasses.asdict(report)
    d["path"] = report.path.name
    d["exit_code"] = report.exit_code
    return document("verify", **d)


def edit_document(timeline: Any, *, cut_file: str, song_seconds: float, tempo: float) -> dict[str, Any]:
    """The edit as cuts: record start in seconds, shot, take, bar/beat, speed, score, how it is entered, why.

    Clips are read through `dreamcut.timeline` (speed is the clip's LinearTimeWarp, the record start
    is counted on V1), so a conformed edit reads the same as a planned one."""
    from dreamcut import timeline as tl

    fps = tl.info(timeline).fps
    cuts = []
    pending: tl.TransitionView | None = None
    for item in tl.items(timeline, fps):
        if isinstance(item, tl.TransitionView):
            pending = item
            continue
        if not isinstance(item, tl.ClipView):
            continue
        m = item.meta
        cuts.append({"start": round(item.record_start / fps, 4), "shot": item.shot, "take": item.take,
                     "bar": m.get("bar"), "beat_in_bar": m.get("beat_in_bar"), "section": m.get("section"),
                     "speed": round(item.speed, 6), "score": m.get("score"),
                     "entered_by": "cut" if pending is None else tl.TYPE_TO_KIND.get(pending.kind, pending.kind),
                     "transition_frames": None if pending is None else pending.frames,
                     "reason": m.get("reason", "")})
        pending = None
    return document("edit", cut_file=cut_file, song_seconds=round(song_seconds, 3), tempo_bpm=round(tempo, 2),
                    fps=float(fps), cuts=cuts)
