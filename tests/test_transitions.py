"""Transitions: frame functions, zoom velocity measured by optical flow, zoom-through continuity (SSIM)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from dreamcut.edit import transitions as tr
from finishing_kit import zoom_frames

SIZE = (320, 180)


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (160, 90), interpolation=cv2.INTER_AREA)


def _ssims(frames: list[np.ndarray]) -> np.ndarray:
    g = [_grey(f) for f in frames]
    return np.array([structural_similarity(a, b, data_range=255) for a, b in zip(g, g[1:])])


@pytest.fixture(scope="module")
def shots():
    a = zoom_frames(11, 60, SIZE, 0.02)
    b = zoom_frames(12, 60, SIZE, 0.03)
    return a, b


def test_zoom_rate_measures_a_known_forward_zoom(shots):
    a, b = shots
    assert tr.zoom_rate(a[:8]) == pytest.approx(0.02, abs=0.006)
    assert tr.zoom_rate(b[:8]) == pytest.approx(0.03, abs=0.008)
    still = [a[0]] * 4
    assert abs(tr.zoom_rate(still)) < 0.003


@pytest.mark.parametrize("n", [12, 24])
def test_zoom_through_keeps_continuity_far_above_a_hard_cut(shots, n):
    a, b = shots
    cut_at = 20
    frames = tr.transition_frames("zoom", a[cut_at:cut_at + n], b[:n])
    assert len(frames) == n
    sequence = a[:cut_at] + frames + b[n:]
    s = _ssims(sequence)
    within = float(np.median(_ssims(a[:cut_at])))
    across = s[cut_at - 1: cut_at + n]          # every pair that touches the transition
    hard_cut = float(_ssims([a[cut_at - 1], b[0]])[0])
    assert within > 0.9
    assert hard_cut < 0.7
    assert across.min() >= within - 0.15, (within, across.round(3))
    assert across.min() >= hard_cut + 0.2


def test_zoom_through_speed_matches_both_sides(shots):
    a, b = shots
    n, cut_at = 24, 20
    frames = tr.transition_frames("zoom", a[cut_at:cut_at + n], b[:n])
    rate_a, rate_b = tr.zoom_rate(a[cut_at - 4:cut_at]), tr.zoom_rate(b[n:n + 4])
    # Velocity measured across each seam (last shot frames + first transition frames, and the reverse).
    into = tr.zoom_rate(a[cut_at - 2:cut_at] + frames[:2])
    out_of = tr.zoom_rate(frames[-2:] + b[n:n + 2])
    assert into == pytest.approx(rate_a, abs=0.012)
    assert out_of == pytest.approx(rate_b, abs=0.015)
    # ...and it keeps zooming forward in the middle (a zoom, not a dissolve).
    assert tr.zoom_rate(frames[n // 2 - 2: n // 2 + 2]) > max(rate_a, rate_b)


def test_zoom_plan_is_exponential_and_lands_on_the_full_frame():
    plan = tr.plan_zoom(24, 0.02, 0.03)
    assert plan.inset[0] == pytest.approx(np.exp(-0.045 * 24), rel=0.05)
    # the last frame is one step short of the full frame, and the incoming take is untouched by then
    assert plan.inset[-1] * np.exp(plan.rates[-1]) == pytest.approx(1.0, rel=1e-6)
    assert plan.b_zoom[-1] == pytest.approx(np.exp(0.03), rel=1e-6)
    steps = np.diff(np.log(plan.inset))
    cruise = steps[8:16]
    assert np.ptp(cruise) < 0.02 * cruise.mean() + 1e-9   # constant apparent speed while cruising
    assert plan.rates[0] == pytest.approx(0.02, abs=0.01) and plan.rates[-1] == pytest.approx(0.03, abs=0.01)


def test_simple_transitions_are_exact_at_their_ends(shots):
    a, b = shots
    assert np.array_equal(tr.dissolve(a[0], b[0], 0.0), a[0])
    assert np.array_equal(tr.dissolve(a[0], b[0], 1.0), b[0])
    assert tr.dip_to_black(a[0], b[0], 0.5).max() == 0
    mid = tr.dissolve(a[0], b[0], 0.5).astype(int)
    assert np.abs(mid - (a[0].astype(int) + b[0]) / 2).max() <= 1
    with pytest.raises(ValueError):
        tr.transition_frames("wipe", a[:4], b[:4])


def test_paste_centre_puts_the_inset_in_the_middle():
    base = np.zeros((180, 320, 3), np.uint8)
    inset = np.full((180, 320, 3), 200, np.uint8)
    out = tr.paste_centre(base, inset, 0.4)
    assert out[90, 160].min() >= 195          # centre: the inset
    assert out[5, 5].max() == 0               # corner: the base
    assert out[90, 160 + 70].min() < out[90, 160].min() + 1  # still inside
    full = tr.paste_centre(base, inset, 1.0)
    assert full.min() >= 195
