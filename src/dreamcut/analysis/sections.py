"""The song's sections: boundaries from its repetition structure and changes of sound, and names.

Boundaries come from where repeated material starts (`_repeat_bounds`, structure features) and a
checkerboard novelty on the bar-by-bar self-similarity (`_sections_on_grid`; a slow song's bars
are split in two for it, `_sections`), strongest first, every section at least a phrase long
(`repeats.apart`). In a song in four, a section found much longer than the song's others is then
split on its own 4-bar phrase grid where its timbre and harmony change most (`_splits`,
`_split_long`, `_bar_novelty`). Each boundary then moves, within two bars, onto the bar line where
repeated material starts or stops most (`_repeat_ends`, `_to_repeat_ends`: the smoothed curves put
it a bar or two off; a stop pulls it only later, as a section's last bar often differs; a slow
song's, within a bar, only where its bars and half bars agree: `_slow_to_repeat_ends`). Then, in a
song in four, every start is put on its nearest bar line (`_on_bar_lines`: where the bar lines are
unclear the search put a repeat's start on its own beat). Then, where most boundaries keep to one
phase of a 4-bar phrase lattice, the others move onto it (`_on_phrase_lattice`). Where the song
repeats whole phrases exactly, the ends of its long repeats with no boundary near are added
(`repeats.with_exact_repeats`; near: within two bars, or one where the found boundaries keep no
phrase lattice). Then two neighbours of the same material with no change of sound
between them become one (`_merged_alike`; the splits are not looked at). Then, in a song in four
of ADD_SONG search steps or more (a slow song's half bars count), the final starts are chosen afresh: those of the
segmentation of the whole song over its bar lines that maximises a score fitted on the studied POP909
songs of the evidence at its starts (the changes of sound, harmony, register and attacks, repeat
starts and stops, loudness, the phrase lattice and the boundaries found so far: `_boundary_curves`,
`_texture_curves`, `_start_rows`) plus the annotated sections' lengths (`_chosen_starts`,
`_best_starts`), each named as the section found so far that holds most of its bars
(`_at_chosen_starts`). The names: the sections found before that are named from the bars they hold (`_renamed`,
`_name_segments`): intro / verse / chorus / bridge / outro from repetition (`_same_material`: the
same bars in the same order), loudness and position, different material under different names
while the five last; a split is left out of the naming and keeps the name of the section it splits
(`_with_splits`). A halved ballad (`beats._ballad_half`) is searched on the bars it was heard with, and its
starts put on its own downbeats after (`on_next_downbeats`).
"""

from __future__ import annotations

import numpy as np

from dreamcut.analysis.repeats import (LOOP_BARS, REACH, SAME_BAR, UNLATTICED_REACH, apart, runs,
                                      with_exact_repeats)
from dreamcut.analysis.song import Section


def _repeat_bounds(beats: list[float], downbeats: list[float], times: np.ndarray, chroma: np.ndarray,
                   ) -> dict[int, tuple[float, float]]:
    """Where repeated material starts or stops repeating: {bar index: (strength 0..1, beat time)}.

    Structure features (Serra et al. 2014): a recurrence matrix of beat-synchronous chroma
    (with 4 beats of context: `_recurrence`), turned into time-lag form, smoothed over 4 beats; a boundary
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
    # Beats heard at half or double speed (two a bar or fewer, more than six): split or skip them,
    # so the 4-beat context and a repeat's edge keep their size in bars.
    if len(beats) < 2.5 * len(downbeats):
        beats = list(_halves(beats))
    elif len(beats) > 6.5 * len(downbeats):
        first = int(np.argmin(np.abs(np.asarray(beats) - downbeats[0])))
        beats = list(beats[first % 2::2])
    bf = np.maximum(np.searchsorted(times, beats, side="right") - 1, 0)  # the frame each beat falls in
    bf = bf[bf < chroma.shape[1]]
    cs = librosa.util.sync(chroma, bf, aggregate=np.median)
    starts = np.concatenate([[0.0], np.asarray(beats)[: len(bf)]])[: cs.shape[1]]
    k = max(2, int(2 * np.sqrt(cs.shape[1])))
    rec = _recurrence(cs, k)
    lag = gaussian_filter(librosa.segment.recurrence_to_lag(rec, pad=False), sigma=(0.5, 4))
    nov = np.concatenate([[0.0], np.linalg.norm(np.diff(lag, axis=1), axis=0)])
    nov = gaussian_filter1d(nov, 2)
    if nov.max() <= 0:
        return {}
    per_bar = _beats_a_bar(beats, downbeats)
    reach = REPEAT_REACH * per_bar
    out: dict[int, tuple[float, float]] = {}
    d = np.asarray(downbeats)
    for i in range(1, len(nov) - 1):
        if nov[i] < REPEAT_FLOOR * nov.max() or nov[i] < nov[max(0, i - reach): i + reach + 1].max():
            continue
        if REPEAT_EDGE:
            i = _repeat_edge(rec, i, per_bar)
        t = starts[max(0, i - 1)]
        bar = _bar_at(d, t)
        strength = float(nov[i] / nov.max())
        if 0 < bar < len(downbeats) and t > downbeats[0] and strength > out.get(bar, (0.0, 0.0))[0]:
            out[bar] = (strength, float(t))
    return out


def _recurrence(cs: np.ndarray, k: int, width: int = 3) -> np.ndarray:
    """The beats' recurrence (affinity 0..1 between mutual k nearest neighbours, as librosa's
    `recurrence_matrix`) from beat chroma with 4 beats of context."""
    import librosa

    base = librosa.feature.stack_memory(cs, n_steps=4, mode="edge")
    sq = (base * base).sum(axis=0)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * base.T @ base, 0.0))
    dist = np.minimum(dist, dist.T)
    n = dist.shape[0]
    idx = np.arange(n)
    dist[np.abs(idx[:, None] - idx[None, :]) < width] = np.inf  # not itself or its neighbours
    kk = max(1, min(k, n - 2 * width))
    kth = np.sort(dist, axis=1)[:, kk - 1]
    near = dist <= kth[:, None]
    mutual = near & near.T
    bw = float(np.median(kth[np.isfinite(kth)])) if np.isfinite(kth).any() else 1.0
    return np.where(mutual, np.exp(-np.where(mutual, dist, 0.0) / max(bw, 1e-9)), 0.0)


REPEAT_REACH = 4
REPEAT_FLOOR = 0.3
LONG_SONG = 64
KEEP_GAP = 8
NOVELTY_FLOOR = 0.35
NOVELTY_TRUST = 0.6
EDGE_REACH = 2  # bars a repeat boundary may move to its diagonal's edge
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
    R = EDGE_REACH * per_bar
    for k in range(2 * M - R, 2 * M + R + 1):  # candidate beat rows[k], from i0 - R to i0 + R
        i = int(rows[k]) if k < len(rows) else i0 + M
        if not (1 <= i < n - 1):
            continue
        step = step_at(k)
        if step > best_step + 1e-9:
            best_i, best_step = i, step
    return best_i


def _sections(downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray, mfcc: np.ndarray,
              rms: np.ndarray, beats: list[float] | None = None, bars_clear: bool = True,
              texture: tuple[np.ndarray, np.ndarray] | None = None) -> list[Section]:
    """The song's sections, searched on a grid of steps no longer than LONG_BAR, however its beat is heard.

    A slow song's bars (longer than LONG_BAR) are split in two for the search (`_sections_on_grid`
    measures repeats, phrases and gaps in grid steps: a ballad heard at its true quarter note
    and the same ballad heard at double speed must give the same sections); a section found on
    a half-bar line starts on the downbeat before it (a repeat or a change is heard at the bar
    it belongs to, a little late), so every section starts on a downbeat (or, where the bar lines
    are unclear, on its repeat's own beat, as `_sections_on_grid` puts it). Each boundary then
    moves onto where repeats start or stop (`_to_repeat_ends`; a slow song's: `_slow_to_repeat_ends`),
    and then (in a song in four) onto its nearest bar line (`_on_bar_lines`), before the phrase lattice.
    """
    found = _sections_searched(downbeats, duration, times, chroma, mfcc, rms, beats, bars_clear)
    if not beats or len(downbeats) < 2 * STRIPE_BARS:
        return found
    rows = _bar_rows(beats, downbeats, times, chroma)  # (the move's and the exact repeats' bars)
    # a slow song's half bars and their rows, as the search saw them (the split's and the move's)
    halves = _half_bars(beats, downbeats, times, chroma) if _slow(downbeats) else None
    d = np.asarray(downbeats, dtype=float)
    # in a song heard in four, a section much longer than the song's others is split where its sound
    # and harmony change most (`_splits`), before the moves: they treat a split as any boundary
    found = _with_splits(found, _splits(sorted({_bar_at(d, s.start) for s in found[1:]}), downbeats, beats, duration,
                                        times, chroma, mfcc, rows, halves), d, duration)
    if halves is None:
        moved = _to_repeat_ends(found, downbeats, _repeat_ends(rows), duration)
    else:
        moved = _slow_to_repeat_ends(found, downbeats, duration, rows, halves)
    # in a song in four every start on a bar line from here on (`_on_bar_lines`: a repeat's own beat,
    # where the bar lines are unclear, served the search, the move and the names)
    kept = _on_phrase_lattice(_on_bar_lines(moved, downbeats, beats, duration), downbeats, duration)
    # a song that repeats whole phrases exactly: where a long repeat starts or stops and no
    # boundary was found near, one is added (`repeats.with_exact_repeats`); near is a bar where the
    # found boundaries keep no phrase lattice, two where they do (`repeats.UNLATTICED_REACH`)
    bars = [_bar_at(d, s.start) for s in kept[1:]]
    added = with_exact_repeats(rows, bars, REACH if _phrase_lattice(bars) is not None else UNLATTICED_REACH)
    # Last, every section is named from the bars it holds at its final boundaries (`_renamed`): the
    # names given where the search or the move put them said what other bars repeat (studied
    # POP909 songs, label pairs agreeing 1191 -> 1194 of 1729 with the names of v72, the scores
    # 150 -> 151 of 188; with today's names, `_name_segments`, 1294 and 159). The splits (confidence
    # SPLIT_CONFIDENCE, which no other boundary has) are left out of the naming and then keep the name
    # of the section they split (`_with_splits`).
    split = [_bar_at(d, s.start) for s in kept[1:] if s.confidence == SPLIT_CONFIDENCE]
    kept = [kept[0]] + [s for s in kept[1:] if s.confidence != SPLIT_CONFIDENCE]
    kept = sections_at_starts(kept, [s.start for s in kept], duration)
    if added:  # (an exact repeat's end is sure: confidence 1)
        found = [(s.start, s.label, s.confidence) for s in kept]
        found += [(round(float(d[b]), 4), next(s.label for s in reversed(kept) if s.start <= d[b]), 1.0) for b in added]
        secs = [Section(t, 0.0, label, conf) for t, label, conf in sorted(found)]
        kept = sections_at_starts(secs, [s.start for s in secs], duration)
    # Before the names, fewer spurious boundaries: neighbours of the same material with no change
    # of sound between them are one section (`_merged_alike`; the splits are not looked at).
    kept = _merged_alike(kept, downbeats, duration, times, chroma, mfcc, rms)
    # Then, in a song in four of ADD_SONG search steps or more, the starts are those of the
    # segmentation of the whole song over its bar lines that a fitted score of the evidence at each
    # bar line (these boundaries among it) and the annotated sections' lengths want
    # (`_chosen_starts`), each named as the section here that holds most of its bars.
    # A slow song (its bars searched as half bars) counts its grid steps, as the search does: a ballad
    # heard at its true quarter note and at double speed take the path alike; its shift is its own
    # (SLOW_START_SHIFT).
    named = _with_splits(_renamed(kept, downbeats, duration, times, chroma, mfcc, rms), split, d, duration)
    steps = len(d) if halves is None else 2 * len(d)
    if texture is None or steps < ADD_SONG or _beats_a_bar(beats, downbeats) != SPLIT_BEATS:
        return named
    curves = _boundary_curves(downbeats, duration, times, chroma, mfcc, rms, rows)
    tex = _texture_curves(downbeats, duration, times, texture)
    shift = START_SHIFT if halves is None else SLOW_START_SHIFT
    return _at_chosen_starts(named, d, duration, _chosen_starts(curves, tex, _start_bars(kept, d), split, rows, shift))


# The evidence at each bar line the chosen starts read (`_boundary_curves`, `_start_rows`): each curve
# also against its largest within NEAR_BARS bars of the bar line. Session 12 also chose every final
# boundary afresh within 3 bars by a fitted score of this evidence (`_rechosen`: held out on the
# studied songs +9 within a bar); on the two unseen sets after it, sessions 12's and 13's, it gained
# no boundary within a bar (55 of 72, 54 of 76, with and without it), 2 on the annotated bar line,
# and cost 16 label pairs (189 -> 183, 201 -> 191), so session 13 took it out.
NEAR_BARS = 3


TEXTURE_BANDS = 8  # equal slices of the 96 mel bands (`texture_inputs`): bass to treble


def texture_inputs(mel_db: np.ndarray, oenv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What `_texture_curves` reads of the sound: the mean level (dB) in each of TEXTURE_BANDS equal
    slices of the mel bands (the register the music sits in), and the onset envelope (its attacks)."""
    n = mel_db.shape[0] // TEXTURE_BANDS * TEXTURE_BANDS
    return mel_db[:n].reshape(TEXTURE_BANDS, -1, mel_db.shape[1]).mean(axis=1), oenv


def _boundary_curves(downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray,
                     mfcc: np.ndarray, rms: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The evidence for a boundary at each bar line (one row a bar, 10 columns, each 0..1): the
    checkerboard novelty of 1, 2 and 4 bars either side on the bars' timbre (MFCC 1-19,
    standardised over the song) and on their chroma (as `_bar_novelty`), where repeats start and
    where they stop (`_repeat_ends` of `rows`, the song's `_bar_rows`), the change of log loudness
    from the bar before, and one less the likeness of the bar's row to the bar before's; each
    scaled to its largest."""
    n = len(downbeats)
    out = []
    for ssm in _bar_likeness(downbeats, duration, times, chroma, mfcc):
        for half in (1, 2, 4):
            nov = _checkerboard_novelty(ssm, half)
            out.append(nov / (float(nov.max()) or 1.0))
    loud = [np.log(rms[a:b].mean() + 1e-9) for a, b in _bar_spans(downbeats, duration, times)]
    starts, stops = _repeat_ends(rows)
    out += [starts[:n] / (float(starts.max()) or 1.0), stops[:n] / (float(stops.max()) or 1.0)]
    L = np.asarray(loud)
    step = np.abs(np.diff(L, prepend=L[0]))
    out.append(step / (float(step.max()) or 1.0))
    like = np.ones(n)
    if len(rows) >= n:
        like[1:] = np.sum(rows[1:n] * rows[:n - 1], axis=1)
    out.append(1.0 - like)
    return np.stack(out, axis=1)


# The final section starts (since session 26, analysis version 106; `_chosen_starts`, `_best_starts`):
# in a song of ADD_SONG bars or more in four with bars under LONG_BAR (and, since version 107, a slow
# song of ADD_SONG half bars or more, with SLOW_START_SHIFT, below), the pipeline's boundaries are
# evidence, not the answer. The starts are those of the segmentation of the whole song over its bar
# lines that maximises, over its starts, a fitted score of the evidence at each bar line
# (START_WEIGHTS on `_start_rows`: the curves of `_boundary_curves` and of `_texture_curves` (the
# register and the attacks), each also against its largest within NEAR_BARS bars, the 4- and 2-bar
# phrase lattice of the pipeline's boundaries, and where those lie: a start or a split on the bar
# line, one 1, 2 or 3 bars away, the start's confidence), plus START_SHIFT, plus the log share of
# each section's length in bars among the studied POP909 songs' annotated sections
# (SECTION_LENGTHS; the last section is cut by the excerpt: the share of that length or longer).
# START_WEIGHTS and START_BIAS are a logistic regression (L2 1 on standardised features; the
# weights here are over the standard deviations) of "an annotated section starts within half a bar
# of this bar line" on the 195 of the 268 studied POP909 songs that take this path (16141 bar lines,
# 1252 starts: START_SHARE), analysis version 105's pipeline boundaries; START_BIAS is its intercept
# less the log odds of a start, so a bar line's score is a log likelihood ratio and the lengths'
# shares are the prior (a semi-Markov segmentation). Measured 2026-12-03 (session 26), the weights
# fitted strictly a studied set at a time on the others (23 folds) and the whole analysis of
# sections run on the dumped inputs of every studied song (the 73 off this path unchanged), against
# version 105: boundaries within a bar 1325 -> 1366 of 1682 (0.788 -> 0.812), on the annotated bar
# line 816 -> 959, found 3105 -> 2959, found near an annotated one 1321 -> 1394 (0.425 -> 0.471),
# boundary F 0.553 -> 0.596; label pairs agreeing 4919 -> 4822 of 6622 (0.743 -> 0.728: more of the
# starts fall inside an annotated section); these weights on all of them: 1366, 969 on the bar line,
# 2956 found, 1393 near one. Without the guard on looped sections (below): 1373 within a bar for 3023
# found, and the analysis benchmark's synthesized song 15 sections for its 8. START_SHIFT 1.0 / 1.5 /
# 2.0, held out: within a bar 1300 / 1366 / 1399, found 2684 / 2959 / 3212, F 0.596 / 0.596 / 0.593:
# F is flat from 1.0 to 1.5, and 1.5 is where both the share found and the share of found ones near
# an annotated one are above version 105's. Measured and not kept: the pipeline's exact repeat ends and off-bar-line starts forced to
# stay starts (as the added starts had them): 1376 within a bar for 3303 found, F 0.577 (the forced
# ones near an annotated one 156 of 389); the new sections named afresh from their bars (`_renamed`,
# label pairs 0.726) or by the pipeline's section at their start (0.714) rather than by the one that
# holds most of their bars (0.731, with forced starts); without the texture curves, held-out bar-line
# AUC 0.797 against 0.813; a gradient-boosted score in place of the logistic one, no better.
# The confidence of a start is the score's chance that an annotated section starts within a bar
# of it (held out: of the starts given 0.0-0.1, 26 % are near an annotated one; 0.3, 51 %; 0.5, 64 %;
# 0.8, 82 %), so a weak one is a guess (under 0.5) to the edit and the song map.
#
# Until version 105 this score only added starts (a split, named with the section it split) inside
# sections the pipeline left longer than 8 bars (session 12: the logistic regression fitted on the
# 68 songs then studied, version 87; held out 486 -> 502 of 629 within a bar). Refitted on the 268
# studied songs in session 26 it gave no more (held out 1315 against 1325), nor did raising its
# score (+1: 1372 within a bar for 3274 found, F 0.5525 -> 0.5553, a trade of precision for recall).
# A song of ADD_SONG bars or more (since version 107, search steps: a slow song's half bars count)
# takes this path (session 16: the songs under 64 bars held fewer of
# their annotated boundaries within a bar; no studied POP909 song is heard in 16-55 usual bars in
# four, and the scores' renders, heard in 23-66 bars, mostly stay under it).
ADD_SONG = 56
START_WEIGHTS = (
    0.859, 0.135, 0.515, -0.186, -0.0442, -0.298, 1.59, 0.547, -0.415, -0.583,  # `_boundary_curves` at the bar line
    0.621, 0.157, 0.142, 0.78, -0.094, 0.377, 0.481, 1.19,  # `_texture_curves` at the bar line
    -0.789, 0.114, 0.836, -0.46, 0.215, -0.435, 0.343, -0.291, 0.479, -0.0543,  # each less its largest near
    -0.444, -0.313, -0.157, 1.14, -0.224, -0.142, -0.33, 1.21,  # (the texture's)
    1.45, -0.526,  # on the 4-bar lattice, on the 2-bar one
    0.544, 0.924, 1.07, 0.709, 0.0332, 0.98,  # a start, a split there; one 1, 2, 3 bars away; the start's confidence
)
START_BIAS = -2.68
START_SHIFT = 1.5  # added to every bar line's score in the segmentation (above)
# A slow song's (bars over LONG_BAR, searched as half bars; since session 27, version 107): the same
# weights (no slow song is in their fit) with its own shift. Measured 2026-12-03 on the 71 studied
# POP909 songs heard slow (410 annotated boundaries), the weights fitted a studied set at a time on
# the others' usual songs, against version 106 (where slow songs kept the pipeline's boundaries:
# 337 within a bar, 198 on the bar line, 859 found, 329 near an annotated one, F 0.52, label pairs
# 1095 of 1464): shift 1.5 / 2.0 / 2.5 / 3.0 within a bar 326 / 341 / 351 / 365, on the bar line
# 244 / 258 / 270 / 293, found 552 / 646 / 798 / 1271, near 331 / 363 / 412 / 549, F 0.68 / 0.67 /
# 0.64 / 0.58, label pairs 1034 / 1050 / 1071 / 1074. 2.0 is the shift of best F among those whose
# share found and share of found ones near an annotated one both pass version 106's (the rule
# START_SHIFT was chosen by), and it is the one that rule chooses held out, a studied set at a time, in
# every fold. Weights fitted on the slow songs too: 342 at 2.0 (F 0.67); on the slow songs alone: 335.
SLOW_START_SHIFT = 2.0
START_SHARE = 0.0776  # of the bar lines of the fit an annotated section starts on (the confidence's prior)
# Annotated section lengths in bars (between two annotated boundaries; 40: 40 or more), the 100
# studied POP909 songs, annotator 1: 529 sections, a third 8 bars long, a quarter 16, an eighth 4.
SECTION_LENGTHS = {1: 35, 2: 21, 3: 12, 4: 65, 5: 6, 6: 2, 7: 9, 8: 186, 9: 22, 10: 3, 12: 9, 13: 2, 14: 4,
                   15: 5, 16: 133, 18: 4, 20: 1, 24: 4, 26: 1, 32: 4, 40: 1}


def _start_bars(kept: list[Section], d: np.ndarray) -> dict[int, float]:
    """The section starts of `kept` (after the first) as `_start_rows` reads them: {bar index: the
    highest confidence of a start there}."""
    starts: dict[int, float] = {}
    for s in kept[1:]:
        b = _bar_at(d, s.start)
        starts[b] = max(starts.get(b, 0.0), s.confidence)
    return starts


def _start_rows(curves: np.ndarray, starts: dict[int, float], split: list[int]) -> np.ndarray:
    """The evidence for a section start at each bar line (one row a bar, in START_WEIGHTS' order):
    `curves` (`_boundary_curves`, with `_texture_curves` beside them) and each less its largest
    within NEAR_BARS bars, whether the
    bar line is on the 4-bar and the 2-bar phrase lattice of the boundaries (`_phrase_lattice`),
    whether a start (`starts`: {bar: confidence}) or a split (`split`) is on it, whether the
    nearest of them is 1, 2 or 3 bars away, and the start's confidence."""
    n, r = len(curves), NEAR_BARS
    ends = sorted(set(starts) | set(split))
    phase = _phrase_lattice(ends, PHRASE)
    out = []
    for k in range(n):
        near = curves[max(0, k - r): k + r + 1].max(axis=0)
        lattice = [float(phase is not None and (k - phase) % PHRASE == 0),
                   float(phase is not None and (k - phase) % 2 == 0)]
        dist = min((abs(k - b) for b in ends), default=n)
        own = [float(k in starts), float(k in split), float(dist == 1), float(dist == 2), float(dist == 3),
               starts.get(k, 0.0)]
        out.append(np.concatenate([curves[k], curves[k] - near, lattice, own]))
    return np.asarray(out)


def _length_prior(top: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """The log share of each section length in bars (0 .. `top`, `top` counting longer ones) among
    SECTION_LENGTHS (half a section added to every length: one never seen is rare, not impossible),
    and the log share of that length or longer (a last section cut short)."""
    c = np.full(top + 1, 0.5)
    for length, count in SECTION_LENGTHS.items():
        c[min(length, top)] += count
    c[0] = 1e-6
    p = c / c.sum()
    return np.log(p), np.log(np.maximum(p[::-1].cumsum()[::-1], 1e-12))


def _best_starts(z: np.ndarray) -> list[int]:
    """The bar lines (1 .. n-1 of n = len(z)) of the segmentation of bars 0 .. n whose starts' scores
    `z` and sections' lengths (`_length_prior`; the last's: that length or longer) sum highest."""
    logp, logs = _length_prior()
    top = len(logp) - 1
    n = len(z)
    best = np.full(n + 1, -np.inf)
    best[0] = 0.0
    back = np.zeros(n + 1, dtype=int)
    for j in range(1, n + 1):
        i = np.arange(j)
        lengths = np.minimum(j - i, top)
        v = best[i] + (logs[lengths] if j == n else logp[lengths]) + (float(z[j]) if j < n else 0.0)
        k = int(np.argmax(v))
        best[j], back[j] = float(v[k]), int(i[k])
    out, j = [], n
    while j > 0:
        j = int(back[j])
        if j > 0:
            out.append(j)
    return sorted(out)


def _texture_curves(downbeats: list[float], duration: float, times: np.ndarray,
                    texture: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """More evidence for a section start at each bar line (one row a bar, 8 columns, each 0..1), from
    `texture` (`texture_inputs`): the checkerboard novelty of 1, 2 and 4 bars either side and the
    step from the bar before, of the bars' register (their level in each band, standardised over
    the song) and of their attacks (the onset envelope's mean, spread and share of strong frames);
    each scaled to its largest. A new section changes the register or the rhythm of the
    accompaniment where its harmony may repeat."""
    bands, oenv = texture
    level, attack = [], []
    for a, b in _bar_spans(downbeats, duration, times):
        level.append(bands[:, a:b].mean(axis=1))
        o = oenv[a:b]
        attack.append([o.mean(), o.std(), float(np.mean(o > o.mean() + o.std()))])
    out = []
    for f in (np.asarray(level), np.asarray(attack)):
        z = (f - f.mean(axis=0)) / (f.std(axis=0) + 1e-9)
        unit = z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-9)
        for half in (1, 2, 4):
            nov = _checkerboard_novelty(unit @ unit.T, half)
            out.append(nov / (float(nov.max()) or 1.0))
        step = np.r_[0.0, np.linalg.norm(np.diff(z, axis=0), axis=1)]
        out.append(step / (float(step.max()) or 1.0))
    return np.stack(out, axis=1)


def _chosen_starts(curves: np.ndarray, tex: np.ndarray, starts: dict[int, float], split: list[int],
                   rows: np.ndarray | None = None, shift: float = START_SHIFT) -> list[tuple[int, float]]:
    """The section starts (bar index, confidence) of the segmentation of the song over its bar lines
    (`_best_starts`) that a fitted score of the evidence at each bar line (START_WEIGHTS on
    `_start_rows` of `curves` and `tex` side by side, START_BIAS, `shift`) and the annotated
    sections' lengths want, `starts` ({bar: confidence}) and `split` being the pipeline's boundaries.
    A start's confidence is the score's chance that a section starts on its bar line or one either
    side of it. With `rows` (`_bar_rows`) a section between two of the pipeline's boundaries that
    loops one phrase (`_loops`) gets no start inside it."""
    n = len(curves)
    llr = _start_rows(np.hstack([curves, tex]), starts, split) @ np.asarray(START_WEIGHTS) + START_BIAS
    z = llr + shift
    z[0] = -np.inf
    if rows is not None:
        ends = [0] + sorted(set(starts) | set(split)) + [n]
        for a, e in zip(ends[:-1], ends[1:]):
            if _loops(rows, a, e):
                z[a + 1:e] = -np.inf
    chance = 1.0 / (1.0 + np.exp(-(llr + np.log(START_SHARE / (1.0 - START_SHARE)))))
    return [(b, round(float(1.0 - np.prod(1.0 - chance[max(1, b - 1): b + 2])), 3)) for b in _best_starts(z)]


def _at_chosen_starts(named: list[Section], d: np.ndarray, duration: float,
                      chosen: list[tuple[int, float]]) -> list[Section]:
    """The sections starting where `_chosen_starts` put them (bar indices into the downbeats `d`,
    with their confidences), each named as the section of `named` (the pipeline's, named) that
    holds most of its bars."""
    starts = [0.0] + [round(float(d[b]), 4) for b, _ in chosen]
    conf = [named[0].confidence] + [c for _, c in chosen]
    ends = starts[1:] + [round(duration, 4)]
    out = []
    for t0, t1, c in zip(starts, ends, conf):
        share = {}
        for s in named:
            share[s.label] = share.get(s.label, 0.0) + max(0.0, min(t1, s.end) - max(t0, s.start))
        out.append(Section(t0, t1, max(share, key=share.get), c))
    return out


# Two neighbouring sections are one (`_merged_alike`) when their bars are the same material
# (`_same_material` over ALIKE_BARS), the sound barely changes at the line between them (the
# checkerboard novelty of 2 grid steps either side under ALIKE_NOVELTY of the song's strongest)
# and the boundary is not a sure one (its confidence under ALIKE_SURE: an exact repeat's end, a
# clear repeat start). The studied POP909 songs (76) and the scores: found boundaries 745 -> 725
# and 165 -> 163, none of the 340 of 491 (72 of 88) annotated ones within a bar lost, label pairs
# 1476 -> 1484 and 159 both; with the long sections' splits (`_split_long`, left out of it), found
# 826 -> 807, the 363 of 491 within a bar kept. Of the other settings measured (ALIKE_BARS 0.4, 0.5, 0.6 by
# ALIKE_NOVELTY 0.35-0.5, ALIKE_SURE 0.95 or none) every one that took out more lost annotated
# boundaries (0.5 / 0.45: 2 of 340; no ALIKE_SURE: the scores' 72 -> 70, a polonaise's and a
# minuet's written-out repeat); the scores' repeats are alike too, but start clearly.
ALIKE_BARS = 0.5
ALIKE_NOVELTY = 0.4
ALIKE_SURE = 0.95


def _grid_novelty(downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray,
                  mfcc: np.ndarray, rms: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The search's grid (the bar lines; a slow song's half-bar lines too, `_slow`), its unit bar
    features (`_bar_features`, one row a grid step) and the checkerboard novelty of `half` grid
    steps either side at each grid line, over the song's strongest (0..1)."""
    d = np.asarray(downbeats, dtype=float)
    grid = _halves(d) if _slow(d) else d
    Xn, _ = _bar_features([float(x) for x in grid] + [duration], times, chroma, mfcc, rms)
    nov = _checkerboard_novelty(Xn @ Xn.T, half)
    return grid, Xn, nov / (float(nov.max()) or 1.0)


def _merged_alike(secs: list[Section], downbeats: list[float], duration: float, times: np.ndarray,
                  chroma: np.ndarray, mfcc: np.ndarray, rms: np.ndarray) -> list[Section]:
    """The sections with each boundary between two neighbours of the same material, and no change
    of sound at it, taken out: the two are one section.

    POP909's annotators join phrases in a row of one material into one section (a verse of two
    alike 8-bar halves is one A); the search cut 260 of its 745 boundaries on the studied songs
    between two sections it named alike, 66 of them near an annotated one. Looked at on the
    search's grid (`_grid_novelty`: a slow song's half bars, so a ballad heard at its quarter note
    or at its eighth gets one answer): the neighbours' bars, compared bar by bar in order
    (`_same_material`), are alike over ALIKE_BARS, the checkerboard novelty of 2 grid steps either
    side of the boundary is under ALIKE_NOVELTY of the song's strongest, and the boundary's
    confidence is under ALIKE_SURE. The most alike pair goes first, and the merged section is
    compared with its neighbours again. A start is looked at on its nearest grid line.
    """
    d = np.asarray(downbeats, dtype=float)
    if len(secs) < 2 or len(d) < 4:
        return secs
    grid, Xn, nov = _grid_novelty(downbeats, duration, times, chroma, mfcc, rms, 2)
    cur = list(secs)
    while len(cur) > 1:
        at = [0] + [_bar_at(grid, s.start) for s in cur[1:]] + [len(grid)]
        if any(b <= a for a, b in zip(at[:-1], at[1:])):
            break
        best, best_i = ALIKE_BARS, None
        for i in range(1, len(cur)):
            if cur[i].confidence >= ALIKE_SURE or nov[at[i]] >= ALIKE_NOVELTY:
                continue
            alike = float(_same_material(Xn, [(at[i - 1], at[i]), (at[i], at[i + 1])])[0, 1])
            if alike > best:
                best, best_i = alike, i
        if best_i is None:
            break
        cur = cur[:best_i] + cur[best_i + 1:]
    return sections_at_starts(cur, [s.start for s in cur], duration)


def _with_splits(secs: list[Section], bars: list[int], d: np.ndarray, duration: float) -> list[Section]:
    """The sections with a start added on each bar line of `bars` (indices into the downbeats `d`,
    from `_split_long`), each new section keeping the name of the one it splits, with confidence
    SPLIT_CONFIDENCE.

    The names are given at the boundaries before the split: the split is a guess, and naming its
    halves afresh (`_renamed`) gave the studied POP909 songs' annotated sections fewer label pairs
    agreeing (1476 -> 1440 of 1979; a new short section took a name another material had).
    """
    if not bars:
        return secs
    found = [(s.start, s.label, s.confidence) for s in secs]
    found += [(round(float(d[b]), 4), next(s.label for s in reversed(secs) if s.start <= d[b]), SPLIT_CONFIDENCE)
              for b in bars]
    out = [Section(t, 0.0, label, conf) for t, label, conf in sorted(found)]
    return sections_at_starts(out, [s.start for s in out], duration)


# A section the search found SPLIT_BARS bars long or longer, and SPLIT_OVER times the median of the
# song's, holds a boundary the search missed often enough to split it (`_splits`, `_split_long`).
# Studied POP909 songs (76, annotator 1): of the 151 annotated boundaries with no found one within a
# bar, 79 had no candidate of the search within a bar (no novelty peak, repeat start or exact repeat
# end), and most of them lay inside a found section 8-16 bars long; novelty peaks added anywhere
# (kernels of 4 and 8 bars; chroma, MFCC, loudness or bar rows) were near an annotated boundary only
# 10-17 % of the time (about chance): splitting only the long sections keeps what it adds to those
# that hold one. Measured split after every other step (the final sections): SPLIT_BARS 11 / 12,
# +34 / +27 within a bar for +114 / +90 found boundaries; 12 with SPLIT_OVER 1.25 / 1.5 / 2, +38 /
# +31 / +7 for +130 / +107 / +28 (with slow songs split on their half bars). Split there, a ballad
# heard at its eighth split where the same ballad heard at its quarter note did not
# (tests/test_sections_slow.py); split before the moves, as now, both alike: +23 within a bar, 219 ->
# 238 on the annotated bar line, +81 found, no song fewer. SPLIT_OVER 1.5 keeps the scores' sectioned
# renders' found boundaries near an annotated one over 0.58 (tests/test_song_recordings.py: 29 of
# 50; 28 of 53 without it: in their sections, long as a form's, the split found no annotated boundary).
SPLIT_BARS = 12
SPLIT_OVER = 1.5
LOOP_SHARE = 0.75  # of a section's bars like the bar a phrase later for it to loop its phrase (`_loops`)
SPLIT_KERNELS = (2, 4)  # half widths in bars of the checkerboard kernels (4 and 8 bars) of `_bar_novelty`
# A split is a guess: confidence 0 (below SURE_SECTION, it does not restart the phrase grid, and it
# does not weigh on the phrase lattice; every other boundary's confidence is above 0: a novelty peak's
# at least NOVELTY_TRUST * NOVELTY_FLOOR, a repeat's at least REPEAT_FLOOR, an exact repeat's 1).
SPLIT_CONFIDENCE = 0.0
# Only a song heard with this many beats a bar is split. Every studied POP909 song is; in the scores'
# renders (sections annotated where a form's repeats start: long sections) the split found no
# annotated boundary and added 32 found boundaries (151 -> 183 on the 29 steady sectioned ones), 18
# of them in the minuets, polonaises and K. 80's Adagio, heard in three (whose planned cuts on a beat fell
# 0.75 of 20 -> 0.64 of 22: a section start is a cut place).
SPLIT_BEATS = 4


def _bar_novelty(downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray,
                 mfcc: np.ndarray) -> np.ndarray:
    """How much the sound and the harmony change at each bar line (0..1, one value a bar line).

    The Foote checkerboard novelty (`_checkerboard_novelty`, kernels of SPLIT_KERNELS) of two
    bar-by-bar self-similarities, the cosine of each bar's mean timbre (MFCC 1-19, standardised
    over the song: its loudness, MFCC 0, left out) and of its mean chroma, each curve scaled to its
    largest value, summed, and scaled to 1. (Loudness and `_bar_rows` as third and fourth curves
    found 3 fewer annotated boundaries with `_split_long`.)
    """
    total = np.zeros(len(downbeats))
    for ssm in _bar_likeness(downbeats, duration, times, chroma, mfcc):
        for half in SPLIT_KERNELS:
            nov = _checkerboard_novelty(ssm, half)
            total += nov / (float(nov.max()) or 1.0)
    return total / (float(total.max()) or 1.0)


def _bar_spans(downbeats: list[float], duration: float, times: np.ndarray) -> list[tuple[int, int]]:
    """Each bar's frames (first, past the last; one frame at least) in `times`."""
    edges = np.searchsorted(times, list(downbeats) + [duration])
    return [(int(edges[i]), max(int(edges[i + 1]), int(edges[i]) + 1)) for i in range(len(downbeats))]


def _bar_likeness(downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray,
                  mfcc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bar-by-bar self-similarities (cosine) of each bar's mean timbre (MFCC 1-19, standardised
    over the song: its loudness, MFCC 0, left out) and of its mean chroma (`_bar_novelty`,
    `_boundary_curves`)."""
    spans = _bar_spans(downbeats, duration, times)
    T = np.asarray([mfcc[1:, a:b].mean(axis=1) for a, b in spans])
    H = np.asarray([chroma[:, a:b].mean(axis=1) for a, b in spans])
    out = []
    for X in ((T - T.mean(axis=0)) / (T.std(axis=0) + 1e-9), H):
        Xn = X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-9)
        out.append(Xn @ Xn.T)
    return out[0], out[1]


def _splits(bounds: list[int], downbeats: list[float], beats: list[float], duration: float, times: np.ndarray,
            chroma: np.ndarray, mfcc: np.ndarray, rows: np.ndarray,
            halves: tuple[np.ndarray, np.ndarray] | None = None) -> list[int]:
    """The bar lines (indices into `downbeats`) where `_split_long` splits the sections between
    `bounds` (bar indices), in a song heard with SPLIT_BEATS beats a bar (`rows`: its `_bar_rows`).

    A slow song's (bars over LONG_BAR; `halves`: its `_half_bars`) are split on its half bars, as
    it is searched: SPLIT_BARS and PHRASE count half bars there, and a split, a whole number of
    phrases from a bar line, is on a bar line; so a ballad heard at its quarter note and at its
    eighth splits alike (tests/test_sections_slow.py).
    """
    d = np.asarray(downbeats, dtype=float)
    if len(d) < 2 or _beats_a_bar(beats, downbeats) != SPLIT_BEATS:
        return []
    grid, step = d, 1
    if halves is not None:
        (grid, rows), step = halves, 2
    novelty = _bar_novelty([float(x) for x in grid], duration, times, chroma, mfcc)
    at = _split_long([step * b for b in bounds], novelty, len(grid), rows)
    return [_bar_at(d, float(grid[k])) for k in at]


def _loops(rows: np.ndarray, a: int, b: int) -> bool:
    """Whether bars a..b-1 loop one phrase: for a lag L in `repeats.LOOP_BARS`, LOOP_SHARE of them
    or more are the same material (`repeats.SAME_BAR`, on `_bar_rows`) as the bar L later (the
    search's section may hold a bar or two of its neighbour). The studied POP909 songs' splits are
    the same with LOOP_SHARE 0.75 or 0.9, or without the check; at 0.5, two fewer found."""
    return any(b - a > L and np.mean([float(rows[i] @ rows[i + L]) >= SAME_BAR
                                      for i in range(a, min(b, len(rows)) - L)]) >= LOOP_SHARE
               for L in LOOP_BARS)


def _split_long(bounds: list[int], novelty: np.ndarray, nbars: int, rows: np.ndarray | None = None) -> list[int]:
    """The boundaries (bar indices) to add: in each section between `bounds` (the song's start
    and end count) SPLIT_BARS bars long or longer and SPLIT_OVER times the sections' median, the bar
    line where `novelty` is highest of those a whole number of phrases (PHRASE bars) after the
    section's start and at least a phrase before its end (so every section stays at least a phrase
    long). With `rows` (`_bar_rows`) a section that loops one phrase (`_loops`) stays whole: the
    analysis benchmark's synthesized song, whose sections each loop their phrase, got a 13th
    section for its 8 (tests/test_sections_exact_repeats.py; a split not where the phrase only goes
    on, `repeats.phrase_goes_on`, did not keep it, and changed nothing on the studied POP909 songs).

    Pop sections are built of 4-bar phrases counted from where they start: on the studied POP909
    songs the phrase grid from the section's start kept the split's 27 more annotated boundaries
    within a bar and put 19 of them on the annotated bar line (15 with any bar line a phrase from
    the ends; the grid counted from either end: 25 and 19).
    """
    segs = [0] + list(bounds) + [nbars]
    out = []
    lens = np.diff(segs)
    least = max(SPLIT_BARS, SPLIT_OVER * float(np.median(lens)))
    for a, b in zip(segs[:-1], segs[1:]):
        if b - a < least or (rows is not None and _loops(rows, a, b)):
            continue
        inside = list(range(a + PHRASE, b - PHRASE + 1, PHRASE))
        if inside:
            out.append(max(inside, key=lambda k: float(novelty[k])))
    return out


# The beats a bar where a start on a repeat's own beat moves onto its nearest bar line (`_on_bar_lines`).
ON_BAR_LINES_BEATS = 4


def _on_bar_lines(secs: list[Section], downbeats: list[float], beats: list[float], duration: float,
                  ) -> list[Section]:
    """The sections with each start (but the first) on its nearest heard bar line, in a song
    heard with ON_BAR_LINES_BEATS beats a bar.

    Where the bar lines are heard unclearly (`bars_clear` False) a repeat boundary is searched on
    the repeat's own beat (`_sections_on_grid`), as the heard downbeats may be a beat or two off,
    and it is looked at from there when it moves onto repeat ends and when the sections are named.
    In a song in four, ending there, off the bar lines, missed more annotated boundaries than the
    nearest heard bar line does: POP909 studied songs 273 -> 280 of 421 within a bar, 174 -> 181
    on the annotated bar line (each of the 10 with unclear bar lines the same or better: 001, 052,
    151, 168, 181, 183, 189, 192, 248, 251; 248 on the bar line 1 -> 5 of 6 while heard at half its
    tempo; with session 10's beats, 248 heard at its own, the ten read 42 -> 49 within a bar and
    31 -> 34 on the bar line, 052 5 -> 6 on it); the scores' renders
    in four unchanged (67 of 80 within a bar; k155-andante-176, heard at 117 bpm for 176, every
    other heard beat between two true ones, got one planned cut of 8 on such a beat: the cuts
    around its moved sections fell on the other parity). In a bar of three the repeat's own beat one beat after
    a heard downbeat is, in the minuets, the pickup into the next bar (or the heard downbeat is the
    one a beat off): there the nearest bar line lost a boundary within a bar in haydn-minuet and
    k80-minuet-rubato (the annotated one is the bar line after; op59-3-minuet gained one), and
    haydn-minuet-sway's test failed, so those stay. Put onto the bar lines any earlier
    (before the move onto repeat ends) the scores lost 67 -> 63. Two starts on one bar line are one
    (`sections_at_starts`).
    """
    d = np.asarray(downbeats, dtype=float)
    if len(secs) < 2 or len(d) == 0 or _beats_a_bar(beats, downbeats) != ON_BAR_LINES_BEATS:
        return secs
    return sections_at_starts(secs, _nearest_bar_lines(secs, d), duration)


# A song's boundaries keep to a 4-bar phrase lattice when more than this share of them (and
# LATTICE_LEAST of them or more) fall on one phase of it (`_on_phrase_lattice`).
PHRASE = 4
LATTICE_SHARE = 0.5
LATTICE_LEAST = 3


def _phrase_lattice(bars: list[int], phrase: int = PHRASE, weights: list[float] | None = None) -> int | None:
    """The phase (0..phrase-1, in bars) of the song's lattice of `phrase`-bar phrases from its
    boundaries' bar indices, or None when no phase holds more than LATTICE_SHARE of them (and
    LATTICE_LEAST).

    With `weights` (each boundary's confidence) the share is of their summed weight: a sure
    boundary (a repeat starting clearly) says more about the song's phrases than a faint change of
    sound (POP909 studied songs: 169 -> 171 of 343 boundaries within a bar, 019 and 052 one more
    each, no song fewer; the scores' rows unchanged). LATTICE_LEAST still counts boundaries.
    """
    if not bars:
        return None
    b = np.asarray(bars) % phrase
    counts = np.bincount(b, minlength=phrase)
    w = np.bincount(b, weights=None if weights is None else np.asarray(weights, dtype=float), minlength=phrase)
    phase = int(np.argmax(w))
    if counts[phase] < LATTICE_LEAST or w[phase] <= LATTICE_SHARE * float(w.sum()):
        return None
    return phase


def _on_phrase_lattice(secs: list[Section], downbeats: list[float], duration: float) -> list[Section]:
    """The sections with each boundary off the song's phrase lattice moved onto it.

    Pop sections are built of 4-bar phrases: of the 462 annotated boundaries of the 52 studied
    POP909 songs, 305 fall on one phase of a 4-bar lattice counted from bar 0 (the rest after a
    1- or 2-bar turn, or in a 9-bar or 5-bar phrase). Where more than half the found boundaries,
    weighed by their confidence (and 3 or more), agree on a phase (`_phrase_lattice`), the others
    are a bar or two off it (the smoothed novelty and lag curves put a boundary late or early): one
    bar off, it moves to its line; two bars off (halfway between two lines) it stays, as a 2-bar
    turn or pickup starts a section there as often as the search heard one late or early. Until
    session 21 it moved to the line before (on the 52 songs studied then, 13 more annotated
    boundaries within a bar than to the line after); on the 184 studied in session 21 (analysis
    version 103, annotator 1) staying found 903 of 1145 within a bar against 896 (13 songs one or
    two more, 6 fewer: 003 and 180, the two this rule was first shown on, among them), 2104 found
    boundaries against 2093, 892 near an annotated one against 881, on the annotated bar line 546
    against 548; with no lattice at all 903 too, but 530 on the bar line; moving it to whichever of
    the two lines the added starts' fitted score (`_start_rows`) prefers, 902; label pairs agreeing
    3345 -> 3375 of 4491. On session 21's unseen songs (this rule, and that it would be kept only if it
    gained there, fixed before they were first analysed): 53 -> 55 of 68 within a bar (533 two more,
    no song fewer), 35 -> 37 on the bar line, label pairs 180 -> 172 of 236. Songs with fewer since:
    003 7 -> 5 within a bar, 019 and 024 one fewer on the bar line, 229's label pairs 13 -> 7 of 15
    (tests/test_sections_*). A song whose boundaries keep no lattice
    (a minuet's 6-bar phrases, a pickup into each section) keeps them where they are. Two
    boundaries moved onto one line are one (`sections_at_starts`). A start off the bar lines (on a
    repeat's own beat, where the bar lines are unclear: more than ON_BAR from one; `_sections`
    puts every start on a bar line before this) stays where it is, and counts for the lattice at
    its nearest bar line. A slow song's bars (over
    LONG_BAR, searched as half bars) are left alone: its phrase is two of them, and a lattice
    of its bars and one of its half bars disagree (tests/test_sections_slow.py).
    """
    d = np.asarray(downbeats, dtype=float)
    if len(secs) < 2 or len(d) < 4 * PHRASE or _slow(d):
        return secs
    bars = [_bar_at(d, s.start) for s in secs[1:]]
    phase = _phrase_lattice(bars, PHRASE, [s.confidence for s in secs[1:]])
    if phase is None:
        return secs
    starts = [secs[0].start]
    for b, sec in zip(bars, secs[1:]):
        if _off_bar_line(d, b, sec.start):  # on its repeat's own beat (the bar lines unclear): it stays
            starts.append(sec.start)
            continue
        off = (b - phase) % PHRASE
        if off == PHRASE // 2:  # halfway between two lines: where it was heard
            starts.append(sec.start)
            continue
        to = b - off if off < PHRASE // 2 else b + PHRASE - off
        to = min(max(to, 1), len(d) - 1)
        starts.append(sec.start if to == b else round(float(d[to]), 4))
    return sections_at_starts(secs, starts, duration)


def _renamed(secs: list[Section], downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray,
             mfcc: np.ndarray, rms: np.ndarray) -> list[Section]:
    """The sections named afresh from their own bars (`_segment_names`), at their final boundaries.

    The search names its segments before the moves; a segment moved a bar or two onto its repeat's
    start holds other bars than the one named, and a name from the old span no longer says what
    it repeats (POP909 studied songs: label pairs agreeing 728 -> 765 of 1102 named afresh, session
    8). Each start is taken at its nearest bar line; two on one bar line keep the names they have.
    (Until session 10 they were also named afresh right after the move onto repeat ends; since the
    names are given last, that changed no name on the 104 studied recordings and is gone.)
    """
    d = np.asarray(downbeats, dtype=float)
    segs = [0] + [_bar_at(d, s.start) for s in secs[1:]] + [len(d)]
    if any(b <= a for a, b in zip(segs[:-1], segs[1:])):
        return secs
    Xn, loud = _bar_features([float(x) for x in d] + [duration], times, chroma, mfcc, rms)
    return [Section(s.start, s.end, name, s.confidence) for s, name in zip(secs, _segment_names(Xn, loud, segs))]


def _slow_to_repeat_ends(found: list[Section], downbeats: list[float], duration: float, rows: np.ndarray,
                         halves: tuple[np.ndarray, np.ndarray]) -> list[Section]:
    """A slow song's sections moved onto repeat ends (`_to_repeat_ends`) only where its bars
    (`rows`: `_bar_rows` of the song's beats and downbeats) and its half bars (`halves`:
    `_half_bars`) agree.

    A bar over LONG_BAR is two of a usual one, so the move reaches one bar (not ENDS_REACH) and a
    repeat needs SLOW_STRIPE_BARS bars (half of STRIPE_BARS). The true bars alone shifted two of
    POP909 021's annotated boundaries a bar late (a repeat stopping a bar into the next section);
    the half bars alone (the song's eighths on the half-bar grid, as heard at double speed) others.
    A boundary moves only when both analyses put it on the same bar line (a half bar's line
    counts as the bar line before it, as in `_sections_searched`); else it stays as found. A start
    off the bar lines (a repeat's own beat where they are unclear) is looked at from its nearest
    bar line, and moves only onto another one (POP909 151 and 183: onto the annotated boundary).
    """
    d = np.asarray(downbeats, dtype=float)
    grid, half_rows = halves
    nearest = _nearest_bar_lines(found, d)
    on_line = [Section(t, s.end, s.label, s.confidence) for t, s in zip(nearest, found)]
    on_bars = _repeat_end_targets(on_line, downbeats, _repeat_ends(rows, SLOW_STRIPE_BARS), 1)
    on_halves = _repeat_end_targets(on_line, [float(x) for x in grid], _repeat_ends(half_rows, 2 * SLOW_STRIPE_BARS), 2)
    starts = [found[0].start]
    for sec, near, to_bar, to_half in zip(found[1:], nearest[1:], on_bars[1:], on_halves[1:]):
        half_on_bar = _bar_line_before(d, to_half)
        agree = abs(to_bar - half_on_bar) < 1e-3
        starts.append(round(to_bar, 4) if agree and abs(to_bar - near) > 1e-3 else sec.start)
    return sections_at_starts(found, starts, duration)


def _sections_searched(downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray,
                       mfcc: np.ndarray, rms: np.ndarray, beats: list[float] | None, bars_clear: bool,
                       ) -> list[Section]:
    d = np.asarray(downbeats, dtype=float)
    if len(d) < 4 or not _slow(d):
        return _sections_on_grid(downbeats, duration, times, chroma, mfcc, rms, beats=beats, bars_clear=bars_clear)
    bar = float(np.median(np.diff(d)))
    last = d[-1] + bar / 2  # the last bar's half-bar line, when the song lasts that long
    grid = np.concatenate([_halves(d), [last] if last < duration else []])  # (last: after every line)
    found = _sections_on_grid([float(x) for x in grid], duration, times, chroma, mfcc, rms, beats=beats,
                              bars_clear=bars_clear)
    out: list[Section] = []
    for sec in found:
        start = sec.start
        if out:
            on_grid = float(np.min(np.abs(grid - start))) < 1e-3
            if on_grid:  # on a bar line: there; on a half-bar line: the bar line before it
                start = _bar_line_before(d, start)
            # (off the grid: a repeat's own beat where the bar lines are unclear, kept as it is)
            if start <= out[-1].start + 1e-6:
                continue  # two grid steps of one bar: the first section found there stands
        out.append(Section(round(start, 4), 0.0, sec.label, sec.confidence))
    return [Section(s.start, round(out[i + 1].start if i + 1 < len(out) else duration, 4), s.label, s.confidence)
            for i, s in enumerate(out)]


# Bars longer than this (s) are split in two for the section search: a slow ballad's bar heard
# at its true quarter note (3.7-4.2 s in the POP909 ballads) is two of the bars it is heard as at
# double speed, and repeats, phrases and gaps are measured in grid steps. No recording of the
# benchmark is heard with bars over 2.93 s today (the slowest: a quartet adagio, 2.86 s, and
# POP909 003, 2.93 s), so none of them changes.
LONG_BAR = 3.0


def _slow(downbeats) -> bool:
    """A slow song's bars: their median longer than LONG_BAR (searched as half bars)."""
    return float(np.median(np.diff(np.asarray(downbeats, dtype=float)))) > LONG_BAR


def _beats_a_bar(beats, downbeats) -> int:
    """The beats a heard bar holds, from the grid itself (1 at least)."""
    return max(1, int(round(len(beats) / max(1, len(downbeats)))))


def _bar_at(d: np.ndarray, t: float) -> int:
    """The index of the bar line in `d` (the downbeats, an array) nearest `t`."""
    return int(np.argmin(np.abs(d - t)))


def _bar_line_before(d: np.ndarray, t: float) -> float:
    """The bar line in `d` (the downbeats, an array) at `t` or the last before it (the first when
    none is): where a start on a half-bar line of a slow song's search counts (`_sections_searched`,
    `_slow_to_repeat_ends`)."""
    return float(d[max(0, int(np.searchsorted(d, t + 1e-3)) - 1)])


def _off_bar_line(d: np.ndarray, b: int, t: float) -> bool:
    """A start at `t` more than ON_BAR from its nearest bar line `d[b]` (`_bar_at`): on a repeat's own
    beat where the bar lines are unclear, which moves only onto a bar line."""
    return abs(float(d[b]) - t) > ON_BAR


# A halved ballad (`beats._ballad_half`) is searched for sections on the bars it was heard
# with, half bars of its own, so a start may fall half a bar from its downbeats: each such start goes
# to the next downbeat (`on_next_downbeats`). Measured (session 12, analysis v86, the 11 studied POP909
# ballads halved with a start off their downbeats, 55 of 124 starts): within a bar 46 -> 49 of their
# annotated boundaries, on the annotated bar line 38 -> 36, found near one 49 -> 51; the downbeat
# before instead: 48, 28 and 49.
def on_next_downbeats(secs: list[Section], downbeats: list[float], duration: float) -> list[Section]:
    """The sections with each start (but the first) that is off the `downbeats` (`_off_bar_line`) on
    the next one (the last before it past the last downbeat); two on one downbeat are one
    (`sections_at_starts`)."""
    d = np.asarray(downbeats, dtype=float)
    if len(secs) < 2 or len(d) == 0:
        return secs
    starts = [secs[0].start]
    for s in secs[1:]:
        if not _off_bar_line(d, _bar_at(d, s.start), s.start):
            starts.append(s.start)
            continue
        k = int(np.searchsorted(d, s.start))
        starts.append(round(float(d[k] if k < len(d) else d[-1]), 4))
    return sections_at_starts(secs, starts, duration)


def _nearest_bar_lines(secs: list[Section], d: np.ndarray) -> list[float]:
    """Each section's start (the first as it is) on the bar line in `d` (the downbeats, an array)
    nearest it (`_bar_at`), to 0.1 ms as every moved start is kept."""
    return [secs[0].start] + [round(float(d[_bar_at(d, s.start)]), 4) for s in secs[1:]]


def _sections_on_grid(downbeats: list[float], duration: float, times: np.ndarray, chroma: np.ndarray,
                      mfcc: np.ndarray, rms: np.ndarray, beats: list[float] | None = None,
                      bars_clear: bool = True) -> list[Section]:
    """Segment by repetition structure on a bar grid and name the segments.

    Boundaries come from two kinds of evidence: where repeated material starts (structure
    features on beats, `_repeat_bounds`) and where the sound changes (a checkerboard novelty
    on the bar-by-bar self-similarity). A change within the minimum gap of a repeat boundary
    gives way to it. Then, strongest first, every section is kept at least a phrase long (4 bars
    in a song of 24 bars or more; a pickup bar is no intro). A repeat boundary starts on the
    nearest heard downbeat when the bar lines are heard clearly (`bars_clear`), else on its own
    beat (the heard downbeats may be off).
    """
    if len(downbeats) < 4:
        return [Section(0.0, round(duration, 4), "verse")]
    edges = list(downbeats) + [duration]
    nbars = len(downbeats)
    Xn, loud = _bar_features(edges, times, chroma, mfcc, rms)
    ssm = Xn @ Xn.T

    half = 4 if nbars >= 24 else 2 if nbars >= 8 else 1
    novelty = _checkerboard_novelty(ssm, half)
    # A long song has long sections: at least 8 bars apart from 64 bars on (no "verse#22").
    min_gap = 8 if nbars >= LONG_SONG else max(1, half)
    bounds = _pick_peaks(novelty, min_gap=min_gap, nbars=nbars)
    # a repeat "starting" within a phrase of the song's start is the first phrase's pickup, no
    # section (`repeats.apart` drops it): it must not push a change of sound there aside either
    repeats = {b: v for b, v in _repeat_bounds(beats or [], downbeats, times, chroma).items() if b >= half}
    if repeats:
        # a repeat boundary wins over a change of sound within min_gap bars of it (a repeat
        # starting is what a listener hears as the next section; a new sound inside it is not)
        keep_gap = max(min_gap, KEEP_GAP)
        bounds = sorted(set(repeats) | {b for b in bounds if all(abs(b - r) >= keep_gap for r in repeats)})
    top = float(novelty.max()) or 1.0
    # a repeat starting is surer than a change of sound alone (NOVELTY_TRUST)
    strength_of = {b: max(NOVELTY_TRUST * novelty[b] / top, repeats.get(b, (0.0, 0.0))[0]) for b in bounds}
    bounds = apart(strength_of, half)  # (a phrase apart; the song's start counts as a boundary)
    segs = [0] + bounds + [nbars]
    labels = _segment_names(Xn, loud, segs)
    out = []
    for (a, b), lab in zip(zip(segs[:-1], segs[1:]), labels):
        start = 0.0 if a == 0 else edges[a]
        conf = 1.0 if a == 0 else float(np.clip(strength_of[a], 0.0, 1.0))
        if a in repeats and not bars_clear:
            start = repeats[a][1]  # on the repeat's own beat
        out.append(Section(round(start, 4), 0.0, lab, round(conf, 3)))
    for i, sec in enumerate(out):  # each section ends where the next starts
        out[i] = Section(sec.start, round(out[i + 1].start if i + 1 < len(out) else duration, 4), sec.label,
                         sec.confidence)
    return out


# A repeat is a run of at least STRIPE_BARS bars whose rows (`_bar_rows`) are among the song's
# STRIPE_TOP most alike pairs of bars, each bar against the bar a fixed lag before it.
STRIPE_TOP = 0.05
STRIPE_BARS = 4
SLOW_STRIPE_BARS = 2  # the least repeat, in bars, where a bar is over LONG_BAR (`_slow_to_repeat_ends`)
ENDS_REACH = 2  # bars a boundary may move onto a clearer repeat start or end (`_to_repeat_ends`)
ON_BAR = 0.3  # s: a start farther than this from a bar line is on a repeat's own beat (moves only onto a bar line)


def _bar_rows(beats: list[float], downbeats: list[float], times: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """One row a bar: the chroma of its first four beats in order (each beat's unit chroma), so
    two bars are alike when the same harmony and melody come in the same order."""
    import librosa

    b = np.asarray(beats, dtype=float)
    bf = np.maximum(np.searchsorted(times, b, side="right") - 1, 0)
    bf = bf[bf < chroma.shape[1]]
    cs = librosa.util.sync(chroma, bf, aggregate=np.median)
    starts = np.concatenate([[0.0], b[: len(bf)]])[: cs.shape[1]]
    rows = []
    for d in downbeats:
        a = int(np.searchsorted(starts, d - 1e-3))
        v = cs[:, [min(a + k, cs.shape[1] - 1) for k in range(4)]]
        rows.append((v / (np.linalg.norm(v, axis=0, keepdims=True) + 1e-9)).T.ravel())
    X = np.asarray(rows)
    return X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-9)



def _halves(x) -> np.ndarray:
    """The times `x` (sorted) with the midpoint of each two neighbours between them: bar lines and
    their half-bar lines, beats and their eighths."""
    x = np.asarray(x, dtype=float)
    return np.sort(np.concatenate([x, (x[:-1] + x[1:]) / 2]))


def _half_bars(beats: list[float], downbeats: list[float], times: np.ndarray,
               chroma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A slow song's half-bar grid (`_halves` of its bar lines) and its rows there (`_bar_rows` of
    its eighths on that grid: the song as heard at double speed, as the search sees it)."""
    grid = _halves(downbeats)
    return grid, _bar_rows([float(x) for x in _halves(beats)], [float(x) for x in grid], times, chroma)

def _repeat_ends(rows: np.ndarray, min_bars: int = STRIPE_BARS) -> tuple[np.ndarray, np.ndarray]:
    """How strongly repeats start, and how strongly they stop, at each bar line (0 .. n bars).

    The bar-by-bar likeness of `rows` is cut at its STRIPE_TOP most alike pairs; a repeat is a
    run of at least `min_bars` (STRIPE_BARS) such bars along one lag (bar i like bar i - L; a one-bar gap is
    bridged: a repeat is played, not copied). Each repeat adds its length at its four ends: where
    it and the material it repeats start (the first array), and where both stop (the second).
    """
    from scipy.ndimage import binary_closing

    n = len(rows)
    mb = min_bars
    starts, stops = np.zeros(n + 1), np.zeros(n + 1)
    if n < 2 * mb:
        return starts, stops
    S = rows @ rows.T
    near = S >= np.quantile(S[np.triu_indices(n, mb)], 1.0 - STRIPE_TOP)
    for L in range(mb, n - mb + 1):
        v = np.array([near[i, i - L] for i in range(L, n)])
        v = binary_closing(np.concatenate([[False], v, [False]]), structure=np.ones(3))[1:-1]
        for a, b in runs(v, mb):
            for out, ends in ((starts, (a + L, a)), (stops, (b + L, b))):
                for e in ends:
                    if 0 < e < n:
                        out[e] += b - a
    return starts, stops


def _to_repeat_ends(found: list[Section], downbeats: list[float], ends: tuple[np.ndarray, np.ndarray],
                    duration: float) -> list[Section]:
    """The sections with each start (but the first) moved to the bar line within ENDS_REACH bars
    where repeats start or stop most (`_repeat_ends`: `ends` is its starts and stops), when that
    is more than at its own bar line.

    The search's boundaries come from smoothed curves (a repeat's lag novelty over 4 beats, a
    change of sound over 4 bars) that put them a bar or two from where a listener hears the
    section turn (POP909 dev and seen songs: 50 of 94 missed boundaries had a found one 1-2.5 bars
    away); the ends of a repeat itself are sharper. A repeat's stop pulls a boundary only later,
    never earlier: a section's last bar often differs (a fill, a turn into what comes next: the
    demo song's last chorus stops repeating the first a bar before its outro), so a section ends
    where its repeat stops or after, never before. A start more than ON_BAR s from a bar line (a
    repeat's own beat where the bar lines are unclear) moves only onto a bar line.
    """
    return sections_at_starts(found, _repeat_end_targets(found, downbeats, ends, ENDS_REACH), duration)


def _repeat_end_targets(found: list[Section], downbeats: list[float], ends: tuple[np.ndarray, np.ndarray],
                        reach: int) -> list[float]:
    """Each section's start after the move of `_to_repeat_ends` (the first stays)."""
    starts_at, stops_at = ends
    d = np.asarray(downbeats, dtype=float)
    n = len(d)
    starts = [found[0].start]
    for sec in found[1:]:
        b = _bar_at(d, sec.start)
        if _off_bar_line(d, b, sec.start) or not 0 < b < n:
            starts.append(sec.start)
            continue
        w = np.arange(max(1, b - reach), min(n, b + reach + 1))
        pull = starts_at[w] + np.where(w >= b, stops_at[w], 0.0)  # (a stop before it: a last bar that differs)
        best = int(w[np.argmax(pull)])
        starts.append(round(float(d[best]), 4) if pull.max() > pull[w == b][0] else sec.start)
    return starts


def sections_at_starts(found: list[Section], starts: list[float], duration: float) -> list[Section]:
    """The sections at their new `starts` (one a section), each ending where the next starts."""
    out: list[Section] = []
    for start, sec in zip(starts, found):
        if out and start <= out[-1].start + 1e-6:
            continue  # two boundaries moved onto one bar line: the first stands
        out.append(Section(start, 0.0, sec.label, sec.confidence))
    return [Section(s.start, round(out[i + 1].start if i + 1 < len(out) else duration, 4), s.label, s.confidence)
            for i, s in enumerate(out)]



def _bar_loudness(edges: list[float], times: np.ndarray, rms: np.ndarray) -> list[float]:
    """Each bar's loudness (its frames' mean `rms`); `edges` are the bars' starts and the song's end.
    The one measure the names are given by (`_bar_features`) and the chorus's rival is found by
    (`chorus_rival`)."""
    frame_edges = np.searchsorted(times, edges)
    out = []
    for i in range(len(edges) - 1):
        a, b = int(frame_edges[i]), max(int(frame_edges[i + 1]), int(frame_edges[i]) + 1)
        out.append(float(rms[a:b].mean()) if b > a else 0.0)
    return out


def _bar_features(edges: list[float], times: np.ndarray, chroma: np.ndarray, mfcc: np.ndarray, rms: np.ndarray,
                  ) -> tuple[np.ndarray, list[float]]:
    """One unit feature row a bar (its harmony and its sound, standardised over the song) and
    each bar's loudness (`_bar_loudness`); `edges` are the bars' starts and the song's end."""
    frame_edges = np.searchsorted(times, edges)
    feats = []
    for i in range(len(edges) - 1):
        a, b = int(frame_edges[i]), max(int(frame_edges[i + 1]), int(frame_edges[i]) + 1)
        c = chroma[:, a:b].mean(axis=1)
        m = mfcc[:, a:b]
        feats.append(np.concatenate([c / (np.linalg.norm(c) + 1e-9), m.mean(axis=1), m.std(axis=1)]))
    loud = _bar_loudness(edges, times, rms)
    X = np.asarray(feats)
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-9)
    # Chroma within a section cycles through its progression; timbre stays put. Weight
    # timbre more, but keep harmony so two sections with one sound still separate.
    X[:, :12] *= 0.7
    return X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-9), loud


def _segment_names(Xn: np.ndarray, loud: list[float], segs: list[int]) -> list[str]:
    """The names of the segments between the bar indices `segs` (the first 0, the last the
    number of bars): `_name_segments` on their bars (`Xn`, unit rows) and loudness."""
    spans = list(zip(segs[:-1], segs[1:]))
    sig = [Xn[a:b].mean(axis=0) for a, b in spans]  # segment signatures: mean feature, loudness
    lv = [float(np.mean(loud[a:b])) for a, b in spans]
    return _name_segments(sig, lv, spans, len(Xn), bars=Xn)


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
    thresh = NOVELTY_FLOOR * float(nov.max())
    reach = max(1, min_gap // 2)
    peaks = [i for i in range(1, nbars)
             if nov[i] >= thresh and nov[i] >= nov[max(0, i - reach): i + reach + 1].max() - 1e-9]
    return apart({i: float(nov[i]) for i in peaks}, min_gap, from_start=False)


def _same_material(bars: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """How alike two segments' bar sequences are: the mean bar-by-bar cosine along their best
    alignment (one slid against the other, overlapping by at least MIN_OVERLAP of the shorter and
    LONG_OVERLAP of the longer: a boundary found a few bars off, or a verse found with its
    pre-chorus, must not hide a repeat, and a phrase of A inside a B three times as long that
    returns to it does not make B an A). The song's last segment may be cut short (an excerpt, a
    fade): against it, MIN_OVERLAP of the shorter is enough.

    A repeat plays the same bars in the same order; two different sections of one ensemble
    share a sound (similar mean features) but not the order of their bars.
    """
    n = len(spans)
    S = np.eye(n)
    end = max(b for _, b in spans)
    for i in range(n):
        for j in range(i):
            (a0, a1), (b0, b1) = spans[i], spans[j]
            best = -1.0
            la, lb = a1 - a0, b1 - b0
            cut_short = (a1 == end and la < lb) or (b1 == end and lb < la)
            share = MIN_OVERLAP * min(la, lb) if cut_short else max(MIN_OVERLAP * min(la, lb), LONG_OVERLAP * max(la, lb))
            need = max(2, int(np.ceil(share)))
            for d in range(-(b1 - b0), a1 - a0 + 1):  # bar a0 + d of one against bar b0 of the other
                ka = np.arange(max(a0, a0 + d), a1)
                kb = ka - a0 - d + b0
                ok = (kb >= b0) & (kb < b1)
                if ok.sum() >= need:
                    best = max(best, float(np.mean(np.sum(bars[ka[ok]] * bars[kb[ok]], axis=1))))
            S[i, j] = S[j, i] = best
    return S


# Bar-by-bar likeness above which two segments are the same material (`_same_material`). Repeats
# in the scores measured 0.49-0.92, different sections of one string quartet -0.4-0.3 with the same
# sound; in the studied POP909 songs (piano arrangements: a verse comes back with other
# accompaniment) the found segments of one annotated letter a median 0.36, of different letters
# 0.08 (over the whole shorter one). 0.4 -> 0.3, with LONG_OVERLAP, named at the final boundaries
# (`_sections`): label pairs agreeing on the studied POP909 songs 1231 -> 1294 of 1729, the
# scores 152 -> 159 of 188 (0.3-0.35 all within 6 pairs of it; 0.375 lost the scores' AABAA
# rondo).
SAME_BARS = 0.3
# Two segments are compared where they overlap by at least MIN_OVERLAP of the shorter and
# LONG_OVERLAP of the longer one. 3/4 of the longer compared only half the studied POP909 pairs
# of found segments of one annotated letter at all (a verse found 8 bars long against one found
# with its pre-chorus, 16) and named them apart; 3/4 of the shorter alone let an 8-bar phrase of
# A returning inside a longer B make B an A (tests/test_sections.py; the scores' rondo and
# polonaise, AABAA, went "verse" throughout). LONG_OVERLAP 0.5, 0.55, 0.6, 0.75 at SAME_BARS 0.3:
# POP909 1276, 1294, 1276, 1219 of 1729; test_song_recordings' ten scores 61, 65, 65, 64 of 72.
MIN_OVERLAP = 0.75
LONG_OVERLAP = 0.55


def _name_segments(sig: list[np.ndarray], loud: list[float], spans: list[tuple[int, int]], nbars: int,
                   bars: np.ndarray | None = None) -> list[str]:
    """Same material -> same label, and different material -> a different label while the five
    last (intro, verse, chorus, bridge, outro).

    A quiet first / last segment whose material does not come back in the body of the song is
    the intro / outro. Of the rest, the loudest repeated material is the chorus (one repeated
    material quieter than the rest is the verse), of the other repeated ones the one holding the
    most bars the verse, any other repeated one a bridge; material heard once takes the first of
    verse, chorus, bridge that no repeated material has (a song of one repeated material and a contrasting passage: verse
    and chorus, or chorus and verse; a third: bridge). With `bars` (unit feature rows, one a bar)
    material is compared bar by bar in order (`_same_material`), else by the segments' mean
    features.

    Every group of the same material gets a name of its own first: naming two repeated materials
    "verse" alike, and a passage heard once before the first chorus "verse" as the verse is, gave
    two sections of different annotated letters one label (studied POP909, grouped as annotated:
    1267 -> 1444 of 1729 label pairs agreeing; as found: 1194 -> 1231 at SAME_BARS 0.4, the
    scores 151 -> 152 of 188).
    """
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
    labels: list[str | None] = [None] * n
    middle = set(group[1:-1])
    # The first / last segment is an intro / outro when its material does not come
    # back in the body of the song (it may match the other end: bookends are common).
    if n >= 3 and group[0] not in middle and loud[0] <= max(loud):
        labels[0] = "intro"
    if n >= 3 and group[-1] not in middle and loud[-1] <= max(loud):
        labels[-1] = "outro"
    members: dict[int, list[int]] = {}
    for i in range(n):
        if labels[i] is None:
            members.setdefault(group[i], []).append(i)
    def loudness(g: int) -> float:
        return float(np.mean([loud[i] for i in members[g]]))

    repeated = sorted((g for g, m in members.items() if len(m) >= 2), key=lambda g: -loudness(g))
    names: dict[int, str] = {}
    if repeated:
        names[repeated[0]] = "chorus"
        if len(repeated) == 1:
            # One repeated group: if it is the quieter material it is the verse.
            others = [loud[i] for g, m in members.items() if g != repeated[0] for i in m]
            if others and loudness(repeated[0]) < np.mean(others):
                names[repeated[0]] = "verse"
        else:
            # The verse: of the other repeated materials, the one holding the most bars (the earliest
            # first heard on a tie), not the next loudest. Measured session 16 (2026-12-02) on the 136
            # studied POP909 songs against annotator 1 (benchmarks/song_accuracy `naming`), the
            # boundaries unchanged: A bars heard verse 1497 -> 1839 of 3506, verse bars annotated A
            # 1497 of 2502 -> 1839 of 2872, label pairs 2480 -> 2531 of 3391 (dev 166 -> 164, no other
            # set lower); chosen over the next loudest in each of the 12 leave-one-set-out folds. The
            # chorus (the loudest) is left: a later-first-heard one among the nearly loudest gained on
            # all the songs (B bars heard chorus 1305 -> 1331 of 2336) and lost held out (1230).
            rest = sorted(repeated[1:], key=lambda g: members[g][0])
            verse = max(rest, key=lambda g: sum(spans[i][1] - spans[i][0] for i in members[g]))
            names[verse] = "verse"
        for g in repeated[1:]:
            names.setdefault(g, "bridge")
    free = [x for x in ("verse", "chorus", "bridge") if x not in names.values()]
    for g in sorted((g for g, m in members.items() if len(m) == 1), key=lambda g: members[g][0]):
        names[g] = free.pop(0) if free else "bridge"  # heard once, in order
    for g, m in members.items():
        for i in m:
            labels[i] = names[g]
    return [str(x) for x in labels]


# The chorus is the loudest repeated material (`_name_segments`). Where another repeated material is
# within CHORUS_DOUBT_DB of it, which of the two is the chorus is a guess: measured in session 25
# (2026-12-03, `chorus_rival` on the final sections of the 268 studied POP909 songs, version 105,
# annotator 1), of the 256 with an annotated chorus (B) in their first 180 s, where the heard name
# holding most B bars is: within 0.75 dB (119 songs) the chorus in 49 and the rival in 51; beyond it
# (130 with a repeated chorus) the chorus in 86 (0.66). Within 0.5 dB: 35 and 38 of 90; within 1 dB:
# 63 and 56 of 140. No cue measured tells them apart better (README, "Sections"), so the song map
# says the doubt (`SongAnalysis.chorus_doubt`) where the two names are a coin toss.
CHORUS_DOUBT_DB = 0.75


def chorus_rival(secs: list[Section], downbeats: list[float], duration: float, times: np.ndarray,
                 rms: np.ndarray) -> str | None:
    """The name of the repeated material (two sections or more, not intro or outro) nearly as loud
    as the chorus (within CHORUS_DOUBT_DB), or None when the chorus is clearly the loudest or no
    repeated chorus was heard. A material's loudness is its sections' mean of their bars' loudness
    (`_bar_loudness`, the naming's own measure)."""
    if not downbeats:
        return None
    d = np.asarray(downbeats, dtype=float)
    loud = _bar_loudness([float(x) for x in d] + [duration], times, rms)
    levels: dict[str, list[float]] = {}
    for s in secs:
        a, b = np.searchsorted(d, [s.start - 0.005, s.end - 0.005])  # the bars starting inside it
        if b > a and s.label not in ("intro", "outro"):
            levels.setdefault(s.label, []).append(float(np.mean(loud[a:b])))
    repeated = {name: float(np.mean(v)) for name, v in levels.items() if len(v) >= 2}
    rivals = {name: v for name, v in repeated.items() if name != "chorus"}
    if "chorus" not in repeated or not rivals:
        return None
    rival = max(rivals, key=lambda name: rivals[name])
    margin = 20.0 * np.log10(max(repeated["chorus"], 1e-12) / max(rivals[rival], 1e-12))
    return rival if margin < CHORUS_DOUBT_DB else None
