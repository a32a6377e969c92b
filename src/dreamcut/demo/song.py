"""An original song, synthesized with numpy, with its true beat / bar / section grid beside it.

The demo and the tests need music whose grid is known exactly, so the editing can be
scored against ground truth. `synthesize_song` writes a 16-bit WAV and `<stem>.truth.json`
(tempo, beats, downbeats, sections). Drums (kick, snare, hats), a bass on the chord roots
and pad chords that change on bar starts; every section has its own chords, register
and instrumentation so repetition-structure segmentation can find it.

This module never reads user files and never uses randomness it was not given (`seed`):
the same arguments give the same samples.
"""

from __future__ import annotations

import functools
import json
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dreamcut.media import atomic_path, write_text_atomic

DEFAULT_STRUCTURE: list[tuple[str, int]] = [
    ("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("outro", 4)
]
SHORT_STRUCTURE: list[tuple[str, int]] = [("intro", 2), ("verse", 2), ("chorus", 2), ("outro", 1)]

# Chords as semitone offsets from A2 (110 Hz) for the root, and the triad quality.
_MINOR = (0, 3, 7)
_MAJOR = (0, 4, 7)
_A, _C, _D, _E, _F, _G = 0, 3, 5, 7, 8, 10
_PROGRESSIONS: dict[str, list[tuple[int, tuple[int, int, int]]]] = {
    "intro": [(_D, _MINOR), (_D, _MINOR), (_A, _MINOR), (_A, _MINOR)],
    "verse": [(_A, _MINOR), (_F, _MAJOR), (_C, _MAJOR), (_G, _MAJOR)],
    "chorus": [(_C, _MAJOR), (_G, _MAJOR), (_D, _MINOR), (_E, _MAJOR)],
    "bridge": [(_F, _MAJOR), (_E, _MINOR), (_D, _MINOR), (_E, _MAJOR)],
    "outro": [(_F, _MAJOR), (_F, _MAJOR), (_A, _MINOR), (_A, _MINOR)],
}


@dataclass
class TruthSection:
    start: float
    end: float
    label: str


@dataclass
class SongTruth:
    """The grid the song was built on (seconds)."""

    bpm: float
    beats_per_bar: int
    beats: list[float]
    downbeats: list[float]
    sections: list[TruthSection] = field(default_factory=list)
    duration: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SongTruth":
        return cls(bpm=float(d["bpm"]), beats_per_bar=int(d["beats_per_bar"]), beats=list(d["beats"]),
                   downbeats=list(d["downbeats"]), sections=[TruthSection(**s) for s in d["sections"]],
                   duration=float(d["duration"]))

    @classmethod
    def load(cls, path: Path) -> "SongTruth":
        """Read `<stem>.truth.json` (give the song or the truth file)."""
        path = Path(path)
        if not path.name.endswith(".truth.json"):
            path = truth_path(path)
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def truth_path(song: Path) -> Path:
    song = Path(song)
    return song.with_name(song.stem + ".truth.json")


# -- instruments (each returns a mono buffer starting at the note onset) ----------------


def _env(n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    a = np.minimum(1.0, t / max(attack, 1e-4))
    return a * np.exp(-t / decay)


def _kick(sr: int) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    freq = 45 + 85 * np.exp(-t / 0.04)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    click = np.exp(-t / 0.003)
    return (np.sin(phase) * np.exp(-t / 0.18) + 0.3 * click) * 1.0


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    noise = noise - np.concatenate([[0.0], noise[:-1]]) * 0.6  # tilt towards the top
    tone = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)
    return 0.45 * noise * np.exp(-t / 0.07) + 0.5 * tone


def _hat(sr: int, rng: np.random.Generator, decay: float) -> np.ndarray:
    n = int(min(0.4, decay * 6) * sr)
    noise = rng.standard_normal(n)
    hp = noise - np.concatenate([[0.0], noise[:-1]])  # first difference = crude high-pass
    hp = hp - np.concatenate([[0.0], hp[:-1]])
    return 0.12 * hp * _env(n, sr, 0.0005, decay)


@functools.lru_cache(maxsize=512)  # notes repeat bar after bar: synthesize each once
def _tone(freq: float, seconds: float, sr: int, harmonics: int, attack: float, decay: float,
          detune: float = 0.0) -> np.ndarray:
    n = int(seconds * sr)
    t = np.arange(n) / sr
    out = np.zeros(n)
    for h in range(1, harmonics + 1):
        amp = 1.0 / h
        out += amp * np.sin(2 * np.pi * freq * h * t)
        if detune:
            out += amp * np.sin(2 * np.pi * freq * (1 + detune) * h * t + 0.7 * h)
    rel = np.minimum(1.0, (seconds - t) / 0.05)
    return out * _env(n, sr, attack, decay) * np.clip(rel, 0, 1)


def _hz(semitones_from_a2: float) -> float:
    return 110.0 * 2 ** (semitones_from_a2 / 12)


def _add(buf: np.ndarray, start: int, sound: np.ndarray, gain: float) -> None:
    if start >= len(buf):
        return
    end = min(len(buf), start + len(sound))
    buf[start:end] += gain * sound[: end - start]


# Per-section arrangement: what plays and how loud. Different textures let the
# segmentation hear the sections, not only the chords.
_ARRANGEMENT = {
    "intro": dict(kick="all", snare=False, hats=8, open_hats=False, bass=None, pad_octave=1, pad_harm=3,
                  pad_gain=0.22, arp=False, lead_gain=0.0, gain=0.5),
    "verse": dict(kick="one-three", snare=True, hats=8, open_hats=False, bass="quarter", pad_octave=1,
                  pad_harm=2, pad_gain=0.16, arp=False, lead_gain=0.0, gain=0.75),
    "chorus": dict(kick="one-three", snare=True, hats=16, open_hats=True, bass="eighth", pad_octave=2,
                   pad_harm=6, pad_gain=0.2, arp=True, lead_gain=0.10, gain=1.0),
    "bridge": dict(kick="one", snare=False, hats=4, open_hats=False, bass="half", pad_octave=2, pad_harm=4,
                   pad_gain=0.24, arp=True, lead_gain=0.06, gain=0.7),
    "outro": dict(kick="all", snare=False, hats=4, open_hats=False, bass="half", pad_octave=1, pad_harm=3,
                  pad_gain=0.22, arp=False, lead_gain=0.0, gain=0.45),
}


def synthesize_song(path: Path, *, bpm: float = 120.0, structure: list[tuple[str, int]] | None = None,
                    sr: int = 44100, seed: int = 0, beats_per_bar: int = 4) -> SongTruth:
    """Write an original song to `path` (16-bit mono WAV) and its grid to `<stem>.truth.json`.

    bpm: tempo in beats per minute. structure: (section label, bars) in order; labels from
    intro / verse / chorus / bridge / outro (default: 40 bars, 80 s at 120 bpm).
    beats_per_bar: 4 (4/4) or 3 (3/4 waltz). seed: the noise of the drums.
    """
    if beats_per_bar not in (3, 4):
        raise ValueError("beats_per_bar must be 3 or 4")
    if bpm <= 0:
        raise ValueError("bpm must be positive")
    structure = list(structure or DEFAULT_STRUCTURE)
    for label, bars in structure:
        if label not in _ARRANGEMENT or bars < 1:
            raise ValueError(f"bad section {label!r} x {bars}: labels are {sorted(_ARRANGEMENT)}, bars >= 1")
    rng = np.random.default_rng(seed)
    beat_s = 60.0 / bpm
    bar_s = beat_s * beats_per_bar
    n_bars = sum(b for _, b in structure)
    duration = n_bars * bar_s
    buf = np.zeros(int(round(duration * sr)) + 1)
    drums = np.zeros_like(buf)
    seg_gain = np.ones_like(buf)

    kick = _kick(sr)
    snares = [_snare(sr, rng) for _ in range(4)]
    hat_closed = [_hat(sr, rng, 0.03) for _ in range(4)]
    hat_open = _hat(sr, rng, 0.12)

    beats: list[float] = []
    downbeats: list[float] = []
    sections: list[TruthSection] = []
    bar = 0
    for label, bars in structure:
        arr = _ARRANGEMENT[label]
        prog = _PROGRESSIONS[label]
        sec_start = bar * bar_s
        for b in range(bars):
            t_bar = (bar + b) * bar_s
            downbeats.append(t_bar)
            root, quality = prog[b % len(prog)]
            for k in range(beats_per_bar):
                t_beat = t_bar + k * beat_s
                beats.append(t_beat)
                i_beat = int(round(t_beat * sr))
                # Kick: the bar's pulse. In 3/4 only the "one" gets the kick.
                kick_here = (arr["kick"] == "all" or k == 0
                             or (arr["kick"] == "one-three" and beats_per_bar == 4 and k == 2))
                if kick_here:
                    _add(drums, i_beat, kick, 0.9 if k == 0 else 0.75)
                if arr["snare"] and k > 0 and (beats_per_bar == 3 or k % 2 == 1):
                    _add(drums, i_beat, snares[(bar + b + k) % 4], 0.6 if beats_per_bar == 4 else 0.35)
                # Hats subdivide the beat: 8 = eighths, 16 = sixteenths, 4 = quarters.
                per_beat = {4: 1, 8: 2, 16: 4}[arr["hats"]]
                for s in range(per_beat):
                    t_hat = t_beat + s * beat_s / per_beat
                    open_ = arr["open_hats"] and per_beat >= 2 and s == per_beat // 2
                    _add(drums, int(round(t_hat * sr)), hat_open if open_ else hat_closed[(k + s) % 4],
                         (0.8 if s == 0 else 0.5) * (1.3 if open_ else 1.0))
                # Bass on the chord root.
                if arr["bass"]:
                    f = _hz(root - 12)
                    if arr["bass"] == "quarter":
                        notes = [(0.0, beat_s * 0.9)]
                    elif arr["bass"] == "eighth":
                        notes = [(0.0, beat_s * 0.45), (beat_s / 2, beat_s * 0.45)]
                    else:
                        notes = [(0.0, beat_s * 1.8)] if k % 2 == 0 else []
                    for off, dur in notes:
                        _add(buf, int(round((t_beat + off) * sr)), _tone(f, dur, sr, 4, 0.005, 0.35), 0.28)
                # Arpeggio: chord tones an octave above the pad, sixteenth notes.
                if arr["arp"]:
                    for s in range(4):
                        semis = root + quality[(k * 4 + s) % 3] + 24
                        _add(buf, int(round((t_beat + s * beat_s / 4) * sr)),
                             _tone(_hz(semis), beat_s / 4, sr, 3, 0.002, 0.08), arr["lead_gain"])
            # Pad: the bar's chord, held for the whole bar (changes exactly on the downbeat).
            pad = np.zeros(int(bar_s * sr))
            for semi in quality:
                f = _hz(root + semi + 12 * arr["pad_octave"])
                pad += _tone(f, bar_s, sr, arr["pad_harm"], 0.03, 6.0, detune=0.003)
            _add(buf, int(round(t_bar * sr)), pad, arr["pad_gain"] / 3)
        a, b = int(round(sec_start * sr)), int(round((bar + bars) * bar_s * sr))
        seg_gain[a:b] = arr["gain"]
        bar += bars
        sections.append(TruthSection(start=round(sec_start, 6), end=round(bar * bar_s, 6), label=label))

    # Sections differ in level (quiet intro/outro, loud chorus); smooth the steps so a
    # section change is not a click.
    k = int(0.01 * sr)
    seg_gain = np.convolve(seg_gain, np.ones(k) / k, mode="same")
    mix = (buf + drums) * seg_gain
    n = int(round(duration * sr))
    mix = mix[:n]
    fade = min(n, int(0.02 * sr))
    mix[n - fade:] *= np.linspace(1.0, 0.0, fade)
    mix = mix / max(1e-9, np.max(np.abs(mix))) * 0.89
    pcm = (mix * 32767).astype("<i2")

    path = Path(path)
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sr)
            w.writeframes(pcm.tobytes())
    truth = SongTruth(bpm=float(bpm), beats_per_bar=beats_per_bar, beats=[round(b, 6) for b in beats],
                      downbeats=[round(d, 6) for d in downbeats], sections=sections, duration=n / sr)
    write_text_atomic(truth_path(path), json.dumps(truth.to_dict(), indent=1))
    return truth
