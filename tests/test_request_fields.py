"""The request keeps its structure: lead, scenes, style, camera and cast are fields of `GenerationRequest`.

Planning fills them from the spec; they survive the catalog's JSON; and adding them re-keys nothing
(neither the job key, which hashes the spec's inputs, nor the version-0 content key that
`migrate_job_keys` recomputes for older catalogs).
"""

from __future__ import annotations

import json
from dataclasses import replace

from dreamcut.backends.base import CastMember, GenerationRequest, SceneSegment
from dreamcut.generate.batch import plan_takes, request_for
from dreamcut.spec import parse_spec_text

SPEC = """\
version: 1
title: Test
song: song.wav
take_seconds: 8
backend: {backend}
style_preset: vintage-35mm-1980s
style: "film grain"
shots:
  - id: multi
    prompt: "Two teenagers in denim jackets. [0-3s] a red corridor, lockers [3-8s] a football field at dusk"
  - id: single
    prompt: "A crowded kitchen in 1995, kids at the table, handheld camera, the camera slowly pushes in"
"""


def _spec(backend: str = "runway:gen4_turbo"):
    return parse_spec_text(SPEC.format(backend=backend))


def test_planning_fills_the_structured_fields():
    spec = _spec()
    multi = request_for(spec, spec.shots[0], 0)
    assert multi.lead == "Two teenagers in denim jackets."
    assert [(s.start, s.end, s.text) for s in multi.segments] == [(0, 3, "a red corridor, lockers"),
                                                                  (3, 8, "a football field at dusk")]
    assert multi.style.endswith("film grain") and len(multi.style) > len("film grain")
    assert multi.camera == () and multi.cast == ()
    single = request_for(spec, spec.shots[1], 0)
    assert single.lead == ""
    assert [s.text for s in single.segments] == ["A crowded kitchen in 1995, kids at the table"]
    assert single.camera == ("handheld camera", "the camera slowly pushes in")
    # the words are not lost: the provider's text still carries subject, camera and style
    for words in ("A crowded kitchen in 1995", "handheld camera", "film grain"):
        assert words.lower() in single.prompt.lower()


def test_the_fields_survive_the_catalog_json():
    spec = _spec()
    r = replace(request_for(spec, spec.shots[1], 0),
                cast=(CastMember("Mara", "a girl of 16 in a yellow raincoat", ("/refs/mara.png",)),))
    back = GenerationRequest.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r
    assert back.cast[0].refs == ("/refs/mara.png",) and back.camera == r.camera


def test_a_row_written_before_the_fields_existed_still_loads():
    old = {"shot_id": "s1", "prompt": "a porch", "seconds": 2.0, "width": 64, "height": 64, "fps": 8, "seed": 3,
           "negative_prompt": "", "variant": 0, "segments": [{"start": 0.0, "end": 2.0, "text": "a porch"}],
           "refs": [], "preview": False, "preview_frames": 4, "caption": None, "options": []}
    r = GenerationRequest.from_dict(old)
    assert (r.lead, r.style, r.camera, r.cast) == ("", "", (), ())
    assert r.segments == (SceneSegment(0.0, 2.0, "a porch"),)


def test_adding_the_fields_rekeys_nothing():
    spec = _spec("animatic")
    for p in plan_takes(spec):
        bare = replace(p.request, lead="", style="", camera=(), cast=())
        assert bare != p.request  # the plan did fill something
        assert replace(p, request=bare).key == p.key  # the job key: the spec's inputs
        assert bare.key("animatic") == p.request.key("animatic")  # the version-0 content key
        cast = replace(p.request, cast=(CastMember("Mara"),))
        assert cast.key("animatic") == p.request.key("animatic")
