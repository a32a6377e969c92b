"""Where a cut may fall: every beat of the song, with what kind of musical place it is and
whether the analysis is sure of it.

The one rule for what a downbeat / 4- or 8-bar phrase start / section start is, and what a cut
there is worth (`BONUS_*`): the planner cuts on these places and the board snaps to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dreamcut.analysis.audio import SongAnalysis


# Bonus (in cost units) for a cut on each kind of musical place. One unit is roughly what
# moving a cut ~2 beats away from its balanced position costs, so a downbeat is worth a
# short move, a section boundary a long one.
BONUS_DOWNBEAT = 1.0
BONUS_PHRASE4 = 0.75
BONUS_PHRASE8 = 0.75
BONUS_SECTION = 4.0
# A section start the analysis is not sure of (`SongAnalysis.sure_section`) is worth a downbeat's
# move, not a section's: the cut goes there only when the balance or a phrase agrees.
BONUS_GUESSED_SECTION = 1.0
# Cost of a cut on a beat the analysis is not sure of (`SongAnalysis.sure_beat`): more than a
# downbeat with its phrase start is worth, so a cut moves to a sure beat within the phrase.
DOUBTFUL = 3.0
DOUBTFUL_NOTE = "on a doubtful beat (the two beat trackers disagree here; pin it if it sounds off)"
# A paced cut that lands off the bar line (no sure downbeat within reach, or no take long enough to
# reach the next one): said, as an editor expects a paced cut on a downbeat (report.DEGRADED_MARKS).
OFF_BAR_NOTE = "off the bar line"


@dataclass
class _Cut:
    """A place a cut may fall: a beat, on its frame."""

    frame: int
    beat: int  # 0-based beat index
    bar: int  # 1-based bar number (0 = before the first bar)
    beat_in_bar: int  # 1-based
    section: str | None  # e.g. "chorus#2"
    section_start: bool
    phrase: int  # 8, 4 or 0: bars into the section, on a downbeat
    bonus: float
    sure: bool = True  # the analysis is sure of this beat (a second tracker agrees)
    section_sure: bool = True  # a section start the analysis is sure of (else a guessed boundary)

    def describe(self) -> str:
        if self.bar <= 0:
            where = f"beat {self.beat + 1} (pickup before bar 1)"
        elif self.beat_in_bar == 1:
            where = f"downbeat of bar {self.bar}"
        else:
            where = f"beat {self.beat_in_bar} of bar {self.bar}"
        parts = [where]
        if self.section_start and self.section:
            parts[0] += f", start of {self.section}" + ("" if self.section_sure else " (a guessed boundary)")
        elif self.section:
            parts[0] += f" in {self.section}"
        if self.phrase and not self.section_start:
            parts.append(f"phrase start ({self.phrase} bars)")
        return "; ".join(parts)


def section_bonus(song: SongAnalysis, index: int) -> float:
    """What a cut on the start of the song's `index`-th section is worth: a sure section start
    a long move, a guessed one (low confidence) no more than a downbeat."""
    return BONUS_SECTION if song.sure_section(index) else BONUS_GUESSED_SECTION


def section_downbeat(song: SongAnalysis, index: int) -> float:
    """Where the song's `index`-th section begins for the edit: its bar line. The analysis places a
    boundary where the music changes, often a beat or two off the bar (a pickup, a late change of
    texture); an editor cuts, and counts the section's phrases, from the downbeat nearest it: a beat
    into a 4/4 bar, the bar line before; two or three beats into it, the next (half a bar away goes to
    the next: the bar the change leads into). Under a weak pulse too: the cut must fall on the
    guessed grid either way, and its bar lines are where the phrase cuts go. Exactly the section's
    start when the director gave the sections (`song:` block) or no downbeat is within a bar.
    Measured (analysis v46, development recordings, MIDI and POP909): the section's cut on the
    annotated boundary for 38 of 69 boundaries found within 1.5 bars of one (30 on the heard
    beat; always taking the next bar line also gives 38)."""
    sec = song.sections[index]
    if sec.start <= 0 or "sections" in song.corrected or not song.downbeats:
        return sec.start
    i = song.nearest_beat(sec.start)
    bar = song.bar_index(song.beats[i])
    bpb = max(1, song.beats_per_bar)
    if bar < 0:  # a pickup before bar 1
        line = song.downbeats[0]
    else:
        into = song.beat_in_bar(song.beats[i]) - 1
        line = song.downbeats[bar] if 2 * into < bpb or bar + 1 >= len(song.downbeats) else song.downbeats[bar + 1]
    reach = song.beat_period * bpb
    k = song.bar_index(line)
    if half_bar_line(song, k):  # the nearer bar line of the half tempo's, the later on a tie
        near = [j for j in (k - 1, k + 1) if 0 <= j < len(song.downbeats)]
        line = song.downbeats[min(near, key=lambda j: (abs(song.downbeats[j] - sec.start), -j))] if near else line
        reach *= 2
    return line if 0 < line < song.duration and abs(line - sec.start) <= reach else sec.start


def sections_on_the_directors_grid(song: SongAnalysis) -> SongAnalysis:
    """The song map with each heard section starting where the edit cuts it (`section_downbeat`),
    when the director corrected the grid (`song:` bpm or tempo map, downbeat, meter) and gave no
    section list; else `song` as it is.

    The sections are heard on the heard bar lines; a corrected downbeat or metre moves the bar lines
    under them (a downbeat one beat later: every section then began on beat 4 of the bar before),
    and `dreamcut song` showed the heard start while `edit` cut on the bar line nearest it. One start
    for both: the song map's is the edit's. Where two sections would start on one bar line (heard
    less than a corrected bar apart: a bpm halved, the song's last bar), the one heard nearer it takes
    it and the other keeps the start it was heard at, so no heard section is lost (studied POP909
    songs, a downbeat one beat later on each of 220 and the true bpm on the 37 heard an octave off:
    once, 299's outro heard 0.7 s before the excerpt's end, on the last bar with the chorus before it)."""
    import dataclasses

    from dreamcut.analysis.sections import sections_at_starts

    if "sections" in song.corrected or not song.grid_corrected or len(song.sections) < 2:
        return song
    heard = [s.start for s in song.sections]
    starts = [round(section_downbeat(song, i), 4) for i in range(len(heard))]
    for i in range(1, len(starts)):
        if starts[i] > starts[i - 1] + 1e-6:
            continue
        line = starts[i - 1]
        if i >= 2 and abs(heard[i] - line) < abs(heard[i - 1] - line) and heard[i - 1] > starts[i - 2] + 1e-6:
            starts[i - 1] = heard[i - 1]  # the later one was heard on (nearer) the line: it takes it
        else:
            starts[i] = heard[i]
    return dataclasses.replace(song, sections=sections_at_starts(song.sections, starts, song.duration))


def section_bar(song: SongAnalysis, index: int) -> int:
    """The bar (0-based index into `song.downbeats`) the `index`-th section's phrases count from:
    the bar of its bar line (`section_downbeat`), or the next bar when the section still starts
    mid-bar (a start kept exactly: the director's)."""
    line = section_downbeat(song, index)
    first = max(0, song.bar_index(line))
    if first < len(song.downbeats) and song.downbeats[first] < line - 0.25:
        first += 1
    return first


def _phrase_bars(song: SongAnalysis) -> list[int]:
    """The bar (0-based) each section's 4 / 8-bar phrases count from: the bar line of each sure
    section (`section_downbeat`); a guessed section (`SongAnalysis.sure_section`) carries on the
    phrases of the one before."""
    out: list[int] = []
    for k in range(len(song.sections)):
        if k == 0:
            out.append(0)
        elif song.sure_section(k):
            out.append(section_bar(song, k))
        else:
            out.append(out[-1])
    return out


def _weak(song: SongAnalysis) -> bool:
    """A pulse too weak to trust the beat grid (and no tempo from the director)."""
    from dreamcut.analysis.audio import WEAK_PULSE

    return song.pulse < WEAK_PULSE and "tempo" not in song.corrected


# A bar of an odd number of beats whose tempo's half is nearly as likely (`SongAnalysis.other_octave`)
# may be half a bar: at the half tempo every other heard bar line is a bar line and the ones between
# fall half a beat off the beat (a 3/4 Adagio heard at double, its eighths counted in threes). The
# edit then cuts, and counts phrases, on every other bar line from the song's first (a piece begins on
# its beat): on a beat whichever tempo is heard. Measured (session 11, analysis v78,
# benchmarks/song_accuracy.py's edit): Mozart's K. 80 Adagio (3/4 at 66, heard at 132 in threes)
# planned cuts on a score beat 15 of 20 -> 19 of 19; 14 other scores are paired (no POP909 song), each
# keeps its cuts on a beat (Op. 59/3's Menuetto: one cut of 15 on a beat off the bar line; the
# polonaise at 150, its grid then half a beat off in places, 3 of 7 -> 3 of 8, 9 of 9 since the grid
# holds its phase, `analysis.beats.HALF_MARGIN`), and phrases count as the music
# does, in pairs of bars: the 15 paired scores' annotated section boundaries with a planned cut within
# half a bar 32 -> 41 of 48 (Haydn's Op. 1/1 Menuetto 0 -> 3 of 3).
def paired_bars(song: SongAnalysis) -> bool:
    """Whether the song's heard bars pair into the bars of its half tempo (odd beats a bar, the half
    named nearly as likely, no tempo, metre or downbeat from the director)."""
    return (0 < song.other_octave < song.tempo and song.beats_per_bar % 2 == 1 and song.beats_per_bar > 1
            and not song.grid_corrected)


def half_bar_line(song: SongAnalysis, bar: int) -> bool:
    """A heard bar line (0-based bar `bar`) that is mid-bar at the half tempo (`paired_bars`)."""
    return paired_bars(song) and bar % 2 == 1


# The strength of a place in the bar, the one rule for it: the planner's downbeat bonus here, and
# where a paced slot too long for any take is split when no phrase, section or bonus decides
# (`pacing.metric_weight`). The downbeat, then (a 4-beat bar) its half bar, beat 3: when the grid
# counts a slow piece's eighths or a third more beats than are heard, beats 1 and 3 are the heard
# ones and 2 and 4 fall between them. A paired song's half-bar line (`half_bar_line`) is no downbeat.
HALF_BAR = 3  # the half bar of a 4-beat bar (1-based beat in the bar)


def metric_weight(song: SongAnalysis, bar: int, beat_in_bar: int) -> int:
    """How strong a place in the bar the `beat_in_bar`-th beat (1-based) of the heard bar `bar`
    (0-based, -1 for a pickup) is: 2 on a bar line at either tempo (a heard downbeat that is no
    paired song's half-bar line, `half_bar_line`), 1 on a 4-beat bar's half bar (`HALF_BAR`), else 0:
    a paired song's half-bar line too, which falls half a beat off the half tempo's beat."""
    if beat_in_bar == 1:
        return 0 if half_bar_line(song, bar) else 2
    return 1 if song.beats_per_bar == 4 and beat_in_bar == HALF_BAR else 0


def on_bar_line(song: SongAnalysis, bar: int, beat_in_bar: int) -> bool:
    """A heard downbeat that is a bar line at either tempo (`metric_weight` 2)."""
    return metric_weight(song, bar, beat_in_bar) == 2


# Under a weak pulse a cut on a beat that no onset marks may be a beat of the guessed grid between
# the heard ones (a slow piece tracked at double tempo, half a beat off): `attack_beat` moves it to
# the tracked beat next to it that an onset marks (an attack the grid also has). Measured (analysis
# v51, benchmarks/song_accuracy.py's edit, the ten MIDI recordings with pulse <= 0.21): K. 458's
# Adagio (69 bpm tracked at 138, pulse 0.15) planned cuts within 70 ms of a score beat 2 of 9 -> 5 of
# 9; the other nine keep every cut on a beat (op59-3-minuet: one of 13 cuts moves off its bar line).
# Re-measured on v58 (session 8): K. 458's Adagio now plans 10 of 10 with or without it (the steady
# grid's lattice, v53, put its beats on its eighths); it moves two cuts among the weak-pulse scores,
# op59-3's (no change) and one of op59-2-allegretto's (13 ms -> 263 ms from a beat: 9 of 11, 10 without).
# Kept: the frozen K. 458 map of tests/test_weak_pulse_cuts.py is the case it exists for.
# Session 10: not where the tempo's double is the other likely octave (`attack_beat`), which keeps
# op59-2-allegretto's cut on its beat.
ATTACK = 0.05  # s: an onset this close to a beat marks it
ATTACK_BARS = 4  # bars either side in which the onsets' parity is counted
ATTACK_MIN = 3  # onsets on the other parity needed to move a cut
ATTACK_NOTE = "moved a beat onto an attack the beat grid also has (weak pulse)"
# ... but never onto the parity of beats (every other tracked beat) whose attacks, over the whole
# song, are under this share as strong as those of the cut's own parity (`attack_strength`): there
# the tracked grid counts a heard beat on every other beat, the cut's, and the local off-parity onsets
# are its off-beats. Measured (session 11, analysis v78, benchmarks/song_accuracy.py's edit): the
# only two moves among the studied recordings (no POP909 song has a weak pulse): Mozart's K. 155
# Andante at 176 (heard at 2/3 of it, every second tracked beat on a score beat) moved a cut from a
# score beat onto a beat 160 ms off one, its parity's attacks 0.031 against 0.180 (0.17 of them);
# Op. 59/3's Menuetto kept its move (on a beat either way), 0.098 against 0.087 (1.13).
ATTACK_PARITY = 0.5


def marks(song: SongAnalysis, i: int) -> bool:
    """An onset within ATTACK of the song's `i`-th beat."""
    t = song.beats[i]
    return any(abs(o - t) <= ATTACK for o in song.onsets)


def attack_strength(song: SongAnalysis) -> tuple[float, float]:
    """The mean strength of the attack on the song's even and odd beats (the strongest onset within
    ATTACK of each, `SongAnalysis.onset_strength`; 0 where none): which half of the tracked beats
    the music plays on. (0, 0) for a song map without onset strengths (an older cache)."""
    import numpy as np

    if not song.beats or len(song.onset_strength) != len(song.onsets) or not song.onsets:
        return 0.0, 0.0
    onsets, strength = np.asarray(song.onsets), np.asarray(song.onset_strength)
    at = [float(strength[np.abs(onsets - t) <= ATTACK].max(initial=0.0)) for t in song.beats]
    return float(np.mean(at[0::2])), float(np.mean(at[1::2])) if len(at) > 1 else 0.0


def attack_beat(song: SongAnalysis, i: int) -> int:
    """The beat a cut on the song's `i`-th beat goes to under a weak pulse (`_weak`). When no onset
    marks the beat and, within ATTACK_BARS bars either side, onsets mark the beats of the other
    parity (i +- 1, 3, ...) at least twice as often as the beat's own (i, i +- 2, ...) and at least
    ATTACK_MIN times, the grid is counting the heard beat's off-beats there (a slow piece tracked at
    double tempo, half a beat off): the cut goes to the beat before or after that an onset marks (a
    sure one first, then the earlier). Else the beat itself (the grid's guess stands), and always when
    the tempo's other likely octave is its double (`SongAnalysis.other_octave`): a grid that could be
    counting too slowly is not counting a slow piece's eighths, and its off-beats are no heard beats.
    Measured (session 10, benchmarks/song_accuracy.py's edit): Beethoven's Op. 59/2 Allegretto (108 bpm
    tracked at 72, its double 144 named) had a cut 13 ms from a score beat moved 263 ms off it (the
    grid's odd beats fall on its eighths, which onsets mark more often: 0.54 against 0.39); K. 458's
    frozen map (138 bpm; v52 named no other octave, today's analysis names its half, 69) keeps every move.
    Nor when the other parity's attacks over the whole song are under ATTACK_PARITY of the beat's own
    (`attack_strength`): the grid counts a heard beat on every other beat, this one's."""
    if song.other_octave > song.tempo:
        return i
    reach = ATTACK_BARS * max(1, song.beats_per_bar)
    lo, hi = max(0, i - reach), min(len(song.beats), i + reach + 1)
    on = sum(marks(song, j) for j in range(lo, hi) if (j - i) % 2 == 0)
    off = sum(marks(song, j) for j in range(lo, hi) if (j - i) % 2)
    if marks(song, i) or off < max(ATTACK_MIN, 2 * on):
        return i
    parity = attack_strength(song)
    if parity[1 - i % 2] < ATTACK_PARITY * parity[i % 2]:
        return i
    near = [j for j in (i - 1, i + 1) if 0 <= j < len(song.beats) and marks(song, j)]
    return min(near, key=lambda j: (not song.sure_beat(j), j)) if near else i


def cut_places(song: SongAnalysis, fps: int, total: int) -> list[_Cut]:
    """Every beat a cut may fall on (frame, bar, beat in bar, section, phrase start, bonus).
    The one rule for what a downbeat / 4- or 8-bar phrase start / section start is: the planner
    cuts on these and the board snaps to them."""
    weak = _weak(song)
    names = song.section_names()
    section_beats: dict[int, tuple[str, int]] = {}
    for k, (sec, name) in enumerate(zip(song.sections, names)):
        if sec.start > 0:
            section_beats.setdefault(song.nearest_beat(section_downbeat(song, k)), (name, k))
    phrase_bars = _phrase_bars(song)
    section_bars = [section_bar(song, k) if k else -1 for k in range(len(song.sections))]
    out: list[_Cut] = []
    seen: set[int] = set()
    for i, t in enumerate(song.beats):
        frame = int(round(t * fps))
        if frame <= 0 or frame >= total or frame in seen:
            continue
        seen.add(frame)
        bar0 = song.bar_index(t)
        in_bar = song.beat_in_bar(t)
        found = song.section_at(t)
        sec_name = names[found[0]] if found else None
        sec_start = i in section_beats
        sec_sure = True
        if sec_start:
            sec_name, sec_index = section_beats[i]
            sec_sure = song.sure_section(sec_index)
        phrase = 0
        strong = on_bar_line(song, bar0, in_bar)  # a bar line at either tempo
        if strong and bar0 >= 0:
            # the latest section whose bar line is at or before this bar counts the phrases
            k = max((j for j, b in enumerate(section_bars) if b <= bar0), default=0) if found else None
            into = bar0 - (phrase_bars[k] if k is not None else 0)
            phrase = 8 if into % 8 == 0 else 4 if into % 4 == 0 else 0
        bonus = (BONUS_DOWNBEAT if strong else 0.0)
        bonus += BONUS_PHRASE4 if phrase >= 4 else 0.0
        bonus += BONUS_PHRASE8 if phrase >= 8 else 0.0
        if weak:  # the grid is a guess: only phrase starts and section boundaries are worth a move
            bonus = 2.0 * bonus if phrase else 0.0
        bonus += section_bonus(song, section_beats[i][1]) if sec_start else 0.0
        sure = song.sure_beat(i)
        if not sure:
            bonus -= DOUBTFUL
        out.append(_Cut(frame=frame, beat=i, bar=bar0 + 1, beat_in_bar=in_bar, section=sec_name,
                        section_start=sec_start, phrase=phrase, bonus=bonus, sure=sure,
                        section_sure=sec_sure))
    return out
