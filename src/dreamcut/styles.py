"""Style presets: short, documented text blocks a shot list can name.

The shipped presets live as data in `dreamcut/data/styles.yaml` (one entry per preset:
`text`, what every prompt gets, and `about`, one line for `dreamcut styles`).
`style_preset: vintage-35mm-1980s` in a spec (or `style:` on a shot) puts the preset's
text before the global style. Projects define their own under `styles:` (name -> text);
a project's preset of the same name wins over a shipped one.

Pure lookups: this module reads only its own packaged data file, never the project.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from dreamcut.spec import ProjectSpec


@dataclass(frozen=True)
class StylePreset:
    name: str
    text: str  # what is added to every prompt
    about: str  # one line for `dreamcut styles`
    source: str = "dreamcut"  # dreamcut (shipped) | project


@lru_cache(maxsize=1)
def shipped_presets() -> dict[str, StylePreset]:
    """The presets shipped in `dreamcut/data/styles.yaml`, in file order."""
    raw = yaml.safe_load(resources.files("dreamcut").joinpath("data/styles.yaml").read_text(encoding="utf-8"))
    return {name: StylePreset(name, " ".join(str(v["text"]).split()), " ".join(str(v.get("about", "")).split()))
            for name, v in raw.items()}


PRESETS: dict[str, StylePreset] = shipped_presets()


def project_presets(spec: "ProjectSpec") -> dict[str, StylePreset]:
    """The presets a shot list defines under `styles:`."""
    return {name: StylePreset(name, " ".join(text.split()), "defined in this project's dreamcut.yaml", "project")
            for name, text in spec.styles.items()}


def all_presets(spec: "ProjectSpec | None" = None) -> dict[str, StylePreset]:
    """Every preset a shot list can name: shipped ones, then the project's (which win on a clash)."""
    out = dict(shipped_presets())
    if spec is not None:
        out.update(project_presets(spec))
    return out


def find_preset(name: str, spec: "ProjectSpec | None" = None) -> StylePreset | None:
    return all_presets(spec).get(name)
