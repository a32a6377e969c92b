"""Painting one scene of the animatic, once, as a self-similar "Droste" texture.

A scene is a room or a landscape 2x the frame whose centre half holds the whole picture at half
size, so a 2x zoom lands on the same picture and the camera can fly forward for as long as the
take lasts (`camera.py` moves through it). `draw_scene` paints, in this order:

1. the backdrop: sky/ceiling and ground/floor gradients, walls (indoors) or a path (outdoors);
2. the depth-slice motifs, slice by slice from the outer border inward (`SLICE_PAINTERS`:
   lockers, windows, lights, desks, lines, trees, flowers): one painter per motif, each
   painting its motif into one depth slice;
3. the whole-scene motifs (`SCENE_PAINTERS`: water, stars, sun or moon, figures);
4. the threshold (a doorway frame at the inner copy), the light level and the era's grade,
   then the Droste fill.

People are drawn by `paint_figure` from a `FigureSpec` (where the feet are, how tall, what
colour): the `figures` motif places a couple with it, and anything else that puts a person in
a scene (a cast member, say) should describe them as a `FigureSpec` and paint them the same way.

Every random choice comes from the one generator handed to `draw_scene`, in painting order, so
the texture depends only on (look, size, seed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from dreamcut.backends.animatic.words import GRADES, RGB, Look

#: depth slices between the outer border and the inner copy: r_k = 1 / (1 + k/n)
DEPTH_SLICES = 4


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _scale(c: RGB, k: float) -> RGB:
    return tuple(int(max(0, min(255, round(x * k)))) for x in c)  # type: ignore[return-value]


Rect = tuple[float, float, float, float]


@dataclass
class Canvas:
    """A scene texture being painted (2*width x 2*height) and the geometry of its nested picture."""

    img: np.ndarray
    look: Look
    rng: np.random.Generator

    @property
    def tw(self) -> int:
        return self.img.shape[1]

    @property
    def th(self) -> int:
        return self.img.shape[0]

    @property
    def cx(self) -> float:
        return self.tw / 2

    @property
    def cy(self) -> float:
        return self.th / 2

    @property
    def radii(self) -> list[float]:
        """Depth slices: r_k walks from the outer border (k=0) to the inner copy (k=DEPTH_SLICES)."""
        n = DEPTH_SLICES
        return [1.0 / (1.0 + k / n) for k in range(n + 1)]

    def pick(self, i: int) -> RGB:
        """Accent colour i of the look's palette (cycled)."""
        acc = self.look.accents
        return acc[i % len(acc)]

    def rect_at(self, r: float) -> Rect:
        """The frame of the nested picture at norm r (1 = outer border, 0.5 = inner copy)."""
        cx, cy = self.cx, self.cy
        return cx - r * cx, cy - r * cy, cx + r * cx, cy + r * cy

    def poly(self, points, colour: RGB) -> None:
        """A filled, anti-aliased convex polygon (sub-pixel corners)."""
        pts = np.array([[int(round(x * 16)), int(round(y * 16))] for x, y in points], np.int32)
        cv2.fillConvexPoly(self.img, pts, colour, lineType=cv2.LINE_AA, shift=4)


@dataclass(frozen=True)
class Slice:
    """Depth slice k: its outer rectangle `a`, inner rectangle `b`, and its middle norm."""

    k: int
    a: Rect
    b: Rect
    mid: float


def slices(c: Canvas) -> list[Slice]:
    radii = c.radii
    return [Slice(k, c.rect_at(radii[k]), c.rect_at(radii[k + 1]), (radii[k] + radii[k + 1]) / 2)
            for k in range(DEPTH_SLICES)]


# -- 1. the backdrop ------------------------------------------------------------------------


def paint_backdrop(c: Canvas) -> None:
    """Sky (or ceiling) above the horizon, ground (or floor) below; walls indoors, a path outdoors."""
    look, th, tw = c.look, c.th, c.tw
    ys = np.linspace(0, 1, th, dtype=np.float32)[:, None]
    top = np.array(look.sky_top if look.outdoor else _scale(_mix(look.sky_top, c.pick(1), 0.5), 0.7), np.float32)
    hor = np.array(look.horizon if look.outdoor else _mix(look.horizon, c.pick(0), 0.4), np.float32)
    gnd = np.array(_mix(look.ground, c.pick(2), 0.25 if look.outdoor else 0.45), np.float32)
    upper = top + (hor - top) * np.clip(ys / 0.5, 0, 1)
    lower = hor * 0.55 + gnd * 0.45 + (gnd * 0.6 - (hor * 0.55 + gnd * 0.45)) * np.clip((ys - 0.5) / 0.5, 0, 1)
    grad = np.where(ys < 0.5, upper, lower)
    c.img[:] = np.clip(grad[:, None, :], 0, 255).astype(np.uint8)

    if not look.outdoor:
        # Walls: two trapezoids from the outer border to the inner copy, shaded by depth.
        wall = _mix(c.pick(0), (200, 190, 170), 0.35)
        for s in slices(c):
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1), k = s.a, s.b, s.k
            shade = 0.95 - 0.12 * k
            c.poly([(ax0, ay0), (bx0, by0), (bx0, by1), (ax0, ay1)], _scale(wall, shade))
            c.poly([(ax1, ay0), (bx1, by0), (bx1, by1), (ax1, ay1)], _scale(wall, shade * 0.85))
            # Floor and ceiling bands alternate so the depth reads.
            floor = _scale(gnd.astype(int).tolist(), 0.9 if k % 2 else 0.75)  # type: ignore[arg-type]
            c.poly([(ax0, ay1), (ax1, ay1), (bx1, by1), (bx0, by1)], floor)
            ceil = _scale(top.astype(int).tolist(), 1.05 if k % 2 else 0.9)  # type: ignore[arg-type]
            c.poly([(ax0, ay0), (ax1, ay0), (bx1, by0), (bx0, by0)], ceil)
    else:
        # Outdoors: converging edges of a path/field to the inner copy's bottom corners.
        x0, _, x1, y1 = c.rect_at(1.0)
        i0, _, i1, j1 = c.rect_at(0.5)
        c.poly([(x0 + 0.15 * tw, y1), (x1 - 0.15 * tw, y1), (i1 - 0.05 * tw, j1), (i0 + 0.05 * tw, j1)],
               _mix(look.ground, c.pick(0), 0.35))


# -- 2. motifs painted slice by slice -----------------------------------------------------------


def paint_lockers(c: Canvas, s: Slice) -> None:
    if c.look.outdoor:
        return
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = s.a, s.b
    for side, (ox, bx) in enumerate(((ax0, bx0), (ax1, bx1))):
        ha, hb = ay1 - ay0, by1 - by0
        colour = _scale(c.pick(s.k + side + 1), 0.9 - 0.1 * s.k)
        c.poly([(ox, ay0 + 0.30 * ha), (bx, by0 + 0.30 * hb), (bx, by0 + 0.92 * hb), (ox, ay0 + 0.92 * ha)], colour)


def paint_windows(c: Canvas, s: Slice) -> None:
    if c.look.outdoor:
        return
    bright = _mix(c.look.horizon, (255, 250, 235), 0.5)
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = s.a, s.b
    ha, hb = ay1 - ay0, by1 - by0
    for ox, bx in ((ax0, bx0), (ax1, bx1)):
        def at(p: float, f: float) -> tuple[float, float]:
            """A point p of the way along the wall, f of the way down it."""
            return ox + (bx - ox) * p, ay0 + (by0 - ay0) * p + f * (ha + (hb - ha) * p)

        pa, pb = 0.2, 0.8
        c.poly([at(pa, 0.18), at(pb, 0.18), at(pb, 0.55), at(pa, 0.55)], bright)


def paint_lights(c: Canvas, s: Slice) -> None:
    look = c.look
    glow = (255, 245, 215) if look.time != "night" else _mix((255, 230, 170), c.pick(0), 0.3)
    (ax0, ay0, ax1, ay1), (_, by0, _, _) = s.a, s.b
    w = (ax1 - ax0) * 0.08
    if look.outdoor:  # floodlights on poles
        for px in (ax0 + 0.04 * (ax1 - ax0), ax1 - 0.04 * (ax1 - ax0)):
            cv2.circle(c.img, (int(px), int(ay0 + 0.12 * (ay1 - ay0))), max(2, int(w * 0.3)), glow, -1, cv2.LINE_AA)
    else:  # a ceiling light down the middle
        cx = c.cx
        yc = ay0 + (by0 - ay0) * 0.5
        c.poly([(cx - w, yc - w * 0.15), (cx + w, yc - w * 0.15), (cx + w * 0.8, yc + w * 0.15),
                (cx - w * 0.8, yc + w * 0.15)], glow)


def paint_desks(c: Canvas, s: Slice) -> None:
    if c.look.outdoor:
        return
    (ax0, _, ax1, ay1), (_, _, _, by1) = s.a, s.b
    cx = c.cx
    yb = ay1 + (by1 - ay1) * 0.5
    half = (ax1 - ax0) * s.mid * 0.5
    for j in range(-2, 3):
        dx = j * half * 0.45
        dw = half * 0.16
        c.poly([(cx + dx - dw, yb - dw * 0.35), (cx + dx + dw, yb - dw * 0.35), (cx + dx + dw, yb), (cx + dx - dw, yb)],
               _scale(c.pick(3 + j), 0.7))


def paint_lines(c: Canvas, s: Slice) -> None:
    """Yard lines across the floor or field."""
    (ax0, _, ax1, ay1), (bx0, _, bx1, by1) = s.a, s.b
    yl = ay1 + (by1 - ay1) * 0.5 if not c.look.outdoor else by1
    x_a = ax0 + (bx0 - ax0) * 0.5
    x_b = ax1 + (bx1 - ax1) * 0.5
    cv2.line(c.img, (int(x_a), int(yl)), (int(x_b), int(yl)), (235, 235, 225), max(1, int(c.th * 0.004 * s.mid)),
             cv2.LINE_AA)


def paint_trees(c: Canvas, s: Slice) -> None:
    look = c.look
    (ax0, ay0, ax1, ay1), (bx0, _, bx1, _) = s.a, s.b
    for side, xx in enumerate((ax0 + (bx0 - ax0) * 0.3, ax1 + (bx1 - ax1) * 0.3)):
        hgt = (ay1 - ay0) * 0.45
        base = c.cy + (ay1 - c.cy) * 0.25
        trunk = max(2, int(c.tw * 0.006 * s.mid))
        cv2.rectangle(c.img, (int(xx - trunk), int(base - hgt * 0.4)), (int(xx + trunk), int(base)),
                      _scale(look.ground, 0.5), -1)
        leaf = _scale(_mix((40, 110, 50), c.pick(s.k + side), 0.3), look.light + 0.1)
        cv2.ellipse(c.img, (int(xx), int(base - hgt * 0.6)), (int(hgt * 0.22), int(hgt * 0.32)), 0, 0, 360,
                    leaf, -1, cv2.LINE_AA)


def paint_flowers(c: Canvas, s: Slice) -> None:
    (ax0, _, ax1, ay1), (_, _, _, by1) = s.a, s.b
    rng = c.rng
    for _ in range(6):
        t = rng.random()
        xx = ax0 + (ax1 - ax0) * t
        yy = ay1 - (ay1 - by1) * rng.random() * 0.8
        cv2.circle(c.img, (int(xx), int(yy)), max(1, int(c.tw * 0.004 * s.mid)), c.pick(int(rng.integers(0, 6))), -1,
                   cv2.LINE_AA)


#: motif -> its painter for one depth slice, in painting order (within each slice)
SLICE_PAINTERS: dict[str, Callable[[Canvas, Slice], None]] = {
    "lockers": paint_lockers, "windows": paint_windows, "lights": paint_lights, "desks": paint_desks,
    "lines": paint_lines, "trees": paint_trees, "flowers": paint_flowers,
}


# -- 3. motifs painted once per scene ---------------------------------------------------------


def paint_water(c: Canvas) -> None:
    look, rng, cy, tw, th = c.look, c.rng, c.cy, c.tw, c.th
    x0, _, x1, y1 = c.rect_at(1.0)
    water = _mix((40, 90, 150), c.pick(0), 0.2)
    c.poly([(x0, y1), (x1, y1), (x1, cy + 0.02 * th), (x0, cy + 0.02 * th)], _scale(water, look.light + 0.1))
    for _ in range(40):
        yy = cy + 0.02 * th + rng.random() * (y1 - cy) * 0.95
        xx = rng.random() * tw
        ln = tw * 0.02 * (yy - cy) / cy
        cv2.line(c.img, (int(xx), int(yy)), (int(xx + ln), int(yy)), _mix(look.horizon, (255, 255, 255), 0.4), 1,
                 cv2.LINE_AA)


def paint_stars(c: Canvas) -> None:
    i0, j0, i1, j1 = c.rect_at(0.5)
    rng = c.rng
    for _ in range(140):
        xx, yy = rng.random() * c.tw, rng.random() * c.cy * 0.9
        if i0 < xx < i1 and j0 < yy < j1:
            continue  # the inner copy has its own stars
        v = int(150 + 105 * rng.random())
        cv2.circle(c.img, (int(xx), int(yy)), 1, (v, v, v), -1, cv2.LINE_AA)


def paint_sun_or_moon(c: Canvas) -> None:
    look, rng, cx, cy = c.look, c.rng, c.cx, c.cy
    _, _, i1, _ = c.rect_at(0.5)
    colour = _mix(look.horizon, (255, 250, 220), 0.6) if "sun" in look.motifs else (225, 228, 240)
    side = -1 if rng.random() < 0.5 else 1
    sx = cx + side * (0.55 + 0.3 * rng.random()) * (cx - (i1 - cx)) + side * (i1 - cx)
    sx = min(max(sx, 0.04 * c.tw), 0.96 * c.tw)
    sy = (0.2 + 0.25 * rng.random()) * cy
    cv2.circle(c.img, (int(sx), int(sy)), int(c.th * 0.05), colour, -1, cv2.LINE_AA)


@dataclass(frozen=True)
class FigureSpec:
    """One standing person in a scene texture: feet at (x, foot), `height` from feet to the top of
    the head (texture pixels), painted in `colour`."""

    x: float
    foot: float
    height: float
    colour: RGB


def paint_figure(c: Canvas, fig: FigureSpec) -> None:
    """A person: a body and a head, anti-aliased, in the figure's colour."""
    x, foot, hgt = fig.x, fig.foot, fig.height
    cv2.ellipse(c.img, (int(x), int(foot - hgt * 0.38)), (int(hgt * 0.1), int(hgt * 0.34)), 0, 0, 360, fig.colour,
                -1, cv2.LINE_AA)
    cv2.circle(c.img, (int(x), int(foot - hgt * 0.84)), int(hgt * 0.085), fig.colour, -1, cv2.LINE_AA)


def couple_at_seeded_depth(c: Canvas) -> list[FigureSpec]:
    """The `figures` motif: two people side by side standing on the floor, at a seeded depth."""
    rng, radii = c.rng, c.radii
    k = int(rng.integers(0, DEPTH_SLICES))
    ax0, ay0, ax1, ay1 = c.rect_at((radii[k] + radii[k + 1]) / 2)
    hgt = (ay1 - ay0) * 0.55
    foot = ay1 - (ay1 - ay0) * 0.04
    base_x = c.cx + (rng.random() - 0.5) * (ax1 - ax0) * 0.5
    return [FigureSpec(x=base_x + (j - 0.5) * hgt * 0.32, foot=foot, height=hgt,
                       colour=_scale(_mix((30, 28, 34), c.pick(j + 2), 0.35), 0.7)) for j in range(2)]


def paint_figures(c: Canvas) -> None:
    for fig in couple_at_seeded_depth(c):
        paint_figure(c, fig)


#: (motifs that call for it, painter), in painting order
SCENE_PAINTERS: list[tuple[frozenset[str], Callable[[Canvas], None]]] = [
    (frozenset({"water"}), paint_water),
    (frozenset({"stars"}), paint_stars),
    (frozenset({"sun", "moon"}), paint_sun_or_moon),
    (frozenset({"figures"}), paint_figures),
]


# -- 4. threshold, grade, Droste fill -------------------------------------------------------------


def paint_threshold(c: Canvas) -> None:
    """A doorway frame at the inner copy: the seam between two depths reads as a threshold."""
    i0, j0, i1, j1 = c.rect_at(0.5)
    frame_c = _scale(_mix(c.pick(0), (40, 36, 32), 0.6), 0.8)
    t = max(2, int(c.th * 0.008))
    cv2.rectangle(c.img, (int(i0) - t, int(j0) - t), (int(i1) + t, int(j1) + t), frame_c, t, cv2.LINE_AA)


def _grade_lut(grade: str) -> np.ndarray:
    """A 256x3 lookup table for the era's lift / gain / gamma."""
    lift, gain, gamma, _, _, _ = GRADES[grade]
    x = np.arange(256, dtype=np.float32) / 255.0
    out = np.empty((256, 3), np.float32)
    for ch in range(3):
        y = np.power(x, gamma) * gain[ch]
        out[:, ch] = lift[ch] / 255.0 + y * (1 - lift[ch] / 255.0)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def light_and_grade(img: np.ndarray, look: Look) -> np.ndarray:
    """The light level, then the era's saturation and lift/gain/gamma, then a slight softening."""
    light = np.float32(0.35 + 0.65 * look.light)
    img = cv2.convertScaleAbs(img, alpha=float(light))
    sat = GRADES[look.grade][3]
    if sat < 0.999:
        grey = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        img = cv2.addWeighted(img, sat, grey, 1 - sat, 0)
    lut = _grade_lut(look.grade)
    img = cv2.merge([cv2.LUT(img[:, :, ch], lut[:, ch]) for ch in range(3)])
    return cv2.GaussianBlur(img, (0, 0), max(0.6, img.shape[1] / 2560))


def droste_fill(img: np.ndarray) -> np.ndarray:
    """The centre half becomes the whole picture at half size, repeated inward (in place)."""
    th, tw = img.shape[:2]
    cx, cy = tw / 2, th / 2
    i0, j0 = int(round(cx - cx / 2)), int(round(cy - cy / 2))
    iw, ih = tw - 2 * i0, th - 2 * j0
    for _ in range(int(math.log2(max(tw, th))) + 1):
        img[j0:j0 + ih, i0:i0 + iw] = cv2.resize(img, (iw, ih), interpolation=cv2.INTER_AREA)
    return img


def draw_scene(look: Look, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A self-similar RGB texture of 2*width x 2*height: its centre half is itself at half size."""
    c = Canvas(np.zeros((2 * height, 2 * width, 3), np.uint8), look, rng)
    paint_backdrop(c)
    painters = [p for motif, p in SLICE_PAINTERS.items() if motif in look.motifs]
    for s in slices(c):
        for paint in painters:
            paint(c, s)
    for motifs, paint_once in SCENE_PAINTERS:
        if motifs & look.motifs:
            paint_once(c)
    paint_threshold(c)
    return droste_fill(light_and_grade(c.img, look))
