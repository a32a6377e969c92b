"""The metre: beats per bar (3 or 4) and where the first downbeat is, from where chords
change, the low end hits and the accents recur (and, of a 4-beat bar's two halves, which is
louder), with how clearly the bar lines are heard.
"""

from __future__ import annotations

import numpy as np


def _metre(beat_frames: np.ndarray, chroma: np.ndarray, low: np.ndarray, n_frames: int,
           beats_per_bar: int | None, oenv: np.ndarray | None = None) -> tuple[int, int, float]:
    """(beats per bar, index of the first downbeat, contrast) from where chords change and the low
    end hits; the contrast (in standard deviations) says how clearly the bar lines are heard.

    Chords change on bar starts and kicks land on the one, so for the true metre m and
    phase p, beats with index = p (mod m) stand out from the others; for a wrong metre
    the downbeats spread evenly over the phases and the contrast vanishes. Whether a bar has
    3 or 4 beats is decided with the accents' periodicity too (`ACCENT_WEIGHT`).
    """
    nb = len(beat_frames)
    if nb < 6:
        return beats_per_bar or 4, 0, 0.0
    score, change, hit, accent = _per_beat(beat_frames, chroma, low, n_frames, oenv)

    def phase(m: int) -> tuple[float, int]:
        """(contrast, phase) of the best phase for metre m."""
        best = (-np.inf, 0)
        for p in range(m):
            on = score[p::m]
            off = np.delete(score, np.arange(p, nb, m))
            contrast = float(on.mean() - off.mean())
            if contrast > best[0] + 1e-9:
                best = (contrast, p)
        return best

    def phase4() -> tuple[float, int]:
        """The best phase of 4, then the stronger half of its bar (`_stronger_half`)."""
        c, p = phase(4)
        return c, _stronger_half(score, accent, p)

    if beats_per_bar:
        c, p = phase4() if beats_per_bar == 4 else phase(beats_per_bar)
        return beats_per_bar, p, c
    (c3, p3), (c4, p4) = phase(3), phase4()
    # The best phase of 4 stands out more by chance than the best of 3 (four tries, a quarter of the
    # beats), and a 2/4 piece counts 4; so the contrasts alone took a 3/4 minuet for 4/4. The accents'
    # own periodicity (the onsets, the low end and the chord changes recur every 3 or every 4 beats)
    # decides with them.
    accents = [hit, change] + ([accent] if accent is not None else [])
    periodic = sum(_lag_correlation(x, 3) - _lag_correlation(x, 4) for x in accents)
    if (c3 - c4) + ACCENT_WEIGHT * periodic > 0:
        return 3, p3, c3
    return 4, p4, c4


def _per_beat(beat_frames: np.ndarray, chroma: np.ndarray, low: np.ndarray, n_frames: int,
              oenv: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Per beat of `beat_frames`: (score, chord change, low-end hit, accent) as `_metre` weighs them:
    the chroma change from the beat before (1 - cosine of the beats' mean chroma), how hard the low
    band hits on the beat, the onset strength on it (None without `oenv`), and the score, the change
    and the hit in standard deviations (the hit at half weight)."""
    nb = len(beat_frames)
    bounds = list(beat_frames) + [n_frames]
    beat_chroma = np.stack([chroma[:, bounds[i]:max(bounds[i + 1], bounds[i] + 1)].mean(axis=1) for i in range(nb)],
                           axis=0)
    norm = beat_chroma / np.maximum(1e-9, np.linalg.norm(beat_chroma, axis=1, keepdims=True))
    change = np.zeros(nb)
    change[1:] = 1.0 - np.sum(norm[1:] * norm[:-1], axis=1)
    # how much stronger the low band hits on this beat than around it
    w = 3
    hit = np.array([low[max(0, f - w): f + w + 1].max() if f < len(low) else 0.0 for f in beat_frames])
    accent = None
    if oenv is not None:
        accent = np.array([oenv[max(0, f - w): f + w + 1].max() if f < len(oenv) else 0.0 for f in beat_frames])

    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / (x.std() + 1e-9)

    return z(change) + 0.5 * z(hit), change, hit, accent


def _half_difference(score: np.ndarray, accent: np.ndarray, p: int) -> float:
    """How much more the beats at phase `p` of a 4-beat bar stand out than those half a bar on: the
    score's difference plus HALF_ACCENT times the accents' (in standard deviations); under 0 the
    other half is the stronger."""
    q = (p + 2) % 4
    a = (accent - accent.mean()) / (accent.std() + 1e-9)
    return float((score[p::4].mean() - score[q::4].mean()) + HALF_ACCENT * (a[p::4].mean() - a[q::4].mean()))


def half_bar_margin(beat_frames: np.ndarray, chroma: np.ndarray, low: np.ndarray, n_frames: int,
                    oenv: np.ndarray, first: int) -> float:
    """How clearly a 4-beat bar starts on beat `first` (an index into `beat_frames`) rather than half a
    bar on (`_half_difference`, the evidence `_stronger_half` chose by): small when the two halves of
    the bar sound alike (HALF_BAR_DOUBT). inf where there is too little to judge."""
    if len(beat_frames) < 8:
        return float("inf")
    score, _, _, accent = _per_beat(beat_frames, chroma, low, n_frames, oenv)
    return _half_difference(score, accent, first % 4)


# A 4-beat bar whose chosen half stands out from the other by under this (`half_bar_margin`) is said
# in doubt: the song map names the other half's first downbeat (`SongAnalysis.downbeat_doubt`).
# Measured in session 24 on the 201 studied POP909 songs heard on their beats at their own tempo
# whose true bar line is one of the two halves (version 105): the 11 heard half a bar off measure
# 0.14-2.78 (611 0.14, 304 0.27, 562 0.28, 403 0.28, 184 0.38, 549 0.49, 480 0.55; 349, 363, 312 and
# 368, 1.1-2.8, are the songs whose POP909 bar lines agree with dreamcut's); under 0.5 the doubt is said
# for 21 of the 201 and names the annotated bar line for 6 of the 11. The octave's doubt, for contrast,
# is said for nearly every song.
HALF_BAR_DOUBT = 0.5


def _stronger_half(score: np.ndarray, accent: np.ndarray | None, p: int) -> int:
    """Of a 4-beat bar's two halves (phase `p` and `p + 2`), the one where the chords change and
    the low end hits more (`score`, as the phase was found) and the beats are louder (`accent`,
    `HALF_ACCENT` times as much).

    Chords change at both halves of a 4-beat bar (in 2/4 the "bar" is two notated bars, and a
    rag's harmony moves every half bar), so the chord changes and the low end found the half bar
    but put the bar line on beat 3 of Maple Leaf Rag: every "phrase start" cut on beat 3 (downbeat
    F 0.000). The accent of every band (the onset strength on the beat) is louder on the true
    bar's first half in all ten development recordings in 2/4 and 4/4 (0.08-0.70 standard
    deviations; the rag 0.70, its chords -0.35 the other way). A pop song's snare makes beats 2
    and 4 the loud ones and can make beat 3 louder than 1 (the synthesized short song: -0.29), but
    its chords change on the bar (+1.40): both count. Bach's chorale BWV 66.6 stays on beat 3: its
    chords change more on beat 3 (-0.41) and its accents barely say otherwise (+0.08). Not tuned
    on, POP909's piano song 001 went from 0.000 to 0.993; the other seven dev songs are unchanged.
    """
    if accent is None or len(accent) < 8:
        return p
    return (p + 2) % 4 if _half_difference(score, accent, p) < 0 else p


# How much the accents weigh against the chord changes and the low end in choosing a 4-beat bar's
# stronger half: the rag needs more than 0.5, the synthesized pop song less than 4.8.
HALF_ACCENT = 1.5


def _lag_correlation(x: np.ndarray, lag: int) -> float:
    """Correlation of a per-beat sequence with itself `lag` beats later."""
    x = (x - x.mean()) / (x.std() + 1e-9)
    return float(np.mean(x[lag:] * x[:-lag])) if len(x) > lag else 0.0


# The weight of the accents' periodicity against the bar-line contrast when choosing 3 or 4 beats
# a bar. Measured on 14 recordings (6 in 3/4): right on all 14 with 1-2 (the K.80 Menuetto, 3/4,
# is the closest: +0.06 at 1, +0.29 at 2; Bach's 4/4 chorale -0.15 at 2); 0 took the Menuetto for 4/4.
ACCENT_WEIGHT = 2.0


# Metre contrast (standard deviations) from which the heard bar lines are trusted to place a
# section start (a synthesized pop song: 2.1; string quartets, a rag, a chorale: 0.25-0.81).
CLEAR_BARS = 1.2
