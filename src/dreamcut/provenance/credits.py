"""Saying what a video is: the disclosure tags, the credits text and the end card."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreamcut import __version__
from dreamcut.media import atomic_path
from dreamcut.provenance.manifest import DIGITAL_CAPTURE, is_ai_take, take_source_type
from dreamcut.provenance.takes import TimelineTake, timeline_takes

@dataclass
class CreditsFacts:
    shots: int
    takes_used: int
    generated: int
    imported: int
    models: list[str]
    uses_ai: bool = True
    camera_only: bool = False  # every take used is camera footage


def credits_facts(project, timeline) -> CreditsFacts:
    all_takes = project.catalog.takes(kind="take")
    if timeline is not None:
        used = timeline_takes(timeline)
    else:  # no edit yet: speak about every take made so far
        used = [TimelineTake(shot=t.shot_id, take=t.id, path=t.path, trimmed=False, speed=1.0) for t in all_takes]
    by_id = {t.id: t for t in all_takes}
    models: list[str] = []
    for t in used:
        take = by_id.get(t.take)
        if take is None:
            continue
        label = _model_label(take)
        if label not in models:
            models.append(label)
    imported = sum(1 for t in all_takes if t.source == "imported")
    uses_ai = any(is_ai_take(by_id[t.take]) for t in used if t.take in by_id) or not used
    camera_only = bool(used) and all(t.take in by_id and take_source_type(by_id[t.take]) == DIGITAL_CAPTURE
                                     for t in used)
    return CreditsFacts(camera_only=camera_only, shots=len({t.shot for t in used if t.shot}) or len(used), takes_used=len(used),
                        generated=len(all_takes) - imported, imported=imported, models=models, uses_ai=uses_ai)


def _model_label(take) -> str:
    if take.source == "imported":
        if (take.meta or {}).get("source_type") == "camera":
            return "camera footage"
        provider = (take.meta or {}).get("provider_model") or (take.meta or {}).get("provider")
        return f"{provider} (imported)" if provider else "imported clips"
    if take.backend == "animatic":
        return "dreamcut animatic (previz, not AI)"
    return f"{take.backend}:{take.model}" if take.model else take.backend


def credits_text(project, timeline) -> str:
    """Plain text for a video description: what is AI here, from which models, chosen from how many takes."""
    f = credits_facts(project, timeline)
    total = f.generated + f.imported
    made = f"{f.generated} generated" + (f" + {f.imported} imported" if f.imported else "")
    what = ("Video made with generative AI and edited with dreamcut " if f.uses_ai else
            "Camera footage edited with dreamcut (no AI-generated footage) " if f.camera_only else
            "Previz animatic (procedural, no AI-generated footage) made with dreamcut ")
    lines = [f"{project.spec.title}",
             what + __version__ + ".",
             f"{f.shots} shot{'s' if f.shots != 1 else ''} chosen from {total} takes ({made}).",
             "Models: " + (", ".join(f.models) if f.models else "none recorded") + ".",
             "Content Credentials (C2PA) are embedded in the video: check them with `dreamcut verify` "
             "or any C2PA viewer."]
    return "\n".join(lines)


def disclosure_metadata(project, timeline=None) -> dict[str, str]:
    """MP4 tags marking the video as AI-generated (pass to ffmpeg as `-metadata k=v`)."""
    f = credits_facts(project, timeline) if timeline is not None else None
    if f is None or f.uses_ai:
        note = "AI-generated video (synthetic media, IPTC trainedAlgorithmicMedia) made with dreamcut " + __version__
    elif f.camera_only:
        note = "Camera footage (IPTC digitalCapture, not AI-generated) edited with dreamcut " + __version__
    else:
        note = "Previz animatic (procedural synthetic media, not AI-generated) made with dreamcut " + __version__
    if f is not None and f.models:
        note += "; models: " + ", ".join(f.models)
    note += "; Content Credentials (C2PA) embedded"
    return {"title": project.spec.title, "comment": note, "description": note,
            "encoder": f"dreamcut {__version__}", "ai_generated": "true" if f is None or f.uses_ai else "false"}


def add_disclosure_tags(path: Path, tags: dict[str, str]) -> None:
    """Write `tags` into an MP4/MOV's metadata by a stream-copy remux (temp file, then rename)."""
    from dreamcut.media import run_ffmpeg

    path = Path(path)
    args = ["-i", str(path), "-map", "0:v", "-map", "0:a?", "-c", "copy", "-map_metadata", "0"]
    for k, v in tags.items():
        args += ["-metadata", f"{k}={v}"]
    with atomic_path(path) as tmp:
        run_ffmpeg([*args, "-movflags", "+faststart+use_metadata_tags", str(tmp)], what="tagging the render")


def end_card_image(project, timeline, size: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 HxWx3 end card with the credits text, white on black, sized to `size` (w, h)."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    img = Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    lines = credits_text(project, timeline).splitlines()[:-1]  # the verify hint is for descriptions, not the card
    font_size = max(10, h // 22)
    font = ImageFont.load_default(size=font_size)
    title_font = ImageFont.load_default(size=int(font_size * 1.5))
    wrapped: list[tuple[str, Any]] = []
    for i, line in enumerate(lines):
        f = title_font if i == 0 else font
        words, cur = line.split(), ""
        for word in words:
            trial = (cur + " " + word).strip()
            if draw.textlength(trial, font=f) > w * 0.88 and cur:
                wrapped.append((cur, f))
                cur = word
            else:
                cur = trial
        wrapped.append((cur, f))
    gap = int(font_size * 0.6)
    heights = [(f.getbbox(t or " ")[3] - f.getbbox(t or " ")[1]) for t, f in wrapped]
    y = (h - (sum(heights) + gap * (len(wrapped) - 1))) // 2
    for (text, f), lh in zip(wrapped, heights):
        tw = draw.textlength(text, font=f)
        draw.text(((w - tw) / 2, y), text, font=f, fill=(235, 235, 235))
        y += lh + gap
    return np.asarray(img, dtype=np.uint8).copy()


def end_card_clip(project, timeline, path: Path, size: tuple[int, int], fps: int, seconds: float = 4.0) -> Path:
    """The end card as an H.264 clip (fades in and out over half a second), for the renderer to append."""
    from dreamcut.media import FrameWriter

    card = end_card_image(project, timeline, size).astype(np.float32)
    n = max(1, int(round(seconds * fps)))
    fade = max(1, int(round(0.5 * fps)))
    with atomic_path(Path(path)) as tmp:
        with FrameWriter(tmp, size[0], size[1], fps) as w:
            for i in range(n):
                k = min(1.0, (i + 1) / fade, (n - i) / fade)
                w.write((card * k).astype(np.uint8))
    return Path(path)
