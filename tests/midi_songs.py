"""Third-party recordings with exact annotations: public-domain scores rendered with FluidSynth.

The scores come from music21's corpus (PyPI `music21`; the pieces used here are public
domain: Scott Joplin, "Maple Leaf Rag" (1899); W. A. Mozart, String Quartet K. 155,
1st movement (1772); J. S. Bach chorale BWV 66.6), written to MIDI and rendered to audio
with Debian's `fluidsynth` and the FluidR3 GM soundfont (`fluid-soundfont-gm`, MIT).
The beats and downbeats come from the MIDI's own tempo map (pretty_midi), so they are
exact. A "drifting" version plays the piece with a slow rubato (tempo +-4-12 %, a 14-25 s
swing) written into the MIDI's own tempo map (a new tempo every sixteenth note) and rendered by
FluidSynth, as a player's rubato: the notes move, their pitch does not (the audio is never
resampled); a "ramp" version writes an accelerando and ritardando into the tempo map (a new
tempo every bar). Either way the truth is the map.
Sections come from Mozart's Menuetto and Rondeau of K. 80 and Haydn's Op. 1 No. 1 finale too;
Mozart's K. 156 Tempo di Menuetto is held out (added after tuning, never tuned on: `HELD_OUT`).

Sections are annotated from the score: a boundary at every measure that opens a repeat,
closes one, or follows a double bar line, after expanding the repeats.

Rendered audio is cached per session under DREAMCUT_MIDI_CACHE (default /tmp/dreamcut-midi).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
CACHE = Path(os.environ.get("DREAMCUT_MIDI_CACHE", "/tmp/dreamcut-midi"))
SR = 22050


@dataclass
class Piece:
    name: str  # short id
    title: str
    corpus: str  # music21 corpus path
    bpm: float  # quarter notes a minute
    seconds: float  # how much to keep
    drift: float = 0.0  # relative tempo swing of the rubato warp (0 = steady)
    program: int | None = None  # a GM program for every part (None: the score's own)
    ramp: float = 0.0  # accelerando then ritardando in the MIDI's tempo map: +ramp at mid-excerpt (0 = none)
    cycle: float = 20.0  # seconds per swing of the rubato warp
    warp: str = "tempo-map"  # how the rubato is made: written into the MIDI's tempo map (in the cache key of drift pieces only)


PIECES = {
    "maple": Piece("maple", "Scott Joplin, Maple Leaf Rag (1899)", "joplin/maple_leaf_rag", 96, 60.0, program=0),
    "k155": Piece("k155", "W. A. Mozart, String Quartet K. 155, I (1772)", "mozart/k155/movement1", 132, 50.0),
    "bach": Piece("bach", "J. S. Bach, chorale BWV 66.6", "bach/bwv66.6", 88, 40.0, program=19),
    "k155-rubato": Piece("k155-rubato", "Mozart K. 155, I, with rubato (tempo +-12 %, 20 s cycle)",
                         "mozart/k155/movement1", 132, 50.0, drift=0.12),
    "k155-ramp": Piece("k155-ramp", "Mozart K. 155, I, accelerando 116 -> 151 bpm and back (MIDI tempo map)",
                       "mozart/k155/movement1", 116, 50.0, ramp=0.3),
    "k80-minuet": Piece("k80-minuet", "W. A. Mozart, String Quartet K. 80, III Menuetto (1770)",
                        "mozart/k80/movement3", 126, 75.0),
    "k80-rondo": Piece("k80-rondo", "W. A. Mozart, String Quartet K. 80, IV Rondeau (1773)",
                       "mozart/k80/movement4", 150, 80.0),
    "haydn-presto": Piece("haydn-presto", "J. Haydn, String Quartet Op. 1 No. 1, V Presto (c. 1757)",
                          "haydn/opus1no1/movement5", 144, 80.0),
    # Held out: added after the analysis was tuned on the pieces above, never tuned on.
    "k156-minuet": Piece("k156-minuet", "W. A. Mozart, String Quartet K. 156, III Tempo di Menuetto (1772)",
                         "mozart/k156/movement3", 132, 80.0),
    # More development recordings with score sections (session 4: tuned on, like the ones above).
    "clara-polonaise1": Piece("clara-polonaise1", "Clara Schumann, Polonaise Op. 1 No. 1 (1831)",
                              "schumann_clara/polonaise_op1n1", 120, 75.0),
    "clara-polonaise4": Piece("clara-polonaise4", "Clara Schumann, Polonaise Op. 1 No. 4 (1831)",
                              "schumann_clara/polonaise_op1n4", 120, 75.0),
    "haydn-minuet": Piece("haydn-minuet", "J. Haydn, String Quartet Op. 1 No. 1, II Menuetto (c. 1757)",
                          "haydn/opus1no1/movement2", 150, 80.0),
    "haydn-minuet2": Piece("haydn-minuet2", "J. Haydn, String Quartet Op. 1 No. 1, IV Menuetto (c. 1757)",
                          "haydn/opus1no1/movement4", 132, 80.0),
    "k156-adagio": Piece("k156-adagio", "W. A. Mozart, String Quartet K. 156, first Adagio (corpus movement 4, 1772)",
                         "mozart/k156/movement4", 120, 75.0),
    "k155-andante": Piece("k155-andante", "W. A. Mozart, String Quartet K. 155, II Andante (1772)",
                          "mozart/k155/movement2", 120, 75.0),
    # A steady song that sways a little (under the tempo's DRIFT, s4-beat): the rigid grid a steady
    # song is tracked with must not take it (the grid's LATTICE came from it: tuned on).
    "haydn-minuet-sway": Piece("haydn-minuet-sway", "Haydn Op. 1 No. 1, II, swaying (tempo +-4 %, 16 s cycle)",
                               "haydn/opus1no1/movement2", 150, 70.0, drift=0.04, cycle=16.0),
    # Development scores played slower (s4-beat, tuned on): the tempo was heard 4/3 too fast (84 bpm
    # as 111 and 106, beat F 0.28 and 0.35) before the tempo level came from the score's evidence.
    "k155-andante-slow": Piece("k155-andante-slow", "Mozart K. 155, II, played at 84 bpm",
                               "mozart/k155/movement2", 84, 70.0),
    "k156-adagio-slow": Piece("k156-adagio-slow", "Mozart K. 156, first Adagio, played at 84 bpm",
                              "mozart/k156/movement4", 84, 70.0),
    # Held out (session 4): added to HELD_OUT before any result on them was looked at.
    "clara-polonaise3": Piece("clara-polonaise3", "Clara Schumann, Polonaise Op. 1 No. 3 (1831)",
                              "schumann_clara/polonaise_op1n3", 120, 80.0),
    "op59-3-minuet": Piece("op59-3-minuet", "L. van Beethoven, String Quartet Op. 59 No. 3, III Menuetto (1806)",
                           "beethoven/opus59no3/movement3", 150, 78.0),
    "op41-adagio": Piece("op41-adagio", "R. Schumann, String Quartet Op. 41 No. 1, III (1842)",
                         "schumann_robert/opus41no1/movement3", 120, 75.0),
    # More rubato (session 4, s4-beat): other pieces, other warps. The Rondeau's was looked into
    # (the tracker's curve weight where the curve is interpolated came from it): tuned on. The
    # Menuetto's was added after that, measured only: held out.
    "k80-rondo-rubato": Piece("k80-rondo-rubato", "Mozart K. 80, IV, with rubato (tempo +-10 %, 14 s cycle)",
                              "mozart/k80/movement4", 150, 60.0, drift=0.10, cycle=14.0),
    "k80-minuet-rubato": Piece("k80-minuet-rubato", "Mozart K. 80, III, with rubato (tempo +-8 %, 25 s cycle)",
                               "mozart/k80/movement3", 126, 70.0, drift=0.08, cycle=25.0),
    # --- session 5, development recordings for the tempo level (s5-tempo adds here) ---
    # Fast 3/4 (s5-tempo, tuned on): the bar-level pulse competes with the beat. The fast minuets
    # are heard at their beat; the others fail in the ways the held-out ones did (README): a tempo
    # heard at 2/3 of the beat whose level then lands an octave low (K.155 I, K.156 III at 176:
    # 88), a local tempo whose spikes said "moving" (K.155 II at 176), a polonaise tracked half a
    # beat off for part of its length, and an Adagio at 69 heard at twice its tempo.
    "k156-minuet-fast": Piece("k156-minuet-fast", "Mozart K. 156, III, played at 165 bpm",
                              "mozart/k156/movement3", 165, 60.0),
    "haydn-minuet2-fast": Piece("haydn-minuet2-fast", "Haydn Op. 1 No. 1, IV, played at 168 bpm",
                                "haydn/opus1no1/movement4", 168, 60.0),
    "k156-minuet-176": Piece("k156-minuet-176", "Mozart K. 156, III, played at 176 bpm",
                             "mozart/k156/movement3", 176, 60.0),
    "k155-176": Piece("k155-176", "Mozart K. 155, I, played at 176 bpm", "mozart/k155/movement1", 176, 60.0),
    "k155-andante-176": Piece("k155-andante-176", "Mozart K. 155, II, played at 176 bpm",
                              "mozart/k155/movement2", 176, 60.0),
    "clara-polonaise1-150": Piece("clara-polonaise1-150", "Clara Schumann, Polonaise Op. 1 No. 1, at 150 bpm",
                                  "schumann_clara/polonaise_op1n1", 150, 60.0),
    "k156-adagio-69": Piece("k156-adagio-69", "Mozart K. 156, first Adagio, played at 69 bpm",
                            "mozart/k156/movement4", 69, 60.0),
    # --- session 5, development recordings for sections (s5-sec adds here) ---
}
# Sealed in session 5: named and committed before any analysis of them was run, measured once at
# the end of session 5 (K. 458's Adagio failed: heard at double tempo). Seen since: studied in
# session 6 and reported as "sealed in s5".
SEEN_S5_PIECES = {
    "clara-polonaise2": Piece("clara-polonaise2", "Clara Schumann, Polonaise Op. 1 No. 2 (1831)",
                              "schumann_clara/polonaise_op1n2", 116, 80.0),
    "k155-finale": Piece("k155-finale", "W. A. Mozart, String Quartet K. 155, III Molto allegro (1772)",
                         "mozart/k155/movement3", 144, 80.0),
    "op18-1-finale": Piece("op18-1-finale", "L. van Beethoven, String Quartet Op. 18 No. 1, IV Allegro (1800)",
                           "beethoven/opus18no1/movement4", 138, 80.0),
    "k80-allegro": Piece("k80-allegro", "W. A. Mozart, String Quartet K. 80, II Allegro (1770)",
                         "mozart/k80/movement2", 132, 80.0),
    "k458-adagio": Piece("k458-adagio", "W. A. Mozart, String Quartet K. 458, III Adagio (1784)",
                         "mozart/k458/movement3", 69, 80.0),
}
PIECES.update(SEEN_S5_PIECES)
# Sealed in session 6: named and committed before any analysis of them was run, measured once at
# the end of session 6 (1 of 5 passed); seen since, studied from session 7 on and reported as
# "sealed in s6". The rule below found no further candidate, so session 7's sealed set is pop
# songs only (tests/pop909_songs.py `SEALED`); `SEALED` here is empty.
# The rule, fixed before any analysis of them (tests/midi_songs_sealed.py repeats it:
# `select_sealed()`; only the scores were read): candidates are the music21 corpus files of one
# whole movement (`.../movementN`) by the composers already used (Beethoven, Haydn, Mozart, Clara
# and Robert Schumann) whose corpus path no piece above uses, each composer's in corpus-path order.
# One passes when its score (a) parses, (b) has its repeats expanded by music21, (c) has one time
# signature throughout, 2/4, 3/4, 4/4 or 2/2 (the beat is the quarter note), (d) states its tempo:
# a metronome number, else a tempo word at its start or as its movement name read by a fixed
# table (TEMPO_WORDS: Largo 56, Adagio 66, Andante 84, Allegretto 108, Allegro 132, Vivace 152,
# Presto 168 ...), else the published heading of three scores that state none (PUBLISHED_HEADINGS),
# 40-200 quarter notes a minute, (e) writes a MIDI pretty_midi reads (up to MIDI_LAST_Q, as
# `render` writes it), (f) lasts the 120 s excerpt and (g) has a boundary from its repeats or double
# bars inside it. The set: the passing ones round-robin over the composers, at most eight.
# Revised before choosing, on what the scores hold (no analysis): the first run (80 s, meters
# 2/4-4/4, no published headings, whole-movement MIDI) passed one score. Dropped, by the rule:
# (b) repeats music21 cannot expand: Haydn Op. 74/1 III, IV; K. 458 I, II. (c) 6/8, 3/8, 9/8 or a
# change of meter: 12 scores. (d) Op. 18/1 III (its mark is 320 quarters a minute, a bar's beat).
# (g) no boundary in 120 s: Op. 18/1 I (first at 156 s), Op. 59/1 I, III, Op. 59/2 II, IV (none
# before the end), Op. 59/3 IV (491 s), Haydn Op. 1/1 III, K. 458 IV (123 s), R. Schumann Op. 41/1
# movement 4 (Adagio; none).
SEEN_S6_PIECES: dict[str, Piece] = {
    "op59-1-finale": Piece("op59-1-finale", "L. van Beethoven, String Quartet Op. 59 No. 1, IV Thème russe: Allegro (1806)",
                           "beethoven/opus59no1/movement4", 132, 120.0),
    "op74-1-allegro": Piece("op74-1-allegro", "J. Haydn, String Quartet Op. 74 No. 1, I Allegro moderato (1793)",
                            "haydn/opus74no1/movement1", 132, 120.0),
    "k156-adagio-ii": Piece("k156-adagio-ii", "W. A. Mozart, String Quartet K. 156, II Adagio (corpus movement 2, 1772)",
                            "mozart/k156/movement2", 66, 120.0),
    "op59-2-allegretto": Piece("op59-2-allegretto", "L. van Beethoven, String Quartet Op. 59 No. 2, III Allegretto (1806)",
                               "beethoven/opus59no2/movement3", 108, 120.0),
    "k80-adagio": Piece("k80-adagio", "W. A. Mozart, String Quartet K. 80, I Adagio (1770)",
                        "mozart/k80/movement1", 66, 120.0),
}
PIECES.update(SEEN_S6_PIECES)
# Session 4's held-out recordings were measured and their misses looked into in session 5: they
# are no longer unseen, and are reported as "held out (s4)"; the sealed ones are the unseen test.
HELD_OUT = ("k156-minuet", "clara-polonaise3", "op59-3-minuet", "op41-adagio", "k80-minuet-rubato")  # measured, never tuned on
SEEN_S5 = tuple(SEEN_S5_PIECES)
SEEN_S6 = tuple(SEEN_S6_PIECES)
SEALED: tuple[str, ...] = ()  # none unseen among the scores (see above)


@dataclass
class Rendered:
    piece: Piece
    wav: Path
    beats: list[float]
    downbeats: list[float]
    sections: list[float]  # boundary times (s), excluding 0
    beats_per_bar: int

    # what benchmarks/song_accuracy.score reads of any recording (tests/pop909_songs.Song too)
    name = property(lambda self: self.piece.name)
    title = property(lambda self: self.piece.title)
    seconds = property(lambda self: self.piece.seconds)
    moving = property(lambda self: bool(self.piece.drift or self.piece.ramp))

    def material(self) -> list[tuple[float, str]]:
        """The annotated sections as (start second, material letter); see `section_material`."""
        return section_material(self.piece.name)


def available() -> str | None:
    """None when everything is there, else why not (a skip reason)."""
    if shutil.which("fluidsynth") is None or not SOUNDFONT.is_file():
        return ("fluidsynth or the FluidR3 soundfont is missing (apt-get install fluidsynth fluid-soundfont-gm; "
                "`make test` installs them)")
    try:
        import music21  # noqa: F401 - only: is it installed
        import pretty_midi  # noqa: F401 - only: is it installed
    except ImportError as e:
        return f"{e.name} is not installed (pip install -e '.[test]')"
    return None


def _section_starts(score) -> set[int]:
    """Measure numbers that open a section in the score as written: after a double bar or a
    repeat sign, or at a repeat start."""
    out = set()
    for m in score.parts[0].getElementsByClass("Measure"):
        lb, rb = m.leftBarline, m.rightBarline
        if lb is not None and ("Repeat" in lb.classes or getattr(lb, "type", "") in ("heavy-light", "light-light")):
            out.add(m.number)
        if rb is not None and ("Repeat" in rb.classes or getattr(rb, "type", "") in ("light-heavy", "light-light")):
            out.add(m.number + 1)
    return out


def _score_sections(expanded, starts: set[int], bar_q: float) -> list[float]:
    """Boundaries (quarter-note offsets) in the expanded score: a section start, or a jump back."""
    out = []
    prev = None
    for m in expanded.parts[0].getElementsByClass("Measure"):
        if prev is not None and (m.number in starts or m.number != prev + 1):
            out.append(float(m.offset))
        prev = m.number
    # a first-ending bar right before the repeat's start is the same seam: keep the later
    merged: list[float] = []
    for x in out:
        if merged and x - merged[-1] <= 2 * bar_q:
            merged[-1] = x
        else:
            merged.append(x)
    return merged


# music21 writes 10080 ticks a quarter note and pretty_midi calls a MIDI past 1e7 ticks corrupt
# (~992 quarter notes): a longer movement is written up to here only (every excerpt ends well before).
MIDI_LAST_Q = 900.0


def keep_readable(score) -> None:
    """Drop from `score` (in place) its measures from MIDI_LAST_Q quarter notes on, so that
    pretty_midi reads its MIDI; a score shorter than that is left as it is."""
    for part in score.parts:
        for m in list(part.getElementsByClass("Measure")):
            if float(m.offset) >= MIDI_LAST_Q:
                part.remove(m)


def synthesize(pm, keep_s: float, d: Path) -> np.ndarray:
    """The MIDI's first `keep_s` seconds played by fluidsynth (FluidR3), mono at SR; `d` holds the
    temporary files. Trims `pm` in place."""
    import soundfile as sf

    for inst in pm.instruments:
        inst.notes = [n for n in inst.notes if n.start < keep_s]
        for n in inst.notes:
            n.end = min(n.end, keep_s)
        inst.control_changes = [c for c in inst.control_changes if c.time < keep_s]
        inst.pitch_bends = [b for b in inst.pitch_bends if b.time < keep_s]
    excerpt, raw = d / "excerpt.mid", d / "raw.wav"
    pm.write(str(excerpt))
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(SR), "-F", str(raw), str(SOUNDFONT), str(excerpt)],
                   check=True, capture_output=True, timeout=300)
    y, _ = sf.read(str(raw), dtype="float32", always_2d=True)
    raw.unlink()
    return y.mean(axis=1)


RUBATO_STEP = 0.25  # quarter notes per tempo of a rubato's tempo map (a new tempo every sixteenth)


def rubato_tempo_map(mid: Path, bpm: float, drift: float, cycle: float) -> None:
    """Rewrite the steady MIDI file `mid` (one tempo, `bpm`) in place with a rubato in its tempo
    map: the local tempo is bpm * (1 + drift * sin(2 pi t / cycle)) at second t, a new tempo every
    RUBATO_STEP quarter notes. A player's rubato: the notes move, their pitch does not."""
    import mido

    f = mido.MidiFile(str(mid))
    tpq = f.ticks_per_beat
    tracks = []
    for tr in f.tracks:
        t, evs = 0, []
        for msg in tr:
            t += msg.time
            if msg.type != "set_tempo" and msg.type != "end_of_track":
                evs.append((t, msg))
        tracks.append((t, evs))
    end_tick = max(t for t, _ in tracks)
    # Score position (quarter notes) at second t: bpm/60 * the integral of the local tempo factor.
    end_q = end_tick / tpq + RUBATO_STEP
    t = np.arange(0.0, end_q * 60.0 / bpm / (1 - drift) + 1.0, 1e-3)
    q = bpm / 60.0 * (t + drift * cycle / (2 * np.pi) * (1 - np.cos(2 * np.pi * t / cycle)))
    grid = np.arange(0.0, end_q + RUBATO_STEP, RUBATO_STEP)
    at = np.interp(grid, q, t)  # when each step of the grid is played
    step_ticks = int(round(RUBATO_STEP * tpq))
    tempi = [(i * step_ticks, mido.MetaMessage("set_tempo", tempo=int(round((b - a) / RUBATO_STEP * 1e6))))
             for i, (a, b) in enumerate(zip(at[:-1], at[1:]))]
    out = mido.MidiFile(type=f.type, ticks_per_beat=tpq)
    for i, (_, evs) in enumerate(tracks):
        if i == 0:
            evs = sorted(tempi + evs, key=lambda e: e[0])  # stable: a step's tempo before its notes
        tr, last = mido.MidiTrack(), 0
        for tick, msg in evs:
            tr.append(msg.copy(time=tick - last))
            last = tick
        tr.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - last)))
        out.tracks.append(tr)
    out.save(str(mid))


def write_excerpt(y: np.ndarray, seconds: float, wav: Path) -> float:
    """Write the first `seconds` of `y` (at SR) with a 1 s fade out at the cut, as an excerpt
    would have; returns its duration (s)."""
    import soundfile as sf

    y = y[:int(seconds * SR)]
    fade = min(len(y), SR)
    y[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    sf.write(str(wav), y, SR, subtype="PCM_16")
    return len(y) / SR


def render(name: str) -> Rendered:
    """The piece as a wav with its exact beats, downbeats and section boundaries (cached)."""
    piece = PIECES[name]
    fields = {k: v for k, v in piece.__dict__.items()
              if not (k == "ramp" and v == 0.0) and not (k == "cycle" and v == 20.0)  # keys from before these
              and not (k == "warp" and not piece.drift)}
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    d = CACHE / f"{piece.name}-{key}"
    meta = d / "truth.json"
    if meta.is_file():
        t = json.loads(meta.read_text())
        return Rendered(piece, d / "song.wav", t["beats"], t["downbeats"], t["sections"], t["beats_per_bar"])
    d.mkdir(parents=True, exist_ok=True)
    # Rendered in a folder of its own inside `d`, then published file by file (`_publish`): two
    # processes (a benchmark and a test) may render the same piece at once.
    with tempfile.TemporaryDirectory(dir=d, prefix=".render-") as work:
        t = _render_into(piece, Path(work))
        _publish(Path(work), d, t)
    return Rendered(piece, d / "song.wav", t["beats"], t["downbeats"], t["sections"], t["beats_per_bar"])


def analysed(name: str):
    """The piece rendered (`render`) and its song map from the real analysis, cached beside the
    renders (CACHE / "analysis"): what the tests that hold a score's analysis to its truth start from."""
    from dreamcut.analysis.audio import analyze_song

    r = render(name)
    return r, analyze_song(r.wav, cache_dir=CACHE / "analysis")


def heard_before_the_choice(wav: Path):
    """The song map of `wav` from the real analysis, its sections as the steps before the final choice
    of starts found them (`analysis.sections._sections` without `texture`: the boundaries
    `sections._chosen_starts` reads as evidence). What the tests of those steps on real songs look at;
    an analysis of its own, not cached."""
    from unittest import mock

    import dreamcut.analysis.audio as audio
    from dreamcut.analysis.decode import ANALYSIS_SR, load_audio

    found = audio._sections

    def before_the_choice(*args, **kwargs):
        return found(*args, **{**kwargs, "texture": None})

    y, _ = load_audio(wav)
    with mock.patch.object(audio, "_sections", before_the_choice):
        return audio.analyze_samples(y, ANALYSIS_SR)


def _publish(work: Path, d: Path, truth: dict) -> None:
    """Move a finished render from `work` (a folder inside the cache folder `d`, so on the same file
    system) into `d`, each file by `os.replace` (atomic), truth.json last: a reader that finds
    truth.json finds song.mid and song.wav whole, and a second process publishing the same render at
    the same time replaces whole files with whole files."""
    os.replace(work / "song.mid", d / "song.mid")
    os.replace(work / "song.wav", d / "song.wav")
    (work / "truth.json").write_text(json.dumps(truth))
    os.replace(work / "truth.json", d / "truth.json")


def parse_score(corpus: str):
    """The written score at music21 corpus path `corpus`, parsed from its source file every time.

    music21 otherwise keeps a pickle of each parsed score in its scratch folder, written in place
    and read back by the next parse: a second process parsing the same score while the first is
    still writing that pickle read it truncated (CI, session 9: zlib "incomplete or truncated
    stream" in tests/test_midi_cache.py). `forceSource=True` neither reads nor writes the pickle
    (music21/converter/__init__.py, `PickleFilter.status`, music21 10.5)."""
    import music21

    return music21.corpus.parse(corpus, forceSource=True)


def _render_into(piece: Piece, d: Path) -> dict:
    """Render `piece` into the empty folder `d` (song.mid, song.wav); returns its truth."""
    import music21
    import pretty_midi

    written = parse_score(piece.corpus)
    starts = _section_starts(written)
    score = written.expandRepeats()
    for el in list(score.recurse().getElementsByClass(music21.tempo.MetronomeMark)):
        el.activeSite.remove(el)
    measures = list(score.parts[0].getElementsByClass("Measure"))
    measures[0].insert(0, music21.tempo.MetronomeMark(number=piece.bpm))
    if piece.ramp:
        # up to bpm * (1 + ramp) half-way through the excerpt, then back: one tempo a bar
        ts0 = score.recurse().getElementsByClass(music21.meter.TimeSignature).first()
        bar_s = (ts0.barDuration.quarterLength if ts0 else 4.0) * 60.0 / piece.bpm
        n = max(2, int(piece.seconds / bar_s / (1 + piece.ramp / 2)))
        for i, m in enumerate(measures[1:n + 8], start=1):
            x = min(i / n, 1.0)
            m.insert(0, music21.tempo.MetronomeMark(number=round(piece.bpm * (1 + piece.ramp * (1 - abs(2 * x - 1))), 2)))
    if piece.program is not None:
        for p in score.parts:
            for inst in list(p.recurse().getElementsByClass(music21.instrument.Instrument)):
                inst.activeSite.remove(inst)
            i = music21.instrument.instrumentFromMidiProgram(piece.program)
            p.insert(0, i)
    ts = score.recurse().getElementsByClass(music21.meter.TimeSignature).first()
    bar_q = ts.barDuration.quarterLength if ts else 4.0
    sec_q = _score_sections(score, starts, bar_q)
    keep_readable(score)
    mid = d / "song.mid"
    score.write("midi", fp=str(mid))
    if piece.drift:
        rubato_tempo_map(mid, piece.bpm, piece.drift, piece.cycle)
    pm = pretty_midi.PrettyMIDI(str(mid))
    # Beats: quarter notes from the tempo map (the score's time signature may count halves).
    first_note = min(n.start for inst in pm.instruments for n in inst.notes)
    end_q = pm.time_to_tick(pm.get_end_time()) / pm.resolution
    q2t = np.vectorize(lambda x: pm.tick_to_time(int(round(x * pm.resolution))))  # the MIDI's tempo map
    # Downbeats: the offsets of the expanded score's measures (a pickup bar, number 0, is not one).
    downbeats_q = np.array([float(m.offset) for m in score.parts[0].getElementsByClass("Measure")
                            if m.number >= 1])
    beats = q2t(np.arange(float(downbeats_q[0]) % 1.0, end_q, 1.0))
    bpb = int(round(bar_q))
    if bpb == 2:  # 2/4: count two bars as one (what an editor counts), the beat stays the quarter
        downbeats_q = downbeats_q[::2]
        bpb = 4
    # Only the excerpt goes to fluidsynth (some scores' MIDI kept it rendering for hours).
    y = synthesize(pm, piece.seconds * (1 + piece.drift) + 3.0, d)
    # fluidsynth starts the MIDI at 0: the truth is the tempo map's times, to the sample.
    downbeats_q_t = q2t(downbeats_q)
    secs = q2t(np.array(sec_q)) if sec_q else np.array([])
    dur = write_excerpt(y, piece.seconds, d / "song.wav")
    cut = lambda a: [round(float(x), 4) for x in a if first_note - 0.01 <= x < dur - 1.0]  # noqa: E731
    return {"beats": cut(beats), "downbeats": cut(downbeats_q_t), "beats_per_bar": bpb,
            "sections": [round(float(x), 4) for x in secs if 1.0 < x < dur - 1.0]}


def section_material(name: str) -> list[tuple[float, str]]:
    """The annotated sections as (start second, material letter): spans made of the same
    measures of the written score (a repeat; first and second endings aside) share a letter.
    A moving piece's times come from its MIDI's tempo map."""
    import music21
    import pretty_midi

    piece = PIECES[name]
    r = render(name)
    if piece.drift or piece.ramp:
        pm = pretty_midi.PrettyMIDI(str(r.wav.parent / "song.mid"))
        sec = lambda q: pm.tick_to_time(int(round(q * pm.resolution))) if q != float("inf") else q  # noqa: E731
    else:
        sec = lambda q: q * 60.0 / piece.bpm  # noqa: E731
    written = parse_score(piece.corpus)
    score = written.expandRepeats()
    ts = score.recurse().getElementsByClass(music21.meter.TimeSignature).first()
    bar_q = ts.barDuration.quarterLength if ts else 4.0
    bounds = _score_sections(score, _section_starts(written), bar_q)
    measures = [(float(m.offset), m.number) for m in score.parts[0].getElementsByClass("Measure")]
    edges = [0.0] + bounds + [float("inf")]
    spans = [{n for off, n in measures if a <= off < b} for a, b in zip(edges[:-1], edges[1:])]
    letters: list[str] = []
    for i, s in enumerate(spans):
        same = next((letters[j] for j in range(i) if len(s & spans[j]) >= 0.6 * max(1, min(len(s), len(spans[j])))),
                    None)
        letters.append(same or "ABCDEFGHIJKLMNOP"[len(set(letters))])
    dur = r.piece.seconds
    out: list[tuple[float, str]] = []
    for a, b, m in zip(edges[:-1], edges[1:], letters):
        if sec(a) >= dur - 1.0:
            break
        if sec(b) - sec(a) < 1.0:  # a pickup bar: part of what follows
            continue
        out.append((0.0 if not out else round(float(sec(a)), 4), m))
    return out


def label_agreement(name: str, analysis) -> tuple[list[bool], str, list[str]]:
    """For every pair of annotated sections: do they share a heard label exactly when they share
    material? Also the score's letters and the label heard over each annotated section (the one
    covering most of it)."""
    return material_agreement(section_material(name), [(s.start, s.end, s.label) for s in analysis.sections],
                              analysis.duration)


# A boundary found on the bar line before or after the annotated one is "within a bar": the
# two differ by one bar of the analysis's downbeats against one bar of the truth's (`bar`, their
# median), so without a slack float rounding counted some of those and not others (measured in
# session 9 on the studied POP909 songs: 28 of 65 such boundaries counted). The slack is the beat
# tolerance. The strict count beside it, "on the annotated bar line", takes half a bar.
BAR_SLACK = 0.07


def sections_found(annotated: list[float], found: list[float], bar: float, seconds: float) -> dict:
    """Annotated boundaries with a found one within a bar (and on the annotated bar line: within
    half a bar), and found boundaries (inside the excerpt) within a bar of an annotated one."""
    hits = [any(abs(f - b) <= bar + BAR_SLACK for f in found) for b in annotated]
    on_bar = [any(abs(f - b) <= bar / 2 for f in found) for b in annotated]
    # precision: of the boundaries found inside the annotated span, the share near an annotated one
    exact = [any(abs(f - b) <= bar + BAR_SLACK for b in annotated) for f in found if f < seconds - 1.0]
    return {"sections": len(annotated), "section_hits": round(float(np.mean(hits)), 3) if hits else None,
            "section_hit_count": int(sum(hits)), "section_on_bar_count": int(sum(on_bar)),
            "section_near_count": int(sum(exact)),
            "section_found": len(exact), "section_precision": round(float(np.mean(exact)), 3) if hits and exact else None}


def sections_heard(recording, analysis) -> dict:
    """`sections_found` for an analysed recording (a `Rendered` or a tests/pop909_songs.Song, and
    dreamcut's analysis of it): its annotated boundaries against the analysis's section starts, a
    bar being the median of its annotated bars. The benchmark's row and the tests' counts."""
    bar = float(np.median(np.diff(recording.downbeats)))
    return sections_found(recording.sections, [s.start for s in analysis.sections[1:]], bar, recording.seconds)


def planned_edit(analysis):
    """The edit the benchmark and the tests plan on a recording's `analysis`: 24 fps, `pacing:
    auto`, 12 s takes, as many shots as 8-bar phrases (3 at least); the timeline."""
    from dreamcut.edit.planner import ShotInput, plan_edit

    a = analysis
    n = max(3, int(a.duration // (8 * a.beats_per_bar * 60.0 / a.tempo)))
    shots = [ShotInput(shot_id=f"s{i}", take_id=f"s{i}", media="x.mp4", take_seconds=12.0) for i in range(n)]
    return plan_edit(a, shots, fps=24, size=(320, 180), title="t", song_media="song.wav", pacing="auto")


def planned_cuts(analysis) -> list[dict]:
    """Each cut of `planned_edit` (after the first clip's start): its clip's dreamcut metadata, as
    plain Python (OpenTimelineIO's metadata dies with its timeline)."""
    from collections.abc import Mapping

    def plain(x):
        if isinstance(x, Mapping):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)) or type(x).__name__ == "AnyVector":
            return [plain(v) for v in x]
        return x

    tl = planned_edit(analysis)
    return [plain(c.metadata["dreamcut"]) for c in tl.tracks[0].find_clips()][1:]


def material_agreement(mat: list[tuple[float, str]], heard: list[tuple[float, float, str]],
                       duration: float) -> tuple[list[bool], str, list[str]]:
    """`label_agreement` for annotated sections `mat` ((start, letter)) and heard sections
    `heard` ((start, end, label)) of a recording `duration` seconds long."""
    ends = [t for t, _ in mat[1:]] + [duration]
    got = []
    for (t0, _), t1 in zip(mat, ends):
        cover: dict[str, float] = {}
        for start, end, label in heard:
            cover[label] = cover.get(label, 0.0) + max(0.0, min(t1, end) - max(t0, start))
        got.append(max(cover, key=cover.get))
    pairs = [(mat[i][1] == mat[j][1]) == (got[i] == got[j]) for i in range(len(mat)) for j in range(i + 1, len(mat))]
    return pairs, "".join(m for _, m in mat), got
