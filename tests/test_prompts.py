"""Prompts: timed and natural segments, variants, per-backend formatting, checks, styles, the demo shot list."""

from __future__ import annotations

import re

import pytest

from dreamcut.demo.project import demo_spec_text, init_template, write_demo_project
from dreamcut.errors import BadInput
from dreamcut.generate.batch import plan_takes, request_for
from dreamcut.prompts import (alternative_errors, check_prompts, compose, expand,
                              format_for_backend, max_prompt_chars, parse_timed, shot_variant_count, split_natural,
                              variant_count)
from dreamcut.spec import ProjectSpec, RenderSpec, Segment, Shot, SongSpec, TransitionSpec, parse_spec_text
from dreamcut.styles import PRESETS, all_presets

BASE = """\
version: 1
title: Test
song: song.wav
take_seconds: 8
{extra}
shots:
{shots}
"""


def spec_of(shots: str, extra: str = "") -> ProjectSpec:
    return parse_spec_text(BASE.format(extra=extra, shots=shots))


def one_shot(prompt_yaml: str, extra: str = "", shot_extra: str = "") -> ProjectSpec:
    return spec_of(f"  - id: s1\n    prompt: {prompt_yaml}\n{shot_extra}", extra)


# -- timing styles ---------------------------------------------------------------------


def test_times_inside_the_text():
    lead, scenes = parse_timed("One take. [0-5s] a corridor, lockers [5–12 s] a classroom [12s] a field")
    assert lead == "One take."
    assert [(s.text, s.at, s.seconds) for s in scenes] == [
        ("a corridor, lockers", 0, 5), ("a classroom", 5, 7), ("a field", 12, None)]
    _, mm = parse_timed("[0:00-0:04] a porch [0:04 to 0:10] the stars")
    assert [(s.at, s.seconds) for s in mm] == [(0, 4), (4, 6)]
    assert parse_timed("a corridor [with brackets]") is None
    assert parse_timed("a photo labelled [1986] on the wall") is None  # a year, not a time


def test_compose_timed_text_gives_segments_in_take_seconds():
    spec = one_shot('"[0-3s] a red corridor [3-8s] a green field at dusk"')
    c = compose(spec, spec.shots[0])
    assert [(s.start, s.end, s.text) for s in c.segments] == [(0, 3, "a red corridor"), (3, 8, "a green field at dusk")]
    assert c.subject == "a red corridor Then a green field at dusk."


def test_yaml_segment_list_with_at_and_seconds_and_shares():
    spec = spec_of("""  - id: s1
    seconds: 10
    prompt:
      - {at: 0, seconds: 2, text: a corridor}
      - {text: a classroom}
      - {text: a field}
""")
    c = compose(spec, spec.shots[0])
    assert [(s.start, s.end) for s in c.segments] == [(0, 2), (2, 6), (6, 10)]  # untimed share what is left


def test_natural_phrasing_splits_into_equal_shares():
    reference = ("A continuous shot zooming down a 1980s high-school corridor, into a classroom, "
                 "and out onto a football field at dusk")
    assert split_natural(reference) == ["A continuous shot zooming down a 1980s high-school corridor",
                                        "Into a classroom", "Out onto a football field at dusk"]
    parts = split_natural("A kitchen at breakfast, then a wedding hall at night transitions into a porch at dawn, "
                          "and finally the stars over an empty field")
    assert parts == ["A kitchen at breakfast", "A wedding hall at night", "A porch at dawn",
                     "The stars over an empty field"]
    spec = one_shot('"a quiet kitchen at breakfast, then a wedding hall full of lights, and finally a porch at night"')
    c = compose(spec, spec.shots[0])
    assert len(c.segments) == 3
    assert [round(s.end - s.start, 6) for s in c.segments] == pytest.approx([8 / 3] * 3)


def test_action_words_are_not_scene_changes():
    assert split_natural("a boy turns then runs across the yard") == ["a boy turns then runs across the yard"]
    assert split_natural("a man waves, then smiles") == ["a man waves, then smiles"]  # too short to be a place
    assert split_natural("the porch light fades to black") == ["the porch light fades to black"]
    # Without a travelling camera, a comma before "into" is just a clause.
    assert len(split_natural("a girl in a red dress, into the light of the window")) == 1


# -- variants --------------------------------------------------------------------------


def test_variant_numbering_is_mixed_radix_first_group_fastest():
    text = "a {red|blue} car at {dawn|noon|dusk}"
    assert variant_count(text) == 6
    got = [expand(text, v) for v in range(6)]
    assert got == ["a red car at dawn", "a blue car at dawn", "a red car at noon", "a blue car at noon",
                   "a red car at dusk", "a blue car at dusk"]
    assert expand(text, 7) == expand(text, 1)  # modulo the number of variants
    assert expand("no groups", 5) == "no groups"


def test_variants_number_across_segments_and_style_without_changing_the_shot_digits():
    spec = one_shot('"[0-4s] a {red|blue} corridor [4-8s] a field at {dawn|dusk}"',
                    extra='style: "{grainy|clean} film"')
    shot = spec.shots[0]
    assert shot_variant_count(spec, shot) == 8
    c5 = compose(spec, shot, 5)
    assert [s.text for s in c5.segments] == ["a blue corridor", "a field at dawn"] and c5.style == "clean film"
    assert compose(spec, shot, 5) == c5  # same number, same text
    for v in range(8):
        assert expand("a {red|blue} corridor {dawn|dusk}", v).split()[1] == compose(spec, shot, v).segments[0].text.split()[1]


def test_alternative_syntax_errors():
    assert alternative_errors("a {red|blue} car") == []
    assert any("never closed" in e for e in alternative_errors("a {red|blue car"))
    assert any("closes no" in e for e in alternative_errors("a red|blue} car"))
    assert any("empty alternative" in e for e in alternative_errors("a {red|} car"))
    assert any("one alternative" in e for e in alternative_errors("a {red} car"))
    assert any("nested" in e for e in alternative_errors("a {red|{x|y}} car"))


# -- per-backend formatting ------------------------------------------------------------

LONG = ("[0-4s] A continuous zoom down a 1980s high-school corridor, red lockers on both sides, fluorescent lights, "
        "teenagers drifting past in slow motion [4-8s] out onto a football field at dusk, orange sky, stadium lights "
        "flickering on, the two of them walking along the yard lines")


def _multi():
    spec = one_shot(f'"{LONG}"', extra="style_preset: vintage-35mm-1980s\nstyle: \"vintage cinematic, film grain\"")
    return compose(spec, spec.shots[0])


def test_cloud_backends_get_timed_phrasing_local_ones_a_paragraph():
    c = _multi()
    runway = format_for_backend(c, "runway", 1000)
    assert "0–4 s: A continuous zoom" in runway and "4–8 s: Out onto a football field" in runway
    assert runway.startswith("One continuous shot")
    assert runway.index("0–4 s") < runway.index("4–8 s") < runway.index("Style:")
    veo = format_for_backend(c, "veo:veo-3.0-generate-001", 4000)
    assert "[00:00-00:04] A continuous zoom" in veo and "[00:04-00:08]" in veo
    local = format_for_backend(c, "diffusers", 1000)
    assert "Then out onto a football field" in local and "0–4 s" not in local
    assert format_for_backend(c, "animatic", 8000) == c.text


def _words_ok(out: str, source: str) -> bool:
    src = set(re.findall(r"[\w\-–:\[\]]+", source))
    return all(w in src for w in re.findall(r"[\w\-–:\[\]]+", out.replace("…", "")))


@pytest.mark.parametrize("limit", [900, 600, 400, 250, 120, 60])
def test_length_limits_trim_style_first_never_mid_word_never_the_subject(limit):
    c = _multi()
    full = format_for_backend(c, "runway", 10_000)
    out = format_for_backend(c, "runway", limit)
    assert len(out) <= limit
    assert _words_ok(out, full)  # only whole words of the full text
    assert "0–4 s: A continuous zoom" in out  # the first scene keeps its start and its subject, at every limit
    if limit >= 400:
        assert "4–8 s: Out onto a football field" in out  # every scene keeps its start
    if "Style:" in out:
        assert "film grain" not in out or limit >= len(full)  # style clauses go from the end first
    if limit >= 250:
        assert "Style:" not in out or "0–4 s" in out


def test_style_goes_before_scene_words():
    c = _multi()
    full = format_for_backend(c, "runway", 10_000)
    just_over = format_for_backend(c, "runway", len(full) - 20)
    assert "0–4 s" in just_over and "4–8 s" in just_over and "walking along the yard lines" in just_over
    assert len(just_over) < len(full)


def test_static_limits_table():
    assert max_prompt_chars("runway:gen4_turbo") == 1000
    assert max_prompt_chars("animatic") == 8000
    # every backend's file names its limit (`PROMPT_CHARS`); a name with no backend gets the spec's 8000
    assert {b: max_prompt_chars(b) for b in ("diffusers", "luma", "veo", "openai-videos", "fal", "replicate",
                                              "imported")} == {"diffusers": 1000, "luma": 2000, "veo": 4000,
                                                               "openai-videos": 4000, "fal": 2000, "replicate": 2000,
                                                               "imported": 8000}


def test_request_for_uses_the_backend_format_and_limit():
    spec = one_shot(f'"{LONG}"', extra="backend: runway:gen4_turbo\nstyle_preset: vintage-35mm-1980s")
    r = request_for(spec, spec.shots[0], 0)
    assert len(r.prompt) <= 1000 and "0–4 s:" in r.prompt
    assert r.caption is None and len(r.segments) == 2
    spec2 = one_shot(f'"{LONG}"')
    r2 = request_for(spec2, spec2.shots[0], 0)
    assert r2.prompt == compose(spec2, spec2.shots[0], 0).text and r2.caption.startswith("ANIMATIC")


# -- checks -------------------------------------------------------------------------


def problems(spec):
    return [(p.shot_id, p.severity, p.message) for p in check_prompts(spec)]


def test_checks_clean_spec_has_no_problems():
    assert check_prompts(one_shot('"a quiet porch at night"')) == []


def test_check_too_long_for_the_model_is_an_error():
    words = " ".join(f"word{i}" for i in range(250))
    found = problems(one_shot(f'"{words}"', extra="backend: runway:gen4_turbo"))
    assert any(s == "error" and "runway:gen4_turbo takes 1000" in m for _, s, m in found)
    assert problems(one_shot(f'"{words}"')) == []  # the animatic takes 8000


def test_check_style_that_must_be_trimmed_is_a_warning():
    body = " ".join(f"word{i}" for i in range(150))  # ~1000 chars with the style, under without
    spec = one_shot(f'"{body[:900]}"', extra="backend: runway:gen4_turbo\nstyle_preset: vintage-35mm-1980s")
    found = problems(spec)
    assert found and all(s == "warning" for _, s, _ in found) and "trimmed" in found[0][2]


def test_check_empty_segment_and_timing_overrun():
    found = problems(one_shot('"[0-4s] a corridor [4-12s] a field"'))
    assert any(s == "error" and "ends at 12 s, after the end of the 8 s take" in m for _, s, m in found)
    found = problems(one_shot('"[0-4s] a corridor [9s] a field"'))
    assert any("starts at 9 s" in m for _, _, m in found)
    found = problems(one_shot('"[0-4s] a corridor [3-6s] a field"'))
    assert any("before segment 1 ends" in m for _, _, m in found)
    found = problems(one_shot('"[0-4s] [4-8s] a field"'))
    assert any("segment 1 has no text" in m for _, _, m in found)
    found = problems(one_shot('"[0-4s] ... [4-8s] !!"'))
    assert any("empty after composition" in m for _, _, m in found)


def test_check_unknown_style_presets_and_brace_errors():
    found = problems(one_shot('"a porch"', extra="style_preset: no-such-look"))
    assert found[0][:2] == ("project", "error") and "no-such-look" in found[0][2]
    found = problems(one_shot('"a porch"', shot_extra="    style: nope\n"))
    assert any(sid == "s1" and "nope" in m for sid, _, m in found)
    found = problems(one_shot('"a {red|blue porch"'))
    assert any(s == "error" and "never closed" in m for _, s, m in found)
    found = problems(one_shot('"a {red|} porch"'))
    assert any("empty alternative" in m for _, _, m in found)


def test_check_warns_about_real_people_only_where_refused():
    prompt = '"Taylor Swift dancing in a 1980s kitchen"'
    found = problems(one_shot(prompt, extra="backend: openai-videos:sora-2"))
    assert [(s, "taylor swift" in m) for _, s, m in found] == [("warning", True)]
    assert problems(one_shot(prompt)) == []  # the animatic draws no one
    spec = one_shot(prompt, extra="backend: openai-videos:sora-2")
    assert "Taylor Swift" in request_for(spec, spec.shots[0], 0).prompt  # listed, never rewritten


def test_unknown_preset_in_compose_is_bad_input():
    spec = one_shot('"a porch"', extra="style_preset: no-such-look")
    with pytest.raises(BadInput):
        compose(spec, spec.shots[0])


# -- styles ------------------------------------------------------------------------


def test_shipped_presets_are_data_and_projects_add_their_own():
    assert {"vintage-35mm-1980s", "dreamlike-surreal", "documentary-handheld"} <= set(PRESETS)
    assert all(p.text and p.about and len(p.text) < 200 for p in PRESETS.values())
    spec = one_shot('"a porch"', extra='style_preset: mine\nstyles:\n  mine: "hand-painted watercolour"')
    assert all_presets(spec)["mine"].source == "project"
    assert compose(spec, spec.shots[0]).style == "hand-painted watercolour"


def test_styles_command_lists_shipped_and_project_presets(cli, tmp_path):
    (tmp_path / "dreamcut.yaml").write_text(BASE.format(extra='styles:\n  my-look: "pink neon haze"',
                                                        shots="  - id: a\n    prompt: a porch\n"))
    out = cli("--project", str(tmp_path), "styles", env={"COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert "vintage-35mm-1980s" in out.stdout and "my-look" in out.stdout
    one = cli("--project", str(tmp_path), "styles", "my-look")
    assert "pink neon haze" in one.stdout
    bad = cli("--project", str(tmp_path), "styles", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr


# -- the demo shot list and the init template -----------------------------------------


def test_demo_project_full_and_short(tmp_path):
    path = write_demo_project(tmp_path / "demo")
    spec = parse_spec_text(path.read_text())
    assert spec.song == "song.wav" and spec.backend == "animatic" and spec.fps == 24 and spec.budget_usd == 0
    assert spec.style_preset in PRESETS and "film grain" in spec.style
    assert spec.transition.kind == "zoom" and spec.takes_per_shot == 2
    assert 10 <= len(spec.shots) <= 14
    multi = [s for s in spec.shots if len(compose(spec, s).segments) > 1]
    assert len(multi) >= 2
    assert any(not isinstance(s.prompt, str) for s in multi)  # a YAML segment list
    assert any(isinstance(s.prompt, str) and parse_timed(s.prompt) for s in multi)  # [a-bs] markers
    assert check_prompts(spec) == []
    short = parse_spec_text(write_demo_project(tmp_path / "short", short=True).read_text())
    assert len(short.shots) == 3 and short.master_size == (320, 180) and short.final_size == (640, 360)
    assert sum(len(compose(short, s).segments) > 1 for s in short.shots) >= 2
    assert len(plan_takes(short)) == 3


def test_init_template_shows_every_field():
    text = init_template()
    spec = parse_spec_text(text)
    assert check_prompts(spec) == []
    yaml_key = {"song_map": "song"}  # the `song:` block's corrections are kept apart from the song's path
    for model in (ProjectSpec, Shot, RenderSpec, TransitionSpec, Segment, SongSpec):
        for name in model.model_fields:
            key = yaml_key.get(name, name)
            assert re.search(rf"\b{key}:", text), f"{model.__name__}.{name} is not shown in the init template"
    assert "#" in text and demo_spec_text().count("#") > 10


def test_single_scene_cloud_prompts_name_the_camera_move_the_providers_way():
    spec = one_shot('"A crowded kitchen in 1995, kids at the table, pancakes, handheld camera, '
                    'the camera slowly pushes in"', extra="style: warm film")
    c = compose(spec, spec.shots[0])
    runway = format_for_backend(c, "runway", 1000)
    assert runway.startswith("Handheld camera, the camera slowly pushes in: A crowded kitchen in 1995")
    veo = format_for_backend(c, "veo", 4000)
    assert veo.startswith("A crowded kitchen in 1995, kids at the table, pancakes.")
    assert "Camera: handheld camera, slowly pushes in." in veo and veo.endswith("Style: warm film.")
    assert format_for_backend(c, "diffusers", 1000).startswith(c.segments[0].text)  # local: as written
    # Camera words go before the subject's clauses when trimming, after the style.
    short = format_for_backend(c, "veo", len("A crowded kitchen in 1995, kids at the table, pancakes.") + 2)
    assert short == "A crowded kitchen in 1995, kids at the table, pancakes."


from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
_clause = st.lists(_word, min_size=1, max_size=8).map(" ".join)
_scene = st.lists(_clause, min_size=1, max_size=5).map(", ".join)


@settings(max_examples=60, deadline=None)
@example(scenes=["a, a aaaaaa, a a aaa aaaaaaaaaa aaaaaaaaaaaa aaaaaaaaaaaa aaaaaaaaaaaa",
                 "a, a a aaaaaaaaaaaa, a a aaaaaa aaaaaa aaaaaaaaa aaaaaaaaaa aaaaaaaaaaaa aaaaaaaaaaaa",
                 "a a a", "a a a a a aa aaaaaaaaaaa, a"], style="", backend="runway", limit=222)
@given(scenes=st.lists(_scene, min_size=1, max_size=4), style=st.lists(_clause, max_size=5).map(", ".join),
       backend=st.sampled_from(["runway", "veo", "luma", "openai-videos", "diffusers", "fal", "animatic"]),
       limit=st.integers(min_value=20, max_value=1200))
def test_formatting_property_fits_whole_words_and_keeps_each_scene_start(scenes, style, backend, limit):
    seconds = 12.0
    step = seconds / len(scenes)
    from dreamcut.backends.base import SceneSegment
    from dreamcut.prompts import ComposedPrompt

    segments = tuple(SceneSegment(i * step, (i + 1) * step, t) for i, t in enumerate(scenes))
    subject = " Then ".join(scenes) + "."
    composed = ComposedPrompt(text=f"{subject} Style: {style}." if style else subject, negative="",
                              segments=segments, variant=0, subject=subject, style=style, seconds=seconds)
    full = format_for_backend(composed, backend, 100_000)
    out = format_for_backend(composed, backend, limit)
    assert len(out) <= limit
    vocabulary = set(re.findall(r"[\w\-–:\[\]]+", full.lower()))
    assert set(re.findall(r"[\w\-–:\[\]]+", out.replace("…", "").lower())) <= vocabulary
    if len(out) == len(full):
        assert out == full
    # When there is room for every scene's first words, each scene keeps them (as words: a clause cut
    # after its fourth word ends in a full stop where the scene had a comma).
    firsts = [" ".join(s.split()[:4]) for s in scenes]
    if sum(len(f) + 16 for f in firsts) < limit // 2:
        said = re.findall(r"[\w\-]+", out.lower())
        for f in firsts:
            words = re.findall(r"[\w\-]+", f.lower())
            assert any(said[i:i + len(words)] == words for i in range(len(said))), (f, out)
