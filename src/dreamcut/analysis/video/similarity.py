"""How well a take's frames match its prompt, with a local CLIP-type model (optional; never downloads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dreamcut.errors import BadInput

_CLIP_CACHE: dict[str, Any] = {}


CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's preprocessing constants
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _clip_pixels(frames: Sequence[np.ndarray], size: int, mean, std) -> np.ndarray:
    """CLIP preprocessing without transformers' image processors (which need torchvision):
    centre square crop, resize to the model's input size, scale, normalise. -> (n, 3, size, size)."""
    import cv2

    out = []
    for f in frames:
        h, w = f.shape[:2]
        side = min(h, w)
        y, x = (h - side) // 2, (w - side) // 2
        sq = cv2.resize(f[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
        out.append(((sq.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32))
                   .transpose(2, 0, 1))
    return np.stack(out)


def prompt_similarity(frames: Sequence[np.ndarray], prompt: str, model_dir: Path) -> float:
    """Mean cosine similarity between the prompt and four frames, with a CLIP model from a local
    folder (transformers CLIPModel + CLIPTokenizer saved with save_pretrained). Never downloads."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise BadInput("not a CLIP model folder (no config.json)", where=str(model_dir.name),
                       fix="give the folder of a CLIP model saved with save_pretrained")
    from dreamcut.analysis._hf import hide_broken_torchvision

    hide_broken_torchvision()
    try:
        import torch
        from transformers import CLIPModel, CLIPTokenizer
    except ImportError:
        raise BadInput("prompt similarity needs transformers and torch", fix="pip install 'dreamcut[local]'") from None
    key = str(model_dir.resolve())
    if key not in _CLIP_CACHE:
        try:
            model = CLIPModel.from_pretrained(key, local_files_only=True).eval()
            tokenizer = CLIPTokenizer.from_pretrained(key, local_files_only=True)
        except (OSError, ValueError, TypeError) as e:
            raise BadInput(f"cannot load the CLIP model: {str(e).splitlines()[0][:200]}", where=model_dir.name,
                           fix="give a folder with config.json, weights and the tokenizer files") from None
        mean, std = CLIP_MEAN, CLIP_STD
        pre = model_dir / "preprocessor_config.json"
        if pre.is_file():
            cfg = json.loads(pre.read_text())
            mean, std = cfg.get("image_mean", mean), cfg.get("image_std", std)
        _CLIP_CACHE[key] = (model, tokenizer, mean, std)
    model, tokenizer, mean, std = _CLIP_CACHE[key]
    picks = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, num=min(4, len(frames)))]
    pixels = torch.from_numpy(_clip_pixels(picks, model.config.vision_config.image_size, mean, std))
    max_len = model.config.text_config.max_position_embeddings
    with torch.no_grad():
        tokens = tokenizer([prompt], return_tensors="pt", padding=True, truncation=True, max_length=max_len)
        img = model.get_image_features(pixel_values=pixels)
        txt = model.get_text_features(**tokens)
        img = getattr(img, "pooler_output", img)  # transformers 5 may return an output object
        txt = getattr(txt, "pooler_output", txt)
        img = torch.nn.functional.normalize(img, dim=-1)
        txt = torch.nn.functional.normalize(txt, dim=-1)
        return float((img @ txt.T).mean())
