"""`song.png`: the song map as a picture, to look at before pinning shots.

Energy over time with the bar grid (downbeats; every 4th bar stronger), the sections
as coloured bands with their names and confidence (a start the analysis only guessed,
`SongAnalysis.sure_section`, has a dashed edge and a "?" after its name; a name in doubt,
`SongAnalysis.name_in_doubt`, the "?" alone), the tempo curve where the
tempo moves (`analysis.audio.tempo_moves`, the rule `dreamcut song` says "moves" by), and
the planned cuts (red ticks) when an edit exists. Drawn with Pillow and numpy only.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from dreamcut.analysis.audio import SongAnalysis, tempo_moves

BOUNDARY = (255, 255, 255)  # a section boundary's line (solid: sure; dashed: a guess)
TEMPO = (240, 220, 90)  # the tempo curve, drawn where the tempo moves
DASH = 4  # px: a guessed boundary's dashes and gaps
_COLOURS = {"intro": (90, 110, 160), "verse": (70, 140, 90), "chorus": (200, 120, 40), "bridge": (150, 80, 160),
            "outro": (90, 110, 160)}


def _font(size: int):
    from dreamcut.render.overlay import load_font

    return load_font(size)


def draw_song_map(song: SongAnalysis, path: Path, *, cuts: list[float] | None = None, width: int = 1600,
                  height: int = 420) -> Path:
    """Write the picture to `path` (PNG) and return it."""
    img = Image.new("RGB", (width, height), (18, 18, 22))
    d = ImageDraw.Draw(img)
    font = _font(14)
    small = _font(11)
    left, right, top, band, bottom = 40, width - 20, 30, 34, height - 60
    dur = max(song.duration, 1e-6)
    x = lambda t: left + (right - left) * t / dur  # noqa: E731
    names = song.section_names()
    for i, (sec, name) in enumerate(zip(song.sections, names)):
        c = _COLOURS.get(sec.label, (120, 120, 120))
        d.rectangle([x(sec.start), top, x(sec.end), top + band], fill=c)
        sure = song.sure_section(i)
        doubt = not sure or song.name_in_doubt(i)
        d.text((x(sec.start) + 4, top + 3), name + "?" if doubt else name, fill=(255, 255, 255), font=font)
        d.text((x(sec.start) + 4, top + 19), f"{sec.confidence:.2f}", fill=(235, 235, 235), font=small)
    for i, sec in enumerate(song.sections):  # the boundaries: solid where sure, dashed where guessed
        if i == 0:
            continue
        bx = round(x(sec.start))
        if song.sure_section(i):
            d.line([bx, top, bx, top + band], fill=BOUNDARY, width=2)
        else:
            for y0 in range(top, top + band, 2 * DASH):
                d.line([bx, y0, bx, min(y0 + DASH - 1, top + band)], fill=BOUNDARY, width=2)
    wave_top, wave_bot = top + band + 8, bottom
    mid = (wave_top + wave_bot) / 2
    for i, d0 in enumerate(song.downbeats):
        strong = i % 4 == 0
        d.line([x(d0), wave_top, x(d0), wave_bot], fill=(80, 80, 95) if strong else (45, 45, 55), width=1)
        if strong and (x(d0) - x(song.downbeats[max(0, i - 4)]) > 22 or i == 0):
            d.text((x(d0) + 2, wave_bot + 2), str(i + 1), fill=(150, 150, 170), font=small)
    if song.energy:
        half = (wave_bot - wave_top) / 2 - 2
        pts_top = [(x(t), mid - e * half) for t, e in zip(song.energy_times, song.energy)]
        pts_bot = [(x(t), mid + e * half) for t, e in zip(song.energy_times, song.energy)]
        d.polygon(pts_top + list(reversed(pts_bot)), fill=(120, 170, 220))
    bpms = [b for _, b in song.tempo_curve]
    if tempo_moves(song):  # a tempo that moves (the song map's own rule): draw its curve
        lo, hi = min(bpms) * 0.95, max(bpms) * 1.05
        pts = [(x(t), wave_bot - (b - lo) / max(hi - lo, 1e-6) * (wave_bot - wave_top)) for t, b in song.tempo_curve]
        d.line(pts, fill=TEMPO, width=2)
        d.text((right - 190, wave_top + 2), f"tempo {min(bpms):.0f}-{max(bpms):.0f} bpm", fill=TEMPO,
               font=small)
    for t in cuts or []:
        d.line([x(t), wave_top - 4, x(t), wave_bot + 4], fill=(230, 60, 60), width=2)
    pulse = "weak pulse: cuts follow phrases and onsets" if song.pulse < 0.35 else f"pulse {song.pulse:.2f}"
    m, s = divmod(int(round(song.duration)), 60)
    caption = (f"{song.tempo:.1f} bpm, {song.beats_per_bar}/4, {len(song.downbeats)} bars, {m}:{s:02d}; {pulse}"
               + (f"; {len(cuts)} cuts" if cuts else "") + (f"; set in the spec: {', '.join(song.corrected)}"
                                                             if song.corrected else ""))
    d.text((left, height - 28), caption, fill=(220, 220, 220), font=font)
    d.text((left, 8), "song map: sections (confidence; ?: a guess, with a dashed edge the start), energy, bar grid "
                      "(numbers every 4 bars), tempo, cuts in red", fill=(170, 170, 170), font=small)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    img.save(tmp, format="PNG")
    tmp.replace(path)
    return path
