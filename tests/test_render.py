"""render_timeline: one ffmpeg process, frame-exact durations, transitions, the song untouched, bad takes named."""

from __future__ import annotations

import numpy as np
import pytest

from dreamcut.edit import transitions as tr
from dreamcut.errors import BadInput
from dreamcut.media import count_frames, probe, read_frames
from dreamcut.render.ffmpeg import build_filtergraph, plan_render, render_timeline
from finishing_kit import Cut, build_timeline, make_project, standard_cuts

FPS, SIZE = 24, (320, 180)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("render") / "p")


def test_plan_counts_frames_and_builds_one_graph():
    tl = build_timeline(standard_cuts(), song="song.wav")
    plan = plan_render(tl, FPS)
    # 36 + round(36 / 1.1) + 36 + 36 record frames
    assert plan.total_frames == 36 + 33 + 36 + 36
    zooms = [s for s in plan.streams if not hasattr(s, "media")]
    assert len(zooms) == 1 and zooms[0].frames == 12        # only the zoom-through is per-frame Python
    inputs, graph = build_filtergraph(plan, SIZE, ["zoom.mp4"])
    assert graph.count("movie=filename=") == 5 and inputs == []   # sources pulled inside the one graph
    assert "xfade=transition=fade:" in graph and "xfade=transition=fadeblack:" in graph
    assert "concat=n=3" in graph and graph.endswith("[vout]")
    assert "setpts=(PTS-STARTPTS)/1.100000" in graph
    # the dissolve's handles: the outgoing take plays 6 frames past its out point
    first = plan.streams[0]
    assert first.frames == 36 + 6 and first.start == pytest.approx(0.5)


def test_render_mixed_edit_h264(project):
    tl = build_timeline(standard_cuts(), song="song.wav")
    out = project / "renders" / "mixed.mp4"
    seen: list[float] = []
    render_timeline(tl, project, out, size=SIZE, fps=FPS, progress=seen.append)
    info = probe(out)
    frames = plan_render(tl, FPS).total_frames
    assert count_frames(out) == frames
    assert abs(info.duration - frames / FPS) <= 1 / FPS
    assert (info.video.width, info.video.height, info.video.codec) == (320, 180, "h264")
    assert info.audio is not None and info.audio.codec == "aac"
    assert seen and seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:]))
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]   # no temp files left behind


def _closest(frame: np.ndarray, candidates: list[np.ndarray]) -> int:
    return int(np.argmin([np.abs(frame.astype(int) - c).mean() for c in candidates]))


def test_hard_cuts_are_frame_exact(project):
    cuts = [Cut("takes/s0/s0_t1.mp4", 0.5, 1.0), Cut("takes/s1/s1_t1.mp4", 1.25, 2.0), Cut("takes/s0/s0_t1.mp4", 2.0, 2.5)]
    tl = build_timeline(cuts, song="song.wav")
    out = project / "renders" / "cuts.mp4"
    render_timeline(tl, project, out, size=SIZE, fps=FPS, crf=10)
    got = [f for _, f in read_frames(out)]
    src0 = [f for _, f in read_frames(project / "takes/s0/s0_t1.mp4")]
    src1 = [f for _, f in read_frames(project / "takes/s1/s1_t1.mp4")]
    assert len(got) == 12 + 18 + 12
    # each output frame is the source frame the edit names, not its neighbour
    for k, (src, first) in {0: (src0, 12), 11: (src0, 23), 12: (src1, 30), 29: (src1, 47), 30: (src0, 48),
                            41: (src0, 59)}.items():
        window = list(range(first - 2, first + 3))
        assert window[_closest(got[k], [src[i] for i in window])] == first, k


def _rms_db(samples: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2)) + 1e-12)


def _decode_audio(path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        chunks = [f.to_ndarray().reshape(-1) for f in c.decode(audio=0)]
    data = np.concatenate(chunks)
    return data.astype(np.float32) / (32768.0 if data.dtype == np.int16 else (2**31 if data.dtype == np.int32 else 1.0))


def test_prores_mov_with_pcm_and_loudness_untouched(project):
    cuts = [Cut("takes/s0/s0_t1.mp4", 0.5, 1.5, "dissolve", 6), Cut("takes/s1/s1_t1.mp4", 0.5, 1.5)]
    tl = build_timeline(cuts, song="song.wav")
    out = project / "renders" / "grade.mov"
    render_timeline(tl, project, out, size=SIZE, fps=FPS, codec="prores")
    info = probe(out)
    assert info.video.codec == "prores" and info.audio.codec.startswith("pcm_s24")
    assert abs(info.duration - 2.0) <= 1 / FPS
    song = _decode_audio(project / "song.wav")[: 2 * 44100 * 2]
    rendered = _decode_audio(out)
    assert abs(_rms_db(rendered) - _rms_db(song)) < 0.1


def test_song_loudness_untouched_in_aac(project):
    tl = build_timeline([Cut("takes/s2/s2_t1.mp4", 0.0, 2.5)], song="song.wav")
    out = project / "renders" / "aac.mp4"
    render_timeline(tl, project, out, size=SIZE, fps=FPS)
    song = _decode_audio(project / "song.wav")[: int(2.5 * 44100) * 2]
    assert abs(_rms_db(_decode_audio(out)) - _rms_db(song)) < 0.3


def test_missing_and_corrupt_takes_are_named(project):
    tl = build_timeline([Cut("takes/s9/gone.mp4", 0.0, 1.0)], song="song.wav")
    with pytest.raises(BadInput) as e:
        render_timeline(tl, project, project / "renders" / "x.mp4", size=SIZE, fps=FPS)
    assert "takes/s9/gone.mp4" in str(e.value) and str(project) not in str(e.value)
    bad = project / "takes" / "s8" / "broken.mp4"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"\x00not a video" * 100)
    tl = build_timeline([Cut("takes/s8/broken.mp4", 0.0, 1.0)], song="song.wav")
    with pytest.raises(BadInput, match="takes/s8/broken.mp4"):
        render_timeline(tl, project, project / "renders" / "x.mp4", size=SIZE, fps=FPS)
    assert not (project / "renders" / "x.mp4").exists()


def test_reading_past_a_take_end_is_refused(project):
    tl = build_timeline([Cut("takes/s0/s0_t1.mp4", 2.0, 4.0)], song="song.wav")
    with pytest.raises(BadInput, match="out point"):
        render_timeline(tl, project, project / "renders" / "y.mp4", size=SIZE, fps=FPS)


def test_zoom_through_in_render_is_continuous(project):
    """The rendered zoom-through matches the pure transition frames and keeps frame-to-frame similarity high."""
    from skimage.metrics import structural_similarity

    cuts = [Cut("takes/s0/s0_t1.mp4", 0.5, 1.5, "zoom", 12), Cut("takes/s1/s1_t1.mp4", 1.0, 2.0)]
    tl = build_timeline(cuts, song="song.wav")
    out = project / "renders" / "zoom.mp4"
    render_timeline(tl, project, out, size=SIZE, fps=FPS, crf=12)
    frames = [f for _, f in read_frames(out)]
    assert len(frames) == 48
    import cv2

    g = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    s = np.array([structural_similarity(a, b, data_range=255) for a, b in zip(g, g[1:])])
    within = np.median(s[:12])
    assert s[17:31].min() >= within - 0.2
    assert tr.zoom_rate(frames[22:26]) > 0.02          # still zooming forward through the cut


def test_prores_needs_a_mov_and_codecs_are_checked(project):
    tl = build_timeline([Cut("takes/s0/s0_t1.mp4", 0.0, 1.0)], song="song.wav")
    with pytest.raises(BadInput, match=r"\.mov"):
        render_timeline(tl, project, project / "renders" / "grade.mp4", size=SIZE, fps=FPS, codec="prores")
    with pytest.raises(BadInput, match="unknown codec"):
        render_timeline(tl, project, project / "renders" / "x.mp4", size=SIZE, fps=FPS, codec="vp9")


def test_gaps_render_black_and_transitions_must_not_touch_them():
    import opentimelineio as otio

    tl = build_timeline([Cut("takes/s0/s0_t1.mp4", 0.0, 1.0), Cut("takes/s1/s1_t1.mp4", 0.0, 1.0)], song="song.wav")
    tl.tracks[0].insert(1, otio.schema.Gap(source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, FPS), otio.opentime.RationalTime(10, FPS))))
    plan = plan_render(tl, FPS)
    assert plan.total_frames == 24 + 10 + 24
    _, graph = build_filtergraph(plan, SIZE)
    assert "color=c=black:s=320x180" in graph
    tl.tracks[0].insert(1, otio.schema.Transition(transition_type="SMPTE_Dissolve",
                                                  in_offset=otio.opentime.RationalTime(2, FPS),
                                                  out_offset=otio.opentime.RationalTime(2, FPS)))
    with pytest.raises(BadInput, match="gap"):
        plan_render(tl, FPS)


def test_odd_file_names_survive_the_filtergraph(project):
    """Paths with spaces, quotes, colons, commas and brackets are escaped for the graph."""
    import shutil

    odd = project / "takes" / "s0" / "it's a take: [v2], final;.mp4"
    shutil.copy(project / "takes/s0/s0_t1.mp4", odd)
    tl = build_timeline([Cut(str(odd.relative_to(project)), 0.5, 1.0)], song="song.wav")
    out = project / "renders" / "odd.mp4"
    render_timeline(tl, project, out, size=SIZE, fps=FPS)
    assert count_frames(out) == 12


def test_shots_are_blended_at_the_takes_size_and_upscaled_once(project):
    from dreamcut.render.ffmpeg import work_size

    assert work_size((2048, 1152), [(1280, 720), (1280, 720)]) == (1280, 720)
    assert work_size((1280, 720), [(1920, 1080)]) == (1280, 720)           # never above the output
    assert work_size((2048, 1152), [(1280, 720), (1920, 1080)]) == (1920, 1080)
    plan = plan_render(build_timeline(standard_cuts(), song="song.wav"), FPS)
    _, graph = build_filtergraph(plan, (640, 360), ["z.mp4"], work=(320, 180))
    assert graph.count("scale=640:360") == 1 and graph.endswith("scale=640:360:flags=bicubic,setsar=1[vout]")
    out = project / "renders" / "2x.mp4"
    render_timeline(build_timeline(standard_cuts()[:2], song="song.wav"), project, out, size=(640, 360), fps=FPS)
    info = probe(out)
    assert (info.video.width, info.video.height) == (640, 360)
    assert count_frames(out) == plan_render(build_timeline(standard_cuts()[:2], song="song.wav"), FPS).total_frames
