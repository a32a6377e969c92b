"""The shot list, `dreamcut.yaml`: pydantic models, loading, and errors with file:line.

This module only reads and validates. It never touches the catalog, never renders,
and never imports a backend's SDK (backend names are checked against the static
registry in `dreamcut.backends.registry`).

Versioning: `version:` is the spec format version. `load_spec` migrates older
versions forward through `MIGRATIONS` (version -> function on the raw mapping)
and refuses files written by a newer dreamcut.

The package, by concept: `base` (the model base, version, bounds), `shots`, `cast`, `song`,
`finish` (effects and render settings, `parse_resolution`), `project` (`ProjectSpec`), `load`
(`parse_spec_text`, `load_spec`, `MIGRATIONS`) and `bounded_yaml` (reading YAML within bounds,
and its lines). Every public name is importable from `dreamcut.spec`.
"""

from __future__ import annotations

from dreamcut.spec.base import (MAX_ASPECT, MAX_CAST, MAX_CAST_DESCRIPTION, MAX_CAST_REFS, MAX_PROMPT_CHARS,
                                MAX_SHOT_CAST, MAX_SHOTS, MAX_TAKE_SECONDS, MAX_TAKES_PER_SHOT, SPEC_FILE,
                                SPEC_VERSION)
from dreamcut.spec.bounded_yaml import MAX_DEPTH, MAX_NODES, MAX_SPEC_BYTES
from dreamcut.spec.cast import CastMember, check_cast_refs, image_kind
from dreamcut.spec.finish import EffectLevels, EffectsSpec, RenderSpec, parse_resolution
from dreamcut.spec.load import MIGRATIONS, load_spec, parse_spec_text
from dreamcut.spec.project import ProjectSpec
from dreamcut.spec.shots import (REFRAME_WORDS, Placement, Reframe, Segment, Shot, Transition, TransitionKind,
                                 TransitionSpec, transition_shorthand)
from dreamcut.spec.song import SectionMark, SongSpec, TempoPoint

__all__ = ["MAX_ASPECT", "MAX_CAST", "MAX_CAST_DESCRIPTION", "MAX_CAST_REFS", "MAX_DEPTH", "MAX_NODES",
           "MAX_PROMPT_CHARS", "MAX_SHOTS", "MAX_SHOT_CAST", "MAX_SPEC_BYTES", "MAX_TAKES_PER_SHOT",
           "MAX_TAKE_SECONDS", "MIGRATIONS", "REFRAME_WORDS", "SPEC_FILE", "SPEC_VERSION", "CastMember",
           "EffectLevels", "EffectsSpec", "Placement", "ProjectSpec", "Reframe", "RenderSpec", "SectionMark",
           "Segment", "Shot", "SongSpec", "TempoPoint", "Transition", "TransitionKind", "TransitionSpec",
           "check_cast_refs", "image_kind", "load_spec", "parse_resolution", "parse_spec_text",
           "transition_shorthand"]
