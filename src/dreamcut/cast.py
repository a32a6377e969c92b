"""The cast: recurring characters, places and objects of a shot list, and who is in which shot.

One source of truth for the words: `cast_sentence` is the only place a cast member's description
becomes prompt text (`prompts.compose` calls it for every shot that names a member), so the
description is written once in `cast:` and never copied into shots.

Pure functions only (no I/O, no backend SDKs): the spec's `cast:` block in, names, sentences and
resolved reference paths out. Where each backend puts the references is decided in the backend's
own file (`cast_routing` there); `dreamcut check` prints those decisions (`routing_lines`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dreamcut.spec import CastMember, ProjectSpec, Shot


def shot_cast(spec: "ProjectSpec", shot: "Shot") -> list["CastMember"]:
    """The cast members a shot names, in the order it names them."""
    by_name = {m.name: m for m in spec.cast}
    return [by_name[n] for n in shot.cast if n in by_name]


def display_name(name: str) -> str:
    """How a cast name reads in a prompt: 'mia' -> 'Mia', 'old_car' -> 'Old car'."""
    text = name.replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]


def cast_sentence(members: "list[CastMember]") -> str:
    """The words a prompt carries for the cast in the shot: 'Mia is a young woman ...; Leo is ...'.
    Places and objects read as 'The lighthouse: ...'. Empty when the shot names no one."""
    parts = []
    for m in members:
        desc = m.description.rstrip(" .")
        if m.kind == "character":
            parts.append(f"{display_name(m.name)} is {desc}" if not desc.lower().startswith(m.name) else desc)
        else:
            parts.append(f"{display_name(m.name)}: {desc}")
    return ("; ".join(parts) + ".") if parts else ""


def resolve_ref(ref: str, root: str | Path) -> str:
    """A cast reference as a request carries it: an https:// URL as written, a file as an absolute path."""
    if "://" in ref:
        return ref
    return str((Path(root) / ref).resolve())


def spec_key_inputs(spec: "ProjectSpec", shot: "Shot") -> list[list]:
    """What identifies a shot's cast for its takes' job keys: names and descriptions as written
    (reference images are keyed by content in `generate.batch`). [] for a shot with no cast, so an
    unused `cast:` block re-keys nothing."""
    return [[m.name, m.kind, m.description] for m in shot_cast(spec, shot)]
