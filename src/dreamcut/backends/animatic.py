"""The animatic: honest, offline, free previz for timing an edit before money is spent.

It reads the prompt's words and draws a procedural scene from them — it is NOT a
generative model and must never be presented as AI output. Every take is labelled
ANIMATIC in its burned-in caption (when captions are on) and in the file's metadata.

What the words do (see `read_look` / `read_camera`, pure functions):
- time of day (dawn, noon, dusk, night, ...) -> sky, light level, stars or sun;
- named colours (red, teal, gold, ...) -> the accent palette of walls and objects;
- places (corridor, classroom, field, road, kitchen, porch, ...) -> indoor/outdoor and motifs
  (lockers, windows, ceiling lights, yard lines, trees, figures for people words);
- era words (1950s, 1980s, vintage, 35mm, black and white, ...) -> colour grade and grain;
- camera words (zoom, dolly, pan left/right, tilt, orbit, handheld, static, zoom out) -> camera
  motion. With no camera word the camera zooms forward forever.

The endless zoom: each scene is drawn once as a self-similar "Droste" texture (a room or a
landscape whose centre holds the whole picture at half size), so a zoom by 2x lands on the
same picture and the camera can fly forward for as long as the take lasts. Each frame is
one affine warp of that texture plus a few screen-space passes (vignette, flicker, grain
from precomputed tiles, caption). Scene segments each get their own texture; the change
between two segments is a zoom-through: the next scene grows out of the centre and covers
half the frame exactly at the written boundary time.

Previews (MiniClips, `request.preview`): the first `preview_frames` frames, drawn at a
fraction of the take's size (option `preview_scale`, default PREVIEW_SCALE, never narrower
than a contact-sheet cell) and encoded in-process with PyAV rather than by a new ffmpeg
process. Every random choice is keyed to the REQUESTED size, and the caption band is laid out
at that size and then shrunk, so a preview is its full take's first frames in miniature:
the same composition, camera, flicker, grain and caption, up to edges drawn small (compared
with the take's frames shrunk, about 30-35 dB PSNR). A preview costs a few hundredths of a
second; a full take's fixed costs (scene textures at full size, ffmpeg's start) would
otherwise dominate four frames.

Determinism: the pixels depend only on (prompt, seed, size, fps, seconds, segments, refs'
contents, and for a preview its scale). Randomness comes from numpy generators seeded with a
SHA-256 of those inputs; the encoders run with fixed thread counts, so decoding the same
request gives the same frames byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import math
import queue
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from dreamcut.backends._prompt import Draft, fit, paragraph_draft
from dreamcut.backends.base import Capabilities, GenerationRequest, LocalBackend, Progress, SceneSegment
from dreamcut.errors import BadInput
from dreamcut.media import FrameWriter, atomic_path

# -- the prompt ------------------------------------------------------------------------

PROMPT_CHARS = 8000  # our own limit (spec.MAX_PROMPT_CHARS)


def prompt_draft(request: GenerationRequest) -> Draft:
    """The animatic reads words, not sentences: one paragraph, as a local model reads it."""
    return paragraph_draft(request)


def format_prompt(request: GenerationRequest, max_chars: int = PROMPT_CHARS) -> str:
    """The shot's words as the director wrote them (`request.prompt`, with its style) when they fit;
    the scenes travel in `request.segments`."""
    if request.prompt and len(request.prompt) <= max_chars:
        return request.prompt
    return fit(prompt_draft(request), max_chars)


# Encoder settings, measured in benchmarks/bench_animatic.py: an animatic is previz, so speed
# matters more than bytes; a fixed thread count keeps the decoded frames identical across
# machines with different core counts.
ENCODER_ARGS = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "25", "-pix_fmt", "yuv420p", "-threads", "2")
# Previews go through PyAV's libx264 in this process: starting ffmpeg alone costs more than
# drawing and encoding four small frames. Same codec and preset as ENCODER_ARGS, a notch finer
# (each pixel of a small frame carries more of the picture); one thread, so deterministic.
PREVIEW_ENCODER_OPTIONS = {"preset": "ultrafast", "crf": "23", "threads": "1"}
# A preview is drawn at this fraction of the take's size (request option `preview_scale`)...
PREVIEW_SCALE = 0.25
# ...but never narrower than a contact sheet's cell (preview.py lays frames out 192 wide), so
# the sheet never enlarges a preview.
PREVIEW_MIN_WIDTH = 192
# Film grain is a few tiles of noise cycled in a seeded order.
GRAIN_TILES = 6

# A zoom-through between two segments: the next scene's window grows exponentially at this
# rate (per second, natural log), covering half the frame at the boundary.
THROUGH_RATE = 2.4
# The Droste texture is 2x the frame; the view's zoom stays in [Z_MIN, 2 Z_MIN) so there is
# margin for shake and rotation.
Z_MIN = 1.25

RGB = tuple[int, int, int]

# -- reading the prompt (pure) ----------------------------------------------------------

COLOURS: dict[str, RGB] = {
    "red": (200, 40, 40), "crimson": (170, 20, 50), "scarlet": (220, 40, 30), "orange": (240, 130, 30),
    "amber": (250, 170, 40), "yellow": (240, 210, 50), "gold": (220, 170, 60), "golden": (225, 175, 70),
    "green": (50, 150, 70), "emerald": (20, 140, 90), "olive": (110, 120, 50), "lime": (160, 220, 60),
    "teal": (30, 130, 130), "turquoise": (60, 200, 190), "cyan": (60, 200, 230), "blue": (40, 80, 200),
    "navy": (20, 30, 90), "azure": (70, 140, 230), "purple": (120, 50, 160), "violet": (140, 80, 200),
    "magenta": (210, 40, 160), "pink": (240, 140, 180), "rose": (220, 110, 130), "lavender": (180, 160, 220),
    "brown": (120, 80, 45), "tan": (200, 170, 120), "beige": (220, 205, 170), "cream": (240, 230, 200),
    "white": (235, 235, 230), "silver": (190, 195, 200), "grey": (128, 128, 128), "gray": (128, 128, 128),
    "black": (20, 20, 24), "neon": (255, 60, 200), "pastel": (230, 190, 210), "sepia": (160, 120, 80),
}

# time of day -> (sky top, horizon, ground, light level)
TIMES: dict[str, tuple[RGB, RGB, RGB, float]] = {
    "dawn": ((80, 90, 150), (250, 175, 150), (90, 80, 80), 0.75),
    "morning": ((110, 160, 220), (235, 220, 190), (110, 110, 90), 0.9),
    "noon": ((60, 135, 230), (200, 225, 250), (120, 130, 90), 1.0),
    "day": ((95, 150, 215), (215, 228, 238), (115, 120, 95), 0.92),
    "dusk": ((55, 40, 100), (250, 140, 60), (70, 55, 60), 0.62),
    "night": ((6, 8, 28), (30, 40, 85), (20, 22, 35), 0.35),
}
TIME_WORDS: dict[str, str] = {
    "dawn": "dawn", "sunrise": "dawn", "daybreak": "dawn", "morning": "morning", "breakfast": "morning",
    "noon": "noon", "midday": "noon", "summer": "noon", "afternoon": "day", "daylight": "day", "day": "day",
    "dusk": "dusk", "sunset": "dusk", "twilight": "dusk", "evening": "dusk", "golden hour": "dusk",
    "magic hour": "dusk", "autumn": "dusk", "night": "night", "midnight": "night", "moonlight": "night",
    "moonlit": "night", "stars": "night", "starry": "night", "neon": "night",
}

OUTDOOR_WORDS = ("field", "football", "stadium", "road", "highway", "street", "beach", "sea", "ocean", "lake",
                 "porch", "garden", "park", "sky", "desert", "forest", "mountain", "outside", "outdoor", "yard",
                 "meadow", "river", "bridge", "rooftop", "roof", "city", "drive", "trip", "countryside", "farm")
INDOOR_WORDS = ("corridor", "hallway", "hall", "classroom", "school", "kitchen", "apartment", "room", "bedroom",
                "church", "chapel", "office", "diner", "gym", "house", "home", "interior", "inside", "bar",
                "restaurant", "hospital", "library", "locker", "attic", "basement", "living room")

# motif -> trigger words
MOTIF_WORDS: dict[str, tuple[str, ...]] = {
    "lockers": ("locker", "corridor", "hallway", "school"),
    "windows": ("window", "classroom", "kitchen", "apartment", "office", "bedroom", "diner", "library"),
    "lights": ("light", "lamp", "neon", "corridor", "hallway", "stadium", "floodlight", "candle", "wedding",
               "church", "party", "dance"),
    "desks": ("classroom", "desk", "office", "library", "table", "kitchen", "diner"),
    "lines": ("field", "football", "stadium", "road", "highway", "street", "track", "drive", "trip"),
    "trees": ("tree", "forest", "garden", "park", "porch", "countryside", "yard", "meadow", "farm"),
    "water": ("sea", "ocean", "lake", "beach", "river", "pool"),
    "flowers": ("flower", "wedding", "garden", "bouquet", "spring", "confetti"),
    "figures": ("couple", "people", "man", "woman", "boy", "girl", "kid", "kids", "child", "children", "family",
                "friends", "crowd", "teenager", "teenagers", "student", "students", "bride", "groom", "they",
                "player", "players", "grandparents", "lovers"),
}

# era word -> grade: (lift RGB, gain RGB, gamma, saturation, grain sigma, vignette strength)
GRADES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], float, float, float, float]] = {
    "clean": ((0, 0, 0), (1.0, 1.0, 1.0), 1.0, 1.0, 0.0, 0.18),
    "1950s": ((22, 18, 12), (0.95, 0.88, 0.72), 1.05, 0.25, 7.0, 0.45),
    "1960s": ((18, 14, 10), (1.0, 0.93, 0.8), 1.02, 0.6, 6.0, 0.38),
    "1970s": ((20, 14, 4), (1.04, 0.95, 0.75), 0.95, 0.8, 5.5, 0.35),
    "1980s": ((24, 12, 20), (1.05, 0.94, 0.88), 0.95, 0.85, 5.0, 0.32),
    "1990s": ((10, 16, 14), (0.98, 1.0, 0.92), 1.0, 0.9, 3.5, 0.28),
    "vintage": ((20, 14, 10), (1.02, 0.95, 0.84), 0.97, 0.75, 5.0, 0.35),
    "mono": ((12, 12, 12), (0.95, 0.95, 0.95), 1.0, 0.0, 6.0, 0.4),
}
ERA_WORDS: list[tuple[str, str]] = [  # checked in order; the first hit wins
    ("black and white", "mono"), ("black-and-white", "mono"), ("monochrome", "mono"), ("b&w", "mono"),
    ("1940s", "1950s"), ("1950s", "1950s"), ("50s", "1950s"), ("1960s", "1960s"), ("60s", "1960s"),
    ("1970s", "1970s"), ("70s", "1970s"), ("1980s", "1980s"), ("80s", "1980s"), ("1990s", "1990s"),
    ("90s", "1990s"), ("super 8", "1970s"), ("vhs", "1990s"), ("vintage", "vintage"), ("retro", "vintage"),
    ("35mm", "vintage"), ("16mm", "vintage"), ("film", "vintage"), ("nostalgic", "vintage"),
    ("modern", "clean"), ("digital", "clean"), ("clean", "clean"), ("2020s", "clean"), ("2000s", "clean"),
]
GENERIC_ERA_WORDS = ("vintage", "retro", "35mm", "16mm", "film", "nostalgic")
GRAIN_WORDS = ("grain", "grainy", "film grain")

# camera word -> kind, checked in order (more specific phrases first)
CAMERA_WORDS: list[tuple[str, str]] = [
    ("zoom out", "zoom_out"), ("zooms out", "zoom_out"), ("zooming out", "zoom_out"), ("pull back", "zoom_out"), ("pulls back", "zoom_out"), ("dolly out", "zoom_out"),
    ("pan left", "pan_left"), ("pans left", "pan_left"), ("pan right", "pan_right"), ("pans right", "pan_right"),
    ("tilt up", "tilt_up"), ("tilts up", "tilt_up"), ("tilt down", "tilt_down"), ("tilts down", "tilt_down"),
    ("orbit", "orbit"), ("circles around", "orbit"), ("arc shot", "orbit"), ("handheld", "handheld"),
    ("hand-held", "handheld"), ("shaky", "handheld"), ("static", "static"), ("locked-off", "static"),
    ("locked off", "static"), ("still frame", "static"), ("tripod", "static"), ("pan", "pan_right"),
    ("tilt", "tilt_up"), ("dolly", "dolly"), ("push in", "dolly"), ("tracking", "dolly"), ("zoom", "zoom"),
]


@dataclass(frozen=True)
class Look:
    """What a scene looks like, read from its words."""

    time: str
    sky_top: RGB
    horizon: RGB
    ground: RGB
    light: float
    accents: tuple[RGB, ...]
    outdoor: bool
    motifs: frozenset[str]
    grade: str
    grain: float
    vignette: float


@dataclass(frozen=True)
class Camera:
    """How the camera moves: `zoom` in doublings per second (negative = zooming out), `pan` in
    frame widths per second, `tilt` in frame heights over the whole take, `turn` the orbit's
    swing in degrees, `shake` in fractions of the frame width."""

    kind: str
    zoom: float = 0.0
    pan: float = 0.0
    tilt: float = 0.0
    turn: float = 0.0
    shake: float = 0.0


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9&\-]+", " ", text.lower()) + " "


def _has(words: str, phrase: str) -> bool:
    return f" {phrase} " in words or (len(phrase) > 4 and f" {phrase}s " in words)


def _first_hit(words: str, table: list[tuple[str, str]]) -> str | None:
    """The table entry whose phrase appears earliest in the text (ties: table order)."""
    best: tuple[int, int, str] | None = None
    for order, (phrase, value) in enumerate(table):
        i = words.find(f" {phrase} ")
        if i < 0 and len(phrase) > 4:
            i = words.find(f" {phrase}s ")
        if i >= 0 and (best is None or (i, order) < best[:2]):
            best = (i, order, value)
    return best[2] if best else None


def read_look(text: str, context: str = "", ref_colours: tuple[RGB, ...] = ()) -> Look:
    """Read a scene's look from its own words; `context` (the whole prompt with its style)
    fills in what the scene's words leave open (era, grain, time of day)."""
    own, ctx = _words(text), _words(context)
    time = _first_hit(own, [(w, t) for w, t in TIME_WORDS.items()]) or \
        _first_hit(ctx, [(w, t) for w, t in TIME_WORDS.items()]) or "day"
    sky_top, horizon, ground, light = TIMES[time]
    accents = [COLOURS[w] for w in COLOURS if _has(own, w)] or [COLOURS[w] for w in COLOURS if _has(ctx, w)]
    accents = list(ref_colours) + accents
    outdoor_hits = sum(_has(own, w) for w in OUTDOOR_WORDS)
    indoor_hits = sum(_has(own, w) for w in INDOOR_WORDS)
    if outdoor_hits == indoor_hits == 0:
        outdoor_hits = sum(_has(ctx, w) for w in OUTDOOR_WORDS)
        indoor_hits = sum(_has(ctx, w) for w in INDOOR_WORDS)
    outdoor = outdoor_hits > indoor_hits
    motifs = {m for m, ws in MOTIF_WORDS.items() if any(_has(own, w) for w in ws)}
    if time == "night" and outdoor:
        motifs.add("stars")
    if outdoor and time in ("dawn", "dusk", "noon", "day", "morning"):
        motifs.add("sun")
    if outdoor and time == "night":
        motifs.add("moon")
    # A named decade beats a generic "vintage"/"film", wherever it is written.
    specific = [(w, g) for w, g in ERA_WORDS if w not in GENERIC_ERA_WORDS]
    generic = [(w, g) for w, g in ERA_WORDS if w in GENERIC_ERA_WORDS]
    grade = (_first_hit(own, specific) or _first_hit(ctx, specific) or _first_hit(own, generic)
             or _first_hit(ctx, generic) or "clean")
    g = GRADES[grade]
    grain = g[4]
    if any(_has(own, w) or _has(ctx, w) for w in GRAIN_WORDS):
        grain = max(grain, 5.0)
    if not accents:
        # No colour named: accents from the time of day, so two scenes still differ.
        accents = [horizon, tuple(int(c * 0.6) for c in sky_top), ground]  # type: ignore[misc]
    return Look(time=time, sky_top=sky_top, horizon=horizon, ground=ground, light=light,
                accents=tuple(tuple(int(c) for c in a) for a in accents[:6]),  # type: ignore[misc]
                outdoor=outdoor, motifs=frozenset(motifs), grade=grade, grain=grain, vignette=g[5])


def read_camera(text: str, context: str = "") -> Camera:
    """The camera move a scene asks for; the default is the endless forward zoom."""
    own, ctx = _words(text), _words(context)
    kind = _first_hit(own, CAMERA_WORDS) or _first_hit(ctx, CAMERA_WORDS) or "zoom"
    speed = 1.0
    if _has(own, "slow") or _has(own, "slowly") or _has(ctx, "slow"):
        speed = 0.5
    if any(_has(own, w) for w in ("fast", "rapid", "rapidly", "rushing", "racing", "hurtling")):
        speed = 2.0
    zoom = 1 / 3.0 * speed  # one doubling every 3 s: a steady glide forward
    return {
        "zoom": Camera("zoom", zoom=zoom),
        "dolly": Camera("dolly", zoom=zoom * 0.7, shake=0.002),
        "zoom_out": Camera("zoom_out", zoom=-zoom),
        "pan_left": Camera("pan_left", pan=-0.09 * speed),
        "pan_right": Camera("pan_right", pan=0.09 * speed),
        "tilt_up": Camera("tilt_up", tilt=-0.45 * min(speed, 1.2)),
        "tilt_down": Camera("tilt_down", tilt=0.45 * min(speed, 1.2)),
        "orbit": Camera("orbit", zoom=zoom * 0.4, turn=8.0),
        "handheld": Camera("handheld", zoom=zoom * 0.5, shake=0.012),
        "static": Camera("static"),
    }[kind]


# -- drawing a scene once (a Droste texture) -------------------------------------------


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _scale(c: RGB, k: float) -> RGB:
    return tuple(int(max(0, min(255, round(x * k)))) for x in c)  # type: ignore[return-value]


def _grade_lut(grade: str) -> np.ndarray:
    """A 256x3 lookup table for the era's lift / gain / gamma."""
    lift, gain, gamma, _, _, _ = GRADES[grade]
    x = np.arange(256, dtype=np.float32) / 255.0
    out = np.empty((256, 3), np.float32)
    for c in range(3):
        y = np.power(x, gamma) * gain[c]
        out[:, c] = lift[c] / 255.0 + y * (1 - lift[c] / 255.0)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def draw_scene(look: Look, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A self-similar RGB texture of 2*width x 2*height: its centre half is itself at half size."""
    import cv2

    tw, th = 2 * width, 2 * height
    cx, cy = tw / 2, th / 2
    img = np.zeros((th, tw, 3), np.uint8)
    acc = list(look.accents)
    pick = lambda i: acc[i % len(acc)]  # noqa: E731

    def rect_at(r: float) -> tuple[float, float, float, float]:
        """The frame of the nested picture at norm r (1 = outer border, 0.5 = inner copy)."""
        return cx - r * cx, cy - r * cy, cx + r * cx, cy + r * cy

    def poly(points, colour) -> None:
        pts = np.array([[int(round(x * 16)), int(round(y * 16))] for x, y in points], np.int32)
        cv2.fillConvexPoly(img, pts, colour, lineType=cv2.LINE_AA, shift=4)

    # Depth slices: r_k = 1 / (1 + k/n) walks from the outer border (k=0) to the inner copy (k=n).
    n = 4
    radii = [1.0 / (1.0 + k / n) for k in range(n + 1)]

    # 1. The sky (or ceiling) above the horizon, the ground (or floor) below: vertical gradients.
    ys = np.linspace(0, 1, th, dtype=np.float32)[:, None]
    top = np.array(look.sky_top if look.outdoor else _scale(_mix(look.sky_top, pick(1), 0.5), 0.7), np.float32)
    hor = np.array(look.horizon if look.outdoor else _mix(look.horizon, pick(0), 0.4), np.float32)
    gnd = np.array(_mix(look.ground, pick(2), 0.25 if look.outdoor else 0.45), np.float32)
    upper = top + (hor - top) * np.clip(ys / 0.5, 0, 1)
    lower = hor * 0.55 + gnd * 0.45 + (gnd * 0.6 - (hor * 0.55 + gnd * 0.45)) * np.clip((ys - 0.5) / 0.5, 0, 1)
    grad = np.where(ys < 0.5, upper, lower)
    img[:] = np.clip(grad[:, None, :], 0, 255).astype(np.uint8)

    x0, y0, x1, y1 = rect_at(1.0)
    i0, j0, i1, j1 = rect_at(0.5)
    if not look.outdoor:
        # Walls: two trapezoids from the outer border to the inner copy, shaded by depth.
        wall = _mix(pick(0), (200, 190, 170), 0.35)
        for k in range(n):
            ra, rb = radii[k], radii[k + 1]
            ax0, ay0, ax1, ay1 = rect_at(ra)
            bx0, by0, bx1, by1 = rect_at(rb)
            shade = 0.95 - 0.12 * k
            poly([(ax0, ay0), (bx0, by0), (bx0, by1), (ax0, ay1)], _scale(wall, shade))
            poly([(ax1, ay0), (bx1, by0), (bx1, by1), (ax1, ay1)], _scale(wall, shade * 0.85))
            # Floor and ceiling bands alternate so the depth reads.
            floor = _scale(gnd.astype(int).tolist(), 0.9 if k % 2 else 0.75)  # type: ignore[arg-type]
            poly([(ax0, ay1), (ax1, ay1), (bx1, by1), (bx0, by1)], floor)
            ceil = _scale(top.astype(int).tolist(), 1.05 if k % 2 else 0.9)  # type: ignore[arg-type]
            poly([(ax0, ay0), (ax1, ay0), (bx1, by0), (bx0, by0)], ceil)
    else:
        # Outdoors: converging edges of a path/field to the inner copy's bottom corners.
        poly([(x0 + 0.15 * tw, y1), (x1 - 0.15 * tw, y1), (i1 - 0.05 * tw, j1), (i0 + 0.05 * tw, j1)],
             _mix(look.ground, pick(0), 0.35))

    for k in range(n):
        ra, rb = radii[k], radii[k + 1]
        ax0, ay0, ax1, ay1 = rect_at(ra)
        bx0, by0, bx1, by1 = rect_at(rb)
        mid = (ra + rb) / 2
        if "lockers" in look.motifs and not look.outdoor:
            for side, (ox, bx) in enumerate(((ax0, bx0), (ax1, bx1))):
                ha, hb = ay1 - ay0, by1 - by0
                c = _scale(pick(k + side + 1), 0.9 - 0.1 * k)
                poly([(ox, ay0 + 0.30 * ha), (bx, by0 + 0.30 * hb), (bx, by0 + 0.92 * hb), (ox, ay0 + 0.92 * ha)], c)
        if "windows" in look.motifs:
            bright = _mix(look.horizon, (255, 250, 235), 0.5)
            for side, (ox, bx) in enumerate(((ax0, bx0), (ax1, bx1))):
                if look.outdoor:
                    break
                ha, hb = ay1 - ay0, by1 - by0
                fx = lambda f: ox + (bx - ox) * f  # noqa: E731
                fy = lambda f, y_top, h: y_top + f * h  # noqa: E731
                pa, pb = 0.2, 0.8
                poly([(fx(pa), fy(0.18, ay0 + (by0 - ay0) * pa, ha + (hb - ha) * pa)),
                      (fx(pb), fy(0.18, ay0 + (by0 - ay0) * pb, ha + (hb - ha) * pb)),
                      (fx(pb), fy(0.55, ay0 + (by0 - ay0) * pb, ha + (hb - ha) * pb)),
                      (fx(pa), fy(0.55, ay0 + (by0 - ay0) * pa, ha + (hb - ha) * pa))], bright)
        if "lights" in look.motifs:
            glow = (255, 245, 215) if look.time != "night" else _mix((255, 230, 170), pick(0), 0.3)
            w = (ax1 - ax0) * 0.08
            if look.outdoor:  # floodlights on poles
                for px in (ax0 + 0.04 * (ax1 - ax0), ax1 - 0.04 * (ax1 - ax0)):
                    cv2.circle(img, (int(px), int(ay0 + 0.12 * (ay1 - ay0))), max(2, int(w * 0.3)), glow, -1,
                               cv2.LINE_AA)
            else:
                yc = ay0 + (by0 - ay0) * 0.5
                poly([(cx - w, yc - w * 0.15), (cx + w, yc - w * 0.15), (cx + w * 0.8, yc + w * 0.15),
                      (cx - w * 0.8, yc + w * 0.15)], glow)
        if "desks" in look.motifs and not look.outdoor:
            yb = ay1 + (by1 - ay1) * 0.5
            half = (ax1 - ax0) * mid * 0.5
            for j in range(-2, 3):
                dx = j * half * 0.45
                dw = half * 0.16
                poly([(cx + dx - dw, yb - dw * 0.35), (cx + dx + dw, yb - dw * 0.35), (cx + dx + dw, yb),
                      (cx + dx - dw, yb)], _scale(pick(3 + j), 0.7))
        if "lines" in look.motifs:
            yl = ay1 + (by1 - ay1) * 0.5 if not look.outdoor else by1 + (ay1 - by1) * 0.0
            x_a = ax0 + (bx0 - ax0) * 0.5
            x_b = ax1 + (bx1 - ax1) * 0.5
            cv2.line(img, (int(x_a), int(yl)), (int(x_b), int(yl)), (235, 235, 225), max(1, int(th * 0.004 * mid)),
                     cv2.LINE_AA)
        if "trees" in look.motifs:
            for side, xx in enumerate((ax0 + (bx0 - ax0) * 0.3, ax1 + (bx1 - ax1) * 0.3)):
                hgt = (ay1 - ay0) * 0.45
                base = cy + (ay1 - cy) * 0.25
                trunk = max(2, int(tw * 0.006 * mid))
                cv2.rectangle(img, (int(xx - trunk), int(base - hgt * 0.4)), (int(xx + trunk), int(base)),
                              _scale(look.ground, 0.5), -1)
                leaf = _scale(_mix((40, 110, 50), pick(k + side), 0.3), look.light + 0.1)
                cv2.ellipse(img, (int(xx), int(base - hgt * 0.6)), (int(hgt * 0.22), int(hgt * 0.32)), 0, 0, 360,
                            leaf, -1, cv2.LINE_AA)
        if "flowers" in look.motifs:
            for _ in range(6):
                t = rng.random()
                xx = ax0 + (ax1 - ax0) * t
                yy = ay1 - (ay1 - by1) * rng.random() * 0.8
                cv2.circle(img, (int(xx), int(yy)), max(1, int(tw * 0.004 * mid)), pick(int(rng.integers(0, 6))), -1,
                           cv2.LINE_AA)

    if "water" in look.motifs:
        water = _mix((40, 90, 150), pick(0), 0.2)
        poly([(x0, y1), (x1, y1), (x1, cy + 0.02 * th), (x0, cy + 0.02 * th)], _scale(water, look.light + 0.1))
        for _ in range(40):
            yy = cy + 0.02 * th + rng.random() * (y1 - cy) * 0.95
            xx = rng.random() * tw
            ln = tw * 0.02 * (yy - cy) / cy
            cv2.line(img, (int(xx), int(yy)), (int(xx + ln), int(yy)), _mix(look.horizon, (255, 255, 255), 0.4), 1,
                     cv2.LINE_AA)
    if "stars" in look.motifs:
        for _ in range(140):
            xx, yy = rng.random() * tw, rng.random() * cy * 0.9
            if i0 < xx < i1 and j0 < yy < j1:
                continue
            v = int(150 + 105 * rng.random())
            cv2.circle(img, (int(xx), int(yy)), 1, (v, v, v), -1, cv2.LINE_AA)
    if "sun" in look.motifs or "moon" in look.motifs:
        colour = _mix(look.horizon, (255, 250, 220), 0.6) if "sun" in look.motifs else (225, 228, 240)
        side = -1 if rng.random() < 0.5 else 1
        sx = cx + side * (0.55 + 0.3 * rng.random()) * (cx - (i1 - cx)) + side * (i1 - cx)
        sx = min(max(sx, 0.04 * tw), 0.96 * tw)
        sy = (0.2 + 0.25 * rng.random()) * cy
        cv2.circle(img, (int(sx), int(sy)), int(th * 0.05), colour, -1, cv2.LINE_AA)

    if "figures" in look.motifs:
        # People stand on the floor, a couple side by side, at a seeded depth.
        k = int(rng.integers(0, n))
        r = (radii[k] + radii[k + 1]) / 2
        ax0, ay0, ax1, ay1 = rect_at(r)
        hgt = (ay1 - ay0) * 0.55
        foot = ay1 - (ay1 - ay0) * 0.04
        base_x = cx + (rng.random() - 0.5) * (ax1 - ax0) * 0.5
        for j in range(2):
            fx = base_x + (j - 0.5) * hgt * 0.32
            body = _scale(_mix((30, 28, 34), pick(j + 2), 0.35), 0.7)
            cv2.ellipse(img, (int(fx), int(foot - hgt * 0.38)), (int(hgt * 0.1), int(hgt * 0.34)), 0, 0, 360, body,
                        -1, cv2.LINE_AA)
            cv2.circle(img, (int(fx), int(foot - hgt * 0.84)), int(hgt * 0.085), body, -1, cv2.LINE_AA)

    # A doorway frame at the inner copy: the seam between two depths reads as a threshold.
    frame_c = _scale(_mix(pick(0), (40, 36, 32), 0.6), 0.8)
    t = max(2, int(th * 0.008))
    cv2.rectangle(img, (int(i0) - t, int(j0) - t), (int(i1) + t, int(j1) + t), frame_c, t, cv2.LINE_AA)

    # Light level, then the era's grade, applied once to the whole texture.
    light = np.float32(0.35 + 0.65 * look.light)
    img = cv2.convertScaleAbs(img, alpha=float(light))
    sat = GRADES[look.grade][3]
    if sat < 0.999:
        grey = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        img = cv2.addWeighted(img, sat, grey, 1 - sat, 0)
    lut = _grade_lut(look.grade)
    img = cv2.merge([cv2.LUT(img[:, :, c], lut[:, c]) for c in range(3)])
    img = cv2.GaussianBlur(img, (0, 0), max(0.6, tw / 2560))

    # The Droste fill: the centre half is the whole picture at half size, repeated inward.
    i0, j0 = int(round(cx - cx / 2)), int(round(cy - cy / 2))
    iw, ih = tw - 2 * i0, th - 2 * j0
    for _ in range(int(math.log2(max(tw, th))) + 1):
        small = cv2.resize(img, (iw, ih), interpolation=cv2.INTER_AREA)
        img[j0:j0 + ih, i0:i0 + iw] = small
    return img


# -- moving the camera (pure) -----------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, n: int, fps: int, hz: float = 1.2) -> np.ndarray:
    """n samples of band-limited noise in [-1, 1] (handheld shake), deterministic in rng."""
    knots = max(2, int(n / max(1, fps) * hz) + 3)
    pts = rng.uniform(-1, 1, knots)
    x = np.linspace(0, knots - 1.001, n)
    i = x.astype(int)
    f = x - i
    f = f * f * (3 - 2 * f)
    return pts[i] * (1 - f) + pts[i + 1] * f


@dataclass
class _View:
    """One frame's camera: log2 zoom, offsets (fractions of the frame), rotation in degrees."""

    log_zoom: float
    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0


def view_matrix(view: _View, width: int, height: int, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
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


def camera_views(camera: Camera, n: int, fps: int, rng: np.random.Generator, start_log_zoom: float) -> list[_View]:
    """The camera of each of the take's n frames."""
    t = np.arange(n, dtype=np.float64) / fps
    length = max(t[-1], 1e-6) if n else 1.0
    shake_x = _smooth_noise(rng, n, fps) * camera.shake
    shake_y = _smooth_noise(rng, n, fps) * camera.shake * 0.8
    shake_a = _smooth_noise(rng, n, fps) * camera.shake * 40
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
        views.append(_View(lz, dx=camera.pan * t[i] + 0.06 * swing[i] * (camera.turn > 0) + shake_x[i],
                           dy=camera.tilt * ease[i] + shake_y[i], angle=camera.turn * swing[i] + shake_a[i]))
    return views


# -- the zoom-through between segments (pure) ------------------------------------------


def portal_scale(t: float, boundary: float) -> float:
    """The next scene's window size (fraction of the frame) at take time t: half the frame's
    area (scale 1/sqrt(2)) exactly at the boundary, growing exponentially like a zoom."""
    return math.exp(THROUGH_RATE * (t - boundary)) / math.sqrt(2.0)


def portal_window(boundary: float, prev_start: float, next_end: float) -> tuple[float, float]:
    """When the portal opens (scale 0.04) and when it fills the frame (scale 1), clipped to the
    neighbouring segments so a short segment still shows itself."""
    opens = boundary - math.log(0.04 * math.sqrt(2.0)) / -THROUGH_RATE
    fills = boundary + math.log(math.sqrt(2.0)) / THROUGH_RATE
    return max(opens, (prev_start + boundary) / 2), min(fills, (boundary + next_end) / 2)


# -- overlays -------------------------------------------------------------------------


# The take's label is small (2.4 % of the height): a program overlay at render time carries
# the song timecode, bar.beat, section and shot; the label only names the take.
LABEL_SCALE = 0.024


def _font(size: int):
    from dreamcut.fonts import load_font

    return load_font(size)  # Unicode: accents and CJK in prompts draw as letters, not boxes


def _fit(draw, text: str, font, width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def caption_overlay(caption: str, segment: str | None, width: int, height: int) -> tuple[np.ndarray, np.ndarray, int]:
    """RGB and alpha (0..255) of the bottom caption band, and the band's top row.

    The band says ANIMATIC (previz, not AI output), the caption, and the current segment."""
    from PIL import Image, ImageDraw

    size = max(9, int(height * LABEL_SCALE))
    lines = 2 if segment else 1
    band_h = int(size * (1.5 * lines + 0.9))
    img = Image.new("RGBA", (width, band_h), (0, 0, 0, 150))
    draw = ImageDraw.Draw(img)
    font = _font(size)
    pad = int(size * 0.6)
    text = caption if "ANIMATIC" in caption.upper() else f"ANIMATIC  {caption}"
    room_for_timecode = 0 if segment else size * 6  # the running timecode sits at the band's bottom right
    draw.text((pad, pad * 0.7), _fit(draw, text, font, width - 2 * pad - room_for_timecode), font=font,
              fill=(255, 255, 255, 255))
    if segment:
        draw.text((pad, pad * 0.7 + size * 1.45), _fit(draw, segment, font, width - 2 * pad - size * 6), font=font,
                  fill=(255, 220, 140, 255))
    arr = np.asarray(img)
    return arr[:, :, :3].copy(), arr[:, :, 3].copy(), height - band_h


def _timecode_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Top-left corner of the running timecode at the band's right (x, y), and its size."""
    size = max(9, int(height * LABEL_SCALE))
    w = int(size * 5.2)
    return width - w - int(size * 0.6), height - int(size * 1.6), w, size


# -- the backend ----------------------------------------------------------------------


@dataclass
class AnimaticBackend(LocalBackend):
    """Offline previz renderer: free, deterministic, fast. See the module docstring."""

    name: str = "animatic"
    model: str | None = None
    encoder_args: tuple[str, ...] = field(default=ENCODER_ARGS, repr=False)

    def capabilities(self) -> Capabilities:
        return Capabilities(min_seconds=0.1, max_seconds=120.0, image_conditioning=True, max_prompt_chars=PROMPT_CHARS,
                            price_per_second=0.0, price_source="animatic: rendered on this machine, free",
                            local=True, preview_mode="frames")

    def problems(self, request: GenerationRequest) -> list[str]:
        out = super().problems(request)
        if request.width % 2 or request.height % 2 or min(request.width, request.height) < 16:
            out.append(f"{request.width}x{request.height} cannot be encoded as H.264 4:2:0: use even sizes of "
                       "at least 16 pixels")
        return out

    def render(self, request: GenerationRequest, dest: Path, progress: Progress | None = None) -> None:
        dest = Path(dest)
        bad = [p for p in self.problems(request) if "H.264" in p]
        if bad:
            raise BadInput(bad[0], where=request.shot_id, fix="set render.master to an even WxH, e.g. 1280x720")
        width, height = render_size(request)
        with atomic_path(dest) as tmp:
            meta = {"title": f"ANIMATIC {request.shot_id}",
                    "comment": "dreamcut animatic: procedural previz for timing an edit, not AI-generated footage"}
            if request.preview and _in_process_h264():
                _write_in_process(render_frames(request), tmp, width, height, request.fps, meta, progress,
                                  request.frame_count)
                return
            with FrameWriter(tmp, width, height, request.fps, codec_args=self.encoder_args,
                             metadata=meta, input_pix_fmt="yuv420p") as writer:
                _write_threaded(render_frames(request), writer, request.frame_count, progress)


def render_size(request: GenerationRequest) -> tuple[int, int]:
    """The size the frames are drawn and encoded at: the request's, or for a preview that times
    `preview_scale` (even, at least PREVIEW_MIN_WIDTH wide or the request's width if smaller)."""
    w, h = request.width, request.height
    if not request.preview:
        return w, h
    scale = request.option("preview_scale", PREVIEW_SCALE)
    if not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise BadInput(f"preview_scale {scale!r} is not a fraction of the take's size", where=request.shot_id,
                       fix="use a number in (0, 1], e.g. 0.25")
    rw = min(float(w), max(w * float(scale), float(PREVIEW_MIN_WIDTH)))
    even = lambda v: max(16, 2 * int(round(v / 2)))  # noqa: E731  (H.264 4:2:0 needs even sides)
    return min(w, even(rw)), min(h, even(rw * h / w))


@functools.lru_cache(maxsize=1)
def _in_process_h264() -> bool:
    """Whether this PyAV build can encode H.264 (its wheels bundle libx264); else ffmpeg does."""
    try:
        import av

        return "libx264" in av.codecs_available
    except ImportError:
        return False


def _write_in_process(frames, path: Path, width: int, height: int, fps: int, metadata: dict[str, str],
                      progress: Progress | None, total: int) -> None:
    """Encode a few frames to H.264 mp4 with PyAV (no ffmpeg process: its start would cost more
    than the frames). The same BT.601 conversion as the full take's, so colours match."""
    import av
    import cv2

    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        container.metadata.update(metadata)
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = dict(PREVIEW_ENCODER_OPTIONS)
        for i, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
            picture.pts = i
            container.mux(stream.encode(picture))
            if progress:
                progress((i + 1) / total)
        container.mux(stream.encode())


def _write_threaded(frames, writer: FrameWriter, total: int, progress: Progress | None) -> None:
    """Draw frames in this thread while another feeds the encoder (both release the GIL)."""
    import cv2

    q: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            while (frame := q.get()) is not None:
                if not failure:
                    # BT.601 limited range, as ffmpeg's own rgb24 -> yuv420p; done here, beside the
                    # drawing thread, rather than in the encoder's process.
                    writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420))
        except BaseException as e:  # noqa: BLE001 - handed to the drawing thread
            failure.append(e)
            while q.get() is not None:
                pass

    worker = threading.Thread(target=feed, daemon=True)
    worker.start()
    try:
        for i, frame in enumerate(frames):
            if failure:
                break
            q.put(frame)
            if progress and (i % 12 == 0 or i + 1 == total):
                progress((i + 1) / total)
    finally:
        q.put(None)
        worker.join()
    if failure:
        raise failure[0]


def _segments_of(request: GenerationRequest) -> list[SceneSegment]:
    segs = sorted(request.segments, key=lambda s: s.start)
    if not segs:
        return [SceneSegment(0.0, request.seconds, request.prompt)]
    if len(segs) == 1 and request.camera:  # a single scene's camera moves are words of that scene
        return [replace(segs[0], text=", ".join([segs[0].text, *request.camera]))]
    return segs


def _ref_colours(refs: tuple[str, ...]) -> tuple[RGB, ...]:
    """The dominant colours of the reference images (the animatic's image conditioning)."""
    import cv2

    out: list[RGB] = []
    for ref in refs:
        img = cv2.imread(ref, cv2.IMREAD_COLOR)
        if img is None:
            raise BadInput("reference image cannot be read", where=Path(ref).name,
                           fix="use a PNG or JPEG file in refs/")
        small = cv2.resize(img, (48, 48), interpolation=cv2.INTER_AREA)[:, :, ::-1].reshape(-1, 3).astype(np.int32)
        bins = (small // 64) @ np.array([16, 4, 1])
        counts = np.bincount(bins, minlength=64)
        for b in np.argsort(-counts, kind="stable")[:3]:
            if counts[b]:
                out.append(tuple(int(v) for v in small[bins == b].mean(axis=0)))  # type: ignore[arg-type]
    return tuple(out)


def render_frames(request: GenerationRequest):
    """Yield the take's frames (RGB uint8, rows x columns x 3 of `render_size(request)`: the
    request's size, smaller for a preview). Pure in the request."""
    import cv2

    w, h, fps = request.width, request.height, request.fps
    # Drawn at (rw, rh); every random choice below is keyed to the requested (w, h), so a small
    # preview shows the composition of its full take.
    rw, rh = render_size(request)
    small = (rw, rh) != (w, h)
    shift = (1.0 - rw / w) / 2.0  # see view_matrix: a small frame samples where the take's pixels centre
    n = request.frame_count
    # Camera paths, flicker and grain order are drawn for the whole take, so a preview's frames
    # are the take's first frames (exactly, when drawn at the take's size).
    n_take = max(n, int(round(request.seconds * fps)))
    segs = _segments_of(request)
    refs = _ref_colours(request.refs) if request.refs else ()
    key = (request.prompt, request.seed, w, h, fps, request.seconds,
           tuple((s.start, s.end, s.text) for s in segs), refs)

    looks = [read_look(s.text, request.prompt, refs) for s in segs]
    cams = [read_camera(s.text, request.prompt) for s in segs]
    textures: dict[int, np.ndarray] = {}

    def texture(i: int) -> np.ndarray:
        if i not in textures:
            for old in [k for k in textures if k < i - 1]:
                del textures[old]  # only the current and the next scene are ever on screen
            textures[i] = draw_scene(looks[i], rw, rh, _rng("scene", *key, i))
        return textures[i]

    # Each segment's camera path covers the whole take (cheap), so the next scene is already
    # moving when it appears in the portal.
    views = [camera_views(cams[i], n_take, fps, _rng("camera", *key, i), start_log_zoom=0.37 * i)
             for i in range(len(segs))]

    # Screen-space passes, computed once per look (not per frame): vignette, grain tiles.
    yy, xx = np.mgrid[0:rh, 0:rw].astype(np.float32)
    rr = ((xx + shift - rw / 2) / (rw / 2)) ** 2 + ((yy + shift - rh / 2) / (rh / 2)) ** 2
    # Flicker and the order of the grain tiles come from their own generator, so they do not
    # depend on the size drawn at: a preview flickers like its take.
    frng = _rng("flicker", *key)
    grain_order = frng.integers(0, GRAIN_TILES, n_take)
    flicker_noise = _smooth_noise(frng, n_take, fps, hz=6.0)
    unit_grain: dict[int, np.ndarray] = {}
    vignettes: dict[float, np.ndarray] = {}
    grains: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]] = {}

    def vignette(look: Look) -> np.ndarray:
        if look.vignette not in vignettes:
            v = np.clip(1.0 - look.vignette * 0.5 * rr, 0.3, 1.0)
            vignettes[look.vignette] = cv2.merge([np.clip(v * 255, 0, 255).astype(np.uint8)] * 3)
        return vignettes[look.vignette]

    def grain(look: Look, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Tile j of a look's film grain, as (add, subtract) images. Grain is clumpy: unit noise at
        half the take's size, enlarged; a few tiles cycled in a seeded order cost one add and one
        subtract per frame. Each tile has its own generator and is made when first shown, so a
        preview pays only for the tiles of its few frames -- and shows its take's grain, shrunk."""
        k = (look.grain, j)
        if k not in grains:
            if j not in unit_grain:
                unit_grain[j] = _rng("grain", *key, j).standard_normal((max(1, h // 2), max(1, w // 2)),
                                                                        dtype=np.float32)
            shrink = rw < w / 2
            big = np.rint(cv2.resize(unit_grain[j] * np.float32(look.grain), (rw, rh),
                                     interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
            grains[k] = (cv2.merge([np.clip(big, 0, 255).astype(np.uint8)] * 3),
                         cv2.merge([np.clip(-big, 0, 255).astype(np.uint8)] * 3))
        return grains[k]

    bands: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}  # premul, 1-alpha, top drawn, top laid out

    def band(i: int):
        if i not in bands:
            seg = segs[i]
            label = (f"[{seg.start:g}-{seg.end:g}s] {seg.text}" if len(segs) > 1 else None)
            rgb, alpha, top = caption_overlay(request.caption or "", label, w, h)
            if small:
                # Laid out at the take's size (where its text is legible and placed), then shrunk:
                # premultiplied RGB and transparency, linear quantities, so they shrink exactly.
                band_h = max(1, int(round((h - top) * rh / h)))
                premul = cv2.resize((rgb.astype(np.float32) * alpha[:, :, None]) / 255.0, (rw, band_h),
                                    interpolation=cv2.INTER_AREA)
                clear = cv2.resize((255 - alpha).astype(np.float32) / 255.0, (rw, band_h),
                                   interpolation=cv2.INTER_AREA)
                bands[i] = (premul, clear[:, :, None], rh - band_h, top)
            else:
                a = alpha.astype(np.uint16)[:, :, None]
                bands[i] = (rgb.astype(np.uint16) * a, (255 - a).astype(np.uint16), top, top)
        return bands[i]

    def small_band(i: int, stamp: str) -> tuple[np.ndarray, np.ndarray, int]:
        """A preview's caption band with its running timecode, drawn at the take's size and shrunk.
        The band under the timecode is plain (caption_overlay leaves it room), so drawing the
        shrunk text over the shrunk band is the take's frame in miniature."""
        premul, clear, top_small, top = band(i)
        ink = np.zeros((h - top, w), np.uint8)
        x, y, _, size = _timecode_box(w, h)
        cv2.putText(ink, stamp, (x, y + size - top), cv2.FONT_HERSHEY_SIMPLEX, size / 30.0, 255,
                    max(1, size // 14), cv2.LINE_AA)
        m = cv2.resize(ink, (rw, premul.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)[:, :, None]
        m /= 255.0
        # White text over the band, as the take draws it over its finished frame.
        return premul * (1 - m) + 255.0 * m, clear * (1 - m), top_small

    windows = []
    for i in range(len(segs) - 1):
        b = segs[i + 1].start
        windows.append(portal_window(b, segs[i].start, segs[i + 1].end))

    out = np.empty((rh, rw, 3), np.uint8)
    inv = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR
    for f in range(n):
        t = f / fps
        # Which scene fills the frame: the last one whose zoom-through has completed.
        cur = 0
        for i, (opens, fills) in enumerate(windows):
            if t >= fills:
                cur = i + 1
        view = views[cur][f]
        opening = cur < len(windows) and windows[cur][0] <= t < windows[cur][1]
        if opening:
            # The outer scene rushes forward with the portal (the camera flies through the doorway),
            # relative to the moment the portal opened so the camera does not jump.
            opens, boundary = windows[cur][0], segs[cur + 1].start
            rush = portal_scale(t, boundary) / portal_scale(opens, boundary)
            view = replace(view, log_zoom=view.log_zoom + math.log2(rush))
        cv2.warpAffine(texture(cur), view_matrix(view, rw, rh, shift=shift), (rw, rh), dst=out, flags=inv,
                       borderMode=cv2.BORDER_REFLECT_101)
        if opening:
            _zoom_through(out, texture(cur + 1), views[cur + 1][f], portal_scale(t, segs[cur + 1].start), rw, rh,
                          shift)
        look = looks[cur]
        flicker = 1.0 + (0.025 * float(flicker_noise[f]) if look.grade != "clean" else 0.0)
        frame = cv2.multiply(out, vignette(look), scale=flicker / 255.0)
        if look.grain > 0:
            pos, neg = grain(look, int(grain_order[f]))
            cv2.add(frame, pos, dst=frame)
            cv2.subtract(frame, neg, dst=frame)
        if request.caption is not None:
            shown = cur if not (cur < len(windows) and t >= segs[cur + 1].start) else cur + 1
            if small:
                premul, clear, top = small_band(shown, f"{t:6.2f}s")
                region = frame[top:]
                region[:] = np.clip(region * clear + premul + 0.5, 0, 255).astype(np.uint8)
            else:
                premul, inv_a, top, _ = band(shown)
                region = frame[top:]
                region[:] = ((region.astype(np.uint16) * inv_a + premul + 127) // 255).astype(np.uint8)
                x, y, _, size = _timecode_box(w, h)
                cv2.putText(frame, f"{t:6.2f}s", (x, y + size), cv2.FONT_HERSHEY_SIMPLEX, size / 30.0,
                            (255, 255, 255), max(1, size // 14), cv2.LINE_AA)
        yield frame


def _zoom_through(out: np.ndarray, nxt: np.ndarray, view: _View, s: float, w: int, h: int,
                  shift: float = 0.0) -> None:
    """Draw the next scene into a centred window of `s` times the frame, growing out of its middle."""
    import cv2

    if s >= 1.0:
        return
    pw, ph = max(2, int(round(w * s))), max(2, int(round(h * s)))
    x0, y0 = (w - pw) // 2, (h - ph) // 2
    m = view_matrix(view, w, h, scale=pw / w, shift=shift)
    inner = cv2.warpAffine(nxt, m, (pw, ph), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
    # A soft edge (a few percent of the window) so the portal reads as depth, not as a box.
    edge = max(1, int(min(pw, ph) * 0.06))
    alpha = np.ones((ph, pw), np.float32)
    ramp = np.minimum(np.arange(pw, dtype=np.float32), np.arange(pw, dtype=np.float32)[::-1]) / edge
    rampy = np.minimum(np.arange(ph, dtype=np.float32), np.arange(ph, dtype=np.float32)[::-1]) / edge
    alpha = np.clip(np.minimum(ramp[None, :], rampy[:, None]), 0, 1)[:, :, None]
    region = out[y0:y0 + ph, x0:x0 + pw]
    region[:] = (inner * alpha + region * (1 - alpha) + 0.5).astype(np.uint8)
