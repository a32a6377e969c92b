"""The board as an edit room, over HTTP on a real small project (real takes, previews, a planned cut):
no route it references fails, cards say where and why a take is used, a conformed edit is shown
as such and re-rendering from the board keeps it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from _browser import nle_drops_last_clip
from _takes import PatternBackend, make_project
from dreamcut import pipeline
from dreamcut.generate.orchestrator import Orchestrator
from dreamcut.media import probe
from dreamcut.preview import preview_shot
from dreamcut.project import Project
from dreamcut.web import create_app

H = {"X-Dreamcut": "1"}


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> Path:
    """3 shots x 2 takes of 2 s over a 6 s song, 4 previews (4 frames each) of s01, and the planned cut."""
    root = make_project(tmp_path_factory.mktemp("room") / "proj", shots=3, takes_per_shot=2)
    project = Project.open(root)
    backend = PatternBackend()
    preview_shot(project, "s01", 4, orchestrator=Orchestrator(project, backend_factory=lambda ref: backend,
                                                                 poll_interval=0.01))
    pipeline.make_edit(project)
    project.catalog.close()
    return root


def _wait_job(c: TestClient, job_id: str, limit: float = 180) -> dict:
    deadline = time.time() + limit
    while time.time() < deadline:
        state = next(j for j in c.get("/api/jobs").json() if j["id"] == job_id)
        if state["state"] != "running":
            return state
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still running after {limit} s")


def _request_everything(root: Path) -> tuple[list[str], list[str]]:
    """GET every URL the board page references and every URL board.js asks for; all must be 200.
    Returns the take ids and the preview ids on the page."""
    c = TestClient(create_app(root))
    r = c.get("/")
    assert r.status_code == 200
    html = r.text
    urls = set(re.findall(r'(?:src|href)="(/[^"]*)"', html))
    ids = re.findall(r'id="t-([^"]+)"', html)
    previews = re.findall(r'id="t-([^"]+)"[^>]*data-kind="preview"', html)
    assert {f"/thumb/{i}.jpg" for i in ids} <= urls
    # what board.js fetches after the first paint: the edit room and, per card, its proxy and take
    cut = c.get("/api/cut").json()
    urls |= {"/api/cut", "/api/song", "/api/board", "/api/jobs", "/api/changes?since=0", "/api/history",
             cut["song_url"]}
    urls |= {c_["media"] for c_ in cut["clips"] if c_["media"]} | {f"/api/slot/{c_['slot']}/takes" for c_ in cut["clips"]}
    if cut["render"]:
        urls.add(cut["render"]["url"])
    urls |= {f"/proxy/{i}.mp4" for i in ids} | {f"/media/take/{i}" for i in ids}
    answers = {u: c.get(u).status_code for u in sorted(urls)}
    assert all(code == 200 for code in answers.values()), {u: s for u, s in answers.items() if s != 200}
    # posters are pictures, 4-frame previews' too (their first frame)
    for i in ids:
        body = c.get(f"/thumb/{i}.jpg").content
        assert body[:2] == b"\xff\xd8" and len(body) > 500
    return ids, previews


def test_every_url_the_board_references_answers_without_a_server_error(room):
    ids, previews = _request_everything(room)
    assert len(previews) == 4 and len(ids) == 10


def test_the_cut_s_playback_proxies_are_made_when_the_board_shows_it(tmp_path):
    """Showing the cut starts making the playback proxies its takes lack (the monitor plays those,
    never the full takes): every frame of the whole take, the take's own timing."""
    from dreamcut.media import read_frames

    root = make_project(tmp_path / "proj", shots=3, takes_per_shot=1)
    project = Project.open(root)
    pipeline.make_edit(project)
    project.catalog.close()
    c = TestClient(create_app(root))
    clips = c.get("/api/cut").json()["clips"]
    assert clips and all(x["media"] == f"/proxy/play/{x['take']}.mp4" for x in clips)
    proxies = root / ".dreamcut" / "cache" / "proxies"
    deadline = time.monotonic() + 300  # bounded; made in the background, two ffmpeg at a time
    while time.monotonic() < deadline and len(list(proxies.glob("*-play.mp4"))) < len({x["take"] for x in clips}):
        time.sleep(0.2)
    made = sorted(proxies.glob("*-play.mp4"))
    assert len(made) == len({x["take"] for x in clips}), made
    take = Project.open(root).catalog.take(clips[0]["take"])
    proxy = next(p for p in made if p.name.startswith(take.id + "-"))
    assert abs(probe(proxy).duration - take.seconds) < 1.5 / take.fps
    assert len(list(read_frames(proxy))) == len(list(read_frames(root / take.path)))
    assert c.get(clips[0]["media"]).status_code == 200


def test_cards_say_where_a_take_is_used_and_why(room):
    c = TestClient(create_app(room))
    html = c.get("/").text
    cut = c.get("/api/cut").json()
    assert cut["clips"] and cut["source"]["conformed"] is False
    assert "planned by `dreamcut edit`" in html
    for clip in cut["clips"]:
        card = html[html.index(f'id="t-{clip["take"]}"'):]
        card = card[:card.index('<div class="a">')]
        assert f'slot {clip["slot"]} at {clip["tc"]}' in card, card
        assert clip["reason"] and f'why: {clip["reason"]}'.replace("'", "&#39;")[:40] in card
    used = {clip["take"] for clip in cut["clips"]}
    unused = [i for i in re.findall(r'id="t-([^"]+)"', html) if i not in used]
    assert unused
    card = html[html.index(f'id="t-{unused[0]}"'):]
    assert "in cut:" not in card[:card.index('<div class="a">')]


def test_promoting_a_variant_never_previewed_asks_first(room):
    c = TestClient(create_app(room))
    r = c.post("/api/jobs", json={"action": "promote", "shot": "s01", "variants": [9]}, headers=H)
    assert r.status_code == 409 and "never previewed" in r.json()["detail"]
    assert c.get("/api/jobs").json() == []  # nothing started
    r = c.post("/api/jobs", json={"action": "promote", "shot": "s02", "variants": [0]}, headers=H)
    assert r.status_code == 409  # s02 has no previews at all


def test_a_conformed_edit_is_shown_and_re_rendering_from_the_board_keeps_it(room, tmp_path, cli):
    from dreamcut import timeline as tl

    planned, nle = nle_drops_last_clip(room, tmp_path)
    r = cli("--project", str(room), "conform", str(nle), "--no-upscale")
    assert r.returncode == 0, r.stderr
    project = Project.open(room)
    conformed_frames = tl.record_frames(tl.read_timeline(room / "edits" / "conformed.otio"), project.spec.fps)

    c = TestClient(create_app(room))
    html = c.get("/").text
    assert 'data-conformed="1"' in html and "conformed from premiere.otio at " in html
    shown = c.get("/api/cut").json()
    assert shown["source"]["conformed"] and len(shown["clips"]) == planned - 1

    job = c.post("/api/jobs", json={"action": "render"}, headers=H).json()
    state = _wait_job(c, job["id"])
    assert state["state"] == "done", state["log"]
    master, _ = pipeline.render_paths(project)
    assert abs(probe(master).duration - conformed_frames / project.spec.fps) < 0.1
    again = c.get("/api/cut").json()
    assert again["source"]["conformed"] and again["clips"] == shown["clips"]
    # an explicit `dreamcut edit` (a new plan) is what sets the NLE's edit aside, and it says so
    r = cli("--project", str(room), "edit")
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stdout.split())  # the console wraps long lines
    assert "edits/conformed.otio (conformed from premiere.otio at " in said and ") is set aside" in said
    assert c.get("/api/cut").json()["source"]["conformed"] is False


# -- editing on the grid: every change is the spec's pins / the catalog's selection -----------------

def _views(path: Path):
    from dreamcut import timeline as tl

    t = tl.read_timeline(path)
    return tl.items(t, tl.info(t).fps)


def test_swap_move_lock_are_what_dreamcut_edit_makes_and_undo_restores(tmp_path, cli):
    from _takes import write_song

    root = make_project(tmp_path / "grid", shots=3, takes_per_shot=2, take_seconds=5.0)
    write_song(root / "song.wav", 12.0)  # 120 bpm: a bar is 2 s
    spec_file = root / "dreamcut.yaml"
    spec_file.write_text("# the director's notes stay\n" + spec_file.read_text())
    project = Project.open(root)
    pipeline.make_edit(project)
    project.catalog.close()
    original = _views(root / "edits" / "cut.otio")

    c = TestClient(create_app(root))
    before = c.get("/api/cut").json()["clips"]
    offer = c.get("/api/slot/2/takes").json()
    assert offer["shot"] == "s02" and len(offer["takes"]) == 2 and offer["take"] == before[1]["take"]
    other = next(t["id"] for t in offer["takes"] if t["id"] != before[1]["take"])

    assert c.post("/api/edit", json={"op": "swap", "slot": 2, "take": other}).status_code == 403  # CSRF header
    r = c.post("/api/edit", json={"op": "swap", "slot": 2, "take": other}, headers=H)
    assert r.status_code == 200, r.text
    assert r.json()["clips"][1]["take"] == other
    # drag slot 3's cut one bar earlier, a little off the grid: it snaps to the downbeat
    to = before[2]["start"] - 2.0 + 0.11
    r = c.post("/api/edit", json={"op": "move", "slot": 3, "to": to}, headers=H)
    assert r.status_code == 200, r.text
    moved = r.json()["clips"][2]
    song = pipeline.analyse_song(Project.open(root))
    bar = min(range(len(song.downbeats)), key=lambda k: abs(song.downbeats[k] - to))
    assert abs(moved["start"] - song.downbeats[bar]) < 1 / 24 + 1e-6
    text = spec_file.read_text()
    assert "# the director's notes stay" in text and f"bar: {bar + 1}" in text
    assert Project.open(root).spec.shot("s03").place.bar == bar + 1
    shown = _views(root / "edits" / "cut.otio")
    assert shown != original

    # `dreamcut edit` from the spec and the catalog makes the cut the board shows
    r = cli("--project", str(root), "edit")
    assert r.returncode == 0, r.stderr
    assert _views(root / "edits" / "cut.otio") == shown

    # bad changes are refused and change nothing
    assert c.post("/api/edit", json={"op": "swap", "slot": 2, "take": "s01-t001"}, headers=H).status_code == 422
    assert c.post("/api/edit", json={"op": "move", "slot": 1, "to": 1.0}, headers=H).status_code == 422
    assert c.post("/api/edit", json={"op": "explode", "slot": 1}, headers=H).status_code == 422
    assert _views(root / "edits" / "cut.otio") == shown

    history = c.get("/api/history").json()
    assert [h["action"] for h in history] == ["move", "swap"]
    # undo twice: the plan is the original again, and the spec has no pin
    assert c.post("/api/edit", json={"op": "undo"}, headers=H).status_code == 200
    assert c.post("/api/edit", json={"op": "undo"}, headers=H).status_code == 200
    assert c.post("/api/edit", json={"op": "undo"}, headers=H).status_code == 409
    assert _views(root / "edits" / "cut.otio") == original
    assert Project.open(root).spec.shot("s03").place is None
    assert "# the director's notes stay" in spec_file.read_text()

    # lock: slot 2's take and start are pinned where they are
    r = c.post("/api/edit", json={"op": "lock", "slot": 2}, headers=H)
    assert r.status_code == 200, r.text
    p = Project.open(root)
    assert p.catalog.selections()["s02"]["take_id"] == before[1]["take"] and p.spec.shot("s02").place is not None
    assert _views(root / "edits" / "cut.otio") == original


def test_a_transition_changed_on_the_board_is_the_spec_s_and_undoes(tmp_path, cli):
    from dreamcut import timeline as tl

    root = make_project(tmp_path / "tr", shots=3, takes_per_shot=1, take_seconds=3.0)
    project = Project.open(root)
    pipeline.make_edit(project)
    project.catalog.close()
    original = _views(root / "edits" / "cut.otio")
    assert not any(isinstance(i, tl.TransitionView) for i in original)
    c = TestClient(create_app(root))
    assert c.post("/api/edit", json={"op": "transition", "slot": 3, "kind": "dissolve"}, headers=H).status_code == 422
    assert c.post("/api/edit", json={"op": "transition", "slot": 1, "kind": "wipe"}, headers=H).status_code == 422
    r = c.post("/api/edit", json={"op": "transition", "slot": 1, "kind": "dissolve", "beats": 1}, headers=H)
    assert r.status_code == 200, r.text
    shown = _views(root / "edits" / "cut.otio")
    (tr,) = [i for i in shown if isinstance(i, tl.TransitionView)]
    assert tr.kind == tl.DISSOLVE and Project.open(root).spec.shot("s01").transition.kind == "dissolve"
    assert cli("--project", str(root), "edit").returncode == 0
    assert _views(root / "edits" / "cut.otio") == shown
    assert c.post("/api/edit", json={"op": "undo"}, headers=H).status_code == 200
    assert _views(root / "edits" / "cut.otio") == original and Project.open(root).spec.shot("s01").transition is None
