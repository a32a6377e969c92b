"""Reading a shot list's YAML safely, and finding its lines.

`load_bounded` composes YAML within bounds, so a hostile file fails in milliseconds with one
line instead of eating memory (a billion-laughs file is a few hundred bytes that expands to 10^9
nodes): its size, its nesting, its size after alias expansion, recursive aliases and duplicate
keys. `line_index`, `line_for`, `field_name` and `short` turn a validation error's location
into the file:line, field and value that `spec.parse_spec_text` names.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from dreamcut.errors import BadInput

# Bounds on the YAML itself, so a hostile file fails in milliseconds with one line instead of
# eating memory: a billion-laughs file is a few hundred bytes that expands to 10^9 nodes.
MAX_SPEC_BYTES = 20_000_000
MAX_NODES = 250_000  # nodes after alias expansion (the largest real shot list is ~100k)
MAX_DEPTH = 24  # nesting; the deepest real field (shots[i].prompt[j].text) is 5 deep


# -- bounded YAML ------------------------------------------------------------------------


def _bad_yaml(message: str, filename: str, line: int | None, fix: str) -> BadInput:
    return BadInput(message, where=f"{filename}:{line}" if line else filename, fix=fix)


_FLOW_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\n]|\'\')*\'|#[^\n]*|[\[\]{}]')


def _check_nesting(text: str, filename: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before composing (the composer recurses per level).

    Brackets first, with a regex pass (PyYAML's scanner is quadratic in flow depth: 10,000
    `[` would take minutes), then the parser's own events for block nesting.
    """
    depth = 0
    for m in _FLOW_TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad_yaml(f"nested more than {MAX_DEPTH} levels deep", filename,
                                text.count("\n", 0, m.start()) + 1,
                                "a shot list is a few levels deep: title:, shots: - id:, prompt:")
        elif c in "]}":
            depth = max(0, depth - 1)
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad_yaml(f"nested more than {MAX_DEPTH} levels deep", filename, event.start_mark.line + 1,
                                "a shot list is a few levels deep: title:, shots: - id:, prompt:")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


def _check_graph(root: yaml.Node, filename: str) -> None:
    """Count nodes as they would be after alias expansion (each distinct node once, memoised),
    refuse recursive aliases and duplicate keys. Iterative: no Python recursion at any depth."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        children = _children(node)
        if done:
            on_path.discard(nid)
            total = 1 + sum(size[id(c)] for c in children)
            if total > MAX_NODES:
                raise _bad_yaml(f"the shot list expands to more than {MAX_NODES:,} values (aliases repeated "
                                f"inside aliases?)", filename, node.start_mark.line + 1,
                                "write the shots out; use an alias (*name) for a value, not to multiply lists")
            size[nid] = total
            continue
        if nid in size:
            continue
        if nid in on_path:
            raise _bad_yaml("an alias refers to itself (a recursive alias)", filename, node.start_mark.line + 1,
                            "an alias (*name) may only repeat a value defined before it, outside itself")
        on_path.add(nid)
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node, filename)
        stack.append((node, True))
        for child in children:
            cid = id(child)
            if cid in on_path:
                raise _bad_yaml("an alias refers to itself (a recursive alias)", filename,
                                child.start_mark.line + 1,
                                "an alias (*name) may only repeat a value defined before it, outside itself")
            if cid not in size:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _no_duplicate_keys(node: yaml.MappingNode, filename: str) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if key.value in seen:
            raise _bad_yaml(f"{key.value!r} is given twice, on lines {seen[key.value]} and {line}", filename, line,
                            "keep one of them (YAML would silently use the last)")
        seen[key.value] = line


def load_bounded(text: str, filename: str) -> tuple[yaml.Node | None, Any]:
    """Compose and construct `text` within the bounds above: (node tree, plain Python value)."""
    if len(text) > MAX_SPEC_BYTES:
        raise BadInput(f"the shot list is {len(text) / 1e6:.0f} MB; at most {MAX_SPEC_BYTES / 1e6:.0f} MB",
                       where=filename, fix="a shot list is text: keep pictures and media in files beside it")
    _check_nesting(text, filename)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_graph(node, filename)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


# -- loading with line numbers -------------------------------------------------------


def line_index(node: yaml.Node, path: tuple = ()) -> dict[tuple, int]:
    """Map each key path in the YAML document to its 1-based line (an aliased node once)."""
    lines: dict[tuple, int] = {}
    seen: set[int] = set()
    stack = [(node, path)]
    while stack:
        n, p = stack.pop()
        lines.setdefault(p, n.start_mark.line + 1)
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            for k, v in reversed(n.value):
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k.start_mark.line)
                lines.setdefault(p + (key,), k.start_mark.line + 1)
                stack.append((v, p + (key,)))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in reversed(list(enumerate(n.value))):
                stack.append((v, p + (i,)))
    return lines


def line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    loc = tuple(x for x in loc if not (isinstance(x, str) and x in {"str", "list[Segment]", "function-after[_exactly_one(), Placement]"}))
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def field_name(loc: tuple, raw: Any) -> str:
    """shots[3].prompt -> 'shots[3] (id: corridor).prompt' so the director finds it."""
    out = ""
    node = raw
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            try:
                node = node[part]
                if isinstance(node, dict) and "id" in node:
                    out += f" (id: {node['id']})"
            except (IndexError, KeyError, TypeError):
                node = None
        else:
            if part in {"str", "list[Segment]"} or part.startswith("function-"):
                continue
            out += ("." if out else "") + str(part)
            try:
                node = node[part] if isinstance(node, dict) else None
            except (KeyError, TypeError):
                node = None
    return out or "(top level)"


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
