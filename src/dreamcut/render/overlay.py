"""The program overlay: song timecode, bar.beat, section and shot, in a corner of the frame.

`program_line(song, t, shot)` is the text; `program_ass(...)` writes it as one ASS subtitle
event per beat, and `overlay_filter(...)` is the ffmpeg chain that draws those events and
the running song timecode (drawtext) over the finished picture. The font is
`dreamcut.fonts`' choice (Noto Sans CJK where installed, else DejaVu Sans); emoji in a shot
or section name are set in the emoji font (Symbola, Debian fonts-symbola) with an ASS `\\fn`
override, and both fonts are handed to libass through one fonts folder beside the script.
"""

from __future__ import annotations

import os
from pathlib import Path

from dreamcut.analysis.audio import SongAnalysis
from dreamcut.fonts import emoji_font_path, font_family, font_runs, load_font, unicode_font_path  # noqa: F401


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


def _ass_time(t: float) -> str:
    cs = int(round(max(0.0, t) * 100))
    h, rem = divmod(cs, 360000)
    m, rem = divmod(rem, 6000)
    s, c = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{c:02d}"


def _ass_text(text: str, emoji_family: str | None = None) -> str:
    """The text as an ASS event's text: braces and backslashes made harmless, and emoji runs set in
    `emoji_family` (then back to the style's font) when there is an emoji font."""
    text = text.replace("\\", "\\\\").replace("{", "(").replace("}", ")").replace("\n", " ")
    if emoji_family is None:
        return text
    return "".join(f"{{\\fn{emoji_family}}}{run}{{\\r}}" if emoji else run for run, emoji in font_runs(text))


def program_ass(song: SongAnalysis, shots: list[tuple[float, float, str]], size: tuple[int, int],
                duration: float) -> str:
    """An ASS subtitle script: one event per beat with 'bar B.b  section  shot' in the top-left
    corner (the running song timecode above it is drawn by ffmpeg's drawtext, per frame).

    shots: (record start s, record end s, shot name) of the edit's clips.
    """
    w, h = size
    fs = max(10, int(round(h * 0.035)))
    margin = max(4, int(round(h * 0.02)))
    font = unicode_font_path()
    family = "DejaVu Sans"
    if font is not None:
        family = load_font(fs).getname()[0]
    emoji = emoji_font_path()
    emoji_family = font_family(emoji) if emoji is not None else None
    lines = ["[Script Info]", "ScriptType: v4.00+", f"PlayResX: {w}", f"PlayResY: {h}", "WrapStyle: 2",
             "ScaledBorderAndShadow: yes", "", "[V4+ Styles]",
             "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
             "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
             "MarginL, MarginR, MarginV, Encoding",
             f"Style: P,{family},{fs},&H00FFFFFF,&H00FFFFFF,&H80000000,&H80000000,0,0,0,0,100,100,0,0,3,"
             f"{max(1, fs // 6)},0,7,{margin},{margin},{margin + int(fs * 1.5)},1",
             "", "[Events]", "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"]
    marks = [0.0] + [b for b in song.beats if 0.0 < b < duration] + [duration]
    for a, b in zip(marks[:-1], marks[1:]):
        if b - a < 0.02:
            continue
        shot = next((name for s0, s1, name in shots if s0 - 1e-6 <= a < s1 - 1e-6), "")
        text = program_line(song, a + 1e-3, shot).split("  ", 1)[-1]  # the timecode runs per frame instead
        lines.append(f"Dialogue: 0,{_ass_time(a)},{_ass_time(b)},P,,0,0,0,,{_ass_text(text, emoji_family)}")
    return "\n".join(lines) + "\n"


def _filter_path(p: Path) -> str:
    """A path inside a filtergraph argument: quoted, with the graph's special characters escaped."""
    return "'" + str(p).replace("\\", "\\\\").replace("'", "'\\\\\\''").replace(":", "\\:") + "'"


def overlay_filter(ass_file: Path, size: tuple[int, int]) -> str:
    """The filter chain that draws the program overlay: the running song timecode (drawtext)
    and the ASS events (bar.beat, section, shot) under it."""
    h = size[1]
    fs = max(10, int(round(h * 0.035)))
    margin = max(4, int(round(h * 0.02)))
    font = unicode_font_path()
    parts = []
    folder = _fonts_folder(ass_file.parent / "overlay-fonts", [font, emoji_font_path()])
    fontsdir = f":fontsdir={_filter_path(folder)}" if folder is not None else ""
    parts.append(f"ass=filename={_filter_path(ass_file)}{fontsdir}")
    fontfile = f"fontfile={_filter_path(font)}:" if font is not None else ""
    parts.append(f"drawtext={fontfile}text='%{{pts\\:hms}}':x={margin}:y={margin}:fontsize={fs}:fontcolor=white:"
                 f"box=1:boxcolor=black@0.5:boxborderw={max(1, fs // 6)}")
    return ",".join(parts)


def _fonts_folder(folder: Path, fonts: list[Path | None]) -> Path | None:
    """A folder holding (links to) the given fonts, for libass's `fontsdir` (it reads one folder).
    None when there is no font to give."""
    fonts = [f for f in fonts if f is not None]
    if not fonts:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    for f in fonts:
        link = folder / f.name
        if link.is_symlink() and Path(os.readlink(link)) == f:
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(f)
    return folder
