"""Import guard for Hugging Face libraries (transformers, sentence-transformers).

Why this exists: an installed torchvision whose compiled operators do not match the
installed torch ("operator torchvision::nms does not exist") makes transformers refuse to
import *any* model class, although CLIP and MiniLM need nothing from torchvision. When
torchvision is present but broken, we hide it so transformers takes its torchvision-free
paths. A working torchvision is left alone.

This module only prepares imports; it never loads or downloads a model.
"""

from __future__ import annotations

import sys

_checked = False


def hide_broken_torchvision() -> None:
    global _checked
    if _checked or "torchvision" in sys.modules:
        _checked = True
        return
    _checked = True
    try:
        import torchvision  # noqa: F401
    except Exception:  # RuntimeError from mismatched C++ ops; ImportError when absent
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision"] = None  # type: ignore[assignment]  # makes `import torchvision` fail fast
