"""Export -> Premiere XML / EDL / OTIO -> conform, on an edit that breaks naive hand-offs.

Retimed clips (0.82x..0.93x), a zoom-through and a dissolve, take ids whose 8-character reels
collide (CORRIDOR...), a song in Ogg. What must hold: every format comes back as the same edit
(take, in point, record length, speed); no exported range reads past its media; the song goes
out as WAV; the reel a take leaves with is the reel it comes back as, even when only reels are
left; and a trim made in the NLE around a baked zoom-through is followed by the zoom.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import opentimelineio as otio
import pytest

from dreamcut import timeline as tl
from dreamcut.media import ffmpeg_exe, probe
from dreamcut.nle import reels
from dreamcut.nle.conform import read_edit
from dreamcut.nle.export import export_all
from dreamcut.render.ffmpeg import plan_render
from finishing_kit import Cut, build_timeline, edit_summary, write_song, write_zoom_take

FPS, SIZE = 24, (160, 90)
TAKES = {"corridor-t01-bcbca4": "corridor", "corridor-t02-bb11fd": "corridor", "corridor-t03-0c4e21": "corridor",
         "classroom-t01-77aa02": "classroom"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("nle") / "p"
    for i, (take, shot) in enumerate(TAKES.items()):
        write_zoom_take(root / "takes" / shot / f"{take}.mp4", 300 + i, seconds=3.0, fps=FPS, size=SIZE)
    wav = write_song(root / "tmp_song.wav", 10)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), "-c:a", "libvorbis", str(root / "song.ogg")],
                   check=True)
    wav.unlink()
    (root / "dreamcut.yaml").write_text(
        "title: Corridor — Été\nsong: song.ogg\nfps: 24\nrender:\n  master: 160x90\n  resolution: 320x180\n"
        "shots:\n  - id: corridor\n    prompt: a corridor\n  - id: classroom\n    prompt: a classroom\n",
        encoding="utf-8")
    cuts = [Cut("takes/corridor/corridor-t02-bb11fd.mp4", 0.5, 2.3, "dissolve", 8, speed=0.82),
            Cut("takes/corridor/corridor-t01-bcbca4.mp4", 0.5, 2.5, "zoom", 12, speed=0.93),
            Cut("takes/classroom/classroom-t01-77aa02.mp4", 0.5, 2.4, speed=0.88),
            Cut("takes/corridor/corridor-t03-0c4e21.mp4", 0.25, 2.0)]
    edit = build_timeline(cuts, song="song.ogg", size=SIZE, title="Corridor — Été")
    written = export_all(edit, root, root / "exports", bundle=False)
    return root, edit, written


@pytest.mark.parametrize("name", ["premiere.xml", "cut.edl", "cut.otio"])
def test_every_format_conforms_to_the_same_edit(project, name):
    root, edit, written = project
    back = read_edit(root / "exports" / name, root)
    assert edit_summary(back) == edit_summary(edit)
    for a, b in zip(tl.clips(back, FPS), tl.clips(edit, FPS)):
        assert a.take == b.take and abs(a.speed - b.speed) <= 0.05 / FPS     # M2 carries 0.1 fps
        assert abs(a.source_frames - b.source_frames) <= 0.5
    assert plan_render(back, FPS).total_frames == plan_render(edit, FPS).total_frames


def test_speed_changes_reach_the_nle_as_speed_changes(project):
    _, edit, written = project
    xml = written["premiere"].read_text()
    speeds = [float(v) for v in re.findall(r"<parameterid>speed</parameterid>\s*<name>speed</name>\s*"
                                            r"<valuemin>[^<]*</valuemin>\s*<valuemax>[^<]*</valuemax>\s*"
                                            r"<value>([^<]+)</value>", xml)]
    assert speeds == [82.0, 93.0, 88.0]
    text = written["edl"].read_text()
    m2 = re.findall(r"^M2\s+(\S+)\s+(\d+\.\d)\s+\d\d:", text, re.M)
    assert [float(s) for _, s in m2] == [19.7, 22.3, 21.1]   # 0.82, 0.93, 0.88 x 24 fps
    # an OTIO reader gets the speed and the song's length from the data
    full = otio.adapters.read_from_file(str(written["otio"]))
    warps = [fx.time_scalar for c in tl.iter_clips(full) for fx in c.effects]
    assert warps == pytest.approx([0.82, 0.93, 0.88])
    assert tl.video_track(full).duration().value == tl.record_frames(edit, FPS)


def test_no_exported_range_reads_past_its_media(project):
    root, _, written = project
    for name, adapter in (("premiere", "fcp_xml"), ("edl", "cmx_3600")):
        back = otio.adapters.read_from_file(str(written[name]), adapter_name=adapter, **(
            {"rate": FPS} if adapter == "cmx_3600" else {}))
        for clip in back.find_clips():
            if isinstance(clip.media_reference, otio.schema.GeneratorReference):
                continue
            path = Path(tl.media_path(clip.media_reference.target_url or "")) if name == "premiere" else None
            sr = clip.source_range
            warp = [fx for fx in clip.effects if isinstance(fx, otio.schema.LinearTimeWarp)]
            if name == "premiere":
                length = round(probe(path).duration * FPS)
                remap = [fx for fx in clip.effects if fx.metadata.get("fcp_xml", {}).get("effectid") == "timeremap"]
                speed = float(_speed_param(remap[0])) / 100 if remap else 1.0
                # in/out count retimed frames: the source read ends at (in + duration) x speed
                assert (sr.start_time.value + sr.duration.value) * speed <= length + 0.5, clip.name
            else:
                comments = clip.metadata["cmx_3600"].get("comments", [])
                src = Path(next(c for c in comments if c.startswith("SOURCE FILE:")).split(":", 1)[1].strip())
                length = round(probe(src).duration * FPS)
                speed = warp[0].time_scalar if warp else 1.0
                assert sr.start_time.value + sr.duration.value * speed <= length + 0.5, clip.name


def _speed_param(fx) -> str:
    params = fx.metadata["fcp_xml"]["parameter"]
    return next(p["value"] for p in params if p["parameterid"] == "speed")


def test_song_goes_out_as_wav_and_the_title_is_ascii(project):
    root, _, written = project
    wav = written["media:song.wav"]
    assert wav.suffix == ".wav" and probe(wav).audio is not None
    xml = written["premiere"].read_text()
    assert "song.wav" in xml and "song.ogg" not in xml
    first = written["edl"].read_text().splitlines()[0]
    assert first == "TITLE: Corridor  Ete" and first.isascii()


def test_colliding_reels_come_back_as_the_same_take(project, tmp_path):
    """Only reels left (an EDL tool dropped every comment): the reel table maps them back, not file order."""
    root, edit, written = project
    table = reels.assign(reels.project_takes(root))
    assert len(set(table.values())) == len(table) == 4 and table["corridor-t01-bcbca4"] == "CORRIDOR"
    text = written["edl"].read_text()
    reels_used = re.findall(r"^\d{3}  (\S+)", text, re.M)
    assert {"CORRIDO1", "CORRIDOR"} <= set(reels_used) and all(len(r) <= 8 for r in reels_used)
    stripped = "\n".join(line for line in text.splitlines() if not line.startswith("*"))
    for place, keep_table in ((tmp_path / "a", True), (tmp_path / "b", False)):
        place.mkdir()
        (place / "reels.edl").write_text(stripped, encoding="utf-8")
        if not keep_table:  # no reels.txt beside the edit, none in exports/: recomputed from the takes
            (root / "exports" / "reels.txt").rename(tmp_path / "reels.bak")
        try:
            back = read_edit(place / "reels.edl", root)
        finally:
            if not keep_table:
                (tmp_path / "reels.bak").rename(root / "exports" / "reels.txt")
        assert [v.take for v in tl.clips(back, FPS)] == [v.take for v in tl.clips(edit, FPS)]


def test_a_trim_in_the_nle_moves_the_baked_zoom_with_it(project, tmp_path):
    """The editor ripple-trims 6 frames off the tail of the shot before the baked zoom-through:
    conform turns the baked clip back into the zoom, at the new cut, from the trimmed shot's frames."""
    import xml.etree.ElementTree as ET

    root, edit, written = project
    doc = ET.parse(written["premiere"])
    items = list(doc.getroot().find(".//sequence").iterfind("./media/video/track/*"))
    clips = [e for e in items if e.tag == "clipitem"]
    assert clips[2].findtext("name") == "corridor-t01-bcbca4__zoom__classroom-t01-77aa02"
    trimmed = clips[1]
    trimmed.find("out").text = str(int(trimmed.findtext("out")) - 6)
    shift = False
    for e in items:
        if e is trimmed:
            trimmed.find("end").text = str(int(trimmed.findtext("end")) - 6)
            shift = True
        elif shift:
            for tag in ("start", "end"):
                if e.find(tag) is not None and e.findtext(tag) != "-1":
                    e.find(tag).text = str(int(e.findtext(tag)) - 6)
    edited = tmp_path / "trimmed.xml"
    doc.write(edited, encoding="utf-8", xml_declaration=True)
    back = read_edit(edited, root)
    want = edit_summary(edit)
    # corridor-t01 plays 6 frames less; the zoom and everything after it move 6 frames earlier
    want[2] = want[2][:3] + (want[2][3] - 6,) + want[2][4:]
    assert edit_summary(back) == want
    views = tl.items(back, FPS)
    assert views[3].kind == tl.ZOOM_THROUGH and views[3].frames == 12
    assert tl.record_frames(back, FPS) == tl.record_frames(edit, FPS) - 6


def test_fcp7_retimed_in_points_read_back_exactly_for_slowed_clips():
    """FCP7 counts <in> in frames of the retimed clip; for the planner's slow-downs (0.8x..1x) every
    source in point has a retimed frame that reads back as itself (speed-ups can be a frame off)."""
    from dreamcut.nle.fcp7 import retimed_in

    for speed in (0.8, 0.82, 0.85, 0.88, 0.9, 0.93, 0.97, 1.0):
        assert all(round(retimed_in(x, speed) * speed) == x for x in range(2000)), speed
