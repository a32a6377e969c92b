"""The shot list: validation with file:line errors, resolutions, backend names, versions."""

from __future__ import annotations

import pytest

from dreamcut.errors import BadInput
from dreamcut.spec import SPEC_VERSION, parse_resolution, parse_spec_text

BASE = """\
version: 1
title: Test
song: song.wav
shots:
  - id: a
    prompt: a corridor
"""


def test_minimal_spec_defaults():
    spec = parse_spec_text(BASE)
    assert spec.version == SPEC_VERSION
    assert spec.backend == "animatic"
    assert spec.final_size == (2048, 1152)
    assert spec.master_size == (1280, 720)


@pytest.mark.parametrize("text,aspect,size", [
    ("720p", "16:9", (1280, 720)), ("2k", "16:9", (2048, 1152)), ("1080p", "9:16", (1080, 1920)),
    ("640x360", "16:9", (640, 360)), ("4k", "16:9", (3840, 2160)), ("2k", "1:1", (2048, 2048)),
])
def test_resolutions(text, aspect, size):
    assert parse_resolution(text, aspect) == size


@pytest.mark.parametrize("patch,line,words", [
    ("backend: runwy\n", 4, ["backend", "unknown backend 'runwy'", "animatic"]),
    ("fps: 0\n", 4, ["fps", "greater than or equal to 1"]),
    ("budget_usd: -5\n", 4, ["budget_usd"]),
    ("render:\n  resolution: 9000x9000\n", 5, ["out of range"]),
    ("frobnicate: 1\n", 4, ["frobnicate", "unknown field"]),
])
def test_bad_top_level_fields_name_line_and_field(patch, line, words):
    with pytest.raises(BadInput) as e:
        parse_spec_text(BASE.replace("shots:", patch + "shots:"), "dreamcut.yaml")
    text = e.value.line()
    assert text.startswith(f"dreamcut.yaml:{line}") or f"dreamcut.yaml:{line}" in text
    for w in words:
        assert w in text
    assert e.value.exit_code == 2


def test_bad_shot_field_names_shot_id_and_line():
    text = BASE + "  - id: b\n    prompt: x\n    seconds: -2\n"
    with pytest.raises(BadInput) as e:
        parse_spec_text(text)
    assert "dreamcut.yaml:9" in e.value.line()
    assert "shots[1] (id: b).seconds" in e.value.line()


def test_yaml_syntax_error_has_line():
    with pytest.raises(BadInput) as e:
        parse_spec_text("title: x\nsong: [unclosed\nshots: []\n")
    assert "not valid YAML" in e.value.line()
    assert "dreamcut.yaml:" in e.value.line()


def test_duplicate_shot_ids_rejected():
    with pytest.raises(BadInput, match="used twice"):
        parse_spec_text(BASE + "  - id: a\n    prompt: again\n")


def test_huge_prompt_rejected():
    with pytest.raises(BadInput, match="characters"):
        parse_spec_text(BASE.replace("a corridor", "x" * 100_000))


def test_newer_version_refused():
    with pytest.raises(BadInput, match="newer dreamcut"):
        parse_spec_text(BASE.replace("version: 1", f"version: {SPEC_VERSION + 1}"))
