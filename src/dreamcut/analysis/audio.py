"""Hearing the song: tempo, beats, bars (downbeats), onsets, energy and sections.

`analyze_song(path)` decodes any file ffmpeg reads, tracks the beat with librosa,
finds the bar starts (4/4 or 3/4) from where the harmony and the low end change,
and segments the song by its own repetition structure (a bar-by-bar self-similarity
matrix, a checkerboard novelty curve, boundaries on downbeats), then names the
sections intro / verse / chorus / bridge / outro from repetition, energy and position.
Results are cached as JSON keyed by the song's content hash.

This module only reads the song and writes its cache; it never edits, renders or
touches the catalog. Decisions about cuts belong to `edit.planner`.
"""

from __future__ import annotations

import bisect
import json
import subprocess
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from dreamcut.errors import BadInput, WorkFailed
from dreamcut.media import ffmpeg_exe, file_sha256, write_text_atomic

ANALYSIS_VERSION = 26
ANALYSIS_SR = 22050
HOP = 512  # 23 ms at 22.05 kHz for features; each beat is then refined on a 3 ms grid
_ON_TIME = 0.005  # seconds: a time this close to a beat / bar / section start is on it
LABELS = ("intro", "verse", "chorus", "bridge", "outro")


@dataclass(frozen=True)
class Section:
    start: float
    end: float
    label: str
    confidence: float = 1.0  # 0..1: how sure the analysis is of this boundary and label (1: the director's)


@dataclass
class SongAnalysis:
    """What the editor needs to know about a song. Times in seconds from the song start."""

    duration: float
    sample_rate: int
    tempo: float
    beats: list[float]
    downbeats: list[float]
    beats_per_bar: int
    onsets: list[float] = field(default_factory=list)
    energy_times: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    content_hash: str = ""
    tempo_curve: list[list[float]] = field(default_factory=list)  # [second, bpm] every 4 beats
    pulse: float = 1.0  # 0..1: how clearly the beat is heard (below WEAK_PULSE: cut on phrases)
    corrected: list[str] = field(default_factory=list)  # which facts the spec's `song:` block set

    # -- serialisation --------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["version"] = ANALYSIS_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SongAnalysis":
        return cls(duration=float(d["duration"]), sample_rate=int(d["sample_rate"]), tempo=float(d["tempo"]),
                   beats=[float(x) for x in d["beats"]], downbeats=[float(x) for x in d["downbeats"]],
                   beats_per_bar=int(d["beats_per_bar"]), onsets=[float(x) for x in d.get("onsets", [])],
                   energy_times=[float(x) for x in d.get("energy_times", [])],
                   energy=[float(x) for x in d.get("energy", [])],
                   sections=[Section(float(s["start"]), float(s["end"]), str(s["label"]), float(s.get("confidence", 1.0)))
                             for s in d.get("sections", [])],
                   content_hash=str(d.get("content_hash", "")),
                   tempo_curve=[[float(a), float(b)] for a, b in d.get("tempo_curve", [])],
                   pulse=float(d.get("pulse", 1.0)), corrected=[str(x) for x in d.get("corrected", [])])

    # -- questions the planner asks -------------------------------------------------
    @property
    def beat_period(self) -> float:
        if len(self.beats) >= 2:
            return float(np.median(np.diff(self.beats)))
        return 60.0 / self.tempo if self.tempo > 0 else 0.5

    def nearest_beat(self, t: float) -> int:
        """Index of the beat closest to `t` (-1 if the song has no beats)."""
        if not self.beats:
            return -1
        i = bisect.bisect_left(self.beats, t)
        if i == 0:
            return 0
        if i >= len(self.beats):
            return len(self.beats) - 1
        return i if self.beats[i] - t < t - self.beats[i - 1] else i - 1

    def bar_index(self, t: float) -> int:
        """0-based index of the bar containing `t` (-1 before the first downbeat).

        A time within 5 ms of a downbeat counts as on it (beat times are estimates).
        """
        return bisect.bisect_right(self.downbeats, t + _ON_TIME) - 1

    def beat_in_bar(self, t: float) -> int:
        """1-based position of the beat nearest `t` inside its bar (1 = downbeat)."""
        i = self.nearest_beat(t)
        if i < 0:
            return 1
        b = self.beats[i]
        bar = self.bar_index(b)
        if bar < 0:
            # Pickup beats before the first bar count back from it.
            first = bisect.bisect_left(self.beats, self.downbeats[0] - _ON_TIME) if self.downbeats else 0
            return (self.beats_per_bar - (first - i) % self.beats_per_bar) % self.beats_per_bar + 1
        first = bisect.bisect_left(self.beats, self.downbeats[bar] - _ON_TIME)
        return (i - first) % self.beats_per_bar + 1

    def section_at(self, t: float) -> tuple[int, Section] | None:
        for i, s in enumerate(self.sections):
            if s.start - _ON_TIME <= t < s.end - _ON_TIME:
                return i, s
        return None

    def section_names(self) -> list[str]:
        """Each section's name with its occurrence, e.g. ['intro#1', 'verse#1', 'chorus#1', 'verse#2'...]."""
        seen: dict[str, int] = {}
        out = []
        for s in self.sections:
            seen[s.label] = seen.get(s.label, 0) + 1
            out.append(f"{s.label}#{seen[s.label]}")
        return out


# -- decoding -------------------------------------------------------------------------


def _fix_for(path: Path) -> str:
    return "point `song:` in dreamcut.yaml at a readable audio file (wav, mp3, m4a, flac...)"


def load_audio(path: Path, sr: int = ANALYSIS_SR) -> tuple[np.ndarray, int]:
    """Mono float32 samples at `sr`, and the file's own sample rate. BadInput if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise BadInput("the song file does not exist", where=str(path), fix=_fix_for(path))
    y = None
    native_sr = 0
    try:
        import soundfile as sf

        data, native_sr = sf.read(str(path), dtype="float32", always_2d=True)
        y = data.mean(axis=1)
    except Exception:  # soundfile cannot read mp3/m4a/...: let ffmpeg decode it
        y = None
    if y is None:
        y, native_sr = _ffmpeg_decode(path, sr)
    elif native_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
    if y.size < sr // 2 or not np.all(np.isfinite(y)):
        raise BadInput(f"the song has {y.size / sr:.2f} s of readable audio; it needs at least 0.5 s",
                       where=str(path), fix=_fix_for(path))
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)


def _ffmpeg_decode(path: Path, sr: int) -> tuple[np.ndarray, int]:
    native_sr = 0
    try:
        from dreamcut.media import probe

        info = probe(path)
        if info.audio is None:
            raise BadInput("the file has no audio stream", where=str(path), fix=_fix_for(path))
        native_sr = info.audio.sample_rate
    except BadInput:
        raise
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sr),
           "-f", "f32le", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WorkFailed(f"ffmpeg could not decode the song ({type(e).__name__})", where=str(path),
                         fix="check that ffmpeg runs (DREAMCUT_FFMPEG or imageio-ffmpeg)") from None
    if proc.returncode != 0 or not proc.stdout:
        raise BadInput("the song cannot be decoded (corrupt or not audio)", where=str(path), fix=_fix_for(path))
    return np.frombuffer(proc.stdout, dtype="<f4").copy(), native_sr or sr


# -- the analysis -----------------------------------------------------------------------


def analyze_song(path: Path, *, cache_dir: Path | None = None, beats_per_bar: int | None = None,
                 progress: Callable[[float], None] | None = None) -> SongAnalysis:
    """Analyse the song at `path`; reuse `cache_dir/<sha256>.json` when it is there.

    beats_per_bar: 3 or 4 to impose the metre; None detects it.
    progress: called with the fraction done (0..1), like the rest of dreamcut.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput("the song file does not exist", where=str(path), fix=_fix_for(path))
    if beats_per_bar not in (None, 3, 4):
        raise BadInput(f"beats_per_bar={beats_per_bar} is not supported", where=str(path),
                       fix="use 3, 4, or leave it out to detect it")
    report = progress or (lambda f: None)
    # One analysis at a time in a process: the board's worker threads asking for the same song at
    # once ran four librosa analyses together, and concurrent OpenBLAS calls on two cores spun for
    # minutes. Waiting here lets the later callers find the first one's result in the cache.
    # BLAS runs single-threaded here: OpenBLAS's fork handler waits for its worker threads, so a
    # board thread starting ffmpeg while an analysis was inside a multi-threaded BLAS call hung.
    from threadpoolctl import threadpool_limits

    with _ANALYSIS_LOCK, threadpool_limits(limits=1, user_api="blas"):
        return _analyze_song_once(path, cache_dir, beats_per_bar, report)


_ANALYSIS_LOCK = threading.Lock()


def _analyze_song_once(path: Path, cache_dir, beats_per_bar: int | None, report: Callable[[float], None]):
    digest = file_sha256(path)
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"song-{digest[:32]}-v{ANALYSIS_VERSION}-m{beats_per_bar or 0}.json"
        if cache_file.is_file():
            try:
                d = json.loads(cache_file.read_text(encoding="utf-8"))
                if d.get("version") == ANALYSIS_VERSION and d.get("content_hash") == digest:
                    report(1.0)
                    return SongAnalysis.from_dict(d)
            except (ValueError, KeyError, TypeError):
                pass  # a damaged cache entry is recomputed and overwritten
    report(0.0)
    y, native_sr = load_audio(path)
    analysis = analyze_samples(y, ANALYSIS_SR, beats_per_bar=beats_per_bar, progress=report)
    analysis.sample_rate = native_sr
    analysis.content_hash = digest
    if cache_file is not None:
        write_text_atomic(cache_file, json.dumps(analysis.to_dict()))
    report(1.0)
    return analysis


def _click_track(sr: int, seconds: float = 3.0) -> np.ndarray:
    """A 120 bpm click track with a little noise: enough for every step of the analysis to run."""
    t = np.arange(int(sr * seconds)) / sr
    y = 0.01 * np.random.default_rng(0).standard_normal(t.size)
    for beat in np.arange(0.0, seconds, 0.5):
        i = int(beat * sr)
        n = min(int(0.03 * sr), t.size - i)
        y[i:i + n] += np.sin(2 * np.pi * 1000 * t[:n]) * np.exp(-t[:n] * 80)
    return y.astype(np.float32)


def analyze_samples(y: np.ndarray, sr: int, *, beats_per_bar: int | None = None,
                    progress: Callable[[float], None] | None = None) -> SongAnalysis:
    """The analysis on decoded mono samples (no I/O)."""
    from dreamcut._startup import warm_librosa

    # Compile librosa's numba functions into the per-user cache once, under a lock (a 3 s click
    # track runs every function this analysis uses), so concurrent first runs never race on it.
    warm_librosa(lambda: analyze_samples(_click_track(sr), sr))
    import librosa

    report = progress or (lambda f: None)
    duration = len(y) / sr
    report(0.1)
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP))
    power = S * S
    del S
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=96)
    mel_db = librosa.power_to_db(mel, ref=np.max)
    oenv = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=HOP)
    low = librosa.onset.onset_strength(S=mel_db[:12], sr=sr, hop_length=HOP)  # kick / bass band
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, hop_length=HOP, tuning=0.0)  # tuning: not needed here
    tempo, beat_frames, tempo_curve, pulse = _track_beats(oenv, sr, chroma=chroma)
    beat_frames = _regularise(beat_frames, oenv)
    beat_frames = _on_the_beat(beat_frames, low, oenv, chroma)
    times = librosa.frames_to_time(np.arange(len(oenv)), sr=sr, hop_length=HOP)
    refined, shift = _refine_beats(y, sr, times[beat_frames])
    # A "beat" in the last 0.1 s is the song's end (the fade), not a beat.
    # (A beat pulled a few ms before 0 by the refinement is the song's first beat: keep it at 0.)
    keep = [k for k, t in enumerate(refined) if -0.05 <= t < duration - 0.1]
    beats = [max(0.0, float(refined[k])) for k in keep]
    beat_frames = np.asarray([beat_frames[k] for k in keep], dtype=int)
    if len(beats) >= 2:
        # The slope of a straight line through the beats: robust to one late beat.
        tempo = float(60.0 / np.polyfit(np.arange(len(beats)), beats, 1)[0])
    else:
        tempo = float(np.atleast_1d(tempo)[0])

    report(0.35)
    bpb, first, bar_contrast = _metre(beat_frames, chroma, low, len(oenv), beats_per_bar)
    downbeats = [beats[i] for i in range(first, len(beats), bpb)]

    report(0.5)
    onset_frames = librosa.onset.onset_detect(onset_envelope=oenv, sr=sr, hop_length=HOP, units="frames")
    onsets = [round(max(0.0, float(t) + shift), 4) for t in times[onset_frames]]

    report(0.6)
    rms = np.sqrt(np.maximum(mel.sum(axis=0), 0))
    step = max(1, int(round(0.1 * sr / HOP)))  # 10 values a second
    n = len(rms) // step
    energy = rms[: n * step].reshape(n, step).mean(axis=1)
    energy = energy / max(1e-9, float(energy.max()))
    energy_times = [round(float(times[i * step]), 4) for i in range(n)]

    report(0.7)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=20)
    sections = _sections(downbeats, duration, times, chroma, mfcc, rms, beats=beats,
                         bars_clear=bar_contrast >= CLEAR_BARS)
    report(0.95)
    curve = _tempo_curve_points(tempo_curve, times, beats)
    return SongAnalysis(duration=round(duration, 6), sample_rate=sr, tempo=round(tempo, 4),
                        tempo_curve=curve, pulse=round(pulse, 3),
                        beats=[round(b, 4) for b in beats], downbeats=[round(d, 4) for d in downbeats],
                        beats_per_bar=bpb, onsets=onsets, energy_times=energy_times,
                        energy=[round(float(e), 4) for e in energy], sections=sections)


# Relative spread of the local tempo (95th / 5th percentile) above which the song "moves":
# then the tracker follows a tempo curve instead of holding one tempo.
DRIFT = 1.08
WEAK_PULSE = 0.2  # below this pulse strength the planner cuts on phrases / onsets, and says so


def _local_tempo(oenv: np.ndarray, sr: int, around: float, *, win_s: float = 3.0, step_s: float = 0.25,
                 smooth: int = 9) -> tuple[np.ndarray, float]:
    """The tempo (bpm) at every onset-envelope frame (HOP grid), within +-35 % of `around`,
    and the pulse's clarity (median normalised autocorrelation at the beat period, 0..1).

    Autocorrelation of the onset envelope in 3 s windows every 0.25 s; the best lag (with
    the evidence of twice the lag, and a parabola through the peak for sub-frame precision)
    is the local beat period; a 9-point median smooths it.
    """
    fps = sr / HOP
    W = max(8, int(win_s * fps))
    step = max(1, int(step_s * fps))
    P = 60.0 * fps / around
    lo, hi = max(2, int(P / 1.35)), min(W // 2 - 1, int(np.ceil(P * 1.35)) + 1)
    if hi <= lo + 2:
        return np.full(len(oenv), around), 0.0
    centres = np.arange(0, len(oenv), step)
    window = np.hanning(W)
    # The window tapers the segment, so the raw autocorrelation falls with the lag and its peak
    # leans toward shorter lags (a faster tempo); dividing by the window's own autocorrelation
    # takes that lean out.
    taper = np.correlate(window, window, "full")[W - 1:]
    taper = taper / taper[0]
    periods = []
    clarity: list[float] = []
    for c in centres:
        a = max(0, c - W // 2)
        seg = oenv[a:a + W]
        if len(seg) < W:
            seg = np.pad(seg, (0, W - len(seg)))
        seg = (seg - seg.mean()) * window
        heard = np.correlate(seg, seg, "full")[W - 1:]
        ac = heard / np.maximum(taper, 1e-3)
        lags = np.arange(lo, hi)
        # a mild prior around the song's tempo keeps a dotted rhythm (4/3) from passing for a tempo change
        prior = np.exp(-0.5 * (np.log2(lags / P) / 0.3) ** 2)
        raw = ac[lags] + 0.5 * ac[np.minimum(2 * lags, W - 1)]
        k = int(np.argmax(raw * prior))
        L = float(lags[k])
        clarity.append(float(heard[lags[k]] / heard[0]) if heard[0] > 0 else 0.0)  # as heard, tapered
        if 0 < k < len(raw) - 1:
            # the prior picks the peak; the parabola goes through the heard autocorrelation alone
            # (through the prior's slope it pulled a slow passage 1-3 % toward the song's tempo)
            y0, y1, y2 = raw[k - 1], raw[k], raw[k + 1]
            den = y0 - 2 * y1 + y2
            if den < 0 and y1 > 0:
                L += 0.5 * (y0 - y2) / den
        periods.append(L)
    from scipy.ndimage import median_filter

    per = median_filter(np.asarray(periods), size=smooth, mode="nearest")
    return np.interp(np.arange(len(oenv)), centres, 60.0 * fps / per), float(np.median(clarity)) if clarity else 0.0


def _harmonic_novelty(chroma: np.ndarray, half: int) -> np.ndarray:
    """Per frame: 1 - cosine between the mean chroma of the `half` frames before and after it.

    Peaks where the chord changes; chords change on beats, rarely between them.
    """
    n = chroma.shape[1]
    half = max(1, int(half))
    c = np.concatenate([np.zeros((12, 1)), np.cumsum(chroma, axis=1)], axis=1)
    idx = np.arange(n)
    a0, b1 = np.maximum(idx - half, 0), np.minimum(idx + half, n)
    before = (c[:, idx] - c[:, a0])
    after = (c[:, b1] - c[:, idx])
    num = np.sum(before * after, axis=0)
    den = np.linalg.norm(before, axis=0) * np.linalg.norm(after, axis=0) + 1e-9
    return np.clip(1.0 - num / den, 0.0, 1.0)


def _on_beat_contrast(frames: np.ndarray, nov: np.ndarray) -> float:
    """Mean harmonic novelty on the beats over its mean half-way between them."""
    frames = np.asarray(frames, dtype=int)
    if len(frames) < 4:
        return 0.0
    mids = ((frames[:-1] + frames[1:]) // 2).astype(int)
    w = 2

    def at(fr: np.ndarray) -> float:
        return float(np.mean([nov[max(0, f - w): f + w + 1].max() for f in fr if f < len(nov)]))

    return at(frames) / max(1e-9, at(mids))


def _track_beats(oenv: np.ndarray, sr: int, chroma: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray, float]:
    """(tempo, beat frames, local tempo per frame, pulse strength 0..1).

    The local tempo (autocorrelation in 3 s windows) says whether the song moves: a
    20th-80th percentile spread over 8 % is rubato, a live drummer, an accelerando (the
    10th-90th took a steady presto whose windows now and then heard 3/4 of its beat for a
    moving tempo: 1.16, where its 20th-80th is 1.03; rubato and ramps measure 1.18). Then
    the dynamic programme is given that tempo curve, so the grid bends with the music.
    A steady song is tracked against librosa's tempogram tempo, smoothed over 10 s. The
    tightness is loose enough (120) that the whole-frame beat period can alternate
    between its two nearest values and so match a tempo between them.
    """
    import librosa
    from scipy.ndimage import median_filter

    oenv = np.asarray(oenv, dtype=np.float64)
    global_tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=oenv, sr=sr, hop_length=HOP))[0])
    local, clarity = _local_tempo(oenv, sr, global_tempo)
    lo, hi = np.percentile(local, [20, 80])
    tightness = 120
    if hi / max(lo, 1e-9) > DRIFT:
        # A window that heard a dotted rhythm or a syncopation for the beat says a tempo far from
        # its neighbours': such spikes are replaced from the neighbours, and the tracker then holds
        # the curve tighter (a ramp 116 -> 151 -> 116 bpm: beat F 0.78 -> 0.99).
        local = _despike(local, sr)
        tightness = MOVING_TIGHTNESS
        tempo = float(np.median(local))
    else:
        heard = librosa.feature.tempo(onset_envelope=oenv, sr=sr, hop_length=HOP, aggregate=None,
                                      start_bpm=global_tempo, std_bpm=0.5).reshape(-1)[: len(oenv)]
        ratio = heard / global_tempo  # fold octave slips back onto the song's tempo
        heard = np.where(ratio > 1.5, heard / 2, np.where(ratio < 0.67, heard * 2, heard))
        local = median_filter(heard, size=max(3, int(round(10.0 * sr / HOP)) | 1), mode="nearest")
        tempo = float(np.median(_local_tempo(oenv, sr, global_tempo)[0]))
    _, frames = librosa.beat.beat_track(onset_envelope=oenv, sr=sr, hop_length=HOP, trim=False, bpm=local,
                                        tightness=tightness)
    if chroma is not None and len(frames) >= 8:
        # A syncopated melody can pull the tracker half a beat off for a few bars. Track again
        # with the harmony's changes as evidence too, and keep the grid (or its half-beat shift)
        # when the harmony changes clearly more on its beats than between them (by GUIDED_GAIN)
        # than on the plain grid's (a rag: 1.21 against 0.89; steady and rubato classical
        # pieces: within 8 %, where the plain grid is the better one).
        half = int(round(0.5 * 60.0 * sr / HOP / max(tempo, 1e-9)))
        nov = _harmonic_novelty(chroma[:, : len(oenv)], half)
        nov = np.pad(nov, (0, max(0, len(oenv) - len(nov))))
        evidence = oenv / (oenv.std() + 1e-9) + HARMONY_WEIGHT * nov / (nov.std() + 1e-9)
        _, guided = librosa.beat.beat_track(onset_envelope=evidence, sr=sr, hop_length=HOP, trim=False, bpm=local,
                                            tightness=tightness)
        if _on_beat_contrast(guided, nov) > GUIDED_GAIN * _on_beat_contrast(frames, nov):
            frames = guided
    frames = np.asarray(frames, dtype=int)
    pulse = float(np.clip(clarity, 0.0, 1.0)) if len(frames) >= 4 else 0.0
    return tempo, frames, local, pulse


# How tightly the tracker holds a moving tempo curve (librosa's tightness; a steady song: 120).
MOVING_TIGHTNESS = 400
SPIKE_WINDOW_S = 5.0  # the neighbourhood (s) a local tempo is compared with
SPIKE = 0.03  # relative distance from the neighbourhood's median from which a local tempo is a spike


def _despike(local: np.ndarray, sr: int) -> np.ndarray:
    """The local tempo with its spikes (more than SPIKE from the median of the SPIKE_WINDOW_S
    around it) replaced by interpolation between the trusted values either side. A median over
    5 s keeps a monotone tempo change exactly; it flattens only the turns of the curve, where
    the 3 % tolerance keeps the true values."""
    from scipy.ndimage import median_filter

    med = median_filter(local, size=max(3, int(SPIKE_WINDOW_S * sr / HOP)) | 1, mode="nearest")
    bad = np.abs(np.log(local / np.maximum(med, 1e-9))) > SPIKE
    if not bad.any() or bad.all():
        return local
    idx = np.arange(len(local))
    out = local.copy()
    out[bad] = np.interp(idx[bad], idx[~bad], local[~bad])
    return out


def _on_the_beat(frames: np.ndarray, low: np.ndarray, oenv: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Move the grid by half a beat when the music says the beat is between the tracked beats.

    A syncopated song (ragtime's "oom-pah" with a syncopated melody, an off-beat hi-hat) can
    pull the tracker onto the off-beats. Two kinds of evidence mark the true beat:
    - the harmony changes on beats (chords change on bar starts, which are beats): the
      chroma change between neighbouring half-beats is larger on the beat than between;
    - the bass and kick hit on the beat.
    The half-beat phase with the harmony changes wins unless the low end clearly disagrees;
    the low end alone moves the grid when it is decisive and the harmony does not object.
    """
    if len(frames) < 8:
        return frames
    mids = ((frames[:-1] + frames[1:]) // 2).astype(int)
    w = 2

    def strength(fr: np.ndarray, env: np.ndarray) -> float:
        return float(np.mean([env[max(0, f - w): f + w + 1].max() for f in fr if f < len(env)]))

    on, off = strength(frames, low), strength(mids, low)
    harmony = _harmony_ratio(frames, mids, chroma)  # > 1: the harmony changes between the tracked beats
    if harmony > HARMONY_SWITCH and off > 0.7 * on:
        return mids
    if off > 1.3 * on and strength(mids, oenv) > 0.8 * strength(frames, oenv) and harmony > 1.0 / HARMONY_SWITCH:
        return mids
    return frames


# How much more the harmony must change on the half-beats than on the tracked beats to move the grid
# (measured: 1.22 on a syncopated rag, at most 0.78 on steady and rubato classical pieces).
HARMONY_SWITCH = 1.1
HARMONY_WEIGHT = 2.0  # the harmonic novelty's weight against the onset envelope in the guided tracking
GUIDED_GAIN = 1.2


def _harmony_ratio(frames: np.ndarray, mids: np.ndarray, chroma: np.ndarray) -> float:
    """Mean chroma change at the half-beats over the mean change at the beats.

    The song is cut into half-beat segments (beat, mid, beat, ...); the change at a point
    is 1 - cosine between the segment before it and the one after it.
    """
    tat = np.sort(np.concatenate([frames, mids]))
    tat = tat[tat < chroma.shape[1]]
    if len(tat) < 6:
        return 1.0
    b = list(tat) + [chroma.shape[1]]
    seg = np.stack([chroma[:, b[i]:max(b[i + 1], b[i] + 1)].mean(axis=1) for i in range(len(tat))])
    seg = seg / np.maximum(1e-9, np.linalg.norm(seg, axis=1, keepdims=True))
    change = np.zeros(len(tat))
    change[1:] = 1.0 - np.sum(seg[1:] * seg[:-1], axis=1)
    on_beat = np.isin(tat, frames)
    on = float(change[1:][on_beat[1:]].mean()) if on_beat[1:].any() else 0.0
    off = float(change[1:][~on_beat[1:]].mean()) if (~on_beat[1:]).any() else 0.0
    return off / on if on > 1e-9 else 1.0


def _tempo_curve_points(local: np.ndarray, times: np.ndarray, beats: list[float]) -> list[list[float]]:
    """The tempo as (second, bpm) points, one a bar-ish (every 4 beats) from the beats themselves."""
    if len(beats) < 3:
        return []
    b = np.asarray(beats)
    out = []
    for i in range(0, len(b) - 1, 4):
        j = min(len(b) - 1, i + 4)
        out.append([round(float(b[i]), 3), round(float(60.0 * (j - i) / (b[j] - b[i])), 2)])
    return out


# Where the fine flux peak sits relative to the attack (measured on synthesized drums):
# the 512-sample window starts to see an attack about 6 ms before its centre reaches it.
_FLUX_LEAD = -0.006
# An attack starts where the fine flux first reaches half its peak (see _refine_beats).
RISE = 0.5


def _refine_beats(y: np.ndarray, sr: int, beat_times: np.ndarray, *, reach: float = 0.06,
                  snap: float = 0.02) -> tuple[np.ndarray, float]:
    """Move the tracked beats onto the attacks; return (beat times, the median shift).

    The tracker works on a 23 ms grid whose 93 ms windows smear every attack, which
    leaves beats ~20-30 ms late: most of a frame at 24 fps. Around each beat we compute
    a spectral flux on a 3 ms grid (512-sample windows) and find where the attack starts
    (the flux reaching half its peak: a bowed or swelling note peaks 40-60 ms after it
    starts, a drum within a few ms). The grid moves by the median offset; a beat whose
    own attack is within `snap` of that moves onto it (a played attack), the others keep
    the median (no attack to trust).
    """
    if len(beat_times) < 4:
        return np.asarray(beat_times, dtype=float), 0.0
    win, hop = 512, 64
    k = int(round(reach * sr / hop))
    offs_frames = np.arange(-k, k + 1) * hop  # frame centres relative to the beat, in samples
    window = np.hanning(win).astype(np.float32)
    padded = np.concatenate([np.zeros(win + k * hop, np.float32), y.astype(np.float32),
                             np.zeros(win + k * hop, np.float32)])
    base = win + k * hop - win // 2
    offsets = np.zeros(len(beat_times))
    for lo in range(0, len(beat_times), 128):  # in chunks: a few MB at a time
        centres = np.round(np.asarray(beat_times[lo:lo + 128]) * sr).astype(int)
        idx = base + centres[:, None, None] + offs_frames[None, :, None] + np.arange(win)[None, None, :]
        frames = padded[idx] * window
        mag = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=-1)))
        flux = np.maximum(0.0, np.diff(mag, axis=1)).sum(axis=-1)  # (beats, 2k)
        peak = np.argmax(flux, axis=1)
        # The attack starts where the flux first rises toward its peak: a slow attack (bowed
        # strings, an organ) peaks well after the note starts, a drum hit within a few ms.
        level = flux[np.arange(len(peak)), peak][:, None] * RISE
        cols = np.arange(flux.shape[1])[None, :]
        before = np.where((flux < level) & (cols < peak[:, None]), cols, -1).max(axis=1)
        peak = np.maximum(before + 1, 0)
        offsets[lo:lo + 128] = offs_frames[peak + 1] / sr
    shift = float(np.median(offsets))
    own = np.abs(offsets - shift) <= snap
    moved = np.asarray(beat_times, dtype=float) + np.where(own, offsets, shift) - _FLUX_LEAD
    return moved, shift - _FLUX_LEAD


def _regularise(beat_frames: np.ndarray, oenv: np.ndarray) -> np.ndarray:
    """Fill a beat the tracker skipped and extend the grid to the song's edges.

    The dynamic-programming tracker can drop a beat at the very start (no history yet)
    or at the end (trim); we extend the median period outwards while the onset
    envelope has a peak where the next beat should be.
    """
    if len(beat_frames) < 4:
        return beat_frames
    frames = list(int(f) for f in beat_frames)
    period = float(np.median(np.diff(frames)))
    thresh = float(np.median(oenv)) + 0.5 * float(np.std(oenv))
    win = max(1, int(round(period * 0.08)))

    def peak_near(f: float) -> int | None:
        lo, hi = int(round(f)) - win, int(round(f)) + win + 1
        if lo < 0 or hi > len(oenv):
            lo, hi = max(lo, 0), min(hi, len(oenv))
            if hi - lo < 1:
                return None
        j = lo + int(np.argmax(oenv[lo:hi]))
        return j if oenv[j] >= thresh else None

    while frames[0] - period > -win:
        p = peak_near(frames[0] - period)
        if p is None or p >= frames[0]:
            break
        frames.insert(0, p)
    while frames[-1] + period < len(oenv) + win:
        p = peak_near(frames[-1] + period)
        if p is None or p <= frames[-1]:
            break
        frames.append(p)
    # A gap of two periods inside the song is a skipped beat: put it in the middle.
    out = [frames[0]]
    for f in frames[1:]:
        gap = f - out[-1]
        k = int(round(gap / period))
        if k >= 2 and abs(gap - k * period) < 0.25 * period:
            for j in range(1, k):
                out.append(int(round(out[-1 - (j - 1)] + j * gap / k)) if False else int(round(out[-1] + gap / k)))
        out.append(f)
    return np.asarray(out, dtype=int)


def _metre(beat_frames: np.ndarray, chroma: np.ndarray, low: np.ndarray, n_frames: int,
           beats_per_bar: int | None) -> tuple[int, int, float]:
    """(beats per bar, index of the first downbeat, contrast) from where chords change and the low
    end hits; the contrast (in standard deviations) says how clearly the bar lines are heard.

    Chords change on bar starts and kicks land on the one, so for the true metre m and
    phase p, beats with index = p (mod m) stand out from the others; for a wrong metre
    the downbeats spread evenly over the phases and the contrast vanishes.
    """
    nb = len(beat_frames)
    if nb < 6:
        return beats_per_bar or 4, 0, 0.0
    bounds = list(beat_frames) + [n_frames]
    beat_chroma = np.stack([chroma[:, bounds[i]:max(bounds[i + 1], bounds[i] + 1)].mean(axis=1) for i in range(nb)],
                           axis=0)
    norm = beat_chroma / np.maximum(1e-9, np.linalg.norm(beat_chroma, axis=1, keepdims=True))
    change = np.zeros(nb)
    change[1:] = 1.0 - np.sum(norm[1:] * norm[:-1], axis=1)
    # how much stronger the low band hits on this beat than around it
    w = 3
    hit = np.array([low[max(0, f - w): f + w + 1].max() if f < len(low) else 0.0 for f in beat_frames])

    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / (x.std() + 1e-9)

    score = z(change) + 0.5 * z(hit)
    candidates = [beats_per_bar] if beats_per_bar else [3, 4]
    best = None
    for m in candidates:
        for p in range(m):
            on = score[p::m]
            off = np.delete(score, np.arange(p, nb, m))
            contrast = float(on.mean() - off.mean())
            if best is None or contrast > best[0] + 1e-9:
                best = (contrast, m, p)
    assert best is not None
    c, m, p = best
    return m, p, c


# Metre contrast (standard deviations) from which the heard bar lines are trusted to place a
# section start (a synthesized pop song: 2.1; string quartets, a rag, a chorale: 0.25-0.81).
CLEAR_BARS = 1.2


def _repeat_bounds(beats: list[float], downbeats: list[float], times: np.ndarray, chroma: np.ndarray,
                   ) -> dict[int, tuple[float, float]]:
    """Where repeated material starts or stops repeating: {bar index: (strength 0..1, beat time)}.

    Structure features (Serra et al. 2014): a recurrence matrix of beat-synchronous chroma
    (with 4 beats of context), turned into time-lag form, smoothed over 4 beats; a boundary
    is where the lag pattern changes (a repeat begins: the second A of A A B, or the B after
    it). Peaks at least 8 bars apart (4 either side), above 30 % of the strongest, on the beat
    where the change is (the bar index is the nearest downbeat's: the heard downbeats can be
    a beat or two off, the repeat's beat is not). The 4-beat context makes a change show a
    beat late: it is put back one beat.
    """
    import librosa
    from scipy.ndimage import gaussian_filter, gaussian_filter1d

    if len(beats) < 32 or len(downbeats) < 8:
        return {}
    bf = np.maximum(np.searchsorted(times, beats, side="right") - 1, 0)  # the frame each beat falls in
    bf = bf[bf < chroma.shape[1]]
    cs = librosa.util.sync(chroma, bf, aggregate=np.median)
    starts = np.concatenate([[0.0], np.asarray(beats)[: len(bf)]])[: cs.shape[1]]
    feats = librosa.feature.stack_memory(cs, n_steps=4, mode="edge")
    k = max(2, int(2 * np.sqrt(feats.shape[1])))
    rec = librosa.segment.recurrence_matrix(feats, width=3, mode="affinity", sym=True, k=k)
    lag = gaussian_filter(librosa.segment.recurrence_to_lag(rec, pad=False), sigma=(0.5, 4))
    nov = np.concatenate([[0.0], np.linalg.norm(np.diff(lag, axis=1), axis=0)])
    nov = gaussian_filter1d(nov, 2)
    if nov.max() <= 0:
        return {}
    per_bar = max(1, int(round(len(beats) / max(1, len(downbeats)))))
    reach = 4 * per_bar
    out: dict[int, tuple[float, float]] = {}
    d = np.asarray(downbeats)
    for i in range(1, len(nov) - 1):
        if nov[i] < 0.3 * nov.max() or nov[i] < nov[max(0, i - reach): i + reach + 1].max():
            continue
        if REPEAT_EDGE:
            i = _repeat_edge(rec, i, per_bar)
        t = starts[max(0, i - 1)]
        bar = int(np.argmin(np.abs(d - t)))
        strength = float(nov[i] / nov.max())
        if 0 < bar < len(downbeats) and t > downbeats[0] and strength > out.get(bar, (0.0, 0.0))[0]:
            out[bar] = (strength, float(t))
    return out


EDGE_STEP = 0.1  # the least step (recurrence affinity) along a repeat's diagonal at a boundary for it to move
REPEAT_EDGE = True  # place a repeat boundary where its repeat's diagonal starts or stops (see _repeat_edge)


def _repeat_edge(rec: np.ndarray, i0: int, per_bar: int) -> int:
    """The beat near `i0` where a repeat starts or stops, from the recurrence itself.

    The smoothed lag novelty finds that a repeat starts or ends about here, but its smoothing
    (4 beats) can put the peak a bar or two off. A repeat is a diagonal of the recurrence
    matrix at some lag L (the material at beat i is the material at i - L, L of a phrase or
    more); the boundary is the beat where one such diagonal steps most sharply between the
    two bars before it and the two bars after it (a repeat starting: low, then high; ending:
    the reverse). Moves by two bars at most.
    """
    n = rec.shape[0]
    M = 2 * per_bar
    lo_lag = 4 * per_bar
    if n < 2 * lo_lag + M:
        return i0
    rows = np.arange(i0 - 2 * M, i0 + 2 * M)  # beats either side of the candidates
    lags = np.arange(lo_lag, n)
    cols = rows[:, None] - lags[None, :]
    ok = (rows[:, None] >= 0) & (rows[:, None] < n) & (cols >= 0)
    D = np.where(ok, rec[np.clip(rows, 0, n - 1)[:, None], np.clip(cols, 0, n - 1)], 0.0)
    # a little slack across the diagonal: repeats are played, not copied
    D = np.maximum(D, np.maximum(np.roll(D, 1, axis=1), np.roll(D, -1, axis=1)))
    c = np.vstack([np.zeros((1, D.shape[1])), np.cumsum(D, axis=0)])
    def step_at(k: int) -> float:
        before = (c[k] - c[k - M]) / M
        after = (c[min(k + M, len(rows))] - c[k]) / M
        return float(np.max(np.abs(after - before)))

    here = step_at(2 * M)
    if here < EDGE_STEP:
        # No repeat steps here (a new section heard for the first time): a diagonal starting
        # nearby is a phrase repeating inside that section, not this boundary.
        return i0
    best_i, best_step = i0, here  # where the novelty put it, unless a clearer step is near
    for k in range(M, 3 * M + 1):  # candidate beat rows[k], from i0 - M to i0 + M
        i = int(rows[k]) if k < len(rows) else i0 + M
        if not (1 <= i < n - 1):
            continue
        step = step_at(k)
        if step > best_step + 1e-9:
            best_i, best_step = i, step
    return best_i


def _sections(downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray, mfcc: np.ndarray,
              rms: np.ndarray, beats: list[float] | None = None, bars_clear: bool = True) -> list[Section]:
    """Segment by repetition structure on a bar grid and name the segments.

    Boundaries come from two kinds of evidence: where repeated material starts (structure
    features on beats, `_repeat_bounds`) and where the sound changes (a checkerboard novelty
    on the bar-by-bar self-similarity). A change within the minimum gap of a repeat boundary
    gives way to it. A repeat boundary starts on the nearest heard downbeat when the bar lines
    are heard clearly (`bars_clear`), else on its own beat (the heard downbeats may be off).
    """
    if len(downbeats) < 4:
        return [Section(0.0, round(duration, 4), "verse")]
    edges = list(downbeats) + [duration]
    frame_edges = np.searchsorted(times, edges)
    nbars = len(downbeats)
    feats = []
    loud = []
    for i in range(nbars):
        a, b = int(frame_edges[i]), max(int(frame_edges[i + 1]), int(frame_edges[i]) + 1)
        c = chroma[:, a:b].mean(axis=1)
        m = mfcc[:, a:b]
        feats.append(np.concatenate([c / (np.linalg.norm(c) + 1e-9), m.mean(axis=1), m.std(axis=1)]))
        loud.append(float(rms[a:b].mean()) if b > a else 0.0)
    X = np.asarray(feats)
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-9)
    # Chroma within a section cycles through its progression; timbre stays put. Weight
    # timbre more, but keep harmony so two sections with one sound still separate.
    X[:, :12] *= 0.7
    Xn = X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-9)
    ssm = Xn @ Xn.T

    half = 4 if nbars >= 24 else 2 if nbars >= 8 else 1
    novelty = _checkerboard_novelty(ssm, half)
    # A long song has long sections: at least 8 bars apart from 64 bars on (no "verse#22").
    min_gap = 8 if nbars >= 64 else max(1, half)
    bounds = _pick_peaks(novelty, min_gap=min_gap, nbars=nbars)
    repeats = _repeat_bounds(beats or [], downbeats, times, chroma)
    if repeats:
        # a repeat boundary wins over a change of sound within min_gap bars of it (a repeat
        # starting is what a listener hears as the next section; a new sound inside it is not)
        keep_gap = max(min_gap, 8)
        bounds = sorted(set(repeats) | {b for b in bounds if all(abs(b - r) >= keep_gap for r in repeats)})
    segs = [0] + bounds + [nbars]
    # Segment signatures: mean feature, loudness.
    sig = [Xn[a:b].mean(axis=0) for a, b in zip(segs[:-1], segs[1:])]
    lv = [float(np.mean(loud[a:b])) for a, b in zip(segs[:-1], segs[1:])]
    labels = _name_segments(sig, lv, [(a, b) for a, b in zip(segs[:-1], segs[1:])], nbars, bars=Xn)
    out = []
    top = float(novelty.max()) or 1.0
    for (a, b), lab in zip(zip(segs[:-1], segs[1:]), labels):
        start = 0.0 if a == 0 else edges[a]
        conf = 1.0 if a == 0 else float(np.clip(max(novelty[a] / top, repeats.get(a, (0.0, 0.0))[0]), 0.0, 1.0))
        if a in repeats and not bars_clear:
            start = repeats[a][1]  # on the repeat's own beat
        out.append(Section(round(start, 4), 0.0, lab, round(conf, 3)))
    for i, sec in enumerate(out):  # each section ends where the next starts
        out[i] = Section(sec.start, round(out[i + 1].start if i + 1 < len(out) else duration, 4), sec.label,
                         sec.confidence)
    return out


def _checkerboard_novelty(ssm: np.ndarray, half: int) -> np.ndarray:
    n = len(ssm)
    k = np.ones((2 * half, 2 * half))
    k[:half, half:] = -1
    k[half:, :half] = -1
    pad = np.pad(ssm, half, mode="edge")
    nov = np.zeros(n)
    for i in range(n):
        # boundary before bar i: the kernel centred between bars i-1 and i
        block = pad[i: i + 2 * half, i: i + 2 * half]
        nov[i] = float((block * k).sum())
    nov[0] = 0.0
    return np.maximum(nov, 0.0)


def _pick_peaks(nov: np.ndarray, *, min_gap: int, nbars: int) -> list[int]:
    """Local maxima of the novelty curve, strongest first, at least `min_gap` bars apart."""
    if nov.max() <= 0:
        return []
    thresh = 0.35 * float(nov.max())
    reach = max(1, min_gap // 2)
    peaks = [i for i in range(1, nbars)
             if nov[i] >= thresh and nov[i] >= nov[max(0, i - reach): i + reach + 1].max() - 1e-9]
    chosen: list[int] = []
    for i in sorted(peaks, key=lambda i: -nov[i]):
        if all(abs(i - c) >= min_gap for c in chosen):
            chosen.append(i)
    return sorted(chosen)


def _same_material(bars: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """How alike two segments' bar sequences are: the mean bar-by-bar cosine along their best
    alignment (one slid against the other, overlapping by at least MIN_OVERLAP of the shorter:
    a boundary found a few bars off must not hide a repeat).

    A repeat plays the same bars in the same order; two different sections of one ensemble
    share a sound (similar mean features) but not the order of their bars.
    """
    n = len(spans)
    S = np.eye(n)
    for i in range(n):
        for j in range(i):
            (a0, a1), (b0, b1) = spans[i], spans[j]
            best = -1.0
            need = max(2, int(np.ceil(MIN_OVERLAP * min(a1 - a0, b1 - b0))))
            for d in range(-(b1 - b0), a1 - a0 + 1):  # bar a0 + d of one against bar b0 of the other
                ka = np.arange(max(a0, a0 + d), a1)
                kb = ka - a0 - d + b0
                ok = (kb >= b0) & (kb < b1)
                if ok.sum() >= need:
                    best = max(best, float(np.mean(np.sum(bars[ka[ok]] * bars[kb[ok]], axis=1))))
            S[i, j] = S[j, i] = best
    return S


# Bar-by-bar likeness from which two segments are the same material (repeats measured 0.49-0.92,
# different sections of one string quartet -0.4-0.3 with the same sound).
SAME_BARS = 0.4
MIN_OVERLAP = 0.75  # two segments are compared where they overlap by at least 3/4 of the shorter one


def _name_segments(sig: list[np.ndarray], loud: list[float], spans: list[tuple[int, int]], nbars: int,
                   bars: np.ndarray | None = None) -> list[str]:
    """Same material -> same label. Loudest repeated group = chorus; other repeated = verse;
    a quiet first / last segment = intro / outro; anything else that occurs once = bridge.
    With `bars` (unit feature rows, one a bar) material is compared bar by bar in order
    (`_same_material`), else by the segments' mean features."""
    n = len(sig)
    if n == 1:
        return ["verse"]
    if bars is not None:
        S = _same_material(bars, spans)
    else:
        S = np.array([[float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9)) for b in sig]
                      for a in sig])
    group = list(range(n))
    for i in range(n):  # greedy: join the most similar earlier segment above a threshold
        best_j, best_s = None, (SAME_BARS if bars is not None else 0.6)
        for j in range(i):
            if S[i, j] > best_s:
                best_j, best_s = j, S[i, j]
        if best_j is not None:
            group[i] = group[best_j]
    mean_loud = float(np.mean(loud))
    labels: list[str | None] = [None] * n
    middle = set(group[1:-1])
    # The first / last segment is an intro / outro when its material does not come
    # back in the body of the song (it may match the other end: bookends are common).
    if n >= 3 and group[0] not in middle and loud[0] <= max(loud):
        labels[0] = "intro"
    if n >= 3 and group[-1] not in middle and loud[-1] <= max(loud):
        labels[-1] = "outro"
    counts = {g: sum(1 for i in range(n) if group[i] == g and labels[i] is None) for g in set(group)}
    repeated = sorted({g for g, c in counts.items() if c >= 2},
                      key=lambda g: -np.mean([loud[i] for i in range(n) if group[i] == g]))
    names = {}
    if repeated:
        names[repeated[0]] = "chorus"
        for g in repeated[1:]:
            names[g] = "verse"
        if len(repeated) == 1:
            # One repeated group: if it is the quieter material it is the verse.
            g = repeated[0]
            others = [loud[i] for i in range(n) if group[i] != g and labels[i] is None]
            if others and np.mean([loud[i] for i in range(n) if group[i] == g]) < np.mean(others):
                names[g] = "verse"
    for i in range(n):
        if labels[i] is None:
            labels[i] = names.get(group[i])
    first_chorus = next((i for i in range(n) if labels[i] == "chorus"), n)
    for i in range(n):
        if labels[i] is None:
            if not repeated:
                labels[i] = "chorus" if loud[i] > mean_loud else "verse"
            elif first_chorus == n:
                # The one repeated material is the verse: what is heard once contrasts with it.
                labels[i] = "bridge"
            else:
                # Material heard once: before the first chorus it is a verse; after, a bridge.
                labels[i] = "verse" if i < first_chorus else "bridge"
    return [str(x) for x in labels]


# -- the director's corrections -----------------------------------------------------------


def apply_corrections(song: SongAnalysis, fix) -> SongAnalysis:
    """The song map with the spec's `song:` block applied; what is given is kept exactly.

    fix: a `dreamcut.spec.SongSpec` (bpm or tempo map, first downbeat, meter, sections).
    A bpm / tempo map rebuilds the beat grid from the first downbeat; a downbeat alone
    re-phases the bars (that beat moves onto the given second); sections replace the
    heard ones (a section given by bar starts on that bar's downbeat). BadInput names
    the field when a correction does not fit the song.
    """
    if fix is None:
        return song
    import dataclasses

    corrected: list[str] = []
    beats = list(song.beats)
    bpb = int(fix.meter or song.beats_per_bar)
    if fix.meter:
        corrected.append("meter")
    start = fix.downbeat
    if fix.tempo:
        start = fix.tempo[0].at if start is None else start
    if fix.bpm or fix.tempo:
        if start is None:
            start = song.downbeats[0] if song.downbeats else (song.beats[0] if song.beats else 0.0)
        points = [(start, float(fix.bpm))] if fix.bpm else [(max(p.at, start) if i == 0 else p.at, p.bpm)
                                                           for i, p in enumerate(fix.tempo)]
        if start >= song.duration:
            raise BadInput(f"the first downbeat {start:g} s is after the song's end ({song.duration:.2f} s)",
                           where="dreamcut.yaml: song.downbeat", fix="give a second inside the song")
        grid = [start]
        while True:
            t = grid[-1]
            bpm = next(b for a, b in reversed(points) if a <= t + 1e-9) if t >= points[0][0] else points[0][1]
            nxt = t + 60.0 / bpm
            if nxt >= song.duration - 0.1:
                break
            grid.append(nxt)
        back = []
        t = start - 60.0 / points[0][1]
        while t >= -0.005:
            back.append(max(0.0, t))
            t -= 60.0 / points[0][1]
        beats = [round(x, 4) for x in list(reversed(back)) + grid]
        first = len(back)
        corrected.append("tempo")
    else:
        if start is not None:
            if not beats:
                raise BadInput("the song has no beats to put the downbeat on", where="dreamcut.yaml: song.downbeat",
                               fix="give `bpm:` too")
            first = int(np.argmin(np.abs(np.asarray(beats) - start)))
            beats[first] = round(float(start), 4)
            corrected.append("downbeat")
        elif fix.meter and song.downbeats:
            first = int(np.argmin(np.abs(np.asarray(beats) - song.downbeats[0])))
        else:
            first = int(np.argmin(np.abs(np.asarray(beats) - song.downbeats[0]))) if song.downbeats and beats else 0
    if start is not None and fix.downbeat is not None and "downbeat" not in corrected:
        corrected.append("downbeat")
    first = first % bpb if first >= bpb else first
    downbeats = beats[first::bpb]
    tempo = song.tempo
    if len(beats) >= 2 and "tempo" in corrected:
        tempo = round(float(60.0 / np.median(np.diff(beats))), 4)
    out = dataclasses.replace(song, beats=beats, downbeats=downbeats, beats_per_bar=bpb, tempo=tempo,
                              tempo_curve=_tempo_curve_points(np.array([]), np.array([]), beats)
                              if "tempo" in corrected else song.tempo_curve,
                              pulse=1.0 if "tempo" in corrected else song.pulse)
    if fix.sections:
        starts = []
        for k, mark in enumerate(fix.sections):
            if mark.bar is not None:
                if mark.bar > len(downbeats):
                    raise BadInput(f"section {mark.name!r} starts at bar {mark.bar}, but the song has "
                                   f"{len(downbeats)} bars", where=f"dreamcut.yaml: song.sections[{k}]",
                                   fix=f"use a bar between 1 and {len(downbeats)} (see `dreamcut song`)")
                t = downbeats[mark.bar - 1]
            else:
                t = float(mark.start)
            if t >= song.duration:
                raise BadInput(f"section {mark.name!r} starts at {t:g} s, after the song's end ({song.duration:.2f} s)",
                               where=f"dreamcut.yaml: song.sections[{k}]", fix="give a start inside the song")
            if starts and t <= starts[-1][0]:
                raise BadInput(f"section {mark.name!r} starts at {t:g} s, not after the one before it",
                               where=f"dreamcut.yaml: song.sections[{k}]", fix="list the sections in order")
            starts.append((t, mark.name))
        if starts[0][0] > 0.05:
            starts.insert(0, (0.0, "intro" if starts[0][1] != "intro" else "count-in"))
        else:
            starts[0] = (0.0, starts[0][1])
        ends = [t for t, _ in starts[1:]] + [song.duration]
        out.sections = [Section(round(t, 4), round(e, 4), name, 1.0) for (t, name), e in zip(starts, ends)]
        corrected.append("sections")
    out.corrected = corrected
    return out


def song_map(song: SongAnalysis) -> dict:
    """The song map as `dreamcut song --json` prints it: tempo (curve), bars, sections."""
    names = song.section_names()
    bars = []
    for i, d in enumerate(song.downbeats):
        bars.append({"bar": i + 1, "start": d})
    return {
        "duration": song.duration, "tempo": song.tempo, "tempo_curve": song.tempo_curve,
        "tempo_moves": _tempo_moves(song), "beats_per_bar": song.beats_per_bar, "pulse": song.pulse,
        "weak_pulse": song.pulse < WEAK_PULSE, "first_downbeat": song.downbeats[0] if song.downbeats else None,
        "beats": len(song.beats), "bars": bars, "corrected": song.corrected,
        "sections": [{"name": n, "label": s.label, "start": s.start, "end": s.end,
                      "bar": song.bar_index(s.start) + 1, "confidence": s.confidence}
                     for s, n in zip(song.sections, names)],
    }


def _tempo_moves(song: SongAnalysis) -> bool:
    bpms = [b for _, b in song.tempo_curve]
    if len(bpms) < 3:
        return False
    lo, hi = np.percentile(bpms, [5, 95])
    return bool(hi / max(lo, 1e-9) > DRIFT)
