"""CMX 3600 EDL: written here (events, dissolves, M2 speed lines, reel table, file comments), read with OTIO's adapter.

Writing (`write`): one event per clip of the NLE version of the edit (dissolves only; other
transitions were baked into clips by `nle.export`). Each event names its source three ways,
because EDL readers differ in what they trust:

- the reel (<= 8 characters, from `nle.reels`: CMX 3600 allows no more);
- `* FROM CLIP NAME:  <take id>` (Premiere, Resolve and Avid show it as the clip name);
- `* SOURCE FILE: <absolute path>` (Resolve's EDL import links media by it).

A retimed clip is an `M2` line after its event: `M2   REEL     020.4    00:00:00:12`, the
speed in frames per second of source (0.85x at 24 fps = 020.4), the event's source range
covering the frames it reads (record length x speed). A dissolve is the usual zero-length
cut to the outgoing reel plus a `D nnn` event that starts where the dissolve starts.
Gaps are `BL` (black) events. The title is ASCII (non-ASCII letters are transliterated).

Reading (`read`): OTIO's cmx_3600 adapter (it honours M2 as a LinearTimeWarp), then two
corrections: the speed is checked against each event's source and record lengths (the M2
field has one decimal; it is kept inside what the event's whole-frame lengths allow), and
each dissolve is centred on its cut, as dreamcut writes them (an EDL dissolve has no cut
point of its own; where the cut sits inside a dissolve does not change a rendered frame).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Callable

import opentimelineio as otio

from dreamcut import timeline as tl
from dreamcut.errors import BadInput

_EVENT = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s+(C|D|W\d+|K\S*)\s+(\d+\s+)?"
                    r"(\d\d:\d\d:\d\d[:;]\d\d)\s+(\d\d:\d\d:\d\d[:;]\d\d)\s+(\d\d:\d\d:\d\d[:;]\d\d)\s+"
                    r"(\d\d:\d\d:\d\d[:;]\d\d)\s*$")


def ascii_title(title: str) -> str:
    """An EDL title line's text: ASCII letters (accents dropped), at most 70 characters."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\x20-\x7e]", "", text).strip()
    return (text or "dreamcut edit")[:70]


def tc(frame: int, fps: int) -> str:
    if frame < 0:
        raise ValueError("negative timecode")
    s, f = divmod(int(frame), fps)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"


def write(nle: otio.schema.Timeline, fps: int, *, title: str, reel: Callable[[tl.ClipView], str],
          source_file: Callable[[tl.ClipView], str]) -> str:
    """The EDL text of `nle` (clips, gaps and dissolves only) at `fps`."""
    items = tl.items(nle, fps)
    effects = tl.effect_markers(nle)
    lines = [f"TITLE: {ascii_title(title)}", "FCM: NON-DROP FRAME", ""]
    event = 0
    # dissolve after each item (by index), and before
    before: dict[int, tl.TransitionView] = {}
    after: dict[int, tl.TransitionView] = {}
    flat: list[tl.ClipView | tl.GapView] = []
    for item in items:
        if isinstance(item, tl.TransitionView):
            if item.kind != tl.DISSOLVE:
                raise ValueError(f"an EDL carries dissolves only, not {item.kind}")
            after[len(flat) - 1] = item
            before[len(flat)] = item
        else:
            flat.append(item)
    prev_out: tuple[str, int] | None = None   # (reel, source out) of the previous event, for dissolves
    for k, item in enumerate(flat):
        event += 1
        head = before[k].in_frames if k in before else 0
        tail = after[k].in_frames if k in after else 0
        rec_in, rec_out = item.record_start - head, item.record_end - tail
        if isinstance(item, tl.GapView):
            lines.append(f"{event:03d}  BL       V     C        {tc(0, fps)} {tc(rec_out - rec_in, fps)} "
                         f"{tc(rec_in, fps)} {tc(rec_out, fps)}")
            prev_out = None
            continue
        src_in = item.source_in - round(head * item.speed)
        src_out = src_in + round((rec_out - rec_in) * item.speed)
        if src_in < 0:
            raise BadInput(f"the dissolve before clip {item.name} needs {-src_in} frames before its take begins",
                           where=f"clip {item.name}", fix="move the in point later or shorten the dissolve")
        name = reel(item)
        if k in before and prev_out is not None:
            a_reel, a_out = prev_out
            lines.append(f"{event:03d}  {a_reel:<8} V     C        {tc(a_out, fps)} {tc(a_out, fps)} "
                         f"{tc(rec_in, fps)} {tc(rec_in, fps)}")
            lines.append(f"{event:03d}  {name:<8} V     D {before[k].frames:03d}    {tc(src_in, fps)} "
                         f"{tc(src_out, fps)} {tc(rec_in, fps)} {tc(rec_out, fps)}")
        else:
            lines.append(f"{event:03d}  {name:<8} V     C        {tc(src_in, fps)} {tc(src_out, fps)} "
                         f"{tc(rec_in, fps)} {tc(rec_out, fps)}")
        if item.retimed:
            lines.append(f"M2   {name:<8}       {item.speed * fps:05.1f}                {tc(src_in, fps)}")
        if k in before and prev_out is not None:
            lines.append(f"* FROM CLIP NAME:  {flat[k - 1].name}")  # type: ignore[union-attr]
            lines.append(f"* TO CLIP NAME:  {item.name}")
        else:
            lines.append(f"* FROM CLIP NAME:  {item.name}")
        lines.append(f"* SOURCE FILE: {source_file(item)}")
        # Effect markers as `* LOC:` comments (read by Resolve) on the event they fall in.
        for m in effects:
            at = tl.frames(m.marked_range.start_time, fps)
            if rec_in <= at < rec_out:
                lines.append(f"* LOC: {tc(at, fps)} {m.color or 'YELLOW'} {ascii_title(m.name)}")
        prev_out = (name, src_out)
    return "\n".join(lines) + "\n"


def _frames_of(text: str, fps: int) -> int:
    return tl.frames(otio.opentime.from_timecode(text.replace(";", ":"), fps), fps)


def _events(text: str, fps: int) -> list[tuple[int, int]]:
    """(source frames, record frames) of each event with a record length, in order."""
    out = []
    for line in text.splitlines():
        m = _EVENT.match(line)
        if not m:
            continue
        s_in, s_out, r_in, r_out = (_frames_of(m.group(i), fps) for i in (6, 7, 8, 9))
        if r_out > r_in:
            out.append((s_out - s_in, r_out - r_in))
    return out


def read(path: Path, fps: int) -> otio.schema.Timeline:
    """Read a CMX 3600 EDL at `fps` into a timeline in dreamcut's conventions (see the module docstring)."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    edit = otio.adapters.read_from_string(text, "cmx_3600", rate=fps)
    track = tl.video_track(edit)
    events = _events(text, fps)
    clips = [c for c in track if isinstance(c, otio.schema.Clip)]
    if len(events) == len(clips):
        for clip, (src, rec) in zip(clips, events):
            warps = [fx for fx in clip.effects if isinstance(fx, otio.schema.LinearTimeWarp)]
            if warps and rec > 0 and src > 0:
                # The M2 speed has one decimal (of fps); the event's lengths are whole frames: keep
                # the M2 value inside the range the lengths allow.
                lo, hi = (src - 0.5) / rec, (src + 0.5) / rec
                warps[0].time_scalar = min(hi, max(lo, float(warps[0].time_scalar)))
    _centre_dissolves(track, fps)
    return edit


def _centre_dissolves(track: otio.schema.Track, fps: int) -> None:
    """Put each dissolve's cut in its middle (the EDL reader puts it at the dissolve's start)."""
    children = list(track)
    for k, item in enumerate(children):
        if not isinstance(item, otio.schema.Transition) or k == 0 or k + 1 >= len(children):
            continue
        a, b = children[k - 1], children[k + 1]
        if not (isinstance(a, otio.schema.Clip) and isinstance(b, otio.schema.Clip)):
            continue
        n = tl.frames(item.in_offset, fps) + tl.frames(item.out_offset, fps)
        move = n // 2 - tl.frames(item.in_offset, fps)
        va, vb = tl.clip_view(a, fps), tl.clip_view(b, fps)
        if move == 0 or vb.record - move < 1 or va.record + move < 1:
            continue
        tl.set_range(a, source_in=va.source_in, record=va.record + move, speed=va.speed, fps=fps)
        tl.set_range(b, source_in=vb.source_in + round(move * vb.speed), record=vb.record - move, speed=vb.speed,
                     fps=fps)
        item.in_offset, item.out_offset = tl.rt(n // 2, fps), tl.rt(n - n // 2, fps)


def source_file_of(clip: otio.schema.Clip) -> str | None:
    """The `* SOURCE FILE:` path an event carried (kept by the adapter among the clip's comments)."""
    for comment in (clip.metadata.get("cmx_3600") or {}).get("comments") or []:
        m = re.match(r"\s*SOURCE FILE:\s*(.+)$", str(comment))
        if m:
            return m.group(1).strip()
    return None
