"""Reading a planned timeline back: `explain` (one line per cut for `dreamcut edit --explain`) and
`degraded` / `degraded_items` (every decision the edit took against what was asked).
"""

from __future__ import annotations

import opentimelineio as otio

from dreamcut.edit.shots import _tc
from dreamcut.timeline import TYPE_TO_KIND, ClipView, TransitionView, info, items


DEGRADED_MARKS = ("became a cut", "shortened to", "retimed", "repeats the same footage", "on a doubtful beat",
                  "is a guess", "off the bar line")


def degraded_items(timeline: otio.schema.Timeline) -> list[tuple[int | None, str | None, str]]:
    """(record frame, shot, what) for every decision the edit took against what was asked:
    a transition that became a cut or was shortened, a clip retimed, footage repeated, a cut on
    a doubtful beat, a paced cut off the bar line, a pin onto a guessed section or a name in doubt
    (`pin_doubt`), a stale take used, a weak pulse. Song-wide items have no frame or shot."""
    meta = timeline.metadata.get("dreamcut", {})
    out: list[tuple[int | None, str | None, str]] = [(None, None, str(x)) for x in meta.get("warnings", [])]
    for item in timeline.tracks[0]:
        if not isinstance(item, otio.schema.Clip):
            continue
        m = item.metadata.get("dreamcut", {})
        notes = m.get("notes")
        if notes is None:  # a timeline from before notes were kept: read the reason
            notes = str(m.get("reason", "")).split("; ")
        for note in notes:
            if any(k in note for k in DEGRADED_MARKS):
                out.append((int(m.get("record_start_frame", 0)), str(m.get("shot", "?")), note))
    return out


def degraded(timeline: otio.schema.Timeline) -> list[str]:
    """`degraded_items` as lines: 'mm:ss.ff shot: what'."""
    fps = int(timeline.metadata.get("dreamcut", {}).get("fps") or 24)
    return [what if frame is None else f"{_tc(frame, fps)} {shot}: {what}"
            for frame, shot, what in degraded_items(timeline)]


def explain(timeline: otio.schema.Timeline) -> list[str]:
    """One line per cut: when, which shot and take, where in the music, speed, score, why."""
    fps = info(timeline).fps
    lines = []
    pending: TransitionView | None = None
    for item in items(timeline, fps):
        if isinstance(item, TransitionView):
            pending = item
            continue
        if not isinstance(item, ClipView):
            continue
        m = item.meta
        score = m.get("score")
        score_text = "  -  " if score is None else f"{float(score):.2f}"
        into = "cut" if pending is None else f"{TYPE_TO_KIND.get(pending.kind, pending.name)} {pending.frames}f"
        lines.append(f"{_tc(item.record_start, fps)}  {item.shot or '?':<12} {item.take:<16} "
                     f"bar {m.get('bar', '?'):>3} beat {m.get('beat_in_bar', '?')}  {m.get('section') or '-':<10} "
                     f"{item.speed:.2f}x  score {score_text}  {into:<14} {m.get('reason', '')}")
        pending = None
    return lines
