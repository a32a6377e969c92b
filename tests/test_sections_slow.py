"""A slow ballad's sections are the same whether its beat is heard as the true quarter note or as
the eighth (`analysis.sections._sections` splits bars over `LONG_BAR` for the search).

POP909 DEV song 021 (57 bpm, 4.2 s bars; annotated i4A8B8A4B8...): its sections searched on the
MIDI's own quarter notes and bar lines, and on their eighths and half bars (what the beat tracker
heard in session 5). Before the split, the quarter-note grid found 2 of the 5 annotated boundaries
within a bar; the eighth-note grid 4.
"""

from __future__ import annotations

import numpy as np
import pytest

import midi_songs
import pop909_songs

SONG = "021"  # a DEV song

pytestmark = pytest.mark.skipif(midi_songs.available() is not None, reason=str(midi_songs.available()))


@pytest.fixture(scope="module")
def features():
    """The rendered excerpt's truth and the spectral features `analyze_samples` gives `_sections`."""
    import librosa

    from dreamcut.analysis.decode import ANALYSIS_SR, load_audio
    from dreamcut.analysis.tempo import HOP

    song = pop909_songs.render(SONG)
    y, _ = load_audio(song.wav)
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=ANALYSIS_SR, n_mels=96)
    chroma = librosa.feature.chroma_stft(S=power, sr=ANALYSIS_SR, hop_length=HOP, tuning=0.0)
    times = librosa.frames_to_time(np.arange(chroma.shape[1]), sr=ANALYSIS_SR, hop_length=HOP)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, ref=np.max), n_mfcc=20)
    rms = np.sqrt(np.maximum(mel.sum(axis=0), 0))
    return song, len(y) / ANALYSIS_SR, times, chroma, mfcc, rms


def _boundaries(features, beats: np.ndarray, downbeats: np.ndarray) -> list[float]:
    from dreamcut.analysis.sections import _sections

    song, duration, times, chroma, mfcc, rms = features
    secs = _sections([float(x) for x in downbeats], duration, times, chroma, mfcc, rms,
                     beats=[float(x) for x in beats], bars_clear=True)
    return [s.start for s in secs[1:]]


def _hits(song, found: list[float]) -> int:
    bar = float(np.median(np.diff(song.downbeats)))
    return midi_songs.sections_found(song.sections, found, bar, song.seconds)["section_hit_count"]


def test_a_ballads_sections_do_not_depend_on_hearing_its_beat_as_the_quarter_or_the_eighth(features):
    song = features[0]
    quarters, bars = np.array(song.beats), np.array(song.downbeats)
    assert float(np.median(np.diff(bars))) > 4.0  # a slow song: its bars are split for the search
    eighths = np.sort(np.concatenate([quarters, (quarters[:-1] + quarters[1:]) / 2]))
    half_bars = np.sort(np.concatenate([bars, (bars[:-1] + bars[1:]) / 2]))
    on_quarters = _boundaries(features, quarters, bars)
    on_eighths = _boundaries(features, eighths, half_bars)
    assert len(song.sections) == 5
    # measured: 4 of 5 either way (the one missed, at bar 20.6, is found at 17.6 and 24.6)
    assert _hits(song, on_quarters) >= 4
    assert _hits(song, on_eighths) >= 4
    # every section found one way starts within a bar of one found the other way, on a bar line;
    # "within a bar" as the benchmark counts it (`midi_songs.BAR_SLACK`): heard on its eighths the
    # song's half bars are usual bars, and session 12's re-choice of every boundary (since taken
    # out) put three of them exactly one bar (4.2105 s) from the quarters'
    bar = float(np.median(np.diff(bars))) + midi_songs.BAR_SLACK
    assert all(min(abs(a - b) for b in on_eighths) <= bar for a in on_quarters)
    assert all(min(abs(a - b) for b in on_quarters) <= bar for a in on_eighths)
    assert all(min(abs(a - b) for b in bars) < 0.01 for a in on_quarters)


def test_the_agreement_keeps_a_boundary_the_half_bars_put_elsewhere(features):
    """A slow song's boundaries move onto repeat ends only where its bars and half bars agree
    (`sections._slow_to_repeat_ends`; tests/test_sections_slow_move.py): on POP909 021's own quarter
    notes the bars alone move 53.3 s (annotated) to 57.5 s; the half bars put it a bar earlier: it
    stays. (Both move 137.5 s, annotated, a bar later to 141.7 s.)"""
    song = features[0]
    starts = _boundaries(features, np.array(song.beats), np.array(song.downbeats))
    assert min(abs(t - 53.25) for t in starts) < 0.05
    assert min(abs(t - 57.46) for t in starts) > 1.0
