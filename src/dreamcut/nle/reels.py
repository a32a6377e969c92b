"""Reel names: the one mapping of take ids to the short names CMX 3600 EDLs carry, for export and conform alike.

A CMX 3600 event names its source by a reel of at most 8 characters; take ids are longer
(`corridor-t02-bb11fd`) and share prefixes, so reels collide. The table is computed from the
*sorted set* of the project's take ids (never from edit order), so conform, given the same
takes, rebuilds the same table; export also writes it beside the EDL (`reels.txt`, the
reel list an assistant editor keeps) and conform reads that file first, so a take added
after the export cannot shift a reel. Baked transition clips get `BK` + 6 hex digits of
their name. Formats that allow long names (FCP7 XML, OTIO) carry the take id itself.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterable

REEL_LEN = 8
TABLE = "reels.txt"


def assign(take_ids: Iterable[str]) -> dict[str, str]:
    """take id -> reel (<= 8 upper-case letters and digits, unique), decided over the sorted set of ids."""
    table: dict[str, str] = {}
    used: set[str] = set()
    for take in sorted(set(take_ids)):
        base = re.sub(r"[^A-Za-z0-9]", "", take).upper()[:REEL_LEN] or "TAKE"
        reel, k = base, 1
        while reel in used:
            suffix = str(k)
            reel, k = base[: REEL_LEN - len(suffix)] + suffix, k + 1
        used.add(reel)
        table[take] = reel
    return table


def baked_reel(name: str) -> str:
    """The reel of a baked transition clip: 'BK' + 6 hex digits of its name."""
    return "BK" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:6].upper()


def table_text(table: dict[str, str]) -> str:
    lines = ["# reel -> take (dreamcut; CMX 3600 reels are 8 characters, take ids longer)"]
    lines += [f"{reel}\t{take}" for take, reel in sorted(table.items(), key=lambda kv: kv[1])]
    return "\n".join(lines) + "\n"


def read_table(path: Path) -> dict[str, str] | None:
    """reel -> take id from a reels.txt, or None when there is none (or it is not one of ours)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        reel, _, take = line.partition("\t")
        if take.strip():
            out[reel.strip()] = take.strip()
    return out or None


def project_takes(root: Path) -> dict[str, Path]:
    """take id -> file, for every take of the project (takes/<shot>/<id>.mp4)."""
    folder = Path(root) / "takes"
    return {p.stem: p for p in sorted(folder.glob("*/*.mp4"))} if folder.is_dir() else {}


def reel_to_take(root: Path, edit_dir: Path) -> dict[str, str]:
    """reel -> take id as the export wrote it: reels.txt beside the edit or in exports/, else recomputed."""
    for place in (Path(edit_dir) / TABLE, Path(root) / "exports" / TABLE):
        table = read_table(place)
        if table:
            return table
    return {reel: take for take, reel in assign(project_takes(root)).items()}
