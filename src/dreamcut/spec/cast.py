"""The shot list's `cast:` block: recurring people, places and objects, their names checked against the
shots that use them and their reference pictures checked on disk."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from dreamcut.errors import BadInput
from dreamcut.spec.base import MAX_CAST_DESCRIPTION, MAX_CAST_REFS, _Model
from dreamcut.spec.bounded_yaml import line_index, load_bounded, short

if TYPE_CHECKING:
    from dreamcut.spec.project import ProjectSpec


_CAST_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class CastMember(_Model):
    """A recurring character, place or object (`cast:`): a name shots use (`cast: [mia]`), a short
    description woven into every prompt of a shot that names it, and reference images (files in the
    project folder or https:// URLs) that each backend passes the way its API allows (`dreamcut.cast`)."""

    name: str
    kind: Literal["character", "place", "object"] = "character"
    description: str = Field(min_length=1, max_length=MAX_CAST_DESCRIPTION)
    refs: list[str] = Field(default_factory=list, max_length=MAX_CAST_REFS)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip().lower()
            if not _CAST_NAME_RE.match(v):
                raise ValueError("a cast name is one word (letters, digits, '-', '_'; at most 32), e.g. mia")
        return v

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the description is empty; say in a few words who or what this is")
        return " ".join(v.split())

    @field_validator("refs")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            if "://" in ref and not ref.startswith("https://"):
                raise ValueError(f"{short(ref)} is not a file or an https:// URL")
        return v


def check_cast_names(spec: ProjectSpec, lines: dict[tuple, int], filename: str) -> None:
    """Cast names are unique and every name a shot gives is in `cast:` (one line with file:line)."""
    seen: set[str] = set()
    for i, member in enumerate(spec.cast):
        if member.name in seen:
            raise BadInput(f"cast[{i}].name: {member.name!r} is used twice", where=f"{filename}:{lines.get(('cast', i), 1)}",
                           fix="give each cast member its own name")
        seen.add(member.name)
    for i, shot in enumerate(spec.shots):
        for j, name in enumerate(shot.cast):
            if name not in seen:
                known = ", ".join(m.name for m in spec.cast[:12]) or "empty"
                line = lines.get(("shots", i, "cast", j)) or lines.get(("shots", i, "cast"), 1)
                raise BadInput(f"shots[{i}] (id: {shot.id}).cast: no cast member {name!r} (the cast is: {known})",
                               where=f"{filename}:{line}",
                               fix=f"add {name} under `cast:` (name, description, refs) or fix the spelling")
        if len(set(shot.cast)) != len(shot.cast):
            raise BadInput(f"shots[{i}] (id: {shot.id}).cast: a name is given twice",
                           where=f"{filename}:{lines.get(('shots', i, 'cast'), 1)}", fix="name each member once")


# What a reference image may be: the formats every provider that takes references accepts.
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"RIFF", "webp"))


def image_kind(data: bytes) -> str | None:
    """'png', 'jpeg' or 'webp' from a file's first bytes; None for anything else."""
    for magic, kind in _IMAGE_MAGIC:
        if data.startswith(magic) and (kind != "webp" or data[8:12] == b"WEBP"):
            return kind
    return None


def check_cast_refs(spec: ProjectSpec, root: Path, text: str, filename: str) -> None:
    """Every local cast reference is an image file in the project folder (one line naming it)."""
    if not any(m.refs for m in spec.cast):
        return
    lines = line_index(load_bounded(text, filename)[0])
    root = Path(root).resolve()
    for i, member in enumerate(spec.cast):
        for j, ref in enumerate(member.refs):
            if ref.startswith("https://"):
                continue
            where = f"{filename}:{lines.get(('cast', i, 'refs', j)) or lines.get(('cast', i), 1)}"
            field = f"cast[{i}] ({member.name}).refs[{j}]"
            path = (root / ref).resolve()
            if not path.is_file():
                raise BadInput(f"{field}: file {ref!r} does not exist", where=where,
                               fix="put the picture in the project folder and give its path relative to dreamcut.yaml")
            try:
                with path.open("rb") as f:
                    head = f.read(16)
            except OSError as e:
                raise BadInput(f"{field}: cannot read {ref!r} ({e.strerror})", where=where,
                               fix="make the file readable") from None
            if image_kind(head) is None:
                raise BadInput(f"{field}: {ref!r} is not a PNG, JPEG or WebP picture", where=where,
                               fix="give a .png, .jpg or .webp reference image")
