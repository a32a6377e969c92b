"""Pacing: cut density per section, phrase alignment, a shot supplying several cuts,
and the spec's song corrections followed exactly by the edit."""

from __future__ import annotations

import numpy as np
import opentimelineio as otio
import pytest

from dreamcut.analysis.audio import SongAnalysis, apply_corrections
from dreamcut.edit.planner import plan_edit
from dreamcut.errors import BadInput
from dreamcut.spec import SongSpec
from test_planner import FPS, grid_song, shots_for

# ~175 s at 140 bpm: 102 bars of 4/4
ROCK = (("intro", 8), ("verse", 16), ("chorus", 12), ("verse", 16), ("chorus", 12), ("bridge", 8),
        ("chorus", 16), ("outro", 14))


def rock_song() -> SongAnalysis:
    song = grid_song(bpm=140.0, sections=ROCK, jitter=0.004, seed=3)
    # louder choruses, as a real song has
    t = np.arange(0, song.duration, 0.1)
    e = np.full(len(t), 0.5)
    for s in song.sections:
        if s.label == "chorus":
            e[(t >= s.start) & (t < s.end)] = 0.9
    song.energy_times, song.energy = [float(x) for x in t], [float(x) for x in e]
    return song


def paced(song, shots, pacing):
    return plan_edit(song, shots, fps=FPS, size=(320, 180), title="T", song_media="song.wav", pacing=pacing)


def cuts_by_section(tl, song):
    clips = [c for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]
    bar = 4 * 60.0 / 140.0
    out = []
    for c in clips:
        m = c.metadata["dreamcut"]
        a, b = m["record_start"], m["record_end"]
        sec = song.section_at(a + 0.01)[1]
        out.append((sec.label, (b - a) / bar, m))
    return out, clips


def test_auto_pacing_rock_song_175s_10_shots():
    song = rock_song()
    assert 170 < song.duration < 180
    shots = shots_for([16.0] * 10)
    tl = paced(song, shots, "auto")
    rows, clips = cuts_by_section(tl, song)
    assert len(clips) > 10  # shots supply several cuts each
    # every slot inside one section (a slot never straddles a boundary by more than a beat)
    for label, bars, m in rows:
        if label == "chorus":
            assert bars <= 4.05, (label, bars, m["reason"])
        if label == "verse":
            assert bars <= 8.05, (label, bars, m["reason"])
    verse_slots = [bars for label, bars, _ in rows if label == "verse"]
    chorus_slots = [bars for label, bars, _ in rows if label == "chorus"]
    assert np.mean(verse_slots) > np.mean(chorus_slots)  # calmer verses
    cuts = [m for _, _, m in rows if m["record_start"] > 0]
    on_phrase = [m for m in cuts if m["phrase"] in (4, 8) and m["beat_in_bar"] == 1]
    assert len(on_phrase) >= 0.9 * len(cuts), [(m["bar"], m["section"]) for m in cuts if m not in on_phrase]
    # every shot used, in order; repeated uses take different in-points
    shot_order = [m["shot"] for _, _, m in rows]
    assert sorted(set(shot_order)) == [s.shot_id for s in shots]
    assert shot_order == sorted(shot_order)
    for sid in set(shot_order):
        ins = [c.source_range.start_time.value for c in clips if c.metadata["dreamcut"]["shot"] == sid]
        assert len(set(ins)) == len(ins)
    # every cut exactly on a beat frame
    beat_frames = {int(round(b * FPS)) for b in song.beats}
    assert all(m["record_start_frame"] in beat_frames for m in cuts)


def test_pacing_per_section_numbers():
    song = rock_song()
    tl = paced(song, shots_for([12.0] * 10), {"chorus": 2, "default": 8})
    rows, _ = cuts_by_section(tl, song)
    assert max(b for lab, b, _ in rows if lab == "chorus") <= 2.05
    assert any(abs(b - 8) < 0.05 for lab, b, _ in rows if lab == "verse")


def test_corrections_are_followed_exactly():
    song = rock_song()
    fix = SongSpec(file="song.wav", bpm=138.0, downbeat=0.5, meter=4,
                   sections=[{"name": "intro", "start": 0}, {"name": "verse", "bar": 5},
                             {"name": "chorus", "start": 60.0}, {"name": "outro", "bar": 80}])
    fixed = apply_corrections(song, fix)
    period = 60.0 / 138.0
    assert fixed.downbeats[0] == pytest.approx(0.5, abs=1e-4)
    assert np.allclose(np.diff(fixed.beats), period, atol=2e-4)
    assert [s.label for s in fixed.sections] == ["intro", "verse", "chorus", "outro"]
    assert fixed.sections[1].start == pytest.approx(fixed.downbeats[4], abs=1e-4)
    assert fixed.sections[2].start == 60.0
    assert set(fixed.corrected) >= {"tempo", "downbeat", "meter", "sections"}
    tl = plan_edit(fixed, shots_for([12.0] * 10), fps=FPS, size=(320, 180), title="T", song_media="song.wav",
                   pacing="auto")
    frames = {int(round(b * FPS)) for b in fixed.beats}
    starts = [c.metadata["dreamcut"]["record_start_frame"] for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]
    assert all(f in frames for f in starts[1:])
    # the corrected section starts are cuts
    for s in fixed.sections[1:]:
        assert int(round(fixed.beats[fixed.nearest_beat(s.start)] * FPS)) in starts
    with pytest.raises(BadInput, match="bar 500"):
        apply_corrections(song, SongSpec(file="song.wav", sections=[{"name": "verse", "bar": 500}]))


def test_weak_pulse_is_said_and_cuts_keep_to_phrases():
    from dreamcut.edit.planner import degraded

    song = rock_song()
    song.pulse = 0.1
    tl = paced(song, shots_for([20.0] * 10), None)  # takes that can span whole phrases
    lines = degraded(tl)
    assert any(line.startswith("weak pulse") for line in lines)
    clips = [c for c in tl.tracks[0] if isinstance(c, otio.schema.Clip)]
    cuts = [c.metadata["dreamcut"] for c in clips[1:]]
    assert all(m["beat_in_bar"] == 1 and m["phrase"] in (4, 8) for m in cuts), [(m["bar"], m["phrase"]) for m in cuts]
    # the director's tempo settles it: no warning once the spec gives the bpm
    fixed = apply_corrections(song, SongSpec(file="song.wav", bpm=140.0))
    assert not any(line.startswith("weak pulse") for line in degraded(paced(fixed, shots_for([20.0] * 10), None)))
