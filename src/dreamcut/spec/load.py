"""Reading `dreamcut.yaml`: text -> `ProjectSpec` with errors that name file:line, field and fix;
older format versions migrated forward through `MIGRATIONS`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import yaml
from pydantic import ValidationError

from dreamcut.errors import BadInput
from dreamcut.spec.base import SPEC_FILE, SPEC_VERSION
from dreamcut.spec.bounded_yaml import MAX_DEPTH, field_name, line_for, line_index, load_bounded, short
from dreamcut.spec.cast import check_cast_names, check_cast_refs
from dreamcut.spec.project import ProjectSpec

# version -> function(raw mapping) -> raw mapping of version + 1
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def parse_spec_text(text: str, filename: str = SPEC_FILE) -> ProjectSpec:
    """Parse and validate spec text. Raises BadInput naming file:line, field, value and what is allowed."""
    try:
        node, raw = load_bounded(text, filename)
    except RecursionError:  # a last guard: _check_nesting should have said it first
        raise BadInput(f"nested more than {MAX_DEPTH} levels deep", where=filename,
                       fix="a shot list is a few levels deep: title:, shots: - id:, prompt:") from None
    except yaml.YAMLError as e:
        # The context mark is where the broken construct starts (an unclosed bracket's line);
        # the problem mark is where the parser gave up, often a line later.
        mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        problem_mark = getattr(e, "problem_mark", None)
        if problem_mark is not None and mark is not None and problem_mark.line != mark.line:
            problem += f" (noticed on line {problem_mark.line + 1})"
        raise BadInput(f"not valid YAML: {problem}", where=where,
                       fix="check indentation and quoting on that line (a ':' inside text needs quotes)") from None
    if not isinstance(raw, dict):
        raise BadInput("the shot list must be a YAML mapping (title:, song:, shots: ...)", where=filename,
                       fix="run `dreamcut init` to see a commented example")
    lines = line_index(node) if node is not None else {}
    version = raw.get("version", SPEC_VERSION)
    if not isinstance(version, int) or version < 1:
        raise BadInput(f"version {version!r} is not a spec version", where=f"{filename}:{lines.get(('version',), 1)}",
                       fix=f"write `version: {SPEC_VERSION}`")
    if version > SPEC_VERSION:
        raise BadInput(f"version {version} was written by a newer dreamcut (this one reads up to {SPEC_VERSION})",
                       where=f"{filename}:{lines.get(('version',), 1)}", fix="upgrade dreamcut")
    while version < SPEC_VERSION:
        raw = MIGRATIONS[version](raw)
        version += 1
        raw["version"] = version
    try:
        spec = ProjectSpec.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        line = line_for(loc, lines)
        where = f"{filename}:{line}" if line else filename
        field = field_name(loc, raw)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            raise BadInput(f"{field}: unknown field", where=where,
                           fix="remove it or check its spelling (see `dreamcut init` for every field)") from None
        if err["type"] == "missing":
            raise BadInput(f"{field}: required field is missing", where=where, fix=f"add `{loc[-1]}:`") from None
        value = err.get("input")
        shown = f" (got {short(value)})" if value is not None and not isinstance(value, (dict, list)) else ""
        raise BadInput(f"{field}: {msg}{shown}", where=where) from None
    check_cast_names(spec, lines, filename)
    return spec


def load_spec(path: Path) -> ProjectSpec:
    """Read `dreamcut.yaml` from disk (UTF-8 only) and validate it, including that the song exists."""
    path = Path(path)
    name = path.name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput("no shot list here", where=str(path),
                       fix="run `dreamcut init DIR` or pass --project DIR") from None
    except OSError as e:
        raise BadInput(f"cannot read the shot list: {e.strerror}", where=name) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInput(f"not UTF-8 text (byte 0x{data[e.start]:02x})", where=f"{name}:{line}",
                       fix="save the file as UTF-8") from None
    spec = parse_spec_text(text, name)
    song = path.parent / spec.song
    if not song.is_file():
        line = line_index(load_bounded(text, name)[0]).get(("song",), 1)
        raise BadInput(f"song: file {spec.song!r} does not exist", where=f"{name}:{line}",
                       fix="put the song in the project folder and name it in `song:`")
    check_cast_refs(spec, path.parent, text, name)
    return spec
