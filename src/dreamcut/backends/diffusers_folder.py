"""A local diffusers model folder: where it is, which family it is, whether it is complete.

    diffusers:/models/LTX-Video            a folder written by `save_pretrained` (model_index.json)
    diffusers:Lightricks/LTX-Video         a Hugging Face repo id, resolved from the LOCAL cache only

Nothing is downloaded and no weight is loaded here: `inspect_model_folder` reads
`model_index.json` and the component folders, and names everything missing in one `BadInput`
line. `import_stack` imports torch and diffusers on first use (the base install has neither).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from dreamcut.backends.diffusers_plan import FAMILIES, PIPELINE_CLASSES, Family
from dreamcut.errors import BadInput

log = logging.getLogger("dreamcut.backends.diffusers")

_MODEL_COMPONENTS = {"transformer", "transformer_2", "vae", "text_encoder", "image_encoder"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".safetensors.index.json", ".bin.index.json", ".gguf", ".pt", ".pth")


# -- the model folder ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    label: str  # what messages call it (the folder or repo name, never a home path)
    class_name: str
    family: Family
    kind: str  # t2v | i2v
    index: dict


def resolve_model(model: str) -> tuple[Path, str]:
    """A folder path, or a repo id found in the local Hugging Face cache (never downloaded)."""
    text = os.path.expanduser(model.strip())
    path = Path(text)
    if path.is_dir():
        return path.resolve(), path.name
    if not path.is_absolute() and text.count("/") == 1 and not text.startswith("."):
        try:
            from huggingface_hub import snapshot_download
            from huggingface_hub.errors import LocalEntryNotFoundError
        except ImportError:
            snapshot_download = None  # type: ignore[assignment]
        if snapshot_download is not None:
            try:
                cache = os.environ.get("HF_HUB_CACHE") or None
                return Path(snapshot_download(text, local_files_only=True, cache_dir=cache)), text
            except (LocalEntryNotFoundError, OSError, ValueError):
                pass
        raise BadInput(f"model {text!r} is neither a folder nor in the local Hugging Face cache",
                       where=f"diffusers:{text}",
                       fix="download it once with `huggingface-cli download` (dreamcut never downloads), "
                           "or give the folder path")
    raise BadInput("the model folder does not exist", where=f"diffusers:{path.name}",
                   fix="give the folder that holds model_index.json (written by save_pretrained)")


def inspect_model_folder(path: Path, label: str) -> ModelFolder:
    """Check a model folder without loading weights; one BadInput line naming everything missing."""
    where = f"diffusers:{label}"
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise BadInput("model folder has no model_index.json", where=where,
                       fix="give a diffusers pipeline folder (written by save_pretrained or downloaded as a repo)")
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise BadInput(f"model_index.json is not valid JSON ({type(e).__name__})", where=where,
                       fix="re-download the model") from None
    class_name = str(index.get("_class_name", ""))
    if class_name not in PIPELINE_CLASSES:
        known = ", ".join(sorted(PIPELINE_CLASSES))
        raise BadInput(f"model_index.json names {class_name or 'no pipeline'!r}, not a supported video model",
                       where=where, fix=f"use an LTX-Video, Wan or CogVideoX folder ({known})")
    family, kind = PIPELINE_CLASSES[class_name]
    missing: list[str] = []
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
            continue
        sub = path / name
        if not sub.is_dir():
            missing.append(f"{name}/")
            continue
        files = [p.name for p in sub.iterdir() if p.is_file()]
        if name in _MODEL_COMPONENTS:
            if "config.json" not in files:
                missing.append(f"{name}/config.json")
            if not any(f.endswith(_WEIGHT_SUFFIXES) for f in files):
                missing.append(f"{name}/ weights (*.safetensors)")
            else:
                missing += _missing_shards(sub, files, name)
        elif name == "scheduler" and "scheduler_config.json" not in files:
            missing.append("scheduler/scheduler_config.json")
        elif not files:
            missing.append(f"{name}/ files")
    if missing:
        raise BadInput(f"model folder is incomplete: missing {', '.join(missing)}", where=where,
                       fix="finish the download (or save_pretrained) of the whole pipeline")
    transformer = read_json(path / "transformer" / "config.json") or read_json(path / "transformer_2" / "config.json")
    return ModelFolder(path, label, class_name, family_for(family, index, transformer), kind, index)


def family_for(name: str, index: dict, transformer: dict) -> Family:
    """The family's defaults, adjusted for the members that differ (read from their configs)."""
    fam = FAMILIES[name]
    if name == "wan" and index.get("expand_timesteps"):
        # Wan 2.2 TI2V-5B: 24 fps, 121 frames (5 s) a call
        return replace(fam, native_fps=24, comfortable_frames=121)
    if name == "cogvideox" and transformer.get("patch_size_t"):
        # CogVideoX 1.5: 16 fps, 81 frames a call (the 1.0 models: 8 fps, 49 frames)
        return replace(fam, native_fps=16, comfortable_frames=81)
    return fam


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _missing_shards(sub: Path, files: list[str], name: str) -> list[str]:
    out = []
    for f in files:
        if f.endswith(".index.json"):
            try:
                shards = set(json.loads((sub / f).read_text()).get("weight_map", {}).values())
            except (OSError, ValueError):
                return [f"{name}/{f} (unreadable)"]
            gone = sorted(s for s in shards if not (sub / s).is_file())
            if gone:
                out.append(f"{name}/{gone[0]}" + (f" and {len(gone) - 1} more shards" if len(gone) > 1 else ""))
    return out


# -- lazy imports ------------------------------------------------------------------------------


def import_stack():
    """Import torch + diffusers on first use. A broken torchvision (a CUDA wheel beside a CPU
    torch) must not take transformers down with it: it is only an optional extra there."""
    _hide_broken_torchvision()
    try:
        import diffusers
        import torch
        import transformers
    except ImportError as e:
        raise BadInput(f"backend 'diffusers' cannot load: missing package {e.name or e}",
                       fix="pip install 'dreamcut[local]'") from None
    # loading bars would fight the CLI's own progress bar
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    return torch, diffusers


_TV_CHECKED = False


def _hide_broken_torchvision() -> None:
    global _TV_CHECKED
    if _TV_CHECKED:
        return
    _TV_CHECKED = True
    import importlib.util

    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
        return
    except Exception:  # noqa: BLE001 - any failure means "unusable", whatever it raised
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    # A None entry makes `import torchvision` raise ImportError and find_spec() say "not
    # installed", so transformers and diffusers take their documented no-torchvision paths.
    sys.modules["torchvision"] = None  # type: ignore[assignment]
    log.warning("torchvision is installed but cannot load (does its build match torch?); "
                "using transformers and diffusers without it")
    if "diffusers" in sys.modules:  # imported before us: it read availability at import time
        import diffusers.utils.import_utils as diu

        diu._torchvision_available = False
    if "transformers" in sys.modules:  # imported before us: its availability checks are cached
        import transformers.utils as tu
        import transformers.utils.import_utils as tiu

        def off() -> bool:
            return False

        for mod in (tiu, tu):
            for fn in ("is_torchvision_available", "is_torchvision_v2_available"):
                if hasattr(mod, fn):
                    setattr(mod, fn, off)
