"""Section confidence is used by the planner: a guessed section boundary (low confidence) is not
a sure section start (no forced paced cut, no section bonus, phrases not restarted), a pin onto it
is kept but said, and a section the director gave in the spec's `song:` block is sure."""

from __future__ import annotations

import opentimelineio as otio

from dreamcut.analysis.audio import apply_corrections
from dreamcut.analysis.song import Section, SongAnalysis
from dreamcut.edit.cut_places import BONUS_SECTION, cut_places, section_bonus
from dreamcut.edit.planner import degraded, pin_doubt, plan_edit
from dreamcut.spec import Placement, SongSpec
from test_planner import FPS, grid_song, shots_for


def _song(chorus_confidence: float) -> SongAnalysis:
    """verse 12 bars, chorus 12 bars, verse 16 bars at 120 bpm (2 s a bar); the chorus start
    (bar 13, 24 s) is off the verse's 8-bar grid."""
    song = grid_song(bpm=120.0, sections=(("verse", 12), ("chorus", 12), ("verse", 16)))
    s = song.sections
    song.sections = [s[0], Section(s[1].start, s[1].end, "chorus", chorus_confidence), s[2]]
    return song


def _cuts(song: SongAnalysis) -> list[float]:
    tl = plan_edit(song, shots_for([20.0] * 4), fps=FPS, size=(320, 180), title="T", song_media="song.wav",
                   pacing=8)
    return [c.metadata["dreamcut"]["record_start"] for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)][1:]


def test_a_guessed_section_start_is_worth_less_than_a_sure_one():
    sure, guess = _song(0.9), _song(0.2)
    assert sure.sure_section(1) and not guess.sure_section(1)
    assert section_bonus(sure, 1) == BONUS_SECTION and section_bonus(guess, 1) < BONUS_SECTION / 2
    at = {c.frame: c for c in cut_places(sure, FPS, int(sure.duration * FPS))}
    at_guess = {c.frame: c for c in cut_places(guess, FPS, int(guess.duration * FPS))}
    f = int(round(24.0 * FPS))
    assert at[f].section_start and at_guess[f].section_start
    assert at_guess[f].bonus <= at[f].bonus - (BONUS_SECTION - section_bonus(guess, 1))
    assert "guessed" in at_guess[f].describe() and "guessed" not in at[f].describe()
    # phrases count from the last sure section start: bar 17 (32 s) is 16 bars in, an 8-bar phrase
    g = int(round(32.0 * FPS))
    assert at_guess[g].phrase == 8 and at[g].phrase == 4  # (4 bars into a sure chorus)


def test_pacing_cuts_on_a_sure_section_start_and_carries_its_grid_across_a_guessed_one():
    sure = _cuts(_song(0.9))
    assert any(abs(c - 24.0) < 0.05 for c in sure)  # a sure chorus start is cut on
    guess = _cuts(_song(0.2))
    assert all(abs(c - 24.0) > 0.05 for c in guess)  # a guessed one does not force a cut
    # the verse's 8-bar grid (16 s, 32 s, 48 s...) carries on across the guessed boundary
    for t in (16.0, 32.0, 48.0):
        assert any(abs(c - t) < 0.05 for c in guess), (t, guess)


def test_a_pin_onto_a_guessed_section_is_kept_and_said():
    song = _song(0.31)
    shots = shots_for([16.0] * 6, extra={2: {"place": Placement(section="chorus")}})
    line = pin_doubt(song, shots[2])
    assert line == ("section chorus#1 at 0:24 is a guess (confidence 0.31): check `dreamcut song` or give the "
                    "section list in the spec's song: block")
    tl = plan_edit(song, shots, fps=FPS, size=(320, 180), title="T", song_media="song.wav")
    clips = [c for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]
    assert abs(clips[2].metadata["dreamcut"]["record_start"] - 24.0) < 0.05  # the pin is kept
    said = [x for x in degraded(tl) if "is a guess" in x]
    assert len(said) == 1 and said[0].endswith(line) and " s02: " in said[0]
    assert pin_doubt(_song(0.9), shots[2]) is None  # a sure section: nothing to say
    assert pin_doubt(song, shots[0]) is None  # not pinned


def test_a_section_from_the_spec_song_block_is_sure():
    song = _song(0.1)
    fixed = apply_corrections(song, SongSpec(file="song.wav", sections=[{"name": "verse", "start": 0},
                                                                        {"name": "chorus", "start": 24.0},
                                                                        {"name": "verse", "start": 48.0}]))
    assert [s.confidence for s in fixed.sections] == [1.0, 1.0, 1.0]
    shots = shots_for([16.0] * 6, extra={2: {"place": Placement(section="chorus")}})
    assert pin_doubt(fixed, shots[2]) is None
    assert any(abs(c - 24.0) < 0.05 for c in _cuts(fixed))


def test_check_says_a_pin_onto_a_guessed_section_once(tmp_path):
    import yaml

    from dreamcut.demo.project import write_demo_project
    from dreamcut.pipeline import check_against_song
    from dreamcut.project import Project

    write_demo_project(tmp_path, short=True)  # three 7 s shots
    (tmp_path / "song.wav").write_bytes(b"")  # the spec names a song; its map is the one built below
    data = yaml.safe_load((tmp_path / "dreamcut.yaml").read_text())
    data["shots"][1]["place"] = {"section": "chorus"}
    (tmp_path / "dreamcut.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    song = grid_song(bpm=120.0, sections=(("verse", 4), ("chorus", 4), ("verse", 2)))  # chorus at 0:08
    song.sections[1] = Section(song.sections[1].start, song.sections[1].end, "chorus", 0.31)
    problems = check_against_song(Project.open(tmp_path), song)
    guessed = [p for p in problems if "is a guess" in p[2]]
    assert guessed == [("wedding", "warning", "section chorus#1 at 0:08 is a guess (confidence 0.31): check "
                        "`dreamcut song` or give the section list in the spec's song: block", "")]
    assert not any(sev == "error" for _, sev, _, _ in problems)
