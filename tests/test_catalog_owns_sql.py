"""The catalog owns all SQL: no module outside the `catalog/` package hands SQL to SQLite.

Walks every module under src/ and fails on a call to `.execute`, `.executemany` or
`.executescript` whose statement is written in that module (a string or f-string holding an SQL
keyword), and on any reach into a catalog's raw connection (`catalog.db`) outside `catalog/`.
"""

from __future__ import annotations

import ast
import re

from conftest import REPO

SRC = REPO / "src" / "dreamcut"

# Every module is checked: the orchestrator, recovery and the board included (issue 14).
NOT_YET_MOVED: tuple[str, ...] = ()

SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|REPLACE\s+INTO)\b")


def _text(node: ast.AST) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(node, ast.BinOp):
        return _text(node.left) + _text(node.right)
    return ""


def findings(source: str, rel: str) -> list[str]:
    """Each place in one module's source that hands SQL to SQLite or reaches into `catalog.db`."""
    found = []
    for node in ast.walk(ast.parse(source, filename=rel)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("execute", "executemany", "executescript") and node.args
                and SQL.search(_text(node.args[0]))):
            found.append(f"{rel}:{node.lineno}: SQL in {node.func.attr}()")
        if (isinstance(node, ast.Attribute) and node.attr == "db" and isinstance(node.value, ast.Attribute)
                and node.value.attr == "catalog"):
            found.append(f"{rel}:{node.lineno}: reaches into catalog.db")
    return found


def test_no_sql_outside_the_catalog():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if not rel.startswith(("catalog/", *NOT_YET_MOVED)):
            found += findings(path.read_text(), rel)
    assert found == [], "raw SQL outside catalog/; add a typed Catalog method instead:\n" + "\n".join(found)


def test_the_walk_finds_sql():
    """The walk itself sees what it looks for (so an empty answer means something)."""
    source = 'cat.db.execute(f"SELECT * FROM takes WHERE id={x}")\nproject.catalog.db.close()\nlog.execute("go")\n'
    assert findings(source, "m.py") == ["m.py:1: SQL in execute()", "m.py:2: reaches into catalog.db"]
