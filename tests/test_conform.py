"""Conform: our exports edited programmatically (reordered, trimmed, a take swapped) and NLE-written files read back."""

from __future__ import annotations

import copy
from pathlib import Path

import opentimelineio as otio
import pytest

from dreamcut.nle.conform import read_edit
from dreamcut.errors import BadInput
from dreamcut.nle.export import export_all
from dreamcut.media import count_frames, probe
from dreamcut.render.ffmpeg import plan_render, render_timeline
from finishing_kit import build_timeline, edit_summary, make_project, standard_cuts, write_song, write_zoom_take

FPS, SIZE = 24, (320, 180)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("conform") / "p")
    tl = build_timeline(standard_cuts(), song="song.wav")
    export_all(tl, root, root / "exports", bundle=False)
    return root, tl


def _clips(tl):
    return [c for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]


def _summary(tl):
    return [(c.name, c.media_reference.target_url, c.source_range.start_time.value, c.source_range.duration.value)
            for c in _clips(tl)]


def test_unchanged_otio_conforms_to_the_same_edit(project):
    root, tl = project
    back = read_edit(root / "exports" / "cut.otio", root)
    assert _summary(back) == _summary(tl)
    assert plan_render(back, FPS).total_frames == plan_render(tl, FPS).total_frames
    assert back.tracks[1].kind == otio.schema.TrackKind.Audio
    assert back.tracks[1][0].media_reference.target_url == "song.wav"
    assert back.metadata["dreamcut"]["fps"] == FPS and back.metadata["dreamcut"]["song"] == "song.wav"
    types = [t.transition_type for t in back.tracks[0] if isinstance(t, otio.schema.Transition)]
    assert types == ["SMPTE_Dissolve", "dreamcut_ZoomThrough", "dreamcut_DipToBlack"]


@pytest.mark.parametrize("name", ["premiere.xml", "cut.edl", "cut.otioz"])
def test_unchanged_nle_exports_conform_to_the_identical_edit(project, name):
    """Baked transitions between their own two shots come back as the transitions: the same edit, frame for frame."""
    root, tl = project
    if name == "cut.otioz":
        export_all(tl, root, root / "exports_z", bundle=True)
        path = root / "exports_z" / name
    else:
        path = root / "exports" / name
    back = read_edit(path, root)
    assert edit_summary(back) == edit_summary(tl)
    assert plan_render(back, FPS).total_frames == plan_render(tl, FPS).total_frames


def _edit_xml(src: Path, dest: Path, fn) -> None:
    tl = otio.adapters.read_from_file(str(src))
    fn(tl)
    otio.adapters.write_to_file(tl, str(dest), adapter_name="fcp_xml")


def test_reordered_trimmed_and_swapped_in_premiere_then_rendered(project):
    """An editor moves the last shot first, trims a shot, and swaps a take, then exports XML."""
    root, _ = project
    src = root / "exports" / "premiere.xml"

    def edit(tl):
        video = tl.tracks[0]
        # drop the dissolve (an editor replaced it with a cut), then reorder: last clip first
        for t in [i for i in video if isinstance(i, otio.schema.Transition)]:
            video.remove(t)
        last = video[len(video) - 1]
        video.remove(last)
        video.insert(0, last)
        # trim s2_t1: 6 frames later in, 4 frames shorter
        s2 = [c for c in video if isinstance(c, otio.schema.Clip) and c.name == "s2_t1"][0]
        s2.source_range = otio.opentime.TimeRange(s2.source_range.start_time + otio.opentime.RationalTime(6, FPS),
                                                  s2.source_range.duration - otio.opentime.RationalTime(10, FPS))
        # swap the take of the first s0_t1 occurrence for s2's take (name and media, as Replace Footage does)
        first_s1 = [c for c in video if isinstance(c, otio.schema.Clip) and c.name == "s1_t1"][0]
        first_s1.name = "s2_t1"
        first_s1.media_reference = copy.deepcopy(s2.media_reference)

    edited = root / "exports" / "premiere_edited.xml"
    _edit_xml(src, edited, edit)
    back = read_edit(edited, root)
    assert _summary(back) == [
        ("s0_t1", "takes/s0/s0_t1.mp4", 28, 32),
        ("s0_t1", "takes/s0/s0_t1.mp4", 12, 36),
        ("s2_t1", "takes/s2/s2_t1.mp4", 12, 27),
        ("s1_t1__zoom__s2_t1", "exports/media/s1_t1__zoom__s2_t1.mp4", 0, 12),
        ("s2_t1", "takes/s2/s2_t1.mp4", 24, 16),
        ("s2_t1__dip__s0_t1", "exports/media/s2_t1__dip__s0_t1.mp4", 0, 8),
    ]
    out = root / "renders" / "conformed.mp4"
    render_timeline(back, root, out, size=SIZE, fps=FPS)
    frames = 32 + 36 + 27 + 12 + 16 + 8
    assert count_frames(out) == frames
    info = probe(out)
    assert abs(info.duration - frames / FPS) <= 1 / FPS and info.audio is not None


def test_edl_with_a_swapped_reel(project, tmp_path):
    """EDL events are matched by clip name first, then by the reel names the export wrote."""
    root, _ = project
    text = (root / "exports" / "cut.edl").read_text()
    # an editor's EDL tool dropped the clip-name comments: only reels are left
    stripped = "\n".join(line for line in text.splitlines() if not line.startswith("*"))
    edl = tmp_path / "reels.edl"
    edl.write_text(stripped.replace("S2T1    ", "S1T1    "), encoding="utf-8")
    back = read_edit(edl, root)
    takes = [c.media_reference.target_url for c in _clips(back)]
    assert takes[0] == "takes/s0/s0_t1.mp4" and takes[3] == "takes/s1/s1_t1.mp4"


def test_unknown_clip_is_named(project, tmp_path):
    root, _ = project
    tl = otio.adapters.read_from_file(str(root / "exports" / "premiere.xml"))
    clip = _clips(tl)[0]
    clip.name = "mystery_shot"
    clip.media_reference = otio.schema.ExternalReference(
        target_url="file://localhost/D%3a/elsewhere/mystery_shot.mov",
        available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, FPS), otio.opentime.RationalTime(99, FPS)))
    bad = tmp_path / "bad.xml"
    otio.adapters.write_to_file(tl, str(bad), adapter_name="fcp_xml")
    with pytest.raises(BadInput, match="mystery_shot"):
        read_edit(bad, root)
    with pytest.raises(BadInput, match="unknown edit format"):
        read_edit(root / "song.wav", root)


@pytest.fixture(scope="module")
def premiere_project(tmp_path_factory):
    """A 30 fps project whose takes carry the names of the media in the Premiere and Avid samples."""
    root = tmp_path_factory.mktemp("premiere") / "p"
    small = (96, 54)
    for i, (name, seconds) in enumerate([("sc01_sh010_anim", 4), ("sc01_sh020_anim", 6), ("sc01_sh030_anim", 14),
                                         ("take_1", 6), ("take_2", 9)]):
        write_zoom_take(root / "takes" / name.split("_anim")[0] / f"{name}.mp4", 200 + i, seconds=seconds, fps=30,
                        size=small)
    write_song(root / "song.wav", 25)
    (root / "dreamcut.yaml").write_text("title: premiere sample\nsong: song.wav\nfps: 30\nrender:\n  master: 96x54\n"
                                        "shots:\n  - id: sc01\n    prompt: a zoom\n", encoding="utf-8")
    return root


def test_premiere_written_xml_conforms_and_renders(premiere_project, shared_nle):
    root = premiere_project
    tl = read_edit(shared_nle / "premiere_example.xml", root)
    items = [(type(i).__name__, getattr(i, "name", ""), i.source_range.start_time.value if getattr(i, "source_range", None)
              else None, i.source_range.duration.value if getattr(i, "source_range", None) else None)
             for i in tl.tracks[0] if not isinstance(i, otio.schema.Transition)]
    # The two video tracks flattened (the upper one wins), the leading gap kept, the empty tail dropped.
    assert items == [("Gap", "", 0, 13), ("Clip", "sc01_sh010_anim", 0, 100), ("Gap", "", 0, 52),
                     ("Clip", "sc01_sh020_anim", 0, 157), ("Clip", "sc01_sh030_anim", 0, 235),
                     ("Clip", "sc01_sh010_anim", 21, 79)]
    dissolve = [i for i in tl.tracks[0] if isinstance(i, otio.schema.Transition)]
    assert len(dissolve) == 1 and dissolve[0].transition_type == "SMPTE_Dissolve"
    assert (dissolve[0].in_offset.value, dissolve[0].out_offset.value) == (19, 0)
    out = root / "renders" / "premiere.mp4"
    render_timeline(tl, root, out, size=(96, 54), fps=30)
    assert count_frames(out) == 636 == plan_render(tl, 30).total_frames   # the sequence's own <duration>


@pytest.mark.parametrize("name,expected", [
    ("avid_example.edl", [("take_1", 125, 37), ("take_2", 193, 62)]),
    ("dissolve_test.edl", None),
])
def test_nle_written_edls(premiere_project, shared_nle, name, expected):
    root = premiere_project
    if expected is None:
        # clip_A / clip_B exist in no project: the conform names the first unmatched clip
        with pytest.raises(BadInput, match="clip_A"):
            read_edit(shared_nle / name, root)
        return
    tl = read_edit(shared_nle / name, root)
    # the EDL's 01:00:00:00 source timecode is undone against the take's length
    assert [(c.name, c.source_range.start_time.value, c.source_range.duration.value) for c in _clips(tl)] == expected


def test_conform_command_renders_master_and_final(project, cli):
    root, _ = project
    proc = cli("--project", str(root), "conform", str(root / "exports" / "cut.edl"))
    assert proc.returncode == 0, proc.stderr
    master, final = root / "renders" / "final_320x180.mp4", root / "renders" / "final_640x360.mp4"
    assert (probe(master).video.width, probe(final).video.width) == (320, 640)
    assert abs(probe(final).duration - probe(master).duration) <= 1 / FPS
    assert (root / "edits" / "conformed.otio").is_file()
    assert "conformed cut.edl" in proc.stdout
    bad = cli("--project", str(root), "conform", str(root / "nope.xml"))
    assert bad.returncode == 2 and "nope.xml" in bad.stderr


def test_conform_without_upscale_signs_the_master_and_removes_the_stale_final(project, cli):
    root, _ = project
    master, final = root / "renders" / "final_320x180.mp4", root / "renders" / "final_640x360.mp4"
    if not final.exists():
        assert cli("--project", str(root), "conform", str(root / "exports" / "cut.otio")).returncode == 0
    proc = cli("--project", str(root), "conform", "--no-upscale", str(root / "exports" / "premiere.xml"))
    assert proc.returncode == 0, proc.stderr
    from dreamcut.provenance import verify

    report = verify(master)
    assert report.has_manifest and report.valid
    assert not final.exists() and "removed renders/final_640x360.mp4" in " ".join(proc.stdout.split())
