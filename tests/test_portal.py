"""The zoom-through's window (dreamcut.portal) is the one the edit's transition and the animatic's scene change use."""

from __future__ import annotations

import numpy as np
import pytest

from dreamcut import portal
from dreamcut.backends.animatic.camera import View
from dreamcut.backends.animatic.paint import Canvas, FigureSpec, paint_figure
from dreamcut.backends.animatic.portal import PORTAL_FEATHER, zoom_through
from dreamcut.backends.animatic.words import read_look
from dreamcut.edit import transitions as tr


def test_window_is_centred_whole_pixels_and_inside_the_frame():
    assert portal.centred_window(160, 90, 0.5) == (40, 22, 80, 45)
    for s in (0.0, 0.013, 0.5, 0.999, 1.0, 1.7):
        x0, y0, w, h = portal.centred_window(160, 90, s)
        assert 2 <= w <= 160 and 2 <= h <= 90
        assert (x0, y0) == ((160 - w) // 2, (90 - h) // 2)


def test_paste_window_feathers_the_edge_and_leaves_the_outside_alone():
    base = np.zeros((90, 160, 3), np.uint8)
    x0, y0, w, h = portal.centred_window(160, 90, 0.5)
    portal.paste_window(base, np.full((h, w, 3), 200, np.uint8), 0.2)
    assert base[:y0].max() == 0 and base[:, :x0].max() == 0          # outside untouched
    assert base[45, 80].tolist() == [200, 200, 200]                  # core is the window's picture
    edge = base[45, x0:x0 + w, 0].astype(int)
    assert 0 < edge[0] < edge[4] < 200                               # a ramp, not a box
    full = np.zeros((90, 160, 3), np.uint8)
    portal.paste_window(full, np.full((h, w, 3), 200, np.uint8), 0.2, cover=1.0)
    assert full[y0:y0 + h, x0:x0 + w].min() == 200                   # cover fills the feather in


@pytest.mark.parametrize("scale", [0.2, 0.45, 0.69])
def test_the_edit_transition_and_the_animatic_share_the_window(scale):
    """Both zoom-throughs put a flat picture into the same pixels with the same edge."""
    base = np.zeros((90, 160, 3), np.uint8)
    flat = np.full((90, 160, 3), 180, np.uint8)
    edit = tr.paste_centre(base, flat, scale, feather=PORTAL_FEATHER)
    animatic = base.copy()
    texture = np.full((180, 320, 3), 180, np.uint8)  # a flat scene texture (2x the frame)
    zoom_through(animatic, texture, View(0.0), scale, 160, 90)
    assert np.array_equal(edit, animatic)
    assert edit.max() == 180 and edit[0, 0].max() == 0


def test_paint_figure_draws_a_person_where_the_spec_says():
    look = read_look("a couple in a corridor")
    c = Canvas(np.zeros((200, 300, 3), np.uint8), look, np.random.default_rng(0))
    paint_figure(c, FigureSpec(x=150, foot=180, height=100, colour=(250, 10, 10)))
    ys, xs = np.nonzero(c.img[:, :, 0] > 100)
    assert ys.max() <= 180 and ys.min() >= 180 - 100                  # feet to head within the height
    assert abs(xs.mean() - 150) < 2 and xs.max() - xs.min() <= 0.25 * 100
