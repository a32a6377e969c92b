"""The edit room on THE demo project (`dreamcut demo --short`, built once a session: conftest.short_demo_build),
in Debian's chromium: play the cut from playback proxies and from the render, frame-accurate at
the cuts; snap a dragged cut to beats, downbeats and phrase starts (the target shown); drag a
cut one bar, swap a take, reload, and `dreamcut edit` makes the same cut (compared as OTIO);
undo restores it. A conformed edit is shown as such and re-rendering from the board keeps it.
No URL the page references answers 5xx.

The demo gets a second take of `wedding` (preview 4 variants, promote variant 2, as a director
would) so its slot has a take to swap to; the cut is planned and rendered again after that, so
the render is current and undo has one cut to come back to.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from _browser import CHROMIUM, FRAME_TOLERANCE, GRAB, WAIT_MS, chromium, mad, nle_drops_last_clip, png, serve_board
from conftest import copy_project, run_cli

README_SHOT = {"x": 0, "y": 0, "width": 1400, "height": 820}  # docs/img/edit_room*.png are these
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (make chromium)")


@pytest.fixture(scope="module")
def demo(short_demo_build, tmp_path_factory) -> Path:
    root = copy_project(short_demo_build, tmp_path_factory.mktemp("demo") / "demo")  # the session's demo (conftest)
    for args in (["preview", "wedding", "--variants", "4"], ["promote", "wedding", "2"], ["edit"], ["render"]):
        run_cli("--project", str(root), *args, timeout=600, check=True)
    return root


def _copy(demo: Path, tmp_path: Path) -> Path:
    """A copy of the demo to change (times kept: the render stays current)."""
    dest = tmp_path / "demo"
    shutil.copytree(demo, dest, symlinks=True)
    return dest


def _views(root: Path):
    from dreamcut import timeline as tl

    t = tl.read_timeline(root / "edits" / "cut.otio")
    return tl.items(t, tl.info(t).fps)


def _as_otio(root: Path) -> list[tuple]:
    """The cut as OpenTimelineIO reads it: every item of the picture track (clips' media, source and
    record ranges, transitions' kind and offsets), in order."""
    import opentimelineio as otio

    timeline = otio.adapters.read_from_file(str(root / "edits" / "cut.otio"))
    out: list[tuple] = []
    for track in timeline.tracks:
        for item in track:
            if isinstance(item, otio.schema.Transition):
                out.append(("transition", track.kind, item.transition_type, item.in_offset.to_frames(),
                            item.out_offset.to_frames()))
            else:
                media = item.media_reference.target_url if isinstance(item, otio.schema.Clip) else None
                out.append((item.schema_name(), track.kind, item.name, media,
                            item.source_range.start_time.to_frames(), item.source_range.duration.to_frames(),
                            track.range_of_child(item).start_time.to_frames(),
                            [e.schema_name() for e in getattr(item, "effects", [])]))
    return out


def test_every_url_the_demo_board_references_answers_without_a_server_error(demo, tmp_path):
    from test_edit_room import _request_everything

    ids, previews = _request_everything(_copy(demo, tmp_path))
    assert len(previews) == 4 and len(ids) == 3 + 1 + 4  # three takes, the promoted one, four previews


def _settled_frame(items, k: int) -> tuple[int, int]:
    """(the first frame of clip k that shows its take alone, the number of frames of the transition
    into it that lie before the cut): inside a zoom-through the render mixes two takes, which a
    player of takes in sequence does not pretend to."""
    from dreamcut import timeline as tl

    clips = [i for i in items if isinstance(i, tl.ClipView)]
    pos = items.index(clips[k])
    before = items[pos - 1] if pos and isinstance(items[pos - 1], tl.TransitionView) else None
    return clips[k].record_start + (before.out_frames if before else 0), (before.in_frames if before else 0)


@pytest.mark.browser
@needs_chromium
def test_the_demo_plays_edits_reloads_and_undoes_in_the_browser(demo, tmp_path, cli, artifacts_dir):
    from dreamcut import pipeline
    from dreamcut import timeline as tl
    from dreamcut.media import read_frames
    from dreamcut.project import Project

    root = _copy(demo, tmp_path)
    project = Project.open(root)
    fps = project.spec.fps
    items = _views(root)
    clips = [i for i in items if isinstance(i, tl.ClipView)]
    assert len(clips) == 3 and any(isinstance(i, tl.TransitionView) for i in items)
    master, _ = pipeline.render_paths(project)
    render = {round(t * fps): f for t, f in read_frames(master)}
    size = (render[0].shape[1], render[0].shape[0])
    song = pipeline.analyse_song(project)
    project.catalog.close()
    original, original_otio = items, _as_otio(root)

    with serve_board(root) as url, chromium() as browser:
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        requested: list[str] = []
        failed: list[tuple[str, int]] = []
        page.on("request", lambda r: requested.append(r.url))
        page.on("response", lambda r: failed.append((r.url, r.status)) if r.status >= 500 else None)
        page.goto(url)
        page.wait_for_selector("body[data-room=ready]")

        # the ruler: a mark per bar, and the 4/8-bar phrase starts and sure sections' starts marked as such
        # (a guessed section start is marked like a downbeat)
        from dreamcut.web.room import snap_targets

        end = clips[-1].record_end / fps
        assert page.locator("#ruler i.bar").count() == sum(1 for d in song.downbeats if d <= end)
        phrases = {g["t"] for g in snap_targets(song, fps) if g["t"] <= end
                   and (g["phrase"] >= 4 or (g["section"] and g["section_sure"]))}
        assert 0 < page.locator("#ruler i.phrase").count() == len(phrases)
        assert page.locator("#sections div").count() == len(song.sections)

        # the takes in sequence, from their playback proxies: at three cut times the frame shown is the render's
        page.select_option("#pmode", "takes")
        for k, clip in enumerate(clips):
            frame, _ = _settled_frame(items, k)
            _, data, state = page.evaluate(GRAB, (frame + 0.25) / fps)
            assert not state["render"] and state["clip"] == k + 1, state
            assert state["src"] == f"/proxy/play/{clip.take}.mp4", state
            shown = png(data, size)
            other = render[_settled_frame(items, (k + 1) % len(clips))[0]]
            print(f"cut {k + 1} (frame {frame}): MAD to the render {mad(shown, render[frame]):.2f}, "
                  f"to another take {mad(shown, other):.2f}")
            assert mad(shown, render[frame]) < FRAME_TOLERANCE < mad(shown, other)
        # and at the exact cut frame (inside a zoom-through too) the incoming take's own frame there
        for k, clip in enumerate(clips):
            _, data, state = page.evaluate(GRAB, (clip.record_start + 0.25) / fps)
            assert state["clip"] == k + 1, state
            frames = [f for _, f in read_frames(root / clip.media)]
            shown = png(data, (frames[0].shape[1], frames[0].shape[0]))
            print(f"cut {k + 1} (frame {clip.record_start}): MAD to its take's source frame {clip.source_in} "
                  f"{mad(shown, frames[clip.source_in]):.2f}")
            assert mad(shown, frames[clip.source_in]) < FRAME_TOLERANCE
        # the render itself (current), at the exact cut frames, zoom-throughs included
        page.select_option("#pmode", "auto")
        for clip in clips:
            _, data, state = page.evaluate(GRAB, (clip.record_start + 0.25) / fps)
            assert state["render"] and state["src"].endswith(master.name)
            assert mad(png(data, size), render[clip.record_start]) < FRAME_TOLERANCE
        monitor = [u for u in requested if "/proxy/play/" in u or "/media/take/" in u]
        assert monitor and not any("/media/take/" in u for u in monitor), monitor

        # play the takes across a cut: the song is the clock, the picture changes take at the cut
        page.select_option("#pmode", "takes")
        page.evaluate("window.dreamcutRoom.seek(%f)" % (clips[1].record_end / fps - 0.5))
        page.click("#play")
        page.wait_for_function("window.dreamcutRoom.state().playing && !document.getElementById('song').paused")
        page.wait_for_function("window.dreamcutRoom.state().clip === 3")
        assert page.evaluate("window.dreamcutRoom.state().src") == f"/proxy/play/{clips[2].take}.mp4"
        page.click("#play")
        page.wait_for_function("!window.dreamcutRoom.state().playing && document.getElementById('song').paused")

        # snapping: a phrase start (here the verse's first downbeat) pulls harder than the nearer beat,
        # a downbeat harder than a plain beat, and a beat right under the pointer wins
        beat = song.beat_period
        verse, bar4 = song.sections[1].start, song.downbeats[3]
        snap = "t => window.dreamcutRoom.snapTime(t)"
        to = page.evaluate(snap, verse + 0.6 * beat)
        assert abs(to["t"] - verse) < 1e-3 and to["kind"] == "section" and "bar 3" in to["label"], to
        to = page.evaluate(snap, bar4 + 0.55 * beat)
        assert abs(to["t"] - bar4) < 1e-3 and to["kind"] == "downbeat", to
        second = song.beats[song.nearest_beat(bar4 + beat)]
        to = page.evaluate(snap, second + 0.05 * beat)
        assert abs(to["t"] - second) < 1e-3 and to["kind"] == "beat" and "beat 2 of bar 4" in to["label"], to

        def cut_version() -> int:
            return int(page.evaluate("document.body.dataset.cutv || '0'"))

        # drag slot 2's cut one bar later, released a little off the grid: the snap target is shown
        # while dragging, and the cut lands on the next bar's downbeat
        start2 = clips[1].record_start / fps
        bar = song.bar_index(start2 + 1e-3)
        want = song.downbeats[bar + 1]
        box = page.locator("#tl").bounding_box()
        total = page.evaluate("fetch('/api/cut').then(r => r.json()).then(c => c.seconds)")
        grip = page.locator("#clips div[data-slot='2'] .grip").bounding_box()
        v = cut_version()
        page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * (want + 0.1 * beat) / total, grip["y"] + 5, steps=8)
        label = page.text_content("#snap b")
        assert f"bar {bar + 2}" in label and page.get_attribute("#snap", "data-kind") == "downbeat", label
        page.screenshot(path=str(artifacts_dir / "edit_room_snap.png"), clip=README_SHOT)
        page.mouse.up()
        page.wait_for_function(f"+document.body.dataset.cutv > {v}")
        moved = page.evaluate("fetch('/api/cut').then(r => r.json()).then(c => c.clips)")
        assert abs(moved[1]["start"] - want) < 1 / fps + 1e-6, (want, moved[1])
        assert Project.open(root).spec.shot(clips[1].shot).place.bar == bar + 2

        # swap slot 2's take from the offered list (best-ranked first)
        page.click("#clips div[data-slot='2']")
        page.wait_for_selector("#slotbar:not([hidden])")
        options = page.eval_on_selector_all("#sb-take option", "os => os.map(o => o.value)")
        assert len(options) == 2
        other = next(o for o in options if o != moved[1]["take"])
        v = cut_version()
        page.select_option("#sb-take", other)
        page.wait_for_function(f"+document.body.dataset.cutv > {v}")
        assert page.get_attribute("#clips div[data-slot='2']", "data-take") == other
        # the cards say where their takes are used now
        tc = page.evaluate("fetch('/api/cut').then(r => r.json()).then(c => c.clips[1].tc)")
        assert f"in cut: slot 2 at {tc}" in page.text_content(f"#t-{other}")
        assert page.locator(f"#t-{moved[1]['take']} .use").count() == 0
        page.evaluate("window.dreamcutRoom.seek(%f)" % (want + 1.0))
        page.screenshot(path=str(artifacts_dir / "edit_room.png"), clip=README_SHOT)

        # reload: the board shows the changed cut, and `dreamcut edit` makes the same cut (as OTIO)
        page.reload()
        page.wait_for_selector("body[data-room=ready]")
        assert page.get_attribute("#clips div[data-slot='2']", "data-take") == other
        shown, shown_otio = _views(root), _as_otio(root)
        assert shown_otio != original_otio
        r = cli("--project", str(root), "edit")
        assert r.returncode == 0, r.stderr
        assert _as_otio(root) == shown_otio and _views(root) == shown

        # undo both changes from the board: the demo's cut again
        for _ in range(2):
            v = cut_version()
            page.click("#undo")
            page.wait_for_function(f"+document.body.dataset.cutv > {v}")
        assert _as_otio(root) == original_otio and _views(root) == original
        assert Project.open(root).spec.shot(clips[1].shot).place is None
        ctx.close()
    assert not failed, failed


@pytest.mark.browser
@needs_chromium
def test_a_conformed_demo_edit_is_shown_and_re_rendering_from_the_board_keeps_it(demo, tmp_path, cli, artifacts_dir):
    from dreamcut import pipeline
    from dreamcut import timeline as tl
    from dreamcut.media import probe
    from dreamcut.project import Project

    root = _copy(demo, tmp_path)
    planned, nle = nle_drops_last_clip(root, tmp_path)  # an editor drops the last shot in the NLE
    r = cli("--project", str(root), "conform", str(nle), "--no-upscale")
    assert r.returncode == 0, r.stderr
    project = Project.open(root)
    fps = project.spec.fps
    conformed_frames = tl.record_frames(tl.read_timeline(root / "edits" / "conformed.otio"), fps)
    master, _ = pipeline.render_paths(project)
    project.catalog.close()

    with serve_board(root) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        failed: list[tuple[str, int]] = []
        page.on("response", lambda r: failed.append((r.url, r.status)) if r.status >= 500 else None)
        page.goto(url)
        page.wait_for_selector("body[data-room=ready]")
        assert page.get_attribute("#edit-src", "data-conformed") == "1"
        assert "conformed from premiere.otio" in page.text_content("#edit-src")
        assert page.locator("#clips div").count() == planned - 1
        assert page.locator("#clips .grip").count() == 0 and page.is_hidden("#undo")
        page.click("#clips div[data-slot='1']")  # the NLE's edit is changed in the NLE
        page.wait_for_function("document.getElementById('jobs').textContent.includes('change it in the NLE')")
        shown = page.evaluate("fetch('/api/cut').then(r => r.json()).then(c => c.clips)")

        page.click("#render")
        page.wait_for_function("document.getElementById('jobs').textContent.startsWith('render') && "
                               "/: (done|failed)/.test(document.getElementById('jobs').textContent)",
                               timeout=5 * WAIT_MS)  # a whole render and upscale, on a busy machine
        assert page.text_content("#jobs").rstrip().endswith("done"), page.text_content("#jobs")
        after = page.evaluate("fetch('/api/cut').then(r => r.json())")
        assert after["source"]["conformed"] and after["clips"] == shown and after["render"]["current"]
        page.reload()
        page.wait_for_selector("body[data-room=ready]")
        assert page.get_attribute("#edit-src", "data-conformed") == "1"
        page.evaluate("window.dreamcutRoom.seek(%f)" % (conformed_frames / fps / 2))
        page.screenshot(path=str(artifacts_dir / "edit_room_conformed.png"), clip=README_SHOT)
        page.close()
    assert abs(probe(master).duration - conformed_frames / fps) < 0.1
    assert not failed, failed
