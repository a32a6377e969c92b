"""Backend names and the lazy factory. Importing this module imports no SDK.

A backend is named in the spec as `NAME` or `NAME:MODEL`:
  animatic                       offline previz (default)
  diffusers:/path/to/model       local open model (LTX-Video, Wan, CogVideoX)
  openai-videos:sora-2           any OpenAI-compatible /v1/videos server
  runway:gen4_turbo  luma:ray-2  veo:veo-3.0-generate-001  fal:<app>  replicate:<owner/model>
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dreamcut.backends.base import Backend

# name -> (module, class name, needs a model)
BACKENDS: dict[str, tuple[str, str, bool]] = {
    "animatic": ("dreamcut.backends.animatic", "AnimaticBackend", False),
    "diffusers": ("dreamcut.backends.diffusers_local", "DiffusersBackend", True),
    "openai-videos": ("dreamcut.backends.openai_videos", "OpenAIVideosBackend", True),
    "runway": ("dreamcut.backends.runway", "RunwayBackend", True),
    "luma": ("dreamcut.backends.luma", "LumaBackend", True),
    "veo": ("dreamcut.backends.veo", "VeoBackend", True),
    "fal": ("dreamcut.backends.fal", "FalBackend", True),
    "replicate": ("dreamcut.backends.replicate", "ReplicateBackend", True),
}

# Names a director may write in a spec. (Imported takes are labelled backend "imported": they
# were made outside dreamcut, so no backend class stands behind that name.)
SPEC_BACKENDS = list(BACKENDS)


@dataclass(frozen=True)
class BackendRef:
    name: str
    model: str | None = None

    def __str__(self) -> str:
        return self.name if self.model is None else f"{self.name}:{self.model}"


def parse_backend(text: str) -> BackendRef:
    """'runway:gen4_turbo' -> BackendRef('runway', 'gen4_turbo'). Raises ValueError naming the allowed ones."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"backend must be one of: {', '.join(SPEC_BACKENDS)}")
    name, _, model = text.strip().partition(":")
    name = name.strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; use one of: {', '.join(SPEC_BACKENDS)}")
    needs_model = BACKENDS[name][2]
    model = model.strip() or None
    if needs_model and not model:
        raise ValueError(f"backend {name!r} needs a model, written {name}:MODEL")
    if not needs_model and model:
        raise ValueError(f"backend {name!r} takes no model (write just {name!r})")
    return BackendRef(name, model)


def load_backend(ref: BackendRef | str, **options) -> "Backend":
    """Instantiate a backend. SDK imports happen here, not at spec time."""
    if isinstance(ref, str):
        ref = parse_backend(ref)
    module_name, class_name, _ = BACKENDS[ref.name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        from dreamcut.errors import BadInput

        extra = {"diffusers": "local"}.get(ref.name, "cloud")
        raise BadInput(f"backend {ref.name!r} cannot load: missing package {e.name or e}",
                       fix=f"pip install 'dreamcut[{extra}]'") from None
    cls = getattr(module, class_name)
    return cls(model=ref.model, **options) if ref.model is not None else cls(**options)
