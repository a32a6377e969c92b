"""Speed ramps into a downbeat: planned from the song map, drawn by the one ffmpeg pass, measured on the frames.

The takes carry their own frame number as ten black/white blocks, so each rendered frame says
which source frame it shows: the speed of the clip at every output frame is read off the video.
"""

from __future__ import annotations

import subprocess

import numpy as np
import opentimelineio as otio
import pytest

from conftest import write_song
from dreamcut import timeline as tl
from dreamcut.analysis.audio import Section, SongAnalysis
from dreamcut.media import ffmpeg_exe, read_frames
from dreamcut.render import effects as fx
from dreamcut.render.ffmpeg import plan_render, render_timeline
from dreamcut.spec import EffectsSpec

FPS, SIZE = 24, (320, 180)
BITS = 10
OFFSET = {"a": 0, "b": 512}   # take b's numbers start at 512, so its frames are told from a's


def write_counter_take(path, seconds: float, offset: int) -> None:
    """A lossless take whose frame n shows n + offset in binary: block k (32 px wide) is white when bit k is set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lum = f"if(mod(floor((N+{offset})/pow(2\\,floor(X/32)))\\,2)\\,235\\,16)"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=black:s={SIZE[0]}x{SIZE[1]}:r={FPS}:d={seconds}",
                    "-vf", f"format=gray,geq=lum='{lum}',format=yuv420p",
                    "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(path)], check=True)


def source_numbers(video) -> list[int]:
    """The source frame number each frame of `video` shows."""
    out = []
    for _, frame in read_frames(video):
        row = frame[SIZE[1] // 2].astype(np.float32).mean(axis=1)
        bits = [row[32 * k + 16] > 128 for k in range(BITS)]
        out.append(sum(1 << k for k, b in enumerate(bits) if b))
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("ramp")
    write_counter_take(root / "takes" / "a.mp4", 10.0, OFFSET["a"])
    write_counter_take(root / "takes" / "b.mp4", 10.0, OFFSET["b"])
    write_counter_take(root / "takes" / "short.mp4", 5.0, OFFSET["a"])
    write_song(root / "song.wav", 10.0)
    return root


def edit(clips: list[tuple[str, int, int]]) -> otio.schema.Timeline:
    """V1 of (take, in frame, record frames) cut back to back over song.wav."""
    timeline = otio.schema.Timeline(name="ramp test")
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for take, source_in, record in clips:
        video.append(tl.make_clip(take=take, media=f"takes/{take}.mp4", source_in=source_in, record=record, fps=FPS))
    total = sum(r for *_, r in clips)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(name="song", media_reference=otio.schema.ExternalReference(target_url="song.wav"),
                                  source_range=otio.opentime.TimeRange(tl.rt(0, FPS), tl.rt(total, FPS))))
    timeline.tracks.append(video)
    timeline.tracks.append(audio)
    timeline.metadata["dreamcut"] = {"version": tl.VERSION, "song": "song.wav", "fps": FPS, "size": list(SIZE)}
    return timeline


def song(chorus_at: float = 4.0) -> SongAnalysis:
    """120 bpm in 4/4 (a beat is 12 frames, a bar 48): an intro, then a chorus from `chorus_at`."""
    beats = [round(0.5 * i, 3) for i in range(20)]
    downbeats = [b for b in beats if round((b - chorus_at) / 0.5) % 4 == 0]
    return SongAnalysis(duration=10.0, sample_rate=22050, tempo=120.0, beats=beats, downbeats=downbeats,
                        beats_per_bar=4, sections=[Section(0.0, chorus_at, "intro"), Section(chorus_at, 10.0, "chorus")])


RAMP_ON_CHORUS = EffectsSpec(sections={"chorus": {"ramp": 1.0}})


def test_a_rush_into_a_downbeat_inside_a_clip_snaps_back_on_the_downbeat_frame(project):
    """The chorus downbeat (4.0 s, frame 96) falls inside clip a: two beats before it the clip
    speeds up from 1x to 3x, and from frame 96 on it plays one source frame per frame again."""
    timeline = edit([("a", 24, 120), ("b", 10, 72)])
    ramps, notes = fx.timeline_ramps(timeline, RAMP_ON_CHORUS, song(), FPS, project)
    assert notes == []
    assert [(r.clip, r.downbeat, r.frames, r.peak) for r in ramps] == [("a", 96, 24, 3.0)]
    out = project / "rush.mp4"
    render_timeline(timeline, project, out, size=SIZE, fps=FPS, crf=12, ramps=ramps)
    shown = source_numbers(out)
    assert len(shown) == 192                                        # the edit's length holds
    assert shown[:73] == [24 + k for k in range(73)]                # 1x up to the ramp
    assert shown[96:120] == [48 + k for k in range(96, 120)]        # 1x again from the downbeat, 24 frames on
    steps = np.diff(shown[72:97])
    assert steps.min() >= 1 and steps[-1] >= 2                      # the last step into the downbeat is fast
    assert np.all(np.diff(steps) >= -1)                             # and the speed climbs through the ramp
    assert shown[97] - shown[96] == 1                               # the snap lands on frame 96 itself
    assert shown[120:] == [512 + 10 + k for k in range(72)]         # the next clip is untouched


def test_a_rush_into_a_cut_accelerates_the_outgoing_clip_to_the_cut(project):
    """The downbeat at 5.0 s (frame 120) is the cut: clip a ends on its fastest frames, b starts at 1x on it."""
    timeline = edit([("a", 24, 120), ("b", 10, 72)])
    ramps, notes = fx.timeline_ramps(timeline, RAMP_ON_CHORUS, song(chorus_at=5.0), FPS, project)
    assert notes == [] and [(r.downbeat, r.frames) for r in ramps] == [(120, 24)]
    out = project / "rush_cut.mp4"
    render_timeline(timeline, project, out, size=SIZE, fps=FPS, crf=12, ramps=ramps)
    shown = source_numbers(out)
    assert shown[:97] == [24 + k for k in range(97)]
    assert shown[119] - shown[118] >= 2 and shown[119] <= 24 + 120 + 24      # fast up to the cut, within its read
    assert shown[120:] == [512 + 10 + k for k in range(72)]                   # b on the downbeat, at 1x


def test_a_slow_ramp_reads_less_and_still_lands_on_the_downbeat(project):
    timeline = edit([("a", 24, 120), ("b", 10, 72)])
    ramps, _ = fx.timeline_ramps(timeline, EffectsSpec(ramp_style="slow", sections={"chorus": {"ramp": 1.0}}),
                                 song(), FPS, project)
    assert [(r.downbeat, r.peak) for r in ramps] == [(96, pytest.approx(1 - 16 / 24))]   # 0.3x, whole frames
    out = project / "slow.mp4"
    render_timeline(timeline, project, out, size=SIZE, fps=FPS, crf=12, ramps=ramps)
    shown = source_numbers(out)
    late = round(ramps[0].extra)                                    # negative: the slow ramp reads fewer frames
    assert late < 0
    assert shown[96:120] == [24 + late + k for k in range(96, 120)]
    assert np.diff(shown[84:97]).min() == 0                         # frames repeat in the slowest part


def test_no_room_in_the_take_lowers_the_peak_or_drops_the_ramp_and_says_so(project):
    """The short take (120 frames) holds 120 - (20 + 92) - 1 = 7 frames after the clip: the ramp peaks lower.
    With 2 frames it would not move the speed by a quarter: no ramp, said."""
    lowered, notes = fx.timeline_ramps(edit([("short", 20, 92), ("b", 10, 72)]), RAMP_ON_CHORUS,
                                       song(chorus_at=3.5), FPS, project)
    assert [r.peak for r in lowered] == [pytest.approx(1 + 2 * 7 / 24)]
    assert len(notes) == 1 and "peaks at 1.58x, not 3.00x" in notes[0] and "take short holds only 7 frames" in notes[0]
    out = project / "short.mp4"
    render_timeline(edit([("short", 20, 92), ("b", 10, 72)]), project, out, size=SIZE, fps=FPS, crf=12, ramps=lowered)
    shown = source_numbers(out)
    assert max(shown[:92]) <= 119                                   # never past the take's last frame
    assert shown[84:92] == [20 + 7 + k for k in range(84, 92)]

    dropped, notes = fx.timeline_ramps(edit([("short", 24, 93), ("b", 10, 72)]), RAMP_ON_CHORUS,
                                       song(chorus_at=3.5), FPS, project)
    assert dropped == []
    assert notes == ["no ramp: the ramp into the chorus downbeat at 3.50 s (frame 84): take short holds 2 frames "
                     "after clip short and the ramp would read 24 more"]


def test_ramp_decisions_are_pure_and_said():
    items = tl.items(edit([("a", 24, 90), ("b", 10, 72)]), FPS)
    # a downbeat 4 frames into clip b: too short for a ramp
    ramps, notes = fx.plan_ramps(items, [(94, 3.917, 1.0, "chorus")], {0: 100.0, 90: 100.0}, fps=FPS, beat_frames=12)
    assert ramps == [] and notes == ["no ramp: the ramp into the chorus downbeat at 3.92 s (frame 94): clip b starts "
                                     "4 frames before it (a ramp needs 6)"]
    zoomed = edit([("a", 24, 90), ("b", 10, 72)])
    tl.video_track(zoomed).insert(1, tl.make_transition("zoom", 6, 6, FPS))
    ramps, notes = fx.plan_ramps(tl.items(zoomed, FPS), [(88, 3.667, 1.0, "chorus")], {0: 100.0}, fps=FPS,
                                 beat_frames=12)
    assert ramps == [] and notes == ["no ramp: the ramp into the chorus downbeat at 3.67 s (frame 88) meets the "
                                     "zoom-through after clip a, which is drawn frame by frame"]
    ramps, notes = fx.plan_ramps(items, [(84, 3.5, 0.5, "chorus")], {0: 100.0}, fps=FPS, beat_frames=12)
    assert notes == [] and [(r.start, r.frames, r.peak, r.extra) for r in ramps] == [(60, 24, 2.0, 12.0)]
    assert [round(ramps[0].speed_at(f), 3) for f in (59, 60, 72, 83, 84)] == [1.0, 1.0, 1.5, 1.958, 1.0]


def test_ramps_reach_the_nle_exports_as_markers(project, tmp_path):
    from dreamcut.nle.export import export_all

    timeline = edit([("a", 24, 120), ("b", 10, 72)])
    ramps, _ = fx.timeline_ramps(timeline, RAMP_ON_CHORUS, song(), FPS, project)
    written = export_all(fx.with_markers(timeline, [], FPS, ramps), project, tmp_path / "exports", bundle=False)
    back = otio.adapters.read_from_file(str(written["otio"]))
    (m,) = tl.video_track(back).markers
    assert m.marked_range.start_time.to_frames() == 72 and m.marked_range.duration.to_frames() == 24
    assert [list(k) for k in m.metadata["dreamcut"]["ramp"]["keyframes"]] == [[72, 1.0], [96, 3.0], [96, 1.0]]
    assert "fx ramp 1.00x to 3.00x into downbeat" in written["premiere"].read_text(encoding="utf-8")
    assert "* LOC: 00:00:03:00 PURPLE fx ramp 1.00x to 3.00x into downbeat" in written["edl"].read_text(encoding="utf-8")
    assert plan_render(timeline, FPS, ramps).total_frames == plan_render(timeline, FPS).total_frames


def test_dreamcut_render_ramps_into_the_chorus_and_export_marks_it(project, tmp_path):
    """The CLI path: `effects: {sections: {chorus: {ramp: 1}}}` with the song map's chorus at 4 s ->
    `dreamcut render` lands the ramp on frame 96 of the master, `dreamcut export` marks it."""
    import os
    import shutil
    import sys

    from conftest import REPO

    root = tmp_path / "p"
    shutil.copytree(project / "takes", root / "takes")
    shutil.copy(project / "song.wav", root / "song.wav")
    (root / "dreamcut.yaml").write_text(
        "title: ramp\nsong:\n  file: song.wav\n  bpm: 120\n  downbeat: 0.0\n  meter: 4\n"
        "  sections:\n    - {name: intro, start: 0}\n    - {name: chorus, start: 4}\n"
        f"fps: {FPS}\ntakes_per_shot: 1\nrender:\n  master: {SIZE[0]}x{SIZE[1]}\n  resolution: {SIZE[0]}x{SIZE[1]}\n"
        "effects:\n  sections:\n    chorus: {ramp: 1.0}\n"
        "shots:\n  - id: a\n    prompt: a counter\n  - id: b\n    prompt: another counter\n", encoding="utf-8")
    tl.write_timeline(edit([("a", 24, 120), ("b", 10, 72)]), root / "edits" / "cut.otio")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for command in ("render", "export"):
        proc = subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), command], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    (master,) = sorted((root / "renders").glob("*.mp4"))
    shown = source_numbers(master)
    assert shown[:73] == [24 + k for k in range(73)] and shown[96:120] == [48 + k for k in range(96, 120)]
    edl = (root / "exports" / "cut.edl").read_text(encoding="utf-8")
    assert edl.count("fx ramp") == 1 and "* LOC: 00:00:03:00 PURPLE" in edl

    # A take with no frames after the clip: the render draws no ramp and says why.
    tl.write_timeline(edit([("short", 19, 100), ("b", 10, 92)]), root / "edits" / "cut.otio")
    proc = subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), "render"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    said = " ".join((proc.stdout + proc.stderr).split())
    assert ("effects: no ramp: the ramp into the chorus downbeat at 4.00 s (frame 96): take short holds 0 frames "
            "after clip short") in said
    assert source_numbers(master)[90:100] == list(range(19 + 90, 19 + 100))   # 1x throughout
