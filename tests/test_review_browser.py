"""The review board in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import pytest

from _browser import CHROMIUM, FRAME_TOLERANCE, GRAB, WAIT_MS, chromium, serve_board
from _browser import mad as _mad
from _browser import png as _png
from _takes import make_project

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (make chromium)")]


@pytest.fixture(scope="module")
def board_url(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("browser") / "proj", shots=3, takes_per_shot=4)
    with serve_board(root) as url:
        yield url, root


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def test_rate_select_compare_note_reload(board_url, browser, artifacts_dir):
    url, root = board_url
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(WAIT_MS)
    page = ctx.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(url)
    page.wait_for_selector("#t-s01-t001")
    assert page.locator(".take").count() == 12

    # rate 4 stars
    page.locator("#t-s01-t001 .st i").nth(3).click()
    page.wait_for_function("document.getElementById('t-s01-t001').dataset.rating === '4'")
    # select a take, then another in the same shot: only the second stays selected
    page.click("#t-s01-t002 button.s")
    page.wait_for_selector("#t-s01-t002.sel")
    page.click("#t-s01-t003 button.s")
    page.wait_for_selector("#t-s01-t003.sel")
    assert "sel" not in (page.get_attribute("#t-s01-t002", "class") or "")
    # reject one
    page.click("#t-s02-t001 button.x")
    page.wait_for_selector("#t-s02-t001.rej")
    # note and tags through the dialog
    page.click("#t-s01-t004 button.n")
    page.fill("#dlg-note", "great light, use the last 3 s")
    page.fill("#dlg-tags", "dusk keeper")
    page.click("#dlg-save")
    page.wait_for_function("document.querySelector('#t-s01-t004 .nt').textContent.includes('great light')")

    # cards that scrolled into view loop a small proxy, never the full take
    page.wait_for_function("document.querySelectorAll('.take video').length >= 4")
    srcs = page.eval_on_selector_all(".take video", "vs => vs.map(v => v.getAttribute('src'))")
    assert all(s.startswith("/proxy/") for s in srcs)
    assert not any("/media/take/" in u for u in requested)

    # compare two takes side by side, playing in sync
    page.click("#t-s01-t001 button.c")
    page.click("#t-s02-t002 button.c")
    page.wait_for_selector("#cmp:not([hidden])")
    page.wait_for_function("document.getElementById('va').readyState >= 2 && document.getElementById('vb').readyState >= 2")
    # the seek bar moves both to the same instant; play and pause act on both (states, not timings)
    page.eval_on_selector("#cmp-seek", "e => { e.value = 500; e.dispatchEvent(new Event('input')); }")
    ta, tb = page.evaluate("[document.getElementById('va').currentTime, document.getElementById('vb').currentTime]")
    assert ta == tb and ta > 0, (ta, tb)
    page.click("#cmp-play")
    page.wait_for_function("!document.getElementById('va').paused && !document.getElementById('vb').paused")
    page.click("#cmp-play")
    page.wait_for_function("document.getElementById('va').paused && document.getElementById('vb').paused")
    page.screenshot(path=str(artifacts_dir / "review_board_compare.png"))
    page.click("#cmp-close")
    page.wait_for_selector("#cmp", state="hidden")

    # reload: everything was kept
    page.reload()
    page.wait_for_selector("#t-s01-t001")
    assert page.get_attribute("#t-s01-t001", "data-rating") == "4"
    assert page.locator("#t-s01-t001 .st i.on").count() == 4
    assert "sel" in page.get_attribute("#t-s01-t003", "class")
    assert "rej" in page.get_attribute("#t-s02-t001", "class")
    assert "great light" in page.inner_text("#t-s01-t004 .nt")
    assert page.get_attribute("#t-s01-t004", "data-tags") == "dusk,keeper"

    # filter: rejected only, then tag
    page.select_option("#f-status", "rejected")
    assert page.locator(".take:not(.hide)").count() == 1
    page.select_option("#f-status", "")
    page.fill("#f-tag", "keeper")
    assert page.locator(".take:not(.hide)").count() == 1
    page.fill("#f-tag", "")
    # sort by rating puts the rated take first in its row
    page.select_option("#sort", "rating")
    assert page.eval_on_selector("#s-s01 .row", "r => r.firstElementChild.id") == "t-s01-t001"
    page.screenshot(path=str(artifacts_dir / "review_board.png"), full_page=True)
    ctx.close()


def test_two_tabs_stay_consistent(board_url, browser):
    url, _ = board_url
    ctx = browser.new_context()
    ctx.set_default_timeout(WAIT_MS)
    a, b = ctx.new_page(), ctx.new_page()
    a.goto(url)
    b.goto(url)
    a.wait_for_selector("#t-s03-t002")
    b.wait_for_selector("#t-s03-t002")
    a.locator("#t-s03-t002 .st i").nth(1).click()
    a.click("#t-s03-t002 button.s")
    b.wait_for_function("document.getElementById('t-s03-t002').dataset.rating === '2'", timeout=WAIT_MS)
    b.wait_for_selector("#t-s03-t002.sel", timeout=WAIT_MS)
    ctx.close()


# -- the edit room: the timeline plays the edit with the song, frame-accurate at cuts ------------

@pytest.fixture(scope="module")
def room_url(tmp_path_factory):
    """A small project with a planned cut and its render (3 shots x 2 takes of 2 s, a 6 s song)."""
    from dreamcut import pipeline
    from dreamcut.project import Project

    root = make_project(tmp_path_factory.mktemp("room") / "proj", shots=3, takes_per_shot=2)
    project = Project.open(root)
    pipeline.make_edit(project)
    pipeline.render(project)
    project.catalog.close()
    with serve_board(root) as url:
        yield url, root


def test_the_edit_plays_with_the_song_and_shows_the_renders_frames_at_cuts(room_url, browser, artifacts_dir):
    from dreamcut import pipeline
    from dreamcut import timeline as tl
    from dreamcut.media import read_frames
    from dreamcut.project import Project

    url, root = room_url
    project = Project.open(root)
    edit = tl.read_timeline(root / "edits" / "cut.otio")
    fps = tl.info(edit).fps
    items = tl.items(edit, fps)
    clips = [i for i in items if isinstance(i, tl.ClipView)]
    assert len(clips) >= 3 and not any(isinstance(i, tl.TransitionView) for i in items), items
    master, _ = pipeline.render_paths(project)
    render = {round(t * fps): f for t, f in read_frames(master)}
    song = pipeline.analyse_song(project)

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})

    ctx.set_default_timeout(WAIT_MS)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-room=ready]", timeout=WAIT_MS)
    # the ruler: a tick per beat, a longer one per bar, and the song map's sections
    assert page.locator("#ruler i.bar").count() == sum(1 for d in song.downbeats if d <= clips[-1].record_end / fps)
    assert page.locator("#sections div").count() == len(song.sections)
    assert page.locator("#clips div").count() == len(clips)

    # the takes in sequence: at three cut times the frame shown is the render's frame there
    page.select_option("#pmode", "takes")
    for clip in clips[:3]:
        t = (clip.record_start + 0.25) / fps  # a quarter frame into the clip: unambiguous on both sides
        _, data, state = page.evaluate(GRAB, t)
        assert not state["render"] and state["clip"] == clips.index(clip) + 1 and clip.take in state["src"]
        shown = _png(data)
        want = render[clip.record_start]
        other = render[clip.record_start - 2] if clip.record_start >= 2 else render[clip.record_end + 2]
        print(f"cut at frame {clip.record_start}: MAD to the render {_mad(shown, want):.2f}, to the other take {_mad(shown, other):.2f}")
        assert _mad(shown, want) < FRAME_TOLERANCE < _mad(shown, other), (clip.take, _mad(shown, want), _mad(shown, other))
    # the render itself (current: made after the edit), at the same times
    page.select_option("#pmode", "auto")
    for clip in clips[1:3]:
        _, data, state = page.evaluate(GRAB, (clip.record_start + 0.25) / fps)
        assert state["render"]
        assert _mad(_png(data), render[clip.record_start]) < FRAME_TOLERANCE

    # play from the takes: the song is the clock, the picture changes take at the cut
    page.select_option("#pmode", "takes")
    page.evaluate("window.dreamcutRoom.seek(%f)" % (clips[1].record_end / fps - 0.6))
    page.click("#play")
    page.wait_for_function("window.dreamcutRoom.state().playing && !document.getElementById('song').paused")
    page.wait_for_function("window.dreamcutRoom.state().clip === 3", timeout=WAIT_MS)
    assert clips[2].take in page.evaluate("window.dreamcutRoom.state().src")
    page.screenshot(path=str(artifacts_dir / "edit_room_small.png"))
    page.click("#play")
    page.wait_for_function("!window.dreamcutRoom.state().playing && document.getElementById('song').paused")
    ctx.close()


@pytest.fixture(scope="module")
def grid_url(tmp_path_factory):
    """3 shots x 2 takes of 5 s over a 12 s song at 120 bpm (a bar is 2 s), with its planned cut."""
    from _takes import write_song
    from dreamcut import pipeline
    from dreamcut.project import Project

    root = make_project(tmp_path_factory.mktemp("grid") / "proj", shots=3, takes_per_shot=2, take_seconds=5.0)
    write_song(root / "song.wav", 12.0)
    project = Project.open(root)
    pipeline.make_edit(project)
    project.catalog.close()
    with serve_board(root) as url:
        yield url, root


def test_drag_a_cut_a_bar_swap_a_take_reload_edit_and_undo(grid_url, browser, cli, artifacts_dir):
    from dreamcut import timeline as tl

    def views():
        t = tl.read_timeline(root / "edits" / "cut.otio")
        return tl.items(t, tl.info(t).fps)

    def cut_version():
        return int(page.evaluate("document.body.dataset.cutv || '0'"))

    url, root = grid_url
    original = views()
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(WAIT_MS)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-room=ready]", timeout=WAIT_MS)
    clips = page.evaluate("fetch('/api/cut').then(r => r.json()).then(c => c.clips)")
    start3 = clips[2]["start"]

    # drag slot 3's cut one bar (2 s) earlier, a bit off the grid: it lands on the downbeat
    box = page.locator("#tl").bounding_box()
    total = page.evaluate("fetch('/api/cut').then(r => r.json()).then(c => c.seconds)")
    grip = page.locator("#clips div[data-slot='3'] .grip").bounding_box()
    x_to = box["x"] + box["width"] * (start3 - 2.0 + 0.12) / total
    v = cut_version()
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    page.mouse.move(x_to, grip["y"] + 5, steps=8)
    page.mouse.up()
    page.wait_for_function(f"+document.body.dataset.cutv > {v}", timeout=WAIT_MS)
    moved = page.evaluate("fetch('/api/cut').then(r => r.json()).then(c => c.clips)")
    assert abs(moved[2]["start"] - (start3 - 2.0)) < 0.05, (start3, moved[2]["start"])

    # swap slot 2's take from the offered list (best-ranked first)
    page.click("#clips div[data-slot='2']")
    page.wait_for_selector("#slotbar:not([hidden])")
    options = page.eval_on_selector_all("#sb-take option", "os => os.map(o => o.value)")
    other = next(o for o in options if o != clips[1]["take"])
    v = cut_version()
    page.select_option("#sb-take", other)
    page.wait_for_function(f"+document.body.dataset.cutv > {v}", timeout=WAIT_MS)
    page.screenshot(path=str(artifacts_dir / "edit_room_grid.png"))

    # reload: the board shows the changed cut; `dreamcut edit` makes the same cut (as OTIO)
    page.reload()
    page.wait_for_selector("body[data-room=ready]", timeout=WAIT_MS)
    assert page.get_attribute("#clips div[data-slot='2']", "data-take") == other
    shown = views()
    assert shown != original
    r = cli("--project", str(root), "edit")
    assert r.returncode == 0, r.stderr
    assert views() == shown

    # undo both changes from the board: the original cut again
    for _ in range(2):
        v = cut_version()
        page.click("#undo")
        page.wait_for_function(f"+document.body.dataset.cutv > {v}", timeout=WAIT_MS)
    assert views() == original
    ctx.close()
