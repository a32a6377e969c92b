"""Fuzzing the shot list (hypothesis): whatever `dreamcut.yaml` says, `check` answers exit 0, or
exit 2 with one line; never exit 1, never a traceback, never a changed file.

Most examples call the check function itself in-process (`validate`, which `dreamcut check` and
`dreamcut generate` share); a few go through the real CLI process. Bounded and derandomized so
`make test` stays fast and repeatable."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _luma_project import source_env
from _takes import write_song
from dreamcut.errors import BadInput

UNEXPECTED = re.compile(r"unexpected [A-Z]\w+(Error|Exception)")  # the CLI's last-resort line for a crash
IDS = st.one_of(st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True), st.text(max_size=6))
ODD = st.sampled_from(["16:9", "9:16", "999:1", "1:999", "0:1", "720p", "4k", "99999x2", "animatic",
                       "luma:ray-2", "runway:gen4_turbo", "nope:x", "chorus", "chorus#99", "{a|b", "{a|b}", "",
                       "refs/missing.png", "song.wav", "../../etc/passwd", "\x00", "a" * 300])
NUMBERS = st.one_of(st.integers(-3, 40), st.sampled_from([0, -1, 10**9, 2**63, 1e308, -1e308, 1e-300]),
                    st.floats(allow_nan=True, allow_infinity=True, width=32))
SCALAR = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=20), ODD)
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


def mostly(valid, hostile):
    """Seven times in eight a sensible value, else a hostile one: so examples get past the first field."""
    return st.integers(0, 7).flatmap(lambda n: hostile if n == 0 else valid)


SECONDS = mostly(st.floats(0.5, 10), NUMBERS)
SEGMENT = st.fixed_dictionaries({"text": mostly(st.text(min_size=1, max_size=20), SCALAR)},
                                optional={"at": SECONDS, "seconds": SECONDS})
SHOT = st.fixed_dictionaries(
    {"id": mostly(st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True), IDS),
     "prompt": mostly(st.text(min_size=1, max_size=40) | st.lists(SEGMENT, min_size=1, max_size=3), VALUE)},
    optional={"seconds": SECONDS, "takes": st.integers(-1, 4), "backend": mostly(st.just("animatic"), ODD),
              "style": mostly(st.sampled_from(["noir", "anime"]), ODD), "negative": mostly(st.text(max_size=20), SCALAR),
              "refs": mostly(st.just([]), st.lists(ODD, max_size=2)),
              "transition": mostly(st.sampled_from(["cut", "dissolve", "dip"]), VALUE),
              "place": mostly(st.one_of(st.fixed_dictionaries({"bar": st.integers(1, 8)}),
                                        st.fixed_dictionaries({"section": st.sampled_from(["chorus", "verse#2",
                                                                                           "chorus#99"])}),
                                        st.fixed_dictionaries({"second": NUMBERS})),
                              st.fixed_dictionaries({}, optional={"section": ODD, "bar": NUMBERS, "beat": NUMBERS,
                                                                  "second": NUMBERS}))})
SPEC = st.fixed_dictionaries(
    {"title": mostly(st.text(min_size=1, max_size=20).filter(str.strip), SCALAR),
     "song": mostly(st.just("song.wav"), st.sampled_from(["nope.wav", "", "../song.wav"])),
     "shots": mostly(st.lists(SHOT, min_size=1, max_size=4), VALUE)},
    optional={"version": mostly(st.just(1), NUMBERS), "fps": mostly(st.integers(1, 60), NUMBERS),
              "aspect": mostly(st.sampled_from(["16:9", "9:16", "1:1", "21:9"]), ODD),
              "backend": mostly(st.just("animatic"), ODD), "budget_usd": mostly(st.floats(0, 100), NUMBERS),
              "takes_per_shot": st.integers(-1, 3), "take_seconds": SECONDS,
              "transition": mostly(st.sampled_from(["cut", "dissolve"]), VALUE),
              "prices": mostly(st.just({}), st.dictionaries(ODD, NUMBERS, max_size=2)),
              "style": mostly(st.text(max_size=30), ODD), "style_preset": ODD,
              "render": mostly(st.fixed_dictionaries({}, optional={"master": st.sampled_from(["360p", "128x72"]),
                                                                   "resolution": st.sampled_from(["480p", "256x144"])}),
                               st.fixed_dictionaries({}, optional={"master": ODD, "resolution": ODD,
                                                                   "crf": NUMBERS, "codec": ODD})),
              "styles": mostly(st.just({}), VALUE)})
BASE = ("title: fuzz\nsong: song.wav\ntake_seconds: 4\nshots:\n  - id: a\n    prompt: a lighthouse at dusk\n"
        "  - id: b\n    prompt: [{text: waves, seconds: 2}, {text: gulls}]\n")
SPLICE = st.sampled_from(["&x ", "*x", "[", "]", "{", "}", ": ", "\t", "- ", "!!python/object:os.system ", "\n  ",
                          "<<: *x", '"', "'", "#", ".nan", "1e999", "\ufeff", "? "])


def _as_text(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


def _mutated(data) -> str:
    pieces = data.draw(st.lists(st.tuples(st.integers(0, len(BASE)), st.integers(0, 6), SPLICE | st.text(max_size=4)),
                                min_size=1, max_size=4))
    text = BASE
    for at, cut, insert in pieces:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut:]
    return text


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "p"
    root.mkdir()
    write_song(root / "song.wav", seconds=4.0)
    (root / "dreamcut.yaml").write_text(BASE)
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "dreamcut.yaml"}


def _check_in_process(root: Path, text: str) -> None:
    from dreamcut.generate.validate import validate
    from dreamcut.project import Project

    (root / "dreamcut.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    before = _snapshot(root)
    try:
        validate(Project.open(root)).refuse()
    except BadInput as e:
        line = e.line()
        assert "\n" not in line and line.strip(), repr(line)
        assert "Traceback" not in line and not UNEXPECTED.search(line)
    assert _snapshot(root) == before


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(spec=SPEC)
def test_any_shot_list_is_answered_in_one_line(project, spec):
    try:
        text = _as_text(spec)
    except (yaml.YAMLError, UnicodeEncodeError):
        return
    _check_in_process(project, text)


@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mangled_shot_list_is_answered_in_one_line(project, data):
    try:
        text = _mutated(data)
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    _check_in_process(project, text)


@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_check_command_exits_0_or_2_with_one_line(project, data):
    import subprocess
    import sys

    if data.draw(st.booleans()):
        try:
            text = _as_text(data.draw(SPEC))
        except (yaml.YAMLError, UnicodeEncodeError):
            return
    else:
        text = _mutated(data)
    try:
        (project / "dreamcut.yaml").write_text(text, encoding="utf-8")
    except UnicodeEncodeError:
        return
    before = _snapshot(project)
    proc = subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(project), "check"], env=source_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 2), (text, proc.stderr)
    assert "Traceback" not in proc.stderr and not UNEXPECTED.search(proc.stderr)
    errors = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(errors) == (1 if proc.returncode == 2 else 0), proc.stderr
    assert _snapshot(project) == before
