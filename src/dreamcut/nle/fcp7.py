"""FCP7 XML (xmeml) for Premiere and Resolve: written and read with OTIO's fcp_xml adapter, plus speed.

The adapter has no notion of speed, so this file adds it both ways, the way Final Cut Pro 7
and Premiere write a constant speed change:

- the clipitem carries a `Time Remap` filter (`effectid` timeremap, `speed` in percent,
  `variablespeed` 0), placed after its `<file>` as Premiere requires;
- its `<in>`/`<out>` count frames of the *retimed* clip (source frame / speed), so
  `out - in` equals `end - start` on the sequence, and its `<duration>` is the media's
  length at that speed. The `<file>` keeps the media's own duration. Whole retimed frames
  hit every source frame of a slowed clip (what the planner makes); a sped-up clip's in
  point can come back a frame off, a limit of the format.

Reading turns such a filter back into a `LinearTimeWarp` and the in point back into source
frames. A variable-speed remap (keyframed) or a reversed clip cannot be rendered from
a constant speed and is refused with a line naming the clip.

Media URLs are absolute `file://localhost/...` URLs, the form Premiere writes and opens
linked (relative pathurls open offline in Premiere).
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path

import opentimelineio as otio

from dreamcut import timeline as tl
from dreamcut.errors import BadInput

_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n'


def write(nle: otio.schema.Timeline, fps: int) -> str:
    """The xmeml text of `nle` (media URLs as they are in it; dissolves only; warps as Time Remap)."""
    out = copy.deepcopy(nle)
    views = tl.clips(out, fps)
    for clip, view in zip(list(tl.iter_clips(out)), views):
        # The adapter writes in/out from the source range: give it the retimed clip's frames.
        clip.effects[:] = [fx for fx in clip.effects if not isinstance(fx, otio.schema.LinearTimeWarp)]
        clip.source_range = otio.opentime.TimeRange(tl.rt(retimed_in(view.source_in, view.speed), fps),
                                                    tl.rt(view.record, fps))
        clip.metadata.pop("dreamcut", None)
    text = otio.adapters.write_to_string(out, "fcp_xml")
    root = ET.fromstring(text.encode("utf-8"))
    sequence = root.find(".//sequence")
    video_items = list(sequence.iterfind("./media/video/track/clipitem")) if sequence is not None else []
    if len(video_items) != len(views):
        raise RuntimeError("the FCP7 writer and the timeline disagree on the clips")
    for elem, view in zip(video_items, views):
        if not view.retimed:
            continue
        media_frames = _file_frames(root, elem)
        duration = elem.find("duration")
        if duration is not None and media_frames:
            duration.text = str(round(media_frames / view.speed))
        children = list(elem)
        at = next((i + 1 for i, c in enumerate(children) if c.tag == "file"), len(children))
        elem.insert(at, _time_remap(view.speed))
    ET.indent(root, space="  ")
    return _HEADER + ET.tostring(root, encoding="unicode") + "\n"


def retimed_in(source_in: int, speed: float) -> int:
    """The `<in>` of a clip at `speed` whose source in point is `source_in`: the whole retimed frame
    that reads back (x speed, rounded) as `source_in` when one exists, else the nearest."""
    guess = source_in / speed
    candidates = sorted({int(guess), int(guess) + 1, round(guess)}, key=lambda x: abs(x - guess))
    return next((x for x in candidates if round(x * speed) == source_in), round(guess))


def _file_frames(root: ET.Element, clipitem: ET.Element) -> int | None:
    file = clipitem.find("file")
    if file is None:
        return None
    if file.find("duration") is None and file.get("id"):
        file = next((f for f in root.iter("file") if f.get("id") == file.get("id") and f.find("duration") is not None),
                    file)
    d = file.find("duration")
    return int(float(d.text)) if d is not None and d.text else None


def _time_remap(speed: float) -> ET.Element:
    f = ET.Element("filter")
    e = ET.SubElement(f, "effect")
    for tag, text in (("name", "Time Remap"), ("effectid", "timeremap"), ("effectcategory", "motion"),
                      ("effecttype", "motion"), ("mediatype", "video")):
        ET.SubElement(e, tag).text = text
    for pid, value, lo, hi in (("variablespeed", "0", "0", "1"), ("speed", f"{speed * 100:.4f}".rstrip("0").rstrip("."),
                                                                   "-100000", "100000"),
                               ("reverse", "FALSE", None, None), ("frameblending", "FALSE", None, None)):
        p = ET.SubElement(e, "parameter", {"authoringApp": "PremierePro"})
        ET.SubElement(p, "parameterid").text = pid
        ET.SubElement(p, "name").text = pid
        if lo is not None:
            ET.SubElement(p, "valuemin").text = lo
            ET.SubElement(p, "valuemax").text = hi
        ET.SubElement(p, "value").text = value
    return f


# -- reading ---------------------------------------------------------------------------------------


def read(path: Path, fps: int) -> otio.schema.Timeline:
    """Read an FCP7 XML; Time Remap filters become LinearTimeWarps over source-frame ranges."""
    edit = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    for clip in edit.find_clips():
        remap = [fx for fx in clip.effects if _effect_id(fx) == "timeremap"]
        if not remap:
            continue
        params = _params(remap[0])
        where = f"clip {clip.name}"
        if str(params.get("variablespeed", "0")).strip() not in ("0", "0.0", "FALSE", "false", ""):
            raise BadInput("the clip has a variable speed (time remapping with keyframes)", where=where,
                           fix="use a constant speed, or render the speed ramp into a new clip in the NLE")
        if str(params.get("reverse", "FALSE")).strip().upper() == "TRUE":
            raise BadInput("the clip plays backwards", where=where, fix="play it forwards in the NLE")
        try:
            speed = float(params.get("speed", 100.0)) / 100.0
        except (TypeError, ValueError):
            raise BadInput("the clip's speed cannot be read", where=where, fix="set a constant speed in the NLE") from None
        if not speed > 0:
            raise BadInput(f"the clip has a speed of {speed * 100:g}%", where=where, fix="use a positive speed")
        clip.effects[:] = [fx for fx in clip.effects if fx is not remap[0]]
        sr = clip.source_range or clip.trimmed_range()
        ref = clip.media_reference
        avail = getattr(ref, "available_range", None)
        media_start = tl.frames(avail.start_time, fps) if avail is not None else 0
        retimed_in = tl.frames(sr.start_time, fps) - media_start
        tl.set_range(clip, source_in=media_start + round(retimed_in * speed), record=tl.frames(sr.duration, fps),
                     speed=speed, fps=fps)
    return edit


def _effect_id(fx: otio.schema.Effect) -> str:
    meta = fx.metadata.get("fcp_xml") or {}
    return str(meta.get("effectid") or "").strip().lower()


def _params(fx: otio.schema.Effect) -> dict[str, str]:
    raw = (fx.metadata.get("fcp_xml") or {}).get("parameter") or []
    if hasattr(raw, "get"):  # one <parameter> reads as a mapping, several as a list
        raw = [raw]
    out: dict[str, str] = {}
    for p in raw:
        pid = str(p.get("parameterid") or p.get("name") or "").strip().lower()
        if pid:
            out[pid] = str(p.get("value", "")).strip()
    return out
