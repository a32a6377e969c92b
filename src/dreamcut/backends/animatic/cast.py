"""The cast in the animatic: each member of a take's cast drawn as the same figure in every shot.

A member's look is a pure function of its name (`figure_look`): a saturated colour and one of a
few head shapes, so the director sees who is where in the previz and recognises them from shot to
shot without any picture. A place (`kind: place`) stands as a tower, an object as a box, in its colour. Members stand side by side in the lower part of the frame, in the order
the shot names them, each with its name above the head; they breathe a little (a slow bob) so a
still frame is never mistaken for a frozen take.

Pure in (names, frame size, time); drawn in screen space after the camera and the screen passes, so
grain, flicker and the scene's grade never change a member's colour.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

SHAPES = ("round", "square", "triangle", "diamond")
FIGURE_HEIGHT = 0.42  # of the frame's height, feet to the top of the head
FEET = 0.93  # where the feet stand, as a share of the frame's height
BOB = 0.012  # the breathing bob, as a share of the figure's height


@dataclass(frozen=True)
class FigureLook:
    """What identifies a member on screen: its colour (RGB), head shape and build (body width / height)."""

    colour: tuple[int, int, int]
    shape: str
    build: float


def figure_look(name: str) -> FigureLook:
    """The member's look from its name alone (SHA-256, so the same name is the same figure anywhere)."""
    d = hashlib.sha256(name.strip().lower().encode()).digest()
    hue = d[0] / 256.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75 + 0.2 * d[1] / 255.0, 0.8 + 0.15 * d[2] / 255.0)
    return FigureLook((int(r * 255), int(g * 255), int(b * 255)), SHAPES[d[3] % len(SHAPES)], 0.16 + 0.1 * d[4] / 255.0)


@dataclass(frozen=True)
class Placed:
    """A member placed in the frame: its look, where its feet are (pixels) and its height (pixels)."""

    name: str
    look: FigureLook
    x: float
    foot: float
    height: float
    kind: str = "character"  # character (a person) | place (a landmark) | object (a box)


def place_cast(names: Sequence[str], width: int, height: int, kinds: Sequence[str] | None = None) -> list[Placed]:
    """Members side by side across the lower frame, in the order named (positions in pixels of `width`).
    A place stands taller than a person, an object smaller."""
    n = len(names)
    kinds = list(kinds) if kinds is not None else ["character"] * n
    scale = {"character": 1.0, "place": 1.25, "object": 0.5}
    return [Placed(name, figure_look(name), width * (i + 1) / (n + 1), FEET * height,
                   FIGURE_HEIGHT * height * scale.get(kind, 1.0), kind) for i, (name, kind) in enumerate(zip(names, kinds))]


def body_box(p: Placed, t: float = 0.0) -> tuple[int, int, int, int]:
    """The member's body (x0, y0, x1, y1) at time t: the region that shows its colour, inside the outline."""
    foot = p.foot - _bob(p, t)
    if p.kind != "character":  # a landmark's tower or an object's box: its middle
        half = p.height * (0.18 if p.kind == "place" else 0.45)
        return (int(p.x - half * 0.6), int(foot - p.height * 0.6), int(p.x + half * 0.6), int(foot - p.height * 0.15))
    half = p.height * p.look.build / 2  # the body is an ellipse: a box well inside it
    return (int(p.x - half * 0.6), int(foot - p.height * 0.5), int(p.x + half * 0.6), int(foot - p.height * 0.12))


def _bob(p: Placed, t: float) -> float:
    phase = (hashlib.sha256(p.name.encode()).digest()[5] / 255.0) * 2 * math.pi
    return BOB * p.height * (0.5 + 0.5 * math.sin(2 * math.pi * 0.5 * t + phase))


def paint_cast(frame: np.ndarray, placed: Sequence[Placed], t: float, scale: float = 1.0) -> None:
    """Draw the placed members into `frame` (RGB, in place) at time t. `scale`: drawn size / placed size
    (a preview is drawn small with the take's composition)."""
    for p in placed:
        colour = p.look.colour
        outline = (16, 16, 20)
        x, foot, hgt = p.x * scale, (p.foot - _bob(p, t)) * scale, p.height * scale
        if p.kind == "character":
            body_w, body_h = hgt * p.look.build, hgt * 0.62
            centre = (int(x), int(foot - body_h / 2))
            axes = (max(1, int(body_w / 2)), max(1, int(body_h / 2)))
            cv2.ellipse(frame, centre, (axes[0] + 2, axes[1] + 2), 0, 0, 360, outline, -1, cv2.LINE_AA)
            cv2.ellipse(frame, centre, axes, 0, 0, 360, colour, -1, cv2.LINE_AA)
            r = max(2, int(hgt * 0.13))
            hx, hy = int(x), int(foot - body_h - r * 1.1)
            _head(frame, p.look.shape, hx, hy, r + 2, outline)
            _head(frame, p.look.shape, hx, hy, r, colour)
            top = hy - r
        else:
            # a place: a tower with a roof of the member's shape; an object: a box with its shape on top
            half = hgt * (0.18 if p.kind == "place" else 0.45)
            body_top = foot - hgt * (0.75 if p.kind == "place" else 0.7)
            cv2.rectangle(frame, (int(x - half - 2), int(body_top - 2)), (int(x + half + 2), int(foot + 2)), outline, -1)
            cv2.rectangle(frame, (int(x - half), int(body_top)), (int(x + half), int(foot)), colour, -1)
            r = max(2, int(half * 0.9))
            _head(frame, p.look.shape, int(x), int(body_top - r), r + 2, outline)
            _head(frame, p.look.shape, int(x), int(body_top - r), r, colour)
            top = int(body_top - 2 * r)
        size = max(0.3, FIGURE_HEIGHT * frame.shape[0] / 260.0)  # one label size for every kind
        thick = max(1, int(round(size * 2)))
        (tw, th), _ = cv2.getTextSize(p.name, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
        org = (int(x - tw / 2), int(top - th * 0.6))
        cv2.putText(frame, p.name, org, cv2.FONT_HERSHEY_SIMPLEX, size, outline, thick + 2, cv2.LINE_AA)
        cv2.putText(frame, p.name, org, cv2.FONT_HERSHEY_SIMPLEX, size, (245, 245, 245), thick, cv2.LINE_AA)


def _head(frame: np.ndarray, shape: str, x: int, y: int, r: int, colour) -> None:
    if shape == "round":
        cv2.circle(frame, (x, y), r, colour, -1, cv2.LINE_AA)
    elif shape == "square":
        cv2.rectangle(frame, (x - r, y - r), (x + r, y + r), colour, -1, cv2.LINE_AA)
    else:
        pts = ([(x, y - r), (x + r, y + r), (x - r, y + r)] if shape == "triangle"
               else [(x, y - r), (x + r, y), (x, y + r), (x - r, y)])
        cv2.fillPoly(frame, [np.asarray(pts, np.int32)], colour, cv2.LINE_AA)
