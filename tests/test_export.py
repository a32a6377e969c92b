"""Exports read back by OpenTimelineIO: clip counts, names, source ranges, durations, media paths, baked transitions."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from urllib.parse import unquote

import opentimelineio as otio
import pytest

from dreamcut.errors import BadInput
from dreamcut.nle.export import export_all
from dreamcut.media import count_frames, probe
from dreamcut.render.ffmpeg import plan_render
from finishing_kit import Cut, build_timeline, make_project, standard_cuts

FPS = 24


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("export") / "p")
    tl = build_timeline(standard_cuts(), song="song.wav")
    tl.tracks[0].markers.append(otio.schema.Marker(name="chorus", marked_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(48, FPS), otio.opentime.RationalTime(0, FPS))))
    written = export_all(tl, root, root / "exports")
    return root, tl, written


def _record_frames(track: otio.schema.Track) -> int:
    return round(track.duration().rescaled_to(FPS).value)


def _clips(tl: otio.schema.Timeline) -> list[otio.schema.Clip]:
    return [c for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]


def test_everything_is_written(exported):
    root, _, written = exported
    for key in ("otio", "premiere", "edl", "otioz", "notes"):
        assert written[key].is_file() and written[key].stat().st_size > 0, key
    baked = sorted(k for k in written if k.startswith("media:"))
    assert baked == ["media:s1_t1__zoom__s2_t1.mp4", "media:s2_t1__dip__s0_t1.mp4"]
    notes = written["notes"].read_text()
    assert "zoom between s1_t1 and s2_t1 (12 frames) is baked" in notes
    assert "dip between s2_t1 and s0_t1 (8 frames) is baked" in notes
    assert "1.1x" in notes
    assert not [p for p in (root / "exports").rglob(".*")]   # no temp files left


def test_media_urls_per_format(exported):
    """cut.otio is portable (relative URLs); Premiere gets absolute file URLs; the EDL names absolute files."""
    root, _, written = exported
    text = written["otio"].read_text()
    assert str(root) not in text and "file://" not in text
    xml = written["premiere"].read_text()
    urls = re.findall(r"<pathurl>([^<]+)</pathurl>", xml)
    assert urls and all(u.startswith("file://localhost/") for u in urls)
    assert all(Path(unquote(u[len("file://localhost"):])).is_file() for u in urls)
    files = re.findall(r"^\* SOURCE FILE: (.+)$", written["edl"].read_text(), re.M)
    assert len(files) == 6 and all(Path(f).is_absolute() and Path(f).is_file() for f in files)


def test_otio_round_trip_keeps_every_transition(exported):
    root, tl, written = exported
    back = otio.adapters.read_from_file(str(written["otio"]))
    assert [c.name for c in _clips(back)] == [c.name for c in _clips(tl)]
    assert [c.source_range for c in _clips(back)] == [c.source_range for c in _clips(tl)]
    types = [t.transition_type for t in back.tracks[0] if isinstance(t, otio.schema.Transition)]
    assert types == ["SMPTE_Dissolve", "dreamcut_ZoomThrough", "dreamcut_DipToBlack"]
    [warp] = [fx for fx in _clips(back)[1].effects if isinstance(fx, otio.schema.LinearTimeWarp)]
    assert warp.time_scalar == 1.1
    assert back.tracks[0].markers[0].name == "chorus"
    assert plan_render(back, FPS).total_frames == plan_render(tl, FPS).total_frames
    # media URLs are relative to the export file and resolve to the takes
    for clip in back.find_clips():
        target = written["otio"].parent / unquote(clip.media_reference.target_url)
        assert target.resolve().is_file(), clip.media_reference.target_url


def test_premiere_xml_reads_back_with_baked_clips(exported):
    root, tl, written = exported
    back = otio.adapters.read_from_file(str(written["premiere"]))
    clips = _clips(back)
    assert [c.name for c in clips] == ["s0_t1", "s1_t1", "s1_t1__zoom__s2_t1", "s2_t1", "s2_t1__dip__s0_t1", "s0_t1"]
    # ranges: the zoom-through's 6+6 frames came off the shots around it; the 1.1x clip's in/out count
    # frames of the retimed clip (12 / 1.1 = 11), as FCP7 and Premiere write a speed change
    frames = [(c.source_range.start_time.value, c.source_range.duration.value) for c in clips]
    assert frames == [(12, 36), (11, 27), (0, 12), (18, 26), (0, 8), (28, 32)]
    remaps = [[fx.metadata["fcp_xml"]["effectid"] for fx in c.effects] for c in clips]
    assert remaps == [[], ["timeremap"], [], [], [], []]
    dissolves = [t for t in back.tracks[0] if isinstance(t, otio.schema.Transition)]
    assert len(dissolves) == 1 and dissolves[0].transition_type == "SMPTE_Dissolve"
    assert abs(_record_frames(back.tracks[0]) - plan_render(tl, FPS).total_frames) <= 1
    for clip in clips:
        assert Path(unquote(clip.media_reference.target_url[len("file://localhost"):])).is_file()
    assert back.tracks[-1].kind == otio.schema.TrackKind.Audio


def test_premiere_xml_has_premiere_shape(exported, shared_nle):
    _, _, written = exported
    ours = written["premiere"].read_text()
    theirs = (shared_nle / "premiere_example.xml").read_text()
    for pattern in (r"<xmeml version=\"4\">", r"<file id=\"file-\d+\">", r"<pathurl>", r"<timebase>\d+</timebase>",
                    r"<ntsc>FALSE</ntsc>", r"<duration>\d+</duration>", r"<clipitem [^>]*id=\"clipitem-\d+\"",
                    r"<transitionitem>"):
        assert re.search(pattern, theirs), pattern
        assert re.search(pattern, ours), pattern
    # each file is described once and then referenced by id, as Premiere does
    ids = re.findall(r"<file id=\"([^\"]+)\"\s*>", ours)
    assert len(ids) == len(set(ids)) == 6  # 3 takes, 2 baked clips, the song
    assert "<timebase>24</timebase>" in ours


def test_edl_reads_back(exported):
    _, tl, written = exported
    text = written["edl"].read_text()
    assert re.search(r"^\d{3}  S1T1     V     D 012 ", text, re.M)          # the dissolve as a D event
    assert "FROM CLIP NAME:  s1_t1__zoom__s2_t1" in text
    reels = re.findall(r"^\d{3}  (\S+)", text, re.M)
    assert all(len(r) <= 8 for r in reels)
    back = otio.adapters.read_from_file(str(written["edl"]), rate=FPS)
    assert [c.name for c in _clips(back)] == ["s0_t1", "s1_t1", "s1_t1__zoom__s2_t1", "s2_t1",
                                              "s2_t1__dip__s0_t1", "s0_t1"]
    assert abs(_record_frames(back.tracks[0]) - plan_render(tl, FPS).total_frames) <= 1


def test_otioz_bundles_the_media(exported):
    _, tl, written = exported
    with zipfile.ZipFile(written["otioz"]) as z:
        names = z.namelist()
    assert "content.otio" in names
    assert {n for n in names if n.startswith("media/")} >= {"media/s0_t1.mp4", "media/s1_t1.mp4", "media/s2_t1.mp4"}
    back = otio.adapters.read_from_file(str(written["otioz"]), adapter_name="otioz")
    assert [c.name for c in _clips(back)] == [c.name for c in _clips(tl)]


def test_baked_transition_clips(exported):
    _, _, written = exported
    zoom = written["media:s1_t1__zoom__s2_t1.mp4"]
    info = probe(zoom)
    assert (info.video.width, info.video.height) == (320, 180)
    assert count_frames(zoom) == 12
    assert count_frames(written["media:s2_t1__dip__s0_t1.mp4"]) == 8


def test_absolute_urls_on_request(exported, tmp_path):
    root, tl, _ = exported
    written = export_all(tl, root, tmp_path / "abs", absolute=True, bundle=False)
    xml = otio.adapters.read_from_file(str(written["premiere"]))
    for clip in xml.find_clips():
        url = clip.media_reference.target_url
        assert url.startswith("file://localhost/")
        assert Path(unquote(url[len("file://localhost"):])).is_file()
    back = otio.adapters.read_from_file(str(written["otio"]))
    assert all(c.media_reference.target_url.startswith("file:///") for c in back.find_clips())


def test_a_missing_take_is_named(exported, tmp_path):
    root, _, _ = exported
    tl = build_timeline([Cut("takes/s7/s7_t1.mp4", 0, 1)], song="song.wav")
    with pytest.raises(BadInput, match="takes/s7/s7_t1.mp4"):
        export_all(tl, root, tmp_path / "x")


def test_edl_has_the_shape_nle_edls_have(exported, shared_nle):
    """Our EDL's events and comments are written the way Avid and Premiere write theirs."""
    _, _, written = exported
    event = re.compile(r"^\d{3}  \S{1,8}\s+V\s+(C|D \d{3})\s+(\d\d:\d\d:\d\d:\d\d ?){4}\s*$")
    for text in (written["edl"].read_text(), (shared_nle / "avid_example.edl").read_text()):
        lines = text.splitlines()
        assert lines[0].startswith("TITLE:") and lines[0].isascii()
        events = [line for line in lines if re.match(r"^\d{3} ", line)]
        assert events and all(event.match(line) for line in events), [x for x in events if not event.match(x)]
        assert any(line.startswith("* FROM CLIP NAME:  ") for line in lines)
    ours = written["edl"].read_text()
    assert "FCM: NON-DROP FRAME" in ours and re.search(r"^M2   S1T1\s+026\.4\s+00:00:00:05$", ours, re.M)


def test_a_range_past_the_end_of_its_take_is_refused_before_anything_is_written(exported, tmp_path):
    root, _, _ = exported
    tl = build_timeline([Cut("takes/s0/s0_t1.mp4", 1.0, 2.5), Cut("takes/s1/s1_t1.mp4", 2.0, 3.4, speed=0.9)],
                        song="song.wav")
    with pytest.raises(BadInput, match=r"clip s1_t1 \(takes/s1/s1_t1.mp4\).*reads source frames 48\.\.81 but the file has 72"):
        export_all(tl, root, tmp_path / "x", bundle=False)
    assert not [p for p in (tmp_path / "x").iterdir() if p.is_file()]
