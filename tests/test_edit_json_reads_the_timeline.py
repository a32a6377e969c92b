"""`dreamcut edit --json` reads clips through `dreamcut.timeline` (issue 14: one vocabulary of the edit).

The planner writes speed as an OTIO LinearTimeWarp, never as `metadata["dreamcut"]["speed"]`, so a
document built from the raw metadata says 1.0x for every retimed clip. The edit here is built with
`timeline.make_clip` / `make_transition`, the same writers the planner uses.
"""

from __future__ import annotations

import opentimelineio as otio

from dreamcut import timeline as tl
from dreamcut.cli.json_out import edit_document

FPS = 24


def _edit() -> otio.schema.Timeline:
    t = otio.schema.Timeline(name="retimed", metadata={"dreamcut": {"version": tl.VERSION, "fps": FPS}})
    v1 = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    v1.append(tl.make_clip(take="corridor-t02-bb11fd", shot="corridor", media="takes/corridor/a.mp4", source_in=6,
                           record=48, speed=0.85, fps=FPS, available=96, record_start=0.0, record_end=2.0,
                           record_start_frame=0, reason="first"))
    v1.append(tl.make_transition("dissolve", 6, 6, FPS, meta={"kind": "dissolve", "beats": 1.0, "frames": 12}))
    v1.append(tl.make_clip(take="field-t01-aa00aa", shot="field", media="takes/field/b.mp4", source_in=12,
                           record=72, fps=FPS, available=120, record_start=2.0, record_end=5.0,
                           record_start_frame=48, reason="second"))
    t.tracks.append(v1)
    return t


def test_edit_json_gives_each_clip_its_speed_and_entry():
    doc = edit_document(_edit(), cut_file="edits/cut.otio", song_seconds=5.0, tempo=120.0)
    cuts = [(c["take"], c["shot"], c["start"], c["speed"], c["entered_by"], c["transition_frames"]) for c in doc["cuts"]]
    assert cuts == [("corridor-t02-bb11fd", "corridor", 0.0, 0.85, "cut", None),
                    ("field-t01-aa00aa", "field", 2.0, 1.0, "dissolve", 12)]
