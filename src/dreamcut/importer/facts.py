"""What an incoming file says about itself: its sidecar (prompt, model, seed), its maker (C2PA
manifest, container tags; never a muxer's name), and its colours and pixel shape.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dreamcut.errors import DreamcutError
from dreamcut.media import MediaInfo
from dreamcut.importer.base import Refused


def read_sidecar(src: Path) -> dict:
    """Prompt (and model / seed) from `<name>.json` or `<name>.txt` beside the video."""
    for cand in (src.with_suffix(".json"), src.with_name(src.name + ".json")):
        if cand.is_file():
            try:
                data = json.loads(cand.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise Refused(f"its sidecar {cand.name} is not valid JSON") from None
            if not isinstance(data, dict):
                raise Refused(f"its sidecar {cand.name} is not a JSON object")
            out = {}
            for key in ("prompt", "text_prompt", "promptText", "caption"):
                if isinstance(data.get(key), str) and data[key].strip():
                    out["prompt"] = data[key].strip()
                    break
            for key in ("model", "seed", "provider", "generator"):
                if key in data and isinstance(data[key], (str, int, float)):
                    out[key] = data[key]
            return out
    for cand in (src.with_suffix(".txt"), src.with_name(src.name + ".txt")):
        if cand.is_file():
            text = cand.read_text(encoding="utf-8", errors="replace").strip()
            return {"prompt": text} if text else {}
    return {}


_TAG_KEYS = ("title", "comment", "description", "synopsis", "artist", "encoder", "software", "make", "model")


def provider_facts(src: Path, info: MediaInfo) -> dict:
    """What the provider left in the file: its C2PA manifest, or container tags."""
    out: dict = {}
    home = os.path.expanduser("~")
    tags = {k: v[:500] for k, v in (info.metadata or {}).items()
            if k.lower() in _TAG_KEYS and home not in v and not v.startswith("/")}
    if tags:
        out["provider_metadata"] = tags
    for key in ("comment", "description", "synopsis"):
        if tags.get(key) and len(tags[key]) > 12 and not tags[key].lower().startswith(("lavf", "made with")) \
                and not is_muxer(tags[key]):
            out["prompt"] = tags[key]
            break
    try:
        from dreamcut.provenance import provider_credentials

        cred = provider_credentials(src)
    except DreamcutError:
        cred = None
    if cred:
        out["provider_credentials"] = cred
        out["provider"] = cred.get("generator") or cred.get("signed_by")
    elif tags.get("encoder") and not is_muxer(tags["encoder"]):
        out["provider"] = tags["encoder"]
    return out


# Container muxers and transcoders write their own name into the file; none of them made the clip.
_MUXERS = re.compile(r"^(lav[fc]|libebml|libmatroska|mkvmerge|mkvtoolnix|handbrake|ffmpeg|gpac|mp4box|isomedia|"
                     r"l-smash|x26[45]|google|mediainfo|vlc|avidemux|shutter encoder)", re.IGNORECASE)


def is_muxer(name: str) -> bool:
    """True for an `encoder` tag naming the tool that wrapped the file, not the one that made the picture."""
    return bool(_MUXERS.match(name.strip())) or "libmatroska" in name.lower() or "lavf" in name.lower()


# ffmpeg's (ITU-T H.273) numbers for the colour fields, by name, for people reading the catalog.
_PRIMARIES = {"1": "bt709", "2": "unspecified", "4": "bt470m", "5": "bt470bg", "6": "smpte170m", "7": "smpte240m",
              "9": "bt2020", "11": "smpte431", "12": "smpte432"}
_TRANSFER = {"1": "bt709", "2": "unspecified", "4": "gamma22", "5": "gamma28", "6": "smpte170m", "7": "smpte240m",
             "8": "linear", "13": "iec61966-2-1", "14": "bt2020-10", "15": "bt2020-12", "16": "smpte2084",
             "18": "arib-std-b67"}
_MATRIX = {"0": "rgb", "1": "bt709", "2": "unspecified", "5": "bt470bg", "6": "smpte170m", "7": "smpte240m",
           "9": "bt2020nc", "10": "bt2020c"}


def colour_names(info: MediaInfo) -> dict:
    v = info.video
    assert v is not None

    def name(table: dict, value: str | None) -> str | None:
        return table.get(str(value), str(value).lower()) if value is not None else None

    src = source_colour(info)
    return {"primaries": name(_PRIMARIES, v.color_primaries), "transfer": name(_TRANSFER, v.color_transfer),
            "matrix": name(_MATRIX, v.color_space), "range": v.color_range,
            "read_as": src.system, "assumed": src.assumed, "output": "bt709"}


@dataclass(frozen=True)
class SourceColour:
    """How the source's YUV is to be read: a colour system name of ffmpeg's colorspace filter
    (bt709, bt601-6-625, bt601-6-525, bt2020) and whether that was assumed (untagged file)."""

    system: str
    assumed: bool


def source_colour(info: MediaInfo) -> SourceColour:
    """The source's colour system: its matrix tag, else the convention of its resolution (ITU-R
    BT.709 for HD, BT.601 for SD: 625-line at 576 lines, 525-line at 480/486), as players do."""
    v = info.video
    assert v is not None
    matrix = _MATRIX.get(str(v.color_space), str(v.color_space).lower() if v.color_space else None)
    if matrix == "bt709":
        return SourceColour("bt709", False)
    if matrix == "bt470bg":
        return SourceColour("bt601-6-625", False)
    if matrix == "smpte170m":
        return SourceColour("bt601-6-525", False)
    if matrix in ("bt2020nc", "bt2020c"):
        return SourceColour("bt2020", False)
    if v.width >= 1280 or v.height >= 720:
        return SourceColour("bt709", True)
    return SourceColour("bt601-6-625" if v.height in (576, 288) else "bt601-6-525", True)


# setparams names (matrix, primaries, transfer) of each colour system a source is read as.
_SYSTEM_TAGS = {"bt709": ("bt709", "bt709", "bt709"), "bt601-6-625": ("bt470bg", "bt470bg", "smpte170m"),
                "bt601-6-525": ("smpte170m", "smpte170m", "smpte170m"), "bt2020": ("bt2020nc", "bt2020", "bt2020-10")}


def colour_filter(info: MediaInfo) -> str:
    """The ffmpeg filters that read the source's YUV as what it is and bring it to BT.709 (what the
    mezzanine is tagged). The source is tagged explicitly first: left untagged, ffmpeg would
    convert it as BT.601 to meet the BT.709 output tags, shifting an untagged HD clip's colours.
    A BT.709 source keeps its pixels; another system is converted by the colorspace filter."""
    src = source_colour(info)
    matrix, primaries, transfer = _SYSTEM_TAGS[src.system]
    rng = "pc" if (info.video and info.video.color_range == "pc") else "tv"
    tag = f"setparams=colorspace={matrix}:color_primaries={primaries}:color_trc={transfer}:range={rng},"
    if src.system == "bt709" and rng == "tv":
        return tag
    return tag + "colorspace=all=bt709:range=tv:fast=0,"


def square_pixels_filter(info: MediaInfo) -> str:
    """Scale a non-square-pixel picture (e.g. PAL 704x576 at 16:9) to square pixels first, so it is
    fitted by its display shape; "" for square pixels."""
    v = info.video
    assert v is not None
    if abs(v.sample_aspect - 1.0) < 0.01:
        return ""
    return "scale=trunc(iw*sar/2)*2:ih,setsar=1,"
