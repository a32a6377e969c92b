"""The program overlay draws emoji as glyphs, not as the unknown-glyph box (tofu).

Renders one frame of the overlay with ffmpeg (libass) for three shot names that differ in one
character: two emoji and a code point no font has (U+10FFFD, drawn as the box). Two different
emoji must draw two different pictures, and neither may be the box.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from dreamcut.analysis.audio import Section, SongAnalysis
from dreamcut.fonts import emoji_font_path, font_runs
from dreamcut.media import ffmpeg_exe
from dreamcut.render.overlay import overlay_filter, program_ass

W, H = 1280, 720


def _song() -> SongAnalysis:
    beats = [round(0.5 * i, 3) for i in range(8)]
    return SongAnalysis(duration=4.0, sample_rate=22050, tempo=120.0, beats=beats, downbeats=beats[::4],
                        beats_per_bar=4, sections=[Section(0.0, 4.0, "verse")])


def _frame(tmp_path, name: str, shot: str) -> np.ndarray:
    d = tmp_path / name
    d.mkdir()
    ass = d / "overlay.ass"
    ass.write_text(program_ass(_song(), [(0.0, 4.0, shot)], (W, H), 4.0), encoding="utf-8")
    png = d / "f.png"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=black:s={W}x{H}:d=1:r=24",
                    "-vf", overlay_filter(ass, (W, H)), "-frames:v", "1", str(png)], check=True, timeout=60)
    from PIL import Image

    return np.asarray(Image.open(png).convert("L"), dtype=float)


def test_font_runs_split_emoji_from_letters():
    assert font_runs("hook 🎬 é") == [("hook ", False), ("🎬", True), (" é", False)]
    assert "".join(r for r, _ in font_runs("a🎵b中")) == "a🎵b中"


@pytest.mark.skipif(emoji_font_path() is None, reason="fonts-symbola is not installed (`make install` installs it)")
def test_overlay_draws_emoji_not_tofu(tmp_path):
    clap = _frame(tmp_path, "clap", "shot 🎬")
    note = _frame(tmp_path, "note", "shot 🎵")
    tofu = _frame(tmp_path, "tofu", "shot \U0010FFFD")
    # where the three frames differ is the last glyph of the line
    region = (np.abs(clap - tofu) > 40) | (np.abs(note - tofu) > 40) | (np.abs(clap - note) > 40)
    assert region.sum() > 30, "the shot name's last character draws nothing"
    ys, xs = np.nonzero(region)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    c, n, t = clap[box], note[box], tofu[box]
    assert (c > 128).sum() > 20 and (n > 128).sum() > 20  # both emoji leave ink
    # two emoji are two pictures (a missing glyph draws the same box for both) ...
    assert np.abs(c - n).mean() > 20
    # ... and neither is the unknown-glyph box
    assert np.abs(c - t).mean() > 20 and np.abs(n - t).mean() > 20
    ass = (tmp_path / "clap" / "overlay.ass").read_text(encoding="utf-8")
    assert "{\\fnSymbola}🎬{\\r}" in ass
