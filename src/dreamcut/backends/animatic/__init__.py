"""The animatic: honest, offline, free previz for timing an edit before money is spent.

It reads the prompt's words and draws a procedural scene from them — it is NOT a
generative model and must never be presented as AI output. Every take is labelled
ANIMATIC in its burned-in caption (when captions are on) and in the file's metadata.

What the words do (see `words.read_look` / `read_camera`, pure functions): time of day sets the
sky and the light, named colours the palette, places indoor/outdoor and the motifs, era words
the grade and grain, camera words the motion. With no camera word the camera zooms forward forever.

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

The package, one concept a module, in the order a frame is made:

- `words`   -- the prompt's words -> a `Look` (palette, place, motifs, grade) and a `Camera`;
- `paint`   -- one painter per motif, drawing a scene once as a Droste texture; people are
               `FigureSpec`s drawn by `paint_figure`;
- `camera`  -- the camera path through a texture, one affine view per frame;
- `portal`  -- the zoom-through between two scenes of one take (its feathered window is
               `dreamcut.portal`'s, shared with the edit's zoom-through transition);
- `cast`    -- each member of the take's cast as the same figure in every shot (colour and head
               shape from its name, its name above it), drawn in screen space;
- `overlay` -- the ANIMATIC caption band and running timecode;
- `frames`  -- a take's frames: scenes, camera, portal, vignette/flicker/grain, label;
- `encode`  -- H.264 through ffmpeg (full takes) or PyAV in-process (previews);
- here      -- `AnimaticBackend`, the backend the registry names `animatic`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dreamcut.backends.animatic.camera import Z_MIN, View, camera_views, view_matrix
from dreamcut.backends.animatic.encode import (ENCODER_ARGS, PREVIEW_ENCODER_OPTIONS, in_process_h264, write_in_process,
                                               write_threaded)
from dreamcut.backends.animatic.frames import (GRAIN_TILES, PREVIEW_MIN_WIDTH, PREVIEW_SCALE, render_frames,
                                               render_size)
from dreamcut.backends.animatic.overlay import LABEL_SCALE, caption_overlay
from dreamcut.backends.animatic.paint import FigureSpec, draw_scene, paint_figure
from dreamcut.backends.animatic.portal import THROUGH_RATE, portal_scale, portal_window
from dreamcut.backends.animatic.words import RGB, Camera, Look, read_camera, read_look
from dreamcut.backends._prompt import Draft, fit, paragraph_draft
from dreamcut.backends.base import Capabilities, GenerationRequest, LocalBackend, Progress
from dreamcut.errors import BadInput
from dreamcut.media import FrameWriter, atomic_path

__all__ = ["AnimaticBackend", "Camera", "ENCODER_ARGS", "FigureSpec", "GRAIN_TILES", "LABEL_SCALE", "Look",
           "PREVIEW_ENCODER_OPTIONS", "PREVIEW_MIN_WIDTH", "PREVIEW_SCALE", "RGB", "THROUGH_RATE", "View", "Z_MIN",
           "camera_views", "caption_overlay", "draw_scene", "paint_figure", "portal_scale", "portal_window",
           "read_camera", "read_look", "render_frames", "render_size", "view_matrix"]


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


@dataclass
class AnimaticBackend(LocalBackend):
    """Offline previz renderer: free, deterministic, fast. See the package docstring."""

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
            if request.preview and in_process_h264():
                write_in_process(render_frames(request), tmp, width, height, request.fps, meta, progress,
                                  request.frame_count)
                return
            with FrameWriter(tmp, width, height, request.fps, codec_args=self.encoder_args,
                             metadata=meta, input_pix_fmt="yuv420p") as writer:
                write_threaded(render_frames(request), writer, request.frame_count, progress)


def cast_routing(model, cast, own_refs):
    """The animatic draws each cast member as a figure whose colour and head shape come from its name
    (`animatic.cast`); its pictures are not read (the shot's own refs still tint the scene)."""
    from dreamcut.backends._cast import CastRouting, all_refs

    return CastRouting("animatic", how="each member drawn as its own figure (colour and head shape from the name), "
                                       "named on screen; descriptions in the caption's prompt",
                       dropped=tuple((m, r, "the animatic draws the member from its name, not its picture")
                                     for m, r in all_refs(cast)))
