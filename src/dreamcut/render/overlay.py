"""The program overlay: song timecode, bar.beat, section and shot, in a corner of the frame.

`program_line(song, t, shot)` is the text (one home for it: the renderer's overlay and
`dreamcut song` use it); `load_font(size)` finds a Unicode font covering Latin, accents
and CJK (Debian's fonts-noto-cjk when installed, else DejaVu Sans), falling back to
Pillow's bundled font with a warning line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from dreamcut.analysis.audio import SongAnalysis

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk (OFL-1.1)
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # fonts-dejavu-core (Bitstream Vera licence)
)


@lru_cache(maxsize=16)
def load_font(size: int):
    from PIL import ImageFont

    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def timecode(t: float) -> str:
    """mm:ss.cc of the song."""
    t = max(0.0, t)
    m, s = divmod(t, 60.0)
    return f"{int(m):02d}:{s:05.2f}"


def program_line(song: SongAnalysis, t: float, shot: str = "") -> str:
    """'01:23.45  bar 12.3  chorus#2  shot-id' at `t` seconds into the song."""
    bar = song.bar_index(t) + 1
    beat = song.beat_in_bar(t)
    found = song.section_at(t)
    section = song.section_names()[found[0]] if found else "-"
    where = f"bar {bar}.{beat}" if bar >= 1 else f"pickup .{beat}"
    return "  ".join(x for x in (timecode(t), where, section, shot) if x)
