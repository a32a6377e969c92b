"""The animatic's frames: a take's scenes, camera, portal, screen passes and label, frame by frame.

`render_frames(request)` is pure in the request. What is fixed for the whole take (the scenes'
looks and cameras, the camera paths, flicker and grain order, the portal windows) is worked out
once in `TakeFrames`; textures, vignettes, grain tiles and caption bands are made when first
shown and kept while they can be shown again. Each frame is then one affine warp of the current
scene's texture, the next scene's portal when one is opening, and a few screen-space passes.

Previews are drawn at a fraction of the take's size (`render_size`), but every random choice is
keyed to the REQUESTED size and the whole take's length, so a preview's frames are its take's
first frames in miniature.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from dreamcut.backends.animatic.camera import smooth_noise, camera_views, view_matrix
from dreamcut.backends.animatic.cast import paint_cast, place_cast
from dreamcut.backends.animatic.overlay import CaptionBands
from dreamcut.backends.animatic.paint import draw_scene
from dreamcut.backends.animatic.portal import portal_scale, portal_window, zoom_through
from dreamcut.backends.animatic.words import RGB, Look, read_camera, read_look
from dreamcut.backends.base import GenerationRequest, SceneSegment
from dreamcut.errors import BadInput

# A preview is drawn at this fraction of the take's size (request option `preview_scale`)...
PREVIEW_SCALE = 0.25
# ...but never narrower than a contact sheet's cell (preview.py lays frames out 192 wide), so
# the sheet never enlarges a preview.
PREVIEW_MIN_WIDTH = 192
# Film grain is a few tiles of noise cycled in a seeded order.
GRAIN_TILES = 6


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


def seeded(*parts: object) -> np.random.Generator:
    """A numpy generator seeded with a SHA-256 of `parts` (the same parts, the same numbers)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def segments_of(request: GenerationRequest) -> list[SceneSegment]:
    """The take's scenes in time order (the whole prompt as one scene when none are written)."""
    segs = sorted(request.segments, key=lambda s: s.start)
    if not segs:
        return [SceneSegment(0.0, request.seconds, request.prompt)]
    if len(segs) == 1 and request.camera:  # a single scene's camera moves are words of that scene
        return [replace(segs[0], text=", ".join([segs[0].text, *request.camera]))]
    return segs


def ref_colours(refs: tuple[str, ...]) -> tuple[RGB, ...]:
    """The dominant colours of the reference images (the animatic's image conditioning)."""
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


class ScreenPasses:
    """The screen-space passes after the warp: vignette, flicker and film grain.

    Vignettes are made once per look, grain tiles when first shown. Flicker and the order of the
    grain tiles come from their own generator over the whole take, so they do not depend on the
    size drawn at: a preview flickers like its take."""

    def __init__(self, key: tuple, take_size: tuple[int, int], drawn_size: tuple[int, int], shift: float,
                 n_take: int, fps: int) -> None:
        (self.w, self.h), (self.rw, self.rh) = take_size, drawn_size
        self.key = key
        rw, rh = drawn_size
        yy, xx = np.mgrid[0:rh, 0:rw].astype(np.float32)
        self.rr = ((xx + shift - rw / 2) / (rw / 2)) ** 2 + ((yy + shift - rh / 2) / (rh / 2)) ** 2
        frng = seeded("flicker", *key)
        self.grain_order = frng.integers(0, GRAIN_TILES, n_take)
        self.flicker_noise = smooth_noise(frng, n_take, fps, hz=6.0)
        self._unit_grain: dict[int, np.ndarray] = {}
        self._vignettes: dict[float, np.ndarray] = {}
        self._grains: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]] = {}

    def vignette(self, look: Look) -> np.ndarray:
        if look.vignette not in self._vignettes:
            v = np.clip(1.0 - look.vignette * 0.5 * self.rr, 0.3, 1.0)
            self._vignettes[look.vignette] = cv2.merge([np.clip(v * 255, 0, 255).astype(np.uint8)] * 3)
        return self._vignettes[look.vignette]

    def grain(self, look: Look, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Tile j of a look's film grain, as (add, subtract) images. Grain is clumpy: unit noise at
        half the take's size, enlarged; a few tiles cycled in a seeded order cost one add and one
        subtract per frame. Each tile has its own generator and is made when first shown, so a
        preview pays only for the tiles of its few frames -- and shows its take's grain, shrunk."""
        k = (look.grain, j)
        if k not in self._grains:
            w, h, rw, rh = self.w, self.h, self.rw, self.rh
            if j not in self._unit_grain:
                self._unit_grain[j] = seeded("grain", *self.key, j).standard_normal((max(1, h // 2), max(1, w // 2)),
                                                                                    dtype=np.float32)
            shrink = rw < w / 2
            big = np.rint(cv2.resize(self._unit_grain[j] * np.float32(look.grain), (rw, rh),
                                     interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
            self._grains[k] = (cv2.merge([np.clip(big, 0, 255).astype(np.uint8)] * 3),
                               cv2.merge([np.clip(-big, 0, 255).astype(np.uint8)] * 3))
        return self._grains[k]

    def apply(self, picture: np.ndarray, look: Look, f: int) -> np.ndarray:
        """Frame f's vignette, flicker (graded looks only) and grain over `picture`, as a new image."""
        flicker = 1.0 + (0.025 * float(self.flicker_noise[f]) if look.grade != "clean" else 0.0)
        frame = cv2.multiply(picture, self.vignette(look), scale=flicker / 255.0)
        if look.grain > 0:
            pos, neg = self.grain(look, int(self.grain_order[f]))
            cv2.add(frame, pos, dst=frame)
            cv2.subtract(frame, neg, dst=frame)
        return frame


class TakeFrames:
    """Everything fixed for one take's frames, and the drawing of frame f."""

    def __init__(self, request: GenerationRequest) -> None:
        w, h, fps = request.width, request.height, request.fps
        self.fps = fps
        # Drawn at (rw, rh); every random choice is keyed to the requested (w, h), so a small
        # preview shows the composition of its full take.
        self.rw, self.rh = rw, rh = render_size(request)
        self.shift = (1.0 - rw / w) / 2.0  # see view_matrix: a small frame samples where the take's pixels centre
        self.n = request.frame_count
        # Camera paths, flicker and grain order are drawn for the whole take, so a preview's frames
        # are the take's first frames (exactly, when drawn at the take's size).
        n_take = max(self.n, int(round(request.seconds * fps)))
        self.segs = segs = segments_of(request)
        refs = ref_colours(request.refs) if request.refs else ()
        self.key = key = (request.prompt, request.seed, w, h, fps, request.seconds,
                          tuple((s.start, s.end, s.text) for s in segs), refs)
        self.looks = [read_look(s.text, request.prompt, refs) for s in segs]
        cams = [read_camera(s.text, request.prompt) for s in segs]
        # Each segment's camera path covers the whole take (cheap), so the next scene is already
        # moving when it appears in the portal.
        self.views = [camera_views(cams[i], n_take, fps, seeded("camera", *key, i), start_log_zoom=0.37 * i)
                      for i in range(len(segs))]
        # When each portal opens and when it fills the frame.
        self.windows = [portal_window(segs[i + 1].start, segs[i].start, segs[i + 1].end) for i in range(len(segs) - 1)]
        self.passes = ScreenPasses(key, (w, h), (rw, rh), self.shift, n_take, fps)
        self.bands = None
        if request.caption is not None:
            labels = [f"[{s.start:g}-{s.end:g}s] {s.text}" if len(segs) > 1 else None for s in segs]
            self.bands = CaptionBands(request.caption or "", labels, (w, h), (rw, rh))
        self._textures: dict[int, np.ndarray] = {}
        # The take's cast, placed at the requested size (a preview draws the same places, small).
        self.cast = place_cast([m.name for m in request.cast], w, h, [m.kind for m in request.cast])
        self.cast_scale = rw / w

    def texture(self, i: int) -> np.ndarray:
        """Scene i's Droste texture; only the current and the next scene are ever on screen."""
        if i not in self._textures:
            for old in [k for k in self._textures if k < i - 1]:
                del self._textures[old]
            self._textures[i] = draw_scene(self.looks[i], self.rw, self.rh, seeded("scene", *self.key, i))
        return self._textures[i]

    def scene_at(self, t: float) -> int:
        """Which scene fills the frame: the last one whose zoom-through has completed."""
        cur = 0
        for i, (_, fills) in enumerate(self.windows):
            if t >= fills:
                cur = i + 1
        return cur

    def draw_camera(self, out: np.ndarray, f: int, t: float, cur: int) -> None:
        """Scene `cur` through frame f's camera into `out`, with the next scene's portal if it is opening."""
        rw, rh, shift = self.rw, self.rh, self.shift
        view = self.views[cur][f]
        opening = cur < len(self.windows) and self.windows[cur][0] <= t < self.windows[cur][1]
        boundary = self.segs[cur + 1].start if opening else 0.0
        if opening:
            # The outer scene rushes forward with the portal (the camera flies through the doorway),
            # relative to the moment the portal opened so the camera does not jump.
            rush = portal_scale(t, boundary) / portal_scale(self.windows[cur][0], boundary)
            view = replace(view, log_zoom=view.log_zoom + math.log2(rush))
        cv2.warpAffine(self.texture(cur), view_matrix(view, rw, rh, shift=shift), (rw, rh), dst=out,
                       flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        if opening:
            zoom_through(out, self.texture(cur + 1), self.views[cur + 1][f], portal_scale(t, boundary), rw, rh, shift)

    def label_scene(self, t: float, cur: int) -> int:
        """The scene the caption names: the next one from its written start, though its portal is still opening."""
        return cur + 1 if cur < len(self.windows) and t >= self.segs[cur + 1].start else cur

    def __iter__(self) -> Iterator[np.ndarray]:
        out = np.empty((self.rh, self.rw, 3), np.uint8)
        for f in range(self.n):
            t = f / self.fps
            cur = self.scene_at(t)
            self.draw_camera(out, f, t, cur)
            frame = self.passes.apply(out, self.looks[cur], f)
            if self.cast:
                paint_cast(frame, self.cast, t, self.cast_scale)
            if self.bands is not None:
                self.bands.draw(frame, self.label_scene(t, cur), t)
            yield frame


def render_frames(request: GenerationRequest) -> Iterator[np.ndarray]:
    """Yield the take's frames (RGB uint8, rows x columns x 3 of `render_size(request)`: the
    request's size, smaller for a preview). Pure in the request."""
    yield from TakeFrames(request)
