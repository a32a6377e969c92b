"""The animatic's reading of a prompt: words -> a `Look` (time of day, palette, place, motifs,
era grade) and a `Camera` move. Pure functions over text; nothing here draws.

- time of day (dawn, noon, dusk, night, ...) -> sky, light level, stars or sun;
- named colours (red, teal, gold, ...) -> the accent palette of walls and objects;
- places (corridor, classroom, field, road, kitchen, porch, ...) -> indoor/outdoor and motifs
  (lockers, windows, ceiling lights, yard lines, trees, figures for people words);
- era words (1950s, 1980s, vintage, 35mm, black and white, ...) -> colour grade and grain;
- camera words (zoom, dolly, pan left/right, tilt, orbit, handheld, static, zoom out) -> camera
  motion. With no camera word the camera zooms forward forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RGB = tuple[int, int, int]

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

