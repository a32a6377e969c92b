"""A section whose start the analysis only guessed (`SongAnalysis.sure_section`) is shown as a
guess everywhere the director looks at the song map: the board's section band (dashed edge, a "?"
and its confidence in the tooltip) and snap label, `dreamcut song`'s table and --json, and song.png
(a dashed boundary). The song map is a saved analysis with one sure and one guessed section start,
so the test does not depend on what the analysis hears today."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from _browser import CHROMIUM, WAIT_MS, chromium, serve_board
from _takes import make_project
from dreamcut.analysis.song import Section, SongAnalysis
from dreamcut.web import create_app
from test_planner import grid_song

GUESS = 0.31  # the guessed section's confidence (below SURE_SECTION)
SURE = 0.9


def _one_sure_one_guessed(song: SongAnalysis) -> SongAnalysis:
    """The song's map with three sections: intro from 0, a sure verse from the beat a third in, a
    guessed chorus from the beat two thirds in."""
    b = song.beats
    v, c = b[len(b) // 3], b[2 * len(b) // 3]
    song.sections = [Section(0.0, v, "intro", 1.0), Section(v, c, "verse", SURE),
                     Section(c, song.duration, "chorus", GUESS)]
    return song


def _save_map(root: Path) -> SongAnalysis:
    """Hear the project's song once, then rewrite the saved analysis (the cache every command reads)
    with one sure and one guessed section; returns the map the commands now see."""
    from dreamcut import pipeline
    from dreamcut.project import Project

    project = Project.open(root)
    heard = pipeline.analyse_song(project)
    assert len(heard.beats) >= 6, heard.beats
    saved = [p for p in (project.cache_dir / "audio").glob("song-*.json")
             if json.loads(p.read_text()).get("content_hash") == heard.content_hash]
    assert len(saved) == 1, saved
    song = _one_sure_one_guessed(heard)
    saved[0].write_text(json.dumps(song.to_dict()))
    again = pipeline.analyse_song(project)
    assert [s.confidence for s in again.sections] == [1.0, SURE, GUESS]
    project.catalog.close()
    return again


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> tuple[Path, SongAnalysis]:
    from dreamcut import pipeline
    from dreamcut.project import Project

    root = make_project(tmp_path_factory.mktemp("guess") / "proj", shots=3, takes_per_shot=1)
    song = _save_map(root)
    project = Project.open(root)
    pipeline.make_edit(project)
    project.catalog.close()
    return root, song


def test_what_the_board_shows_for_a_sure_and_a_guessed_section():
    from dreamcut.web.room import GUESSED_BOUNDARY, section_band

    song = _one_sure_one_guessed(grid_song())
    names = song.section_names()
    intro, verse, chorus = (section_band(song, i, names[i]) for i in range(3))
    assert intro["sure"] and verse["sure"] and not chorus["sure"]
    assert verse["text"] == "verse" and verse["doubt"] == "" and verse["confidence"] == SURE
    assert chorus["text"] == "chorus?" and chorus["name"] == "chorus#1" and chorus["confidence"] == GUESS
    assert chorus["doubt"] == (f"{GUESSED_BOUNDARY} (confidence 0.31): check it in `dreamcut song` or fix it "
                               "in the spec's song: block")
    # the song's first section is sure whatever its confidence (the one rule: SongAnalysis.sure_section)
    song.sections[0] = Section(0.0, song.sections[0].end, "intro", 0.1)
    assert section_band(song, 0, "intro#1")["sure"]


def test_the_api_song_map_says_which_section_starts_are_guesses(room):
    root, song = room
    m = TestClient(create_app(root)).get("/api/song").json()
    assert [(s["name"], s["sure"], s["confidence"]) for s in m["sections"]] == [
        ("intro#1", True, 1.0), ("verse#1", True, SURE), ("chorus#1", False, GUESS)]
    starts = {g["section"]: g["section_sure"] for g in m["snap"] if g["section"]}
    assert starts == {"verse#1": True, "chorus#1": False}
    assert all(g["section_sure"] is None for g in m["snap"] if not g["section"])


def test_dreamcut_song_marks_the_guessed_section(room, cli):
    root, _ = room
    m = json.loads(cli("--project", str(root), "song", "--json", check=True).stdout)
    assert [(s["name"], s["sure"]) for s in m["sections"]] == [("intro#1", True), ("verse#1", True),
                                                              ("chorus#1", False)]
    text = cli("--project", str(root), "song", check=True, env={"COLUMNS": "120"}).stdout
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") >= 8}
    assert "a guess" in rows["chorus#1"] and "0.31" in rows["chorus#1"], text
    assert "a guess" not in rows["verse#1"] and "sure" in rows["verse#1"], text
    assert "1 guessed section start(s) (chorus#1)" in text and "song:" in text, text


def test_song_png_draws_a_guessed_boundary_dashed(tmp_path):
    from dreamcut.render.song_picture import BOUNDARY, draw_song_map
    from PIL import Image

    song = _one_sure_one_guessed(grid_song())
    width, left, right, top, band = 1600, 40, 1580, 30, 34  # song_picture's layout
    path = draw_song_map(song, tmp_path / "song.png", width=width)
    px = np.asarray(Image.open(path).convert("RGB"))

    def boundary(t: float) -> np.ndarray:  # which rows of the band are the boundary's colour at t
        col = px[top + 1:top + band - 1, round(left + (right - left) * t / song.duration)]
        return np.all(col == BOUNDARY, axis=1)

    sure, guessed = boundary(song.sections[1].start), boundary(song.sections[2].start)
    assert sure.all(), sure
    assert 0.3 < guessed.mean() < 0.7 and np.count_nonzero(np.diff(guessed.astype(int))) >= 4, guessed


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (make chromium)")
def test_the_board_draws_a_guessed_section_start_differently(room, artifacts_dir):
    root, song = room
    with serve_board(root) as url, chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.wait_for_selector("body[data-room=ready]")
        bands = page.eval_on_selector_all("#sections div", """ds => ds.map(d => ({
            text: d.textContent, title: d.title, guess: d.classList.contains('guess'),
            edge: getComputedStyle(d).borderLeftStyle, confidence: d.dataset.confidence}))""")
        assert [b["text"] for b in bands] == ["intro", "verse", "chorus?"], bands
        verse, chorus = bands[1], bands[2]
        assert not verse["guess"] and verse["edge"] == "solid" and "guessed" not in verse["title"], verse
        assert chorus["guess"] and chorus["edge"] == "dashed", chorus
        assert ("guessed boundary (confidence 0.31): check it in `dreamcut song` or fix it in the spec's "
                "song: block") in chorus["title"] and chorus["confidence"] == str(GUESS), chorus
        # a cut dragged onto the guessed start is told it is a guess; onto the sure one, not (a section's
        # cut goes on its bar line, `section_downbeat`, where the planner puts it)
        from dreamcut.edit.cut_places import section_downbeat

        at = {s.label: song.beats[song.nearest_beat(section_downbeat(song, k))]
              for k, s in enumerate(song.sections) if k}
        to = page.evaluate("t => window.dreamcutRoom.snapTime(t)", at["chorus"])
        assert to["kind"] == "section" and to["guess"] and "chorus? starts (guessed boundary)" in to["label"], to
        to = page.evaluate("t => window.dreamcutRoom.snapTime(t)", at["verse"])
        assert to["kind"] == "section" and not to["guess"] and to["label"].startswith("verse starts"), to
        page.screenshot(path=str(artifacts_dir / "board_guessed_section.png"), clip={"x": 0, "y": 0, "width": 1400,
                                                                                     "height": 200})
