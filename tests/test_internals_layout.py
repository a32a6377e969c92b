"""docs/internals.md states the layout as it is (issue 14): every top-level module and package of
`dreamcut` is named in its "Layout and layering" section, as `name.py` or `name/`, whichever it is now."""

from __future__ import annotations

import re

from conftest import REPO

PACKAGE = REPO / "src" / "dreamcut"


def layout_section() -> str:
    text = (REPO / "docs" / "internals.md").read_text(encoding="utf-8")
    start = text.index("## Layout and layering")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else len(text)]


def missing(section: str) -> list[str]:
    out = []
    for path in sorted(PACKAGE.iterdir()):
        if path.name.startswith(("__", ".")) or path.name in ("data", "__pycache__"):
            continue
        if path.is_dir() and (path / "__init__.py").is_file():
            name = f"{path.name}/"
        elif path.suffix == ".py":
            name = path.name
        else:
            continue
        if not re.search(rf"(?<![\w/.]){re.escape(name)}(?![\w])", section):
            out.append(name)
    return out


def test_every_top_level_module_is_in_the_layout():
    assert missing(layout_section()) == []


def test_the_check_tells_a_module_from_a_package():
    """A module written as a package (or the reverse) is not the layout as it is."""
    module = next(p for p in sorted(PACKAGE.glob("*.py")) if not p.name.startswith("__"))
    package = next(p for p in sorted(PACKAGE.iterdir()) if (p / "__init__.py").is_file())
    assert module.name in missing(f"{module.stem}/ {package.name}/")
    assert f"{package.name}/" in missing(f"{module.name} {package.name}.py")
