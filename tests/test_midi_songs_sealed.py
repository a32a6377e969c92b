"""Session 6's sealed scores (tests/midi_songs.py `SEEN_S6_PIECES`): named by the rule in
tests/midi_songs_sealed.py before any analysis of them. These tests read the scores only: they
never render the pieces nor run dreamcut's analysis on them."""

from __future__ import annotations

import pytest

import midi_songs
import midi_songs_sealed as rule

music21 = pytest.importorskip("music21")


def test_the_sealed_set_is_named_apart_from_every_other_recording():
    sealed = midi_songs.SEEN_S6_PIECES
    assert midi_songs.SEEN_S6 == tuple(sealed) and 5 <= len(sealed) <= rule.MOST
    assert all(midi_songs.PIECES[n] is p for n, p in sealed.items())
    # unseen: no other recording plays the same score, and none is held out or seen already
    assert not {p.corpus for p in sealed.values()} & rule.used_corpus_paths()
    assert not set(sealed) & set(midi_songs.HELD_OUT + midi_songs.SEEN_S5)
    assert all(p.seconds == rule.SECONDS and not (p.drift or p.ramp or p.program) for p in sealed.values())
    bpms = sorted(p.bpm for p in sealed.values())
    assert bpms[0] <= 84 and bpms[-1] >= 120, f"a slow and a fast movement: {bpms}"


@pytest.mark.parametrize("name", list(midi_songs.SEEN_S6_PIECES))
def test_a_sealed_score_parses_in_one_meter_at_its_stated_tempo(name):
    piece = midi_songs.SEEN_S6_PIECES[name]
    score = midi_songs.parse_score(piece.corpus)
    meters = {ts.ratioString for p in score.parts for ts in p.recurse().getElementsByClass(music21.meter.TimeSignature)}
    assert len(meters) == 1 and meters <= set(rule.METERS)
    bpm, said = rule.score_tempo(score)
    if bpm is None:
        heading = rule.PUBLISHED_HEADINGS[piece.corpus]
        bpm = rule.TEMPO_WORDS[heading.split()[0].lower()]
    assert bpm == piece.bpm
    assert midi_songs._section_starts(score), "the score marks its sections (repeats or double bars)"


def test_a_tempo_is_read_from_the_first_word_the_table_knows():
    s = music21.stream.Score([music21.stream.Part([music21.stream.Measure(number=1)])])
    s.parts[0].getElementsByClass("Measure").first().insert(0, music21.expressions.TextExpression("Molto Adagio"))
    assert rule.score_tempo(s) == (66.0, "'Molto Adagio'")
    s.parts[0].getElementsByClass("Measure").first().insert(0, music21.tempo.MetronomeMark(number=100))
    assert rule.score_tempo(s) == (100.0, "metronome mark 100")


# The rule's full re-run (every candidate parsed, expanded and written: ~4 min) is a command, not a
# test, so the suite stays inside its time: `python tests/midi_songs_sealed.py` prints the verdicts
# and the chosen set, which must read as SEEN_S6_PIECES does.
