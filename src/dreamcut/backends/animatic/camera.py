"""The animatic's camera: one affine view per frame into a scene's Droste texture (pure).

A `Camera` (read from the words) becomes a path of `View`s over the whole take: an endless
forward zoom, a pan or tilt held at one zoom, an orbit's swing, a handheld shake. Because the
texture repeats itself at half size, the view's zoom wraps into [Z_MIN, 2 Z_MIN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dreamcut.backends.animatic.words import Camera

# The Droste texture is 2x the frame; the view's zoom stays in [Z_MIN, 2 Z_MIN) so there is
# margin for shake and rotation.
Z_MIN = 1.25


def smooth_noise(rng: np.random.Generator, n: int, fps: int, hz: float = 1.2) -> np.ndarray:
    """n samples of band-limited noise in [-1, 1] (handheld shake), deterministic in rng."""
    knots = max(2, int(n / max(1, fps) * hz) + 3)
    pts = rng.uniform(-1, 1, knots)
    x = np.linspace(0, knots - 1.001, n)
    i = x.astype(int)
    f = x - i
    f = f * f * (3 - 2 * f)
    return pts[i] * (1 - f) + pts[i + 1] * f


@dataclass
class View:
    """One frame's camera: log2 zoom, offsets (fractions of the frame), rotation in degrees."""

    log_zoom: float
    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0


def view_matrix(view: View, width: int, height: int, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    """The inverse map output->texture for `cv2.warpAffine(..., WARP_INVERSE_MAP)`.

    `scale` < 1 renders the view into a smaller window (the zoom-through portal). `shift` moves
    where each output pixel samples, in output pixels along both axes: a frame drawn at s times
    the take's size samples at (1 - s) / 2, the centre of the take's pixels that shrinking the
    take averages into that pixel (cv2 puts pixel centres on integer coordinates)."""
    z = Z_MIN * 2.0 ** (view.log_zoom % 1.0)
    k = 2.0 / z / scale  # texture pixels per output pixel
    a = math.radians(view.angle)
    ca, sa = math.cos(a) * k, math.sin(a) * k
    ow, oh = width * scale / 2.0, height * scale / 2.0
    tx = width + view.dx * width * 2.0 / z
    ty = height + view.dy * height * 2.0 / z
    tx += (ca - sa) * shift
    ty += (sa + ca) * shift
    return np.array([[ca, -sa, tx - ca * ow + sa * oh], [sa, ca, ty - sa * ow - ca * oh]], np.float32)


def camera_views(camera: Camera, n: int, fps: int, rng: np.random.Generator, start_log_zoom: float) -> list[View]:
    """The camera of each of the take's n frames."""
    t = np.arange(n, dtype=np.float64) / fps
    length = max(t[-1], 1e-6) if n else 1.0
    shake_x = smooth_noise(rng, n, fps) * camera.shake
    shake_y = smooth_noise(rng, n, fps) * camera.shake * 0.8
    shake_a = smooth_noise(rng, n, fps) * camera.shake * 40
    # An orbit is an arc: the view swings and banks around the centre and comes back.
    swing = np.sin(2 * np.pi * t / 8.0)
    # A tilt travels once over the take, eased at both ends (sky stays sky, ground stays ground).
    u = np.clip(t / length, 0, 1)
    ease = u * u * (3 - 2 * u)
    views = []
    for i in range(n):
        lz = start_log_zoom + camera.zoom * t[i]
        if camera.kind in ("pan_left", "pan_right", "tilt_up", "tilt_down", "static"):
            # A pan is a pan: no flying forward. Held at a zoom that leaves room to travel; a long
            # pan runs on past the texture's edge into its mirror image.
            lz = 0.8
        views.append(View(lz, dx=camera.pan * t[i] + 0.06 * swing[i] * (camera.turn > 0) + shake_x[i],
                           dy=camera.tilt * ease[i] + shake_y[i], angle=camera.turn * swing[i] + shake_a[i]))
    return views

