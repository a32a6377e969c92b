"""Fonts for text dreamcut draws (the program overlay, the song map, take labels).

One home for the choice: a Unicode font covering Latin, accents and CJK — Debian's
fonts-noto-cjk (SIL OFL 1.1) when installed (`make test` / `make demo` install it where they
can), else DejaVu Sans (fonts-dejavu-core; Latin, Greek, Cyrillic, accents), else Pillow's
bundled font. Emoji come from a second font, Symbola (Debian fonts-symbola: monochrome
outlines, which libass and Pillow both draw; Noto Color Emoji's bitmaps they do not): text is
split into runs (`font_runs`) and the emoji runs are set in `emoji_font_path()`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk (OFL-1.1)
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # fonts-dejavu-core
)


EMOJI_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",  # fonts-symbola (free, Unicode 9 emoji)
)

# Code points drawn from the emoji font: pictographs, dingbats, symbols, flags, and the joiners
# and variation selectors that belong to an emoji sequence.
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x2300, 0x23FF),
                 (0xFE00, 0xFE0F), (0x200D, 0x200D), (0x20E3, 0x20E3), (0xE0020, 0xE007F))


def is_emoji(ch: str) -> bool:
    """Whether the character is drawn from the emoji font."""
    c = ord(ch)
    return any(a <= c <= b for a, b in _EMOJI_RANGES)


def font_runs(text: str) -> list[tuple[str, bool]]:
    """The text cut into runs of (text, is_emoji), in order; joining the texts gives `text` back."""
    runs: list[tuple[str, bool]] = []
    for ch in text:
        e = is_emoji(ch)
        if runs and runs[-1][1] == e:
            runs[-1] = (runs[-1][0] + ch, e)
        else:
            runs.append((ch, e))
    return runs


def emoji_font_path() -> Path | None:
    """The installed emoji font (an outline font libass and Pillow draw), or None."""
    for path in EMOJI_FONT_CANDIDATES:
        if Path(path).is_file():
            return Path(path)
    return None


def font_family(path: Path) -> str:
    """The family name inside a font file (what ASS's Fontname and \\fn ask for)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(path), 12).getname()[0]


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
