"""The cast: recurring characters, places and objects of a shot list, and who is in which shot.

One source of truth for the words: `cast_sentence` is the only place a cast member's description
becomes prompt text (`prompts.compose` and every backend's prompt draft call it for a take whose
shot names members), so the description is written once in `cast:` and never copied into shots.

Pure functions only (no I/O, no backend SDKs): the spec's `cast:` block in, names, sentences and
request members (`backends.base.CastMember`, pictures resolved) out. Where each backend puts the
pictures is decided in the backend's own file (`cast_routing` there); `dreamcut check` prints those
decisions (`backends._cast.explain`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from dreamcut.backends.base import CastLike, CastMember

if TYPE_CHECKING:
    from dreamcut.spec import CastMember as SpecMember
    from dreamcut.spec import ProjectSpec, Shot


def shot_cast(spec: "ProjectSpec", shot: "Shot") -> list["SpecMember"]:
    """The cast members a shot names, in the order it names them."""
    by_name = {m.name: m for m in spec.cast}
    return [by_name[n] for n in shot.cast if n in by_name]


def display_name(name: str) -> str:
    """How a cast name reads in a prompt: 'mia' -> 'Mia', 'old_car' -> 'Old car'."""
    text = name.replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]


def cast_sentence(members: Sequence[CastLike]) -> str:
    """The words a prompt carries for the cast in the shot: 'Mia is a young woman ...; Lighthouse: a
    white lighthouse ...' (characters are someone, places and objects are described). Empty when the
    shot names no one. The only place a description becomes prompt text: `compose`
    (the shot's plain text) and every backend's `format_prompt` (through `backends._prompt`) call it."""
    parts = []
    for m in members:
        desc = m.description.strip().rstrip(" .")
        if not desc:
            continue
        name = display_name(m.name)
        if desc.lower().startswith(m.name.lower()):
            parts.append(desc[0].upper() + desc[1:])
        elif getattr(m, "kind", "character") == "character":
            parts.append(f"{name} is {desc}")
        else:  # a place or an object: "The lighthouse: a white lighthouse on black rocks"
            parts.append(f"{name}: {desc}")
    return ("; ".join(parts) + ".") if parts else ""


def shot_members(spec: "ProjectSpec", shot: "Shot", root: str | Path | None = None) -> tuple[CastMember, ...]:
    """The shot's cast as request members: names, descriptions and pictures (resolved against `root`
    as absolute paths when given, else as written)."""
    return tuple(CastMember(m.name, m.description, tuple(resolve_ref(r, root) if root is not None else r
                                                         for r in m.refs), m.kind)
                 for m in shot_cast(spec, shot))


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
