"""Hearing the song: tempo, beats, bars (downbeats), onsets, energy and sections.

`analyze_song(path)` decodes any file ffmpeg reads, tracks the beat with librosa,
finds the bar starts (4/4 or 3/4) from where the harmony and the low end change,
and segments the song by its own repetition structure (a bar-by-bar self-similarity
matrix, a checkerboard novelty curve, boundaries on downbeats), then names the
sections intro / verse / chorus / bridge / outro from repetition, energy and position.
Results are cached as JSON keyed by the song's content hash.

This module only reads the song and writes its cache; it never edits, renders or
touches the catalog. Decisions about cuts belong to `edit.planner`.

This module runs the steps and owns the cache; each step lives in its own module:
`song` (the `SongAnalysis` record), `decode`, `tempo`, `beats`, `metre`, `sections` and
`corrections` (the spec's `song:` block). Their public names stay importable from here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from dreamcut.analysis.beats import (_ballad_half, _beat_confidence, _on_the_beat, _refine_beats, _regularise,
                                      _slow_song_eighths, _track_beats, mid_band, tempo_evidence)
from dreamcut.analysis.corrections import apply_corrections
from dreamcut.analysis.decode import ANALYSIS_SR, _fix_for, load_audio
from dreamcut.analysis.metre import CLEAR_BARS, HALF_BAR_DOUBT, _metre, half_bar_margin
from dreamcut.analysis.sections import _sections, chorus_rival, on_next_downbeats, texture_inputs
from dreamcut.analysis.song import ANALYSIS_VERSION, LABELS, Section, SongAnalysis
from dreamcut.analysis.tempo import DRIFT, HOP, WEAK_PULSE, _tempo_curve_points, other_octave
from dreamcut.errors import BadInput
from dreamcut.media import file_sha256, write_text_atomic

__all__ = ["ANALYSIS_SR", "ANALYSIS_VERSION", "DRIFT", "HOP", "LABELS", "WEAK_PULSE", "Section", "SongAnalysis",
           "analyze_samples", "analyze_song", "apply_corrections", "load_audio", "song_map"]


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


@functools.lru_cache(maxsize=1)
def analysis_code_digest() -> str:
    """A hash of the song analysis's own sources (this package's modules; not `video/`): part of the
    cache key beside ANALYSIS_VERSION, so a song map is heard anew whenever the code that hears it
    changed, even where nobody bumped the version."""
    h = hashlib.sha256()
    for src in sorted(Path(__file__).resolve().parent.glob("*.py")):
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    return h.hexdigest()[:12]


def _analyze_song_once(path: Path, cache_dir, beats_per_bar: int | None, report: Callable[[float], None]):
    digest = file_sha256(path)
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / (f"song-{digest[:32]}-v{ANALYSIS_VERSION}-c{analysis_code_digest()}"
                                        f"-m{beats_per_bar or 0}.json")
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


def _kept_beats(refined: np.ndarray, frames: np.ndarray, duration: float) -> tuple[list[int], list[float], np.ndarray]:
    """(the indices kept, their times, their frames) of the refined beats: a "beat" in the last 0.1 s
    is the song's end (the fade), not a beat; one pulled a few ms before 0 by the refinement is the
    song's first beat, kept at 0."""
    keep = [k for k, t in enumerate(refined) if -0.05 <= t < duration - 0.1]
    return keep, [max(0.0, float(refined[k])) for k in keep], np.asarray([frames[k] for k in keep], dtype=int)


def analyze_samples(y: np.ndarray, sr: int, *, beats_per_bar: int | None = None,
                    progress: Callable[[float], None] | None = None) -> SongAnalysis:
    """The analysis on decoded mono samples (no I/O)."""
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
    tempo, beat_frames, tempo_curve, pulse, other = _track_beats(oenv, sr, chroma=chroma, low=low)
    beat_frames = _regularise(beat_frames, oenv)
    beat_frames = _on_the_beat(beat_frames, low, oenv, chroma)
    beat_frames, tempo = _slow_song_eighths(beat_frames, tempo, oenv, low, chroma, sr)
    heard_frames = beat_frames
    beat_frames, tempo = _ballad_half(beat_frames, tempo, oenv, low, chroma, sr, mid_band(mel_db, sr))
    halved = len(beat_frames) < len(heard_frames)  # a ballad heard on its eighths (either cue)
    times = librosa.frames_to_time(np.arange(len(oenv)), sr=sr, hop_length=HOP)
    refined, shift = _refine_beats(y, sr, times[beat_frames])
    confidence = _beat_confidence(refined, _refine_beats(y, sr, times[_regularise(other, oenv)])[0])
    keep, beats, beat_frames = _kept_beats(refined, beat_frames, duration)
    confidence = [round(float(confidence[k]), 3) for k in keep]
    if len(beats) >= 2:
        # The slope of a straight line through the beats: robust to one late beat.
        tempo = float(60.0 / np.polyfit(np.arange(len(beats)), beats, 1)[0])
    else:
        tempo = float(np.atleast_1d(tempo)[0])
    # the tempo's other octave when it is nearly as likely (`tempo.other_octave`): the song map says it
    octave = other_octave(tempo, sr, tempo_evidence(oenv, low, chroma, tempo, sr))

    report(0.35)
    bpb, first, bar_contrast = _metre(beat_frames, chroma, low, len(oenv), beats_per_bar, oenv=oenv)
    downbeats = [beats[i] for i in range(first, len(beats), bpb)]
    # the other half of a 4-beat bar when the two sound nearly alike: the song map says it
    other_downbeat = None
    if bpb == 4 and half_bar_margin(beat_frames, chroma, low, len(oenv), oenv, first) < HALF_BAR_DOUBT:
        other_downbeat = round(float(beats[(first + 2) % 4]), 4)

    report(0.5)
    onset_frames = librosa.onset.onset_detect(onset_envelope=oenv, sr=sr, hop_length=HOP, units="frames")
    onsets = [round(max(0.0, float(t) + shift), 4) for t in times[onset_frames]]
    # each onset's strength (the envelope's peak within a frame of it, over the song's largest), full
    # band and bass: the planner prefers a cut on a strong attack (`edit.cut_places`)
    def peaks(env: np.ndarray) -> list[float]:
        top = max(1e-9, float(env.max())) if env.size else 1.0
        return [round(float(env[max(0, f - 1):f + 2].max()) / top, 3) for f in onset_frames]
    onset_strength, onset_bass = peaks(oenv), peaks(low)

    report(0.6)
    rms = np.sqrt(np.maximum(mel.sum(axis=0), 0))
    step = max(1, int(round(0.1 * sr / HOP)))  # 10 values a second
    n = len(rms) // step
    energy = rms[: n * step].reshape(n, step).mean(axis=1)
    energy = energy / max(1e-9, float(energy.max()))
    energy_times = [round(float(times[i * step]), 4) for i in range(n)]

    report(0.7)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=20)
    texture = texture_inputs(mel_db, oenv)  # the register and the attacks, for the section starts' evidence
    if halved:
        # A ballad halved (`beats._ballad_half`: by its bass or by its bars' harmony) is searched for
        # sections as it was heard, on its eighths and their bars (half bars of its own): searched on
        # its own slow bars, the 14 ballads halved by their bass (session 12) lost 12 boundaries on the
        # annotated bar line (276 -> 264 of the 88 studied songs) and one within a bar (POP909 019,
        # 024: tests/test_sections_*); as heard, every section column is as it was before the halving.
        # A start half a bar from a downbeat then goes to the next one (`sections.on_next_downbeats`).
        _, hbeats, hframes = _kept_beats(_refine_beats(y, sr, times[heard_frames])[0], heard_frames, duration)
        hbpb, hfirst, hcontrast = _metre(hframes, chroma, low, len(oenv), beats_per_bar, oenv=oenv)
        heard = _sections([hbeats[i] for i in range(hfirst, len(hbeats), hbpb)], duration, times, chroma, mfcc, rms,
                          beats=hbeats, bars_clear=hcontrast >= CLEAR_BARS, texture=texture)
        sections = on_next_downbeats(heard, downbeats, duration)
    else:
        sections = _sections(downbeats, duration, times, chroma, mfcc, rms, beats=beats,
                             bars_clear=bar_contrast >= CLEAR_BARS, texture=texture)
    # the repeated material nearly as loud as the chorus, when the chorus's name is a coin toss: the song map says it
    rival = chorus_rival(sections, downbeats, duration, times, rms)
    report(0.95)
    curve = _tempo_curve_points(tempo_curve, times, beats)
    return SongAnalysis(duration=round(duration, 6), sample_rate=sr, tempo=round(tempo, 4),
                        tempo_curve=curve, pulse=round(pulse, 3),
                        beats=[round(b, 4) for b in beats], downbeats=[round(d, 4) for d in downbeats],
                        beats_per_bar=bpb, onsets=onsets, energy_times=energy_times,
                        energy=[round(float(e), 4) for e in energy], sections=sections,
                        beat_confidence=confidence, other_octave=round(octave, 2), other_downbeat=other_downbeat,
                        other_chorus=rival, onset_strength=onset_strength, onset_bass=onset_bass)


def song_map(song: SongAnalysis) -> dict:
    """The song map as `dreamcut song --json` prints it: tempo (curve), bars, sections."""
    names = song.section_names()
    bars = []
    for i, d in enumerate(song.downbeats):
        bars.append({"bar": i + 1, "start": d})
    return {
        "duration": song.duration, "tempo": song.tempo, "tempo_doubt": song.octave_doubt() or None,
        "downbeat_doubt": song.downbeat_doubt() or None, "chorus_doubt": song.chorus_doubt() or None,
        # the values the doubts name, for a script (None where nothing is said)
        "other_bpm": round(song.other_octave, 2) if song.octave_doubt() else None,
        "other_downbeat": song.other_downbeat if song.downbeat_doubt() else None,
        "chorus_rival": song.other_chorus if song.chorus_in_doubt else None,
        "tempo_curve": song.tempo_curve,
        "tempo_moves": tempo_moves(song), "beats_per_bar": song.beats_per_bar, "pulse": song.pulse,
        "weak_pulse": song.pulse < WEAK_PULSE, "first_downbeat": song.downbeats[0] if song.downbeats else None,
        "beats": len(song.beats), "bars": bars, "corrected": song.corrected,
        "doubtful_beats": [b for i, b in enumerate(song.beats) if not song.sure_beat(i)],
        "sections": [{"name": n, "label": s.label, "start": s.start, "end": s.end,
                      "bar": song.bar_index(s.start) + 1, "confidence": s.confidence, "sure": song.sure_section(i)}
                     for i, (s, n) in enumerate(zip(song.sections, names))],
    }


def tempo_moves(song: SongAnalysis) -> bool:
    """Whether the song's tempo moves: its tempo curve's 95th percentile over its 5th beyond DRIFT. The
    one rule for `dreamcut song`'s "moves" and song.png's tempo curve (a steady song's bar-to-bar jitter,
    a few per cent, is not drawn as if it drifted)."""
    bpms = [b for _, b in song.tempo_curve]
    if len(bpms) < 3:
        return False
    lo, hi = np.percentile(bpms, [5, 95])
    return bool(hi / max(lo, 1e-9) > DRIFT)
