"""Named peers heard on the same recordings as dreamcut, for benchmarks/song_accuracy.py `--peers`.

Three peers, each run with its published defaults on the same wav at the same sample rate dreamcut
analyses it at (`dreamcut.analysis.decode.load_audio`, 22.05 kHz):

- beats: `librosa.beat.beat_track` (Ellis 2007's dynamic-programming tracker), default settings;
- sections: the Laplacian segmentation of McFee and Ellis (ISMIR 2014, "Analyzing song structure
  with spectral clustering") as librosa's gallery example "Laplacian segmentation" runs it
  (librosa docs/examples/plot_segmentation.py): log-power CQT (36 bins an octave, 7 octaves),
  median-synchronised to librosa's own beats, a symmetric affinity recurrence matrix (width 3)
  with its diagonals enhanced by a time-lag median filter (1 x 7), a path graph from MFCC
  distances of successive beats, the two balanced (the paper's Eq. 6, 7, 9), the normalised
  Laplacian's eigenvectors median-filtered over 9 beats and row-normalised, and k-means on the
  first k of them: a boundary wherever the cluster changes. k = LAPLACIAN_K, the gallery's value,
  for every song;
- sections: `librosa.segment.agglomerative` (constrained agglomerative clustering) on the same
  beat-synchronous features as chroma and MFCC, one segment per AGGLOMERATIVE_SECONDS of song.

The peers' results are cached beside dreamcut's analysis cache, keyed by the wav's content hash,
PEER_VERSION and librosa's version. This module never scores: the benchmark scores the peers'
beats and boundaries with exactly the functions it scores dreamcut's with.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Bump when any peer below changes how it hears a song (the cache key).
PEER_VERSION = 1
# The gallery example's "k = 5" (librosa docs/examples/plot_segmentation.py), kept for every song:
# the paper picks k per song by a criterion of its own, the gallery leaves k to the reader.
LAPLACIAN_K = 5
# One agglomerative segment per 16 s: 8 bars of 4/4 at 120 bpm, a pop phrase, fixed before any
# result was seen (session 16, 2026-12-02); a 180 s POP909 excerpt gets 11 segments.
AGGLOMERATIVE_SECONDS = 16.0
BINS_PER_OCTAVE = 36  # the gallery's CQT: 3 bins a semitone, 7 octaves from C1
N_OCTAVES = 7


@dataclass(frozen=True)
class Start:
    """A section start, the one field of dreamcut's `Section` that `midi_songs.sections_heard` reads."""
    start: float


@dataclass(frozen=True)
class PeerSections:
    """A peer's sections in the shape `midi_songs.sections_heard` reads of an analysis: the song
    opens the first section at 0 s, each later one at a peer's boundary."""
    sections: list[Start]

    @classmethod
    def from_boundaries(cls, boundaries: list[float]) -> PeerSections:
        return cls([Start(0.0)] + [Start(t) for t in boundaries if t > 0.0])


def hear(wav: Path, cache_dir: Path | None = None) -> dict:
    """The peers' beats and section boundaries (s) of the song at `wav`: {"librosa_beats",
    "laplacian", "agglomerative", "duration"}; reused from `cache_dir` when there."""
    import librosa

    digest = hashlib.sha256(Path(wav).read_bytes()).hexdigest()
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"peers-{digest[:32]}-p{PEER_VERSION}-librosa{librosa.__version__}.json"
        if cache_file.is_file():
            try:
                return json.loads(cache_file.read_text(encoding="utf-8"))
            except ValueError:
                pass  # a damaged entry is heard again and overwritten
    from dreamcut.analysis.decode import ANALYSIS_SR, load_audio

    y, _ = load_audio(Path(wav))  # at ANALYSIS_SR, as dreamcut hears it
    sr = ANALYSIS_SR
    heard = {"duration": len(y) / sr, **_peers(y, sr)}
    if cache_file is not None:
        from dreamcut.media import write_text_atomic

        cache_file.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(cache_file, json.dumps(heard))
    return heard


def _peers(y: np.ndarray, sr: int) -> dict:
    import librosa

    # (a) beats, default settings (trim=True: the tracker's own choice for an evaluation)
    _, frames = librosa.beat.beat_track(y=y, sr=sr)
    beats = librosa.frames_to_time(frames, sr=sr)

    # (b) the gallery's features: a log-power CQT and MFCC, synchronised to beats tracked with trim=False
    cqt = np.abs(librosa.cqt(y=y, sr=sr, bins_per_octave=BINS_PER_OCTAVE, n_bins=N_OCTAVES * BINS_PER_OCTAVE))
    log_cqt = librosa.amplitude_to_db(cqt, ref=np.max)
    _, sync_beats = librosa.beat.beat_track(y=y, sr=sr, trim=False)
    c_sync = librosa.util.sync(log_cqt, sync_beats, aggregate=np.median)
    mfcc = librosa.feature.mfcc(y=y, sr=sr)
    m_sync = librosa.util.sync(mfcc, sync_beats)
    # Where each synchronised column starts: `sync` pads the beats with frame 0 and the last frame.
    # (The gallery maps a boundary at column j to beats[j], one beat late when the first beat is
    # not at frame 0; its plots use these starts, and so do we.)
    starts = librosa.frames_to_time(librosa.util.fix_frames(sync_beats, x_min=0, x_max=log_cqt.shape[1]), sr=sr)
    laplacian = [float(starts[j]) for j in _laplacian_boundaries(c_sync, m_sync, LAPLACIAN_K)]

    chroma = librosa.util.sync(librosa.feature.chroma_cqt(C=cqt, sr=sr, bins_per_octave=BINS_PER_OCTAVE), sync_beats)
    features = np.vstack([chroma, m_sync])
    # each row standardised, so the 12 chroma rows and the 20 MFCC rows weigh alike in the distances
    features = (features - features.mean(axis=1, keepdims=True)) / (features.std(axis=1, keepdims=True) + 1e-9)
    k = max(2, int(round(len(y) / sr / AGGLOMERATIVE_SECONDS)))
    bounds = librosa.segment.agglomerative(features, min(k, features.shape[1]))
    agglomerative = [float(starts[j]) for j in bounds if j > 0]
    return {"librosa_beats": [float(t) for t in beats], "laplacian": laplacian, "agglomerative": agglomerative}


def _laplacian_boundaries(c_sync: np.ndarray, m_sync: np.ndarray, k: int) -> list[int]:
    """Column indices (> 0) where McFee and Ellis's spectral clustering changes cluster."""
    import librosa
    import scipy.linalg
    import scipy.ndimage
    import scipy.sparse.csgraph
    import sklearn.cluster

    # repetition: mutual nearest neighbours as affinities, no links within 3 beats (Eq. 1), the
    # diagonals (repeated passages) enhanced by a median filter along time lag (Eq. 2)
    rec = librosa.segment.recurrence_matrix(c_sync, width=3, mode="affinity", sym=True)
    rec = librosa.segment.timelag_filter(scipy.ndimage.median_filter)(rec, size=(1, 7))
    # local continuity: successive beats linked by exp(-d^2 / sigma), sigma the median d^2
    step = np.sum(np.diff(m_sync, axis=1) ** 2, axis=0)
    near = np.exp(-step / np.median(step))
    path = np.diag(near, k=1) + np.diag(near, k=-1)
    # the balance mu that equalises the two graphs' degrees (Eq. 6, 7, 9)
    deg_path, deg_rec = path.sum(axis=1), rec.sum(axis=1)
    mu = deg_path.dot(deg_path + deg_rec) / np.sum((deg_path + deg_rec) ** 2)
    graph = mu * rec + (1 - mu) * path
    # the normalised Laplacian's eigenvectors (Eq. 10), smoothed over 9 beats, the first k
    # row-normalised by their cumulative norm, clustered (Algorithm 1)
    _, vectors = scipy.linalg.eigh(scipy.sparse.csgraph.laplacian(graph, normed=True))
    vectors = scipy.ndimage.median_filter(vectors, size=(9, 1))
    norm = np.cumsum(vectors ** 2, axis=1) ** 0.5
    x = vectors[:, :k] / norm[:, k - 1:k]
    # random_state fixed so a rerun hears the same (the gallery leaves k-means unseeded)
    labels = sklearn.cluster.KMeans(n_clusters=k, random_state=0).fit_predict(x)
    return [int(j) for j in 1 + np.flatnonzero(labels[:-1] != labels[1:])]
