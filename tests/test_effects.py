"""Beat-synced effects: onsets found on a click track, effects landing on their frames in the render, off by default."""

from __future__ import annotations

import hashlib

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from dreamcut import spec as spec_mod
from dreamcut.analysis.audio import LABELS, SongAnalysis
from dreamcut.errors import BadInput
from dreamcut.media import read_frames
from dreamcut.render import effects as fx
from dreamcut.render.ffmpeg import build_filtergraph, plan_render, render_timeline
from finishing_kit import Cut, build_timeline, make_project

FPS, SIZE, SR = 24, (320, 180), 22050
# Hits off the frame grid (a frame is 41.7 ms), alternating kick and snare.
HIT_TIMES = [0.31, 0.83, 1.27, 1.71, 2.18, 2.66, 3.09, 3.55, 4.02, 4.47]


def click_track(seconds: float = 5.0) -> np.ndarray:
    """A quiet harmonic pad with a 60 Hz kick on even hits and a noise snare on odd ones."""
    rng = np.random.default_rng(3)
    n = np.arange(int(SR * seconds))
    y = (0.05 * np.sin(2 * np.pi * 220 * n / SR)).astype(np.float32)
    for i, t in enumerate(HIT_TIMES):
        s, k = int(round(t * SR)), np.arange(int(0.25 * SR))
        if i % 2 == 0:
            y[s:s + k.size] += 0.8 * np.sin(2 * np.pi * 60 * k / SR) * np.exp(-k / (0.03 * SR))
        else:
            y[s:s + k.size] += 0.5 * rng.standard_normal(k.size) * np.exp(-k / (0.02 * SR))
    return y


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("fx") / "p", song_seconds=5.0)
    sf.write(root / "song.wav", click_track(), SR)
    return root


@pytest.fixture(scope="module")
def hits(project):
    return fx.song_hits(project / "song.wav", cache_dir=project / ".cache")


@pytest.fixture(scope="module")
def edit():
    cuts = [Cut("takes/s0/s0_t1.mp4", 0.5, 2.0), Cut("takes/s1/s1_t1.mp4", 0.5, 2.0), Cut("takes/s2/s2_t1.mp4", 0.5, 2.0)]
    return build_timeline(cuts, song="song.wav")


def test_onsets_of_a_click_track_are_found_at_their_times(hits, project):
    assert len(hits) == len(HIT_TIMES)
    for h, t, i in zip(hits, HIT_TIMES, range(len(HIT_TIMES))):
        assert abs(h.time - t) < 0.005, (h, t)            # far inside one frame (41.7 ms)
        assert h.kind == ("kick" if i % 2 == 0 else "snare"), h
    again = fx.song_hits(project / "song.wav", cache_dir=project / ".cache")   # from the cache
    assert again == hits


def _luma(path) -> np.ndarray:
    return np.array([f.astype(np.float32).mean() for _, f in read_frames(path)])


def _frames(path) -> list[np.ndarray]:
    return [f.astype(np.int16) for _, f in read_frames(path)]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    out, start = [], None
    for i, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = i
        if not m and start is not None:
            out.append((start, i - start))
            start = None
    return out


def _render(project, edit, name, cues):
    out = project / "renders" / name
    render_timeline(edit, project, out, size=SIZE, fps=FPS, crf=12,
                    effects=(lambda work: fx.filter_chain(cues, FPS, work)) if cues is not None else None)
    return out


def test_flashes_and_pulses_land_on_their_onset_frames(project, edit, hits):
    settings = spec_mod.EffectsSpec(flash=1.0, pulse=1.0)
    song = SongAnalysis(duration=5.0, sample_rate=SR, tempo=120.0, beats=[], downbeats=[], beats_per_bar=4)
    cues = fx.timeline_cues(edit, settings, song, hits, FPS)
    total = plan_render(edit, FPS).total_frames
    flashes = [c for c in cues if c.kind == "flash"]
    pulses = [c for c in cues if c.kind == "pulse"]
    assert len(flashes) == 5 and len(pulses) == 5    # snares flash, kicks pulse
    plain = _render(project, edit, "plain.mp4", None)
    only_flash = _render(project, edit, "flash.mp4", flashes)
    only_pulse = _render(project, edit, "pulse.mp4", pulses)

    # Flashes: the frames brighter than the plain render are exactly the flash windows, and each
    # window starts on the frame in which its hit (the click track's known time) sounds.
    brighter = _luma(only_flash) - _luma(plain)
    runs = _runs(brighter > 3.0)
    assert [start for start, _ in runs] == [int(t * FPS) for t in HIT_TIMES[1::2]]
    for (start, n), t in zip(runs, HIT_TIMES[1::2]):
        assert abs(start - t * FPS) < 1.0 and n >= min(2, total - start)
    assert len(brighter) == total

    # Pulses: the frames that differ are the pulse windows; in each, the picture is zoomed in
    # (the plain frame's centre, enlarged, matches it better than the plain frame itself).
    a, b = _frames(plain), _frames(only_pulse)
    diff = np.array([np.abs(x - y).mean() for x, y in zip(a, b)])
    runs = _runs(diff > 2.0)
    assert [start for start, _ in runs] == [int(t * FPS) for t in HIT_TIMES[0::2]]
    import cv2

    for start, _ in runs:
        h, w = SIZE[1], SIZE[0]
        best = min(np.linspace(1.0, 1.12, 13),
                   key=lambda z: np.abs(cv2.resize(a[start][int(h * (1 - 1 / z) / 2):h - int(h * (1 - 1 / z) / 2),
                                                            int(w * (1 - 1 / z) / 2):w - int(w * (1 - 1 / z) / 2)]
                                                   .astype(np.uint8), (w, h)).astype(np.int16) - b[start]).mean())
        assert best > 1.02, (start, best)


def test_effects_off_change_nothing(project, edit, hits):
    plan = plan_render(edit, FPS)
    assert build_filtergraph(plan, SIZE, [], post="") == build_filtergraph(plan, SIZE, [])
    song = SongAnalysis(duration=5.0, sample_rate=SR, tempo=120.0, beats=[], downbeats=[], beats_per_bar=4)
    assert fx.timeline_cues(edit, None, song, hits, FPS) == []
    assert fx.timeline_cues(edit, spec_mod.EffectsSpec(pulse=0, flash=0, shake=0), song, hits, FPS) == []
    assert fx.with_markers(edit, [], FPS) is edit
    before = _render(project, edit, "before.mp4", None)
    zero = _render(project, edit, "zero.mp4", [])
    digest = [hashlib.sha256(f.tobytes()).hexdigest() for f in _frames(before)]
    assert digest == [hashlib.sha256(f.tobytes()).hexdigest() for f in _frames(zero)]


def test_shake_and_section_energy_scale_the_amounts():
    song = SongAnalysis(duration=8.0, sample_rate=SR, tempo=120.0, beats=[], downbeats=[], beats_per_bar=4,
                        energy_times=list(np.arange(0, 8, 0.5)), energy=[0.2] * 8 + [1.0] * 8,
                        sections=[spec_section(0, 4, "verse"), spec_section(4, 8, "chorus")])
    hits = [fx.Hit(1.0, "kick", 1.0), fx.Hit(5.0, "kick", 1.0), fx.Hit(6.0, "snare", 0.2)]
    settings = spec_mod.EffectsSpec(pulse=0.5, shake=1.0, sections={"chorus": {"pulse": 1.0}})
    cues = fx.plan_effects(hits, song, settings.levels, fps=FPS, total_frames=8 * FPS)
    pulse = {c.frame: c.amount for c in cues if c.kind == "pulse"}
    assert pulse[24] < pulse[120]                    # the quiet verse pulses less than the loud chorus
    assert [c.frame for c in cues if c.kind == "shake"] == [24, 120]   # the strong hits, not the weak snare
    chain = fx.filter_chain(cues, FPS, (320, 180))
    assert chain.startswith("sendcmd=") and "crop@dcfx=w=320:h=180" in chain and "eq@" not in chain


def spec_section(start, end, label):
    from dreamcut.analysis.audio import Section

    return Section(start, end, label)


def test_a_section_the_song_lacks_is_refused_when_planned(edit, hits):
    song = SongAnalysis(duration=5.0, sample_rate=SR, tempo=120.0, beats=[], downbeats=[], beats_per_bar=4,
                        sections=[spec_section(0, 5, label) for label in LABELS[:1]])
    with pytest.raises(BadInput) as e:
        fx.timeline_cues(edit, spec_mod.EffectsSpec(pulse=0.5, sections={"chrous": {"pulse": 1}}), song, hits, FPS)
    assert "no section 'chrous'" in str(e.value) and "intro" in str(e.value)


BASE = "title: t\nsong: song.wav\nshots:\n  - id: a\n    prompt: p\n"


@pytest.mark.parametrize("effects, says", [
    ("effects:\n  pulse: 1.5\n", "effects.pulse"),
    ("effects:\n  zoom: 0.5\n", "effects.zoom: unknown field"),
    ("effects:\n  flash: loud\n", "effects.flash"),
    ("effects:\n  sections:\n    chorus#2:\n      pulse: 1\n", "a section name is a word"),
])
def test_bad_effect_values_are_refused_with_the_line(effects, says):
    with pytest.raises(BadInput) as e:
        spec_mod.parse_spec_text(BASE + effects)
    text = str(e.value)
    assert says in text and "dreamcut.yaml:7" in text, text


def test_effects_default_off_and_parse():
    assert spec_mod.parse_spec_text(BASE).effects is None
    s = spec_mod.parse_spec_text(BASE + "effects:\n  pulse: 0.6\n  sections:\n    chorus:\n      flash: 0.3\n")
    assert s.effects.active and s.effects.levels("chorus") == {"pulse": 0.6, "flash": 0.3, "shake": 0.0, "ramp": 0.0}
    assert s.effects.levels("verse") == {"pulse": 0.6, "flash": 0.0, "shake": 0.0, "ramp": 0.0}


def test_cues_become_markers_in_the_otio_premiere_and_edl_exports(project, edit, tmp_path):
    from dreamcut import timeline as tl
    from dreamcut.nle.export import export_all

    cues = [fx.Cue("pulse", 12, 6, 0.5, 0.5), fx.Cue("flash", 30, 4, 0.3, 1.25)]
    marked = fx.with_markers(edit, cues, FPS)
    assert not tl.video_track(edit).markers                        # the edit itself is untouched
    written = export_all(marked, project, tmp_path / "exports", bundle=False)
    back = otio.adapters.read_from_file(str(written["otio"]))
    ms = tl.video_track(back).markers
    assert [(m.name, m.marked_range.start_time.to_frames()) for m in ms] == [("fx pulse 0.50", 12), ("fx flash 0.30", 30)]
    xml = written["premiere"].read_text(encoding="utf-8")
    assert xml.count("<marker>") == 2 and "fx flash 0.30" in xml
    edl = written["edl"].read_text(encoding="utf-8")
    assert "* LOC: 00:00:00:12 ORANGE fx pulse 0.50" in edl and "* LOC: 00:00:01:06 YELLOW fx flash 0.30" in edl


def test_dreamcut_render_and_export_draw_and_mark_the_effects(tmp_path):
    """The CLI path: `effects:` in dreamcut.yaml -> `dreamcut render` flashes on the snares, `export` marks them."""
    import subprocess
    import sys

    from conftest import REPO
    from dreamcut import timeline as tl

    root = make_project(tmp_path / "p", song_seconds=5.0)
    sf.write(root / "song.wav", click_track(), SR)
    with open(root / "dreamcut.yaml", "a", encoding="utf-8") as f:
        f.write("effects:\n  flash: 1.0\n")
    cuts = [Cut("takes/s0/s0_t1.mp4", 0.5, 2.0), Cut("takes/s1/s1_t1.mp4", 0.5, 2.0), Cut("takes/s2/s2_t1.mp4", 0.5, 2.0)]
    edit = build_timeline(cuts, song="song.wav")
    tl.write_timeline(edit, root / "edits" / "cut.otio")
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO / "src")}
    for command in ("render", "export"):
        proc = subprocess.run([sys.executable, "-m", "dreamcut", "--project", str(root), command], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
    plain = root / "plain.mp4"
    render_timeline(edit, root, plain, size=SIZE, fps=FPS)
    brighter = _luma(root / "renders" / "final_320x180.mp4") - _luma(plain)
    assert [start for start, _ in _runs(brighter > 3.0)] == [int(t * FPS) for t in HIT_TIMES[1::2]]
    edl = (root / "exports" / "cut.edl").read_text(encoding="utf-8")
    assert edl.count("* LOC:") == 5 and edl.count("fx flash") == 5


def test_a_long_song_of_cues_runs_in_one_graph(tmp_path):
    """A minute of cues every 9 frames (160 of each kind, 3x a dense drum part): split so ffmpeg takes them all."""
    import subprocess

    from dreamcut.media import ffmpeg_exe

    frames = 60 * FPS
    cues = [fx.Cue(kind, f, 4, 0.8, f / FPS) for f in range(0, frames - 8, 9) for kind in ("pulse", "flash", "shake")]
    graph = tmp_path / "graph.txt"   # read from a file, as the renderer does (too long for one argument)
    graph.write_text(f"[0:v]{fx.filter_chain(fx._no_overlap(cues), FPS, (64, 36))}[v]", encoding="utf-8")
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                           f"color=c=gray:s=64x36:r={FPS}:d={frames / FPS}", "-/filter_complex", str(graph),
                           "-map", "[v]", "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-300:]
    luma = np.frombuffer(proc.stdout, np.uint8).reshape(-1, 36 * 64).mean(axis=1)
    assert len(luma) == frames
    flashed = luma > luma.min() + 5
    assert all(flashed[c.frame] for c in cues[:: 3]) and not flashed[5]   # every flash lands, none between
