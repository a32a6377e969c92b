"""The edit room pulls a dragged cut as hard as the planner values a cut there (`cut_places`' bonus,
sent by /api/song as each snap target's `pull`): a guessed section start (`SongAnalysis.sure_section`)
pulls like the downbeat it may only be, not like a sure section start, and the ruler ticks it like a
downbeat, not like a phrase start. The song map is a saved grid (240 bpm, 6 bars: intro, a sure verse
from bar 3, a guessed chorus from bar 5, which is no phrase start), so the test does not depend on
what the analysis hears today."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from _browser import CHROMIUM, WAIT_MS, chromium, serve_board
from _takes import make_project
from dreamcut.analysis.song import SongAnalysis
from dreamcut.web import create_app
from test_planner import grid_song

GUESS = 0.3


def _grid(duration_hash: str = "") -> SongAnalysis:
    song = grid_song(bpm=240.0, sections=(("intro", 2), ("verse", 2), ("chorus", 2)))
    song.sections = [replace(song.sections[1], confidence=0.9) if i == 1 else
                     replace(s, confidence=GUESS) if i == 2 else s for i, s in enumerate(song.sections)]
    song.content_hash = duration_hash
    return song


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> tuple[Path, SongAnalysis]:
    from dreamcut import pipeline
    from dreamcut.project import Project

    root = make_project(tmp_path_factory.mktemp("pull") / "proj", shots=3, takes_per_shot=1)
    project = Project.open(root)
    heard = pipeline.analyse_song(project)
    saved = [p for p in (project.cache_dir / "audio").glob("song-*.json")
             if json.loads(p.read_text()).get("content_hash") == heard.content_hash]
    assert len(saved) == 1, saved
    doc = heard.to_dict()
    doc.update({k: v for k, v in _grid().to_dict().items()
                if k in ("duration", "tempo", "beats", "downbeats", "beats_per_bar", "sections")})
    doc.update(beat_confidence=[], pulse=1.0, corrected=[])
    saved[0].write_text(json.dumps(doc))
    song = pipeline.analyse_song(project)
    assert [s.confidence for s in song.sections] == [1.0, 0.9, GUESS] and len(song.beats) == 24
    pipeline.make_edit(project)
    project.catalog.close()
    return root, song


def test_each_snap_target_pulls_as_the_planner_values_it():
    from dreamcut.edit.cut_places import (BONUS_DOWNBEAT, BONUS_GUESSED_SECTION, BONUS_PHRASE4, BONUS_PHRASE8,
                                          BONUS_SECTION, cut_places)
    from dreamcut.web.room import snap_pull, snap_targets

    song = _grid()
    fps = 24
    targets = snap_targets(song, fps)
    places = cut_places(song, fps, int(round(song.duration * fps)) + 1)
    assert [g["pull"] for g in targets] == [snap_pull(c.bonus) for c in places]
    at = {g["t"]: g for g in targets}
    verse, chorus = at[song.sections[1].start], at[song.sections[2].start]
    assert verse["section_sure"] is True and chorus["section_sure"] is False
    assert verse["pull"] == snap_pull(BONUS_DOWNBEAT + BONUS_PHRASE4 + BONUS_PHRASE8 + BONUS_SECTION) == 4.25
    assert chorus["pull"] == snap_pull(BONUS_DOWNBEAT + BONUS_GUESSED_SECTION) == 2.0  # not a sure start's pull
    assert at[song.downbeats[1]]["pull"] == snap_pull(BONUS_DOWNBEAT) == 1.5 and at[song.beats[1]]["pull"] == 1.0
    assert snap_pull(-3.0) > 0  # a doubtful beat (the planner's DOUBTFUL) still pulls a little, never repels


def test_the_api_sends_each_targets_pull(room):
    from dreamcut.web.room import snap_targets

    root, song = room
    m = TestClient(create_app(root)).get("/api/song").json()
    assert [g["pull"] for g in m["snap"]] == [g["pull"] for g in snap_targets(song, 24)]
    assert {g["section"]: g["pull"] for g in m["snap"] if g["section"]} == {"verse#1": 4.25, "chorus#1": 2.0}


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (make chromium)")
def test_the_board_pulls_and_ticks_a_guessed_start_like_a_downbeat(room, artifacts_dir):
    root, song = room
    beat = 60.0 / song.tempo
    verse, chorus = song.sections[1].start, song.sections[2].start
    with serve_board(root) as url, chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.wait_for_selector("body[data-room=ready]")
        snap = "t => window.dreamcutRoom.snapTime(t)"
        # 0.7 beat past the sure verse start: it pulls (4.25x) harder than the next beat 0.3 beat away
        to = page.evaluate(snap, verse + 0.7 * beat)
        assert abs(to["t"] - verse) < 1e-3 and to["kind"] == "section" and to["pull"] == 4.25, to
        # 0.7 beat past the guessed chorus start: it pulls only 2x (a downbeat's worth), so the nearer beat wins
        to = page.evaluate(snap, chorus + 0.7 * beat)
        assert abs(to["t"] - (chorus + beat)) < 1e-3 and to["kind"] == "beat", to
        # nearer, it still lands there, and is still named a (guessed) section start
        to = page.evaluate(snap, chorus + 0.5 * beat)
        assert abs(to["t"] - chorus) < 1e-3 and to["kind"] == "section" and to["guess"] and to["pull"] == 2.0, to
        # the ruler: the sure start gets a phrase's tick, the guessed one a downbeat's
        ticks = page.eval_on_selector_all("#ruler i.bar", """is => is.map(i => ({left: parseFloat(i.style.left),
            phrase: i.classList.contains('phrase'), height: getComputedStyle(i).height}))""")
        by_bar = dict(enumerate(sorted(ticks, key=lambda t: t["left"])))
        assert len(ticks) == len(song.downbeats), ticks
        assert by_bar[2]["phrase"] and not by_bar[4]["phrase"], ticks  # bar 3 (verse) / bar 5 (chorus)
        assert by_bar[4]["height"] == by_bar[1]["height"] != by_bar[2]["height"], ticks
        page.screenshot(path=str(artifacts_dir / "board_snap_pull.png"), clip={"x": 0, "y": 0, "width": 1400,
                                                                               "height": 200})
