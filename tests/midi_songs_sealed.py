"""Session 6's sealed scores, chosen by a rule fixed before any analysis of them (see the comment
above `midi_songs.SEEN_S6_PIECES`): this module repeats the choice from the music21 corpus.

It reads the scores only (parse, expand repeats, write and read a MIDI); it never renders audio
and never runs dreamcut's analysis.

    python tests/midi_songs_sealed.py  # prints every candidate's verdict and the chosen set
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import midi_songs  # noqa: E402

COMPOSERS = ("beethoven", "haydn", "mozart", "schumann_clara", "schumann_robert")  # those already used
METERS = ("2/4", "3/4", "4/4", "2/2")  # the beat is the quarter note (`render` counts quarters)
SECONDS = 120.0  # the excerpt kept (session 5 kept 80 s: at 80 s four candidates held a boundary)
MOST = 8
BPM_RANGE = (40.0, 200.0)  # quarter notes a minute: the truth's beat is the quarter note
# A tempo word's quarter notes a minute; the first table word in the tempo text counts.
TEMPO_WORDS = {
    "grave": 50, "largo": 56, "lento": 60, "larghetto": 63, "adagio": 66, "adagietto": 72, "andante": 84,
    "andantino": 96, "moderato": 108, "allegretto": 108, "menuetto": 126, "minuetto": 126, "menuet": 126,
    "allegro": 132, "vivace": 152, "presto": 168, "prestissimo": 184,
}
# The published tempo heading of a candidate whose corpus score states none (standard editions).
PUBLISHED_HEADINGS = {
    "haydn/opus74no1/movement1": "Allegro moderato",
    "mozart/k458/movement4": "Allegro assai",
    "mozart/k80/movement1": "Adagio",
}


@dataclass
class Verdict:
    corpus: str
    composer: str
    bpm: float | None = None
    tempo_from: str = ""  # the metronome mark or tempo word the bpm came from
    meter: str = ""
    sections: int = 0  # section boundaries inside the excerpt (1 s from either end, as `render`)
    seconds: float = 0.0  # the whole expanded movement at bpm
    first: float | None = None  # the first section boundary (s) after the first second
    dropped: str = ""  # why not (empty: it passes)


def candidates(used: set[str]) -> list[tuple[str, str]]:
    """(composer, corpus path) of every one-movement corpus file by COMPOSERS not in `used`,
    each composer's in corpus-path order (a movement in two formats counted once)."""
    import music21

    root = Path(music21.__file__).parent / "corpus"
    out = []
    for composer in COMPOSERS:
        paths = {str(p.relative_to(root).with_suffix("")) for p in music21.corpus.getComposer(composer)}
        out += [(composer, p) for p in sorted(paths) if re.fullmatch(r"movement\d+", Path(p).name) and p not in used]
    return out


def score_tempo(score) -> tuple[float | None, str]:
    """The score's own tempo, quarter notes a minute: its metronome number at the start, else the
    first TEMPO_WORDS word of its tempo text at the start, else of its movement name."""
    import music21

    first = score.parts[0]
    marks = [m for m in first.recurse().getElementsByClass(music21.tempo.MetronomeMark)
             if m.getOffsetInHierarchy(score) == 0 and m.number is not None and not m.numberImplicit]
    if marks:
        return float(marks[0].getQuarterBPM()), f"metronome mark {marks[0].number:g}"
    texts = [el.content for el in first.recurse().getElementsByClass(music21.expressions.TextExpression)
             if el.getOffsetInHierarchy(score) == 0 and el.content]
    texts += [m.text for m in first.recurse().getElementsByClass(music21.tempo.TempoIndication)
              if m.getOffsetInHierarchy(score) == 0 and getattr(m, "text", None)]
    texts.append(score.metadata.movementName or "" if score.metadata else "")
    for text in texts:
        for word in re.findall(r"[a-z]+", text.lower()):
            if word in TEMPO_WORDS:
                return float(TEMPO_WORDS[word]), f"'{text.strip()}'"
    return None, ""


def judge(composer: str, corpus: str) -> Verdict:
    """The rule's checks (a)-(g) for one candidate ((e) last); the first failing one drops it."""
    import music21
    import pretty_midi

    v = Verdict(corpus, composer)
    try:
        written = midi_songs.parse_score(corpus)
    except Exception as e:  # noqa: BLE001 - any parse failure is a drop, named
        v.dropped = f"(a) music21 cannot parse it: {type(e).__name__}"
        return v
    try:
        score = written.expandRepeats()
    except Exception as e:  # noqa: BLE001
        v.dropped = f"(b) music21 cannot expand its repeats: {type(e).__name__}: {str(e)[:80]}"
        return v
    meters = {ts.ratioString for p in written.parts for ts in p.recurse().getElementsByClass(music21.meter.TimeSignature)}
    v.meter = "+".join(sorted(meters))
    if len(meters) != 1 or v.meter not in METERS:
        v.dropped = f"(c) time signature {v.meter or 'none'}, not one of {', '.join(METERS)} throughout"
        return v
    v.bpm, v.tempo_from = score_tempo(written)
    if v.bpm is None and corpus in PUBLISHED_HEADINGS:
        heading = PUBLISHED_HEADINGS[corpus]
        v.bpm, v.tempo_from = float(TEMPO_WORDS[heading.split()[0].lower()]), f"published '{heading}'"
    if v.bpm is None:
        v.dropped = "(d) the score states no tempo (no metronome number, no tempo word)"
        return v
    if not BPM_RANGE[0] <= v.bpm <= BPM_RANGE[1]:
        v.dropped = f"(d) its tempo ({v.tempo_from}: {v.bpm:g} quarter notes a minute) is outside {BPM_RANGE}"
        return v
    v.seconds = round(float(score.highestTime) * 60.0 / v.bpm, 1)
    ts = score.recurse().getElementsByClass(music21.meter.TimeSignature).first()
    sec_q = midi_songs._score_sections(score, midi_songs._section_starts(written), ts.barDuration.quarterLength)
    if v.seconds < SECONDS:
        v.dropped = f"(f) it lasts {v.seconds:g} s at {v.bpm:g} bpm, under {SECONDS:g} s"
        return v
    v.sections = sum(1 for q in sec_q if 1.0 < q * 60.0 / v.bpm < SECONDS - 1.0)
    v.first = next((round(q * 60.0 / v.bpm, 1) for q in sec_q if q * 60.0 / v.bpm > 1.0), None)
    if not v.sections:
        v.dropped = f"(g) no section boundary from its repeats or double bars in the first {SECONDS:g} s"
        return v
    # (e) last: writing the MIDI is the slow part
    for el in list(score.recurse().getElementsByClass(music21.tempo.MetronomeMark)):
        el.activeSite.remove(el)
    score.parts[0].getElementsByClass("Measure").first().insert(0, music21.tempo.MetronomeMark(number=v.bpm))
    midi_songs.keep_readable(score)  # as `render` writes it
    with tempfile.TemporaryDirectory() as d:
        mid = Path(d) / "score.mid"
        try:
            score.write("midi", fp=str(mid))
            pm = pretty_midi.PrettyMIDI(str(mid))
        except Exception as e:  # noqa: BLE001
            v.dropped = f"(e) its MIDI is not readable by pretty_midi: {type(e).__name__}: {str(e)[:80]}"
            return v
    if not any(inst.notes for inst in pm.instruments):
        v.dropped = "(e) its MIDI has no notes"
        return v
    return v


def select_sealed(verdicts: list[Verdict] | None = None) -> list[Verdict]:
    """The sealed set: the passing candidates round-robin over the composers, at most MOST."""
    if verdicts is None:
        verdicts = judge_all()
    passing = {c: [v for v in verdicts if v.composer == c and not v.dropped] for c in COMPOSERS}
    out: list[Verdict] = []
    for i in range(max(map(len, passing.values()), default=0)):
        out += [passing[c][i] for c in COMPOSERS if i < len(passing[c])]
    return out[:MOST]


def used_corpus_paths() -> set[str]:
    """The corpus paths of every piece named before session 6's sealed set."""
    return {p.corpus for n, p in midi_songs.PIECES.items() if n not in midi_songs.SEEN_S6}


def judge_all() -> list[Verdict]:
    return [judge(c, p) for c, p in candidates(used_corpus_paths())]


if __name__ == "__main__":
    verdicts = []
    for composer, corpus in candidates(used_corpus_paths()):
        v = judge(composer, corpus)
        verdicts.append(v)
        print(f"{corpus:36s} {v.meter:8s} {v.bpm or 0:5.0f} {v.tempo_from:34s} {v.seconds:6.1f}s "
              f"{v.sections} first {v.first} {v.dropped or 'passes'}", flush=True)
    print("chosen:")
    for v in select_sealed(verdicts):
        print(f"  {v.corpus} bpm {v.bpm:g} ({v.tempo_from}) {v.meter}, {v.sections} boundaries in {SECONDS:g} s")
