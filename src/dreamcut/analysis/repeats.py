"""Section boundaries from exact repetition: where a song repeats whole phrases, their ends are boundaries.

A song rendered from a score (or played to a click) repeats its verse and chorus nearly exactly.
Each bar is one row of its first four beats' chroma in order (`sections._bar_rows`); two bars
are alike when their rows' cosine is at least SAME_BAR. A repeat (`stripes`) is a run of at
least MIN_BARS alike bars along one lag (bar i like bar i - L, a one-bar gap bridged). Its ends,
and the ends of the material it repeats, are boundaries (`repeat_ends`).

Repetition alone does not cut a song well: a verse and chorus that only ever come together are
one repeat, and a repeat's first bar is often the bar before the section (a lead-in played the
same both times). So the section search's own boundaries stay (`with_exact_repeats`), and the
end of a long repeat (STRONG_BARS) with no found boundary within REACH - 1 bars is added, unless
the bars after it only play the phrase before it again (`phrase_goes_on`: a section looping one
4-bar phrase starts and stops long repeats at each turn; the analysis benchmark's synthesized
4-minute song got 28 sections for its 8 without it, 12 with it, as before the step). (Tried
on the studied POP909 songs and left out: cutting by repeats alone, each boundary carried
through every repeat it falls inside: 205 of 343 within a bar but 849 boundaries found for 343;
moving found boundaries onto repeat ends: +5, but it broke the synthesized waltz and bridge;
carrying each found boundary inside a long repeat into its other copy: 193 of 343, 516 found,
and the score renders' found boundaries near an annotated one fell under the 0.58 of
tests/test_song_recordings.py.) A song with too little exact repetition (`clear_repeats`)
keeps the search's boundaries as they are."""

from __future__ import annotations

import numpy as np

SAME_BAR = 0.9  # cosine of two bars' rows over which they are the same material
MIN_BARS = 4  # the shortest repeat, in bars
MIN_LAG = 4  # the shortest lag of a repeat, in bars
CLEAR_SHARE = 0.5  # share of a song's bars inside a repeat for its repeats to be clear
MIN_GAP = 4  # bars between two repeat boundaries at least (the weaker goes)
REACH = 3  # a repeat end is added only this many bars or more from every found boundary
# ... and in a song whose found boundaries keep no 4-bar phrase lattice (`sections._phrase_lattice`
# None: its phrases are shifted by 1-2-bar turns, X2 or x1 between two sections, or are of 5, 6 or
# 9 bars), this many: a found boundary two bars from a long exact repeat's end is then as often
# another annotated boundary (the turn's other end) or beside the one the repeat marks as on it. A
# bar away it is the same boundary (a lead-in played the same both times) and stands. Where the
# boundaries keep a lattice, a repeat end two bars off it is halfway through a phrase (a 2-bar turn
# of a loop, the synthesized demo song's outro: tests/test_audio.py) and is not added. Studied
# POP909 songs (112, analysis version 96): within a bar 550 -> 557 of 705 (s6 60 -> 61, s9 58 ->
# 60, s10 59 -> 62, s13 53 -> 54, no set fewer; 7 songs +1 or +2, 336 -1), on the annotated bar
# line 347 -> 355, found 1229 -> 1260, near an annotated one 526 -> 539 (the added 31: 13 near one).
# Measured and not kept (s14-sec): 2 in every song the same 557 for 1291 found (the 31 more in
# lattice songs: none near a missed boundary), label pairs 2023 -> 2013, the demo song an outro too
# many; 1 in every song 561 for 1380 (1-bar sections beside a found start); 2 with STRONG_BARS 4
# 565 for 1379 (s5 -1), 5 559 for 1342, 7 553 for 1268, 8 551 for 1253; MIN_GAP 2 560 for 1367;
# moving the found start onto the repeat end in place of adding one (two bars away: 553 for 1251,
# on the bar line 347 -> 342; a bar away: 551 for 1241).
UNLATTICED_REACH = 2
# A repeat boundary this strong (bars repeated) is added where none was found near. 6, not a whole
# 8-bar phrase: a pop section's 8-bar phrase played again often differs in its first bar (a pickup)
# or its last (a turn into what follows), and repeats for 6 or 7 bars. Studied POP909 songs (64, with
# the starts on bar lines): 280 -> 286 of 421 annotated boundaries within a bar, 181 -> 186 on the
# bar line (019, 052, 169, 170, 261, 262 one more each; no song fewer); found boundaries 598 -> 616,
# near an annotated one 265 -> 271. The score renders 67 -> 68 of 80 within a bar, found 165 -> 171.
STRONG_BARS = 6
LOOP_BARS = (4, 8)  # a phrase of this many bars played again right after itself is one section


def runs(v: np.ndarray, least: int) -> list[tuple[int, int]]:
    """The runs of True in `v` at least `least` long, as (first, end) indices (end exclusive): the
    repeats along one lag, here and in `sections._repeat_ends`."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(v).astype(int), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= least]


def stripes(rows: np.ndarray, same: float = SAME_BAR, min_bars: int = MIN_BARS,
            min_lag: int = MIN_LAG) -> list[tuple[int, int, int]]:
    """The song's repeats as (first bar, end bar, lag): bars first..end-1 repeat bars first-lag..end-lag."""
    n = len(rows)
    if n < 2 * min_bars:
        return []
    S = rows @ rows.T
    out = []
    for L in range(max(1, min_lag), n - min_bars + 1):
        v = np.array([S[i, i - L] >= same for i in range(L, n)])
        # bridge one-bar gaps (a repeat is played, not copied), but not at either end
        w = v.copy()
        for k in range(1, len(v) - 1):
            if not v[k] and v[k - 1] and v[k + 1]:
                w[k] = True
        out += [(a + L, b + L, int(L)) for a, b in runs(w, min_bars)]
    return out


def covered(n: int, reps: list[tuple[int, int, int]]) -> np.ndarray:
    """Which of the n bars lie inside a repeat or the material it repeats."""
    c = np.zeros(n, dtype=bool)
    for a, b, L in reps:
        c[a:b] = True
        c[a - L:b - L] = True
    return c


def clear_repeats(n: int, reps: list[tuple[int, int, int]], share: float = CLEAR_SHARE) -> bool:
    """Whether more than `share` of the song's n bars lie in exact repeats."""
    return n > 0 and float(covered(n, reps).mean()) > share


def repeat_ends(n: int, reps: list[tuple[int, int, int]]) -> dict[int, float]:
    """The bar lines (1..n-1) where a repeat, or the material it repeats, starts or stops: the
    length in bars of the longest repeat ending there."""
    out: dict[int, float] = {}
    for a, b, L in reps:
        for x in (a, b, a - L, b - L):
            if 0 < x < n and b - a > out.get(x, 0.0):
                out[x] = float(b - a)
    return out


def apart(bounds: dict[int, float], gap: int, from_start: bool = True) -> list[int]:
    """The boundaries, strongest first (the earlier of two as strong), at least `gap` bars from each
    other and (`from_start`) from the song's start."""
    kept: list[int] = []
    for b in sorted(bounds, key=lambda b: (-bounds[b], b)):
        if all(abs(b - k) >= gap for k in kept) and not (from_start and b < gap):
            kept.append(b)
    return sorted(kept)


def phrase_goes_on(rows: np.ndarray, t: int, same: float = SAME_BAR) -> bool:
    """Whether bar line t only goes on with a phrase: for a lag L in LOOP_BARS, the L bars from t
    are the same material as the L bars before it (a verse of one phrase played twice, a chorus
    of a 4-bar loop). Annotated sections join phrases in a row with the same letter, and a loop
    repeated throughout a section starts and stops long repeats at each of its turns."""
    n = len(rows)
    return any(t - L >= 0 and t + L <= n and all(float(rows[t + k] @ rows[t + k - L]) >= same for k in range(L))
               for L in LOOP_BARS)


def with_exact_repeats(rows: np.ndarray, found: list[int], reach: int = REACH) -> list[int] | None:
    """The boundaries (bar indices) to add to the found ones (`found`, the section search's) where
    the song's exact repeats start or stop and the search found none near, or None when the song
    repeats too little for it (`clear_repeats`: CLEAR_SHARE of its bars or fewer in repeats).

    A repeat end (`repeat_ends`, at least MIN_GAP bars from a stronger one: `apart`) of a repeat
    at least STRONG_BARS long with no found boundary fewer than `reach` bars away (REACH; the
    section search passes UNLATTICED_REACH for a song whose boundaries keep no phrase lattice) is added. The
    found boundaries stay: a repeat's ends are often a bar off the section's (a lead-in played
    the same both times, a last bar that differs), and moving found boundaries onto them broke
    the synthesized waltz and bridge (tests/test_audio.py). Studied POP909 songs (52, annotator
    1; benchmarks/song_accuracy.py --pop909): 171 -> 187 of 343 annotated boundaries within a
    bar, 169 of 452 -> 185 of 492 found boundaries near one (488 found with `phrase_goes_on`, the
    same hits), label pairs 960 of 1414 both; no song fewer. The tuned-on score renders: 41 -> 43
    of 52 within a bar, 41 of 70 -> 43 of 75 found near one, label pairs 92 of 112 both.
    """
    n = len(rows)
    reps = stripes(rows)
    if not clear_repeats(n, reps):
        return None
    strength = repeat_ends(n, reps)
    return [t for t in apart(strength, MIN_GAP)
            if strength[t] >= STRONG_BARS and all(abs(t - b) >= reach for b in found)
            and not phrase_goes_on(rows, t)]
