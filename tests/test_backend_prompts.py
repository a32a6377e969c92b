"""Each backend formats the request's fields in its own file, in its provider's documented form.

For every backend: the lead, each scene, the camera moves and the style reach the text in that
backend's form (Runway: camera first; Veo: "[00:00-00:04]" scene lines; the other cloud models:
"0–4 s:" lines and "Camera: ..."; local models: one paragraph, camera inline), and the text keeps
within the backend's `PROMPT_CHARS`, trimming style before scenes and never the scenes' first words.
A chained take's segments carry their own scenes (in segment seconds), not a spliced copy of the take's text.
"""

from __future__ import annotations

import importlib

import pytest

from dreamcut.backends.base import GenerationRequest, SceneSegment
from dreamcut.backends.registry import BACKENDS
from dreamcut.generate.cost import segment_request
from dreamcut.prompts import format_prompt, max_prompt_chars

STYLE = "shot on 35mm film, warm faded colour, visible film grain"
LEAD = "Two teenagers in denim jackets"


def request(**kw) -> GenerationRequest:
    base = dict(shot_id="s1", prompt="", seconds=8.0, width=1280, height=720, fps=24, seed=1, lead=LEAD, style=STYLE,
                segments=(SceneSegment(0, 4, "a red school corridor, lockers on both sides"),
                          SceneSegment(4, 8, "a football field at dusk, stadium lights flickering on")))
    base.update(kw)
    return GenerationRequest(**base)


def single(**kw) -> GenerationRequest:
    return request(lead="", segments=(SceneSegment(0, 8, "a crowded kitchen in 1995, kids at the table"),),
                   camera=("handheld camera", "the camera slowly pushes in"), **kw)


CLOUD_SECONDS = ("luma", "openai-videos", "fal", "replicate")


def test_every_backend_file_has_its_own_formatter_and_limit():
    for name, (module_name, _, _) in BACKENDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.format_prompt) and callable(module.prompt_draft), name
        assert max_prompt_chars(name) == module.PROMPT_CHARS > 0


@pytest.mark.parametrize("name", CLOUD_SECONDS + ("runway",))
def test_cloud_scenes_are_timed_lines_of_one_continuous_shot(name):
    text = format_prompt(name, request())
    assert text.startswith("One continuous shot with no cuts")
    assert f"{LEAD}." in text
    assert "0–4 s: A red school corridor, lockers on both sides." in text
    assert "4–8 s: A football field at dusk" in text
    assert text.index(LEAD) < text.index("0–4 s:") < text.index("4–8 s:") < text.index("Style: shot on 35mm film")
    assert text.endswith(f"Style: {STYLE}.")


def test_veo_writes_scene_times_as_timestamps():
    text = format_prompt("veo:veo-3.0-generate-001", request())
    assert "[00:00-00:04] A red school corridor" in text and "[00:04-00:08] A football field" in text
    assert "0–4 s" not in text and text.endswith(f"Style: {STYLE}.")


def test_runway_leads_with_the_camera_move_others_name_it_after_the_scene():
    runway = format_prompt("runway", single())
    assert runway.startswith("Handheld camera, the camera slowly pushes in: a crowded kitchen in 1995")
    for name in CLOUD_SECONDS + ("veo",):
        text = format_prompt(name, single())
        assert text.startswith("a crowded kitchen in 1995, kids at the table.")
        assert "Camera: handheld camera, slowly pushes in." in text and text.endswith(f"Style: {STYLE}.")


def test_local_models_read_one_paragraph_with_the_camera_inline():
    text = format_prompt("diffusers", request())
    assert text == (f"{LEAD}. a red school corridor, lockers on both sides. Then a football field at dusk, "
                    f"stadium lights flickering on. Style: {STYLE}.")
    one = format_prompt("diffusers", single())
    assert one == f"a crowded kitchen in 1995, kids at the table, handheld camera, the camera slowly pushes in. Style: {STYLE}."


def test_the_animatic_keeps_the_words_as_written():
    r = request(prompt="As the director wrote it. Style: grain.")
    assert format_prompt("animatic", r) == "As the director wrote it. Style: grain."


def test_a_plain_text_request_is_sent_as_written():
    plain = GenerationRequest(shot_id="api", prompt="a corridor, slow push in", seconds=4, width=64, height=64, fps=8,
                              seed=0)
    for name in BACKENDS:
        assert format_prompt(name, plain) == "a corridor, slow push in"


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_each_backend_keeps_within_its_limit_style_first_scene_starts_last(name):
    limit = max_prompt_chars(name)
    long_scene = ", ".join(f"detail number {i} of the place" for i in range(limit // 25))
    r = request(prompt="", style=STYLE + ", " + ", ".join(f"look {i}" for i in range(200)),
                segments=(SceneSegment(0, 4, "a red school corridor, " + long_scene),
                          SceneSegment(4, 8, "a football field at dusk, " + long_scene)))
    text = format_prompt(name, r)
    assert len(text) <= limit
    assert "red school corridor" in text and "football field at dusk" in text  # every scene keeps its start
    assert "look 199" not in text  # the style's last clauses went first
    assert "…" not in text  # whole clauses went; no cut was needed


def test_a_chained_segment_gets_its_own_scenes_in_its_own_seconds():
    r = request(seconds=16.0, segments=(SceneSegment(0, 6, "a red school corridor"),
                                        SceneSegment(6, 16, "a football field at dusk")))
    first, second = segment_request(r, 0.0, 8.0, "runway"), segment_request(r, 8.0, 8.0, "runway")
    assert [(s.start, s.end, s.text) for s in first.segments] == [(0, 6, "a red school corridor"),
                                                                 (6, 8, "a football field at dusk")]
    assert [(s.start, s.end, s.text) for s in second.segments] == [(0, 8, "a football field at dusk")]
    assert first.seconds == second.seconds == 8.0 and second.lead == LEAD and second.style == STYLE
    assert "This part" not in first.prompt + second.prompt
    assert "corridor" not in second.prompt and second.prompt == format_prompt("runway", second)
    assert "0–6 s: A red school corridor" in first.prompt and "6–8 s: A football field" in first.prompt
