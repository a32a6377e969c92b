"""Fonts for text dreamcut draws (the program overlay, the song map, take labels).

One home for the choice: a Unicode font covering Latin, accents and CJK — Debian's
fonts-noto-cjk (SIL OFL 1.1) when installed (`make test` / `make demo` install it where they
can), else DejaVu Sans (fonts-dejavu-core; Latin, Greek, Cyrillic, accents), else Pillow's
bundled font. Emoji are drawn only where the chosen font has them (not yet: see README).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk (OFL-1.1)
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # fonts-dejavu-core
)


def unicode_font_path() -> Path | None:
    """The best installed font file for mixed-script text, or None."""
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return Path(path)
    return None


@lru_cache(maxsize=32)
def load_font(size: int):
    """A Pillow font of `size` px from `unicode_font_path()` (Pillow's own when none is installed)."""
    from PIL import ImageFont

    path = unicode_font_path()
    if path is not None:
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)
