"""The animatic's burned-in label: the caption band that says ANIMATIC (previz, not AI output),
the caption and the current segment, and the running timecode at its right.

`caption_overlay` lays the band out at the take's size (where its text is legible and placed);
`CaptionBands` keeps one band per segment ready to composite onto frames, and for a preview
shrinks the band (and its timecode) so a preview frame is its take's frame in miniature.
"""

from __future__ import annotations

import cv2
import numpy as np


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



class CaptionBands:
    """The caption band of each segment, laid out once, composited onto each frame with its timecode.

    `labels[i]` is segment i's second line (None: one line). Frames are (rh, rw) drawn for a take
    of (h, w); when they differ the band is laid out at the take's size and shrunk."""

    def __init__(self, caption: str, labels: list[str | None], take_size: tuple[int, int],
                 drawn_size: tuple[int, int]) -> None:
        self.caption, self.labels = caption, labels
        (self.w, self.h), (self.rw, self.rh) = take_size, drawn_size
        self.small = (self.rw, self.rh) != (self.w, self.h)
        self._bands: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}  # premul, 1-alpha, top drawn, top laid out

    def _band(self, i: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        if i not in self._bands:
            w, h, rw, rh = self.w, self.h, self.rw, self.rh
            rgb, alpha, top = caption_overlay(self.caption, self.labels[i], w, h)
            if self.small:
                # Laid out at the take's size (where its text is legible and placed), then shrunk:
                # premultiplied RGB and transparency, linear quantities, so they shrink exactly.
                band_h = max(1, int(round((h - top) * rh / h)))
                premul = cv2.resize((rgb.astype(np.float32) * alpha[:, :, None]) / 255.0, (rw, band_h),
                                    interpolation=cv2.INTER_AREA)
                clear = cv2.resize((255 - alpha).astype(np.float32) / 255.0, (rw, band_h),
                                   interpolation=cv2.INTER_AREA)
                self._bands[i] = (premul, clear[:, :, None], rh - band_h, top)
            else:
                a = alpha.astype(np.uint16)[:, :, None]
                self._bands[i] = (rgb.astype(np.uint16) * a, (255 - a).astype(np.uint16), top, top)
        return self._bands[i]

    def _small_band(self, i: int, stamp: str) -> tuple[np.ndarray, np.ndarray, int]:
        """A preview's caption band with its running timecode, drawn at the take's size and shrunk.
        The band under the timecode is plain (caption_overlay leaves it room), so drawing the
        shrunk text over the shrunk band is the take's frame in miniature."""
        w, h = self.w, self.h
        premul, clear, top_small, top = self._band(i)
        ink = np.zeros((h - top, w), np.uint8)
        x, y, _, size = _timecode_box(w, h)
        cv2.putText(ink, stamp, (x, y + size - top), cv2.FONT_HERSHEY_SIMPLEX, size / 30.0, 255,
                    max(1, size // 14), cv2.LINE_AA)
        m = cv2.resize(ink, (self.rw, premul.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)[:, :, None]
        m /= 255.0
        # White text over the band, as the take draws it over its finished frame.
        return premul * (1 - m) + 255.0 * m, clear * (1 - m), top_small

    def draw(self, frame: np.ndarray, i: int, t: float) -> None:
        """Composite segment i's band and the timecode of take time t onto `frame` (in place)."""
        stamp = f"{t:6.2f}s"
        if self.small:
            premul, clear, top = self._small_band(i, stamp)
            region = frame[top:]
            region[:] = np.clip(region * clear + premul + 0.5, 0, 255).astype(np.uint8)
        else:
            premul, inv_a, top, _ = self._band(i)
            region = frame[top:]
            region[:] = ((region.astype(np.uint16) * inv_a + premul + 127) // 255).astype(np.uint8)
            x, y, _, size = _timecode_box(self.w, self.h)
            cv2.putText(frame, stamp, (x, y + size), cv2.FONT_HERSHEY_SIMPLEX, size / 30.0,
                        (255, 255, 255), max(1, size // 14), cv2.LINE_AA)
