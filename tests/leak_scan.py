"""The privacy scan the provenance and import tests run over a project folder: no secret, key or
home path may appear in any file dreamcut wrote (the signing-key folder excepted)."""

from __future__ import annotations

from pathlib import Path


def find_leaks(root: Path, needles: list[str], *, skip: tuple[str, ...] = (".dreamcut/keys",)) -> list[tuple[str, str]]:
    """Every (file relative to root, needle) where a needle appears in a file's bytes (text or binary).

    Skips the signing-key folder (the key must live somewhere); searches raw bytes and the
    UTF-16 form, so SQLite pages, MP4 boxes and JSON are all covered.
    """
    root = Path(root)
    hits: list[tuple[str, str]] = []
    forms = [(n, [n.encode(), n.encode("utf-16-le")]) for n in needles if n]
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        rel = p.relative_to(root).as_posix()
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        data = p.read_bytes()
        for needle, encs in forms:
            if any(e in data for e in encs):
                hits.append((rel, needle))
    return hits
