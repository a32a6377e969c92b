"""dreamcut.timeline: the one reading of a clip (ranges, speed as LinearTimeWarp, transitions), old edits included."""

from __future__ import annotations

import opentimelineio as otio
import pytest

from dreamcut import timeline as tl
from dreamcut.errors import BadInput
from finishing_kit import build_timeline, standard_cuts

FPS = 24


def test_speed_is_a_linear_time_warp_any_otio_reader_sees():
    t = build_timeline(standard_cuts(), song="song.wav")
    text = tl.to_json(t)
    back = otio.adapters.read_from_string(text, "otio_json")
    clip = tl.video_track(back)[2]  # s1 at 1.1x (after a transition)
    [warp] = [fx for fx in clip.effects if isinstance(fx, otio.schema.LinearTimeWarp)]
    assert warp.time_scalar == pytest.approx(1.1)
    assert "speed" not in clip.metadata["dreamcut"]
    views = tl.clips(back, FPS)
    assert [round(v.speed, 3) for v in views] == [1.0, 1.1, 1.0, 1.0]
    # the range counts record frames: the track lasts what the render lasts
    assert tl.video_track(back).duration().value == sum(v.record for v in views) == tl.record_frames(back, FPS)
    assert views[1].record == round(36 / 1.1) and views[1].source_frames == pytest.approx(36, abs=0.6)
    assert [v.record_start for v in views] == [0, 36, 36 + 33, 36 + 33 + 36]


def test_version_1_edits_read_with_the_same_meaning():
    """An edit written before speed moved into the data: metadata speed, source-length range."""
    old = otio.schema.Clip(name="s1_t1", media_reference=otio.schema.ExternalReference(target_url="takes/s1/s1_t1.mp4"),
                           source_range=otio.opentime.TimeRange(tl.rt(12, FPS), tl.rt(36, FPS)))
    old.metadata["dreamcut"] = {"take": "s1_t1", "shot": "s1", "speed": 0.9, "reason": "old"}
    v = tl.clip_view(old, FPS)
    assert (v.take, v.shot, v.source_in, v.record, v.speed) == ("s1_t1", "s1", 12, 40, 0.9)
    timeline = otio.schema.Timeline()
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(old)
    timeline.tracks.append(track)
    timeline.metadata["dreamcut"] = {"version": 1, "fps": FPS}
    new = tl.upgrade(timeline)
    assert tl.clips(new, FPS)[0] == v
    assert tl.video_track(new).duration().value == 40 and new.metadata["dreamcut"]["version"] == tl.VERSION


def test_transitions_and_bad_warps():
    t = build_timeline(standard_cuts(), song="song.wav")
    kinds = [(i.kind, i.frames) for i in tl.items(t, FPS) if isinstance(i, tl.TransitionView)]
    assert kinds == [(tl.DISSOLVE, 12), (tl.ZOOM_THROUGH, 12), (tl.DIP_TO_BLACK, 8)]
    assert tl.TransitionView("x", "SMPTE_Wipe", 2, 2).rendered_kind == tl.DISSOLVE
    clip = tl.make_clip(take="a", media="a.mp4", source_in=0, record=10, fps=FPS)
    clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=-1.0))
    with pytest.raises(BadInput, match="time warp"):
        tl.clip_view(clip, FPS)


def test_media_paths_from_nle_urls():
    assert tl.media_path("file://localhost/D%3a/media/x%20y.mov") == "D:/media/x y.mov"
    assert tl.media_path("file:///home/me/a%20b.mp4") == "/home/me/a b.mp4"
    assert tl.media_path("..\\takes\\s1\\a.mp4") == "../takes/s1/a.mp4"
