"""Hostile shot lists: bounded parsing, and `generate` refusing exactly what `check` refuses,
before a single paid create leaves the machine (checked against the Luma simulator)."""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc

import pytest

from _luma_project import luma_env, luma_project, source_env
from conftest import hear_song_once
from dreamcut.errors import BadInput
from dreamcut.spec import parse_spec_text
from simulators.luma import LumaSim

HEAD = "title: t\nsong: song.wav\nbackend: luma:ray-flash-2\ntake_seconds: 5\nbudget_usd: 100\n"
SHOTS = "shots:\n  - id: s1\n    prompt: a lighthouse at dusk\n  - id: s2\n    prompt: waves on rocks\n"


def billion_laughs() -> str:
    lines = ['lol0: &l0 "lol"']
    for i in range(1, 10):
        lines.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return HEAD + "\n".join(lines) + "\n" + SHOTS


HOSTILE = {
    "nan price": (HEAD.replace("budget_usd: 100\n", "budget_usd: 100\nprices: {'luma:ray-flash-2': .nan}\n") + SHOTS,
                  "finite number"),
    "inf budget": (HEAD.replace("budget_usd: 100", "budget_usd: .inf") + SHOTS, "finite number"),
    "aspect 999:1": (HEAD + "aspect: '999:1'\n" + SHOTS, "wider or taller than 4:1"),
    "duplicate key": (HEAD + "title: again\n" + SHOTS, "given twice, on lines 1 and 6"),
    "recursive alias": (HEAD + "x: &a [*a]\n" + SHOTS, "recursive alias"),
    "recursive prompt": (HEAD + "shots: &s\n  - id: s1\n    prompt: *s\n", "recursive alias"),
    "deep nesting": (HEAD + "shots: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
    "billion laughs": (billion_laughs(), "expands to more than"),
    "segment after the take's end": (HEAD + "shots:\n  - id: s1\n    prompt:\n      - text: dawn\n"
                                     "      - text: noon\n        at: 9\n  - id: s2\n    prompt: waves\n", "s1"),
    "missing ref": (HEAD + SHOTS.replace("    prompt: waves on rocks\n",
                                         "    prompt: waves on rocks\n    refs: [refs/nope.png]\n"), "does not exist"),
    # Pins checked against the song map (6 s long, no chorus#99): the same check in both commands.
    "pin to a section the song lacks": (HEAD + SHOTS.replace("    prompt: waves on rocks\n",
                                                             "    prompt: waves on rocks\n    place: {section: chorus#99}\n"),
                                        "does not have"),
    "pin past the song's end": (HEAD + SHOTS.replace("    prompt: waves on rocks\n",
                                                     "    prompt: waves on rocks\n    place: {second: 1e308}\n"),
                                "but the song is 6.00 s long"),
    "ref not an image": (HEAD + SHOTS.replace("    prompt: waves on rocks\n",
                                              "    prompt: waves on rocks\n    refs: [refs/fake.png]\n"),
                         "not a readable picture"),
}


def test_billion_laughs_fails_fast_and_small():
    text = billion_laughs()
    tracemalloc.start()
    cpu = time.process_time()
    with pytest.raises(BadInput) as e:
        parse_spec_text(text)
    cpu = time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "expands to more than" in e.value.message
    assert cpu < 2.0 and peak < 200e6, (cpu, peak)


def test_billion_laughs_check_process_stays_small(tmp_path):
    root = luma_project(tmp_path / "p")
    (root / "dreamcut.yaml").write_text(billion_laughs())
    # A forked child's peak RSS starts from its parent's (a long pytest run holds over 1 GB), so the
    # `check` is started by a small fresh Python that reports that one child's own peak.
    measure = ("import os, subprocess, sys\n"
               "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
               "_, status, usage = os.wait4(p.pid, 0)\n"
               "sys.stderr.write(p.stderr.read())\n"
               "print(usage.ru_maxrss)\n"
               "sys.exit(os.waitstatus_to_exitcode(status))\n")
    proc = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "dreamcut", "-p", str(root), "check"],
                          env=source_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "expands to more than" in proc.stderr
    assert int(proc.stdout.strip()) < 200 * 1024  # KiB on Linux


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_check_and_generate_refuse_alike_before_any_create(name, tmp_path):
    text, expected = HOSTILE[name]
    root = hear_song_once(luma_project(tmp_path / "p"))  # the subject is the spec, not the song: heard once a session
    (root / "refs").mkdir()
    (root / "refs" / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 10)
    (root / "dreamcut.yaml").write_text(text)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    with LumaSim(key="luma-secret-0123456789abcdef") as server:
        env = luma_env(server)
        results = {cmd: subprocess.run([sys.executable, "-m", "dreamcut", "-p", str(root), cmd], env=env,
                                       capture_output=True, text=True, timeout=120) for cmd in ("check", "generate")}
        creates = len(server.calls("create"))
    for cmd, proc in results.items():
        assert proc.returncode == 2, (cmd, proc.stdout, proc.stderr)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in proc.stderr, (cmd, lines)
        said = " ".join((lines[0] + " " + proc.stdout).split())  # rich wraps long lines at the terminal width
        assert expected in said, (cmd, lines, proc.stdout[-800:])
    assert creates == 0
    after = sorted(p.relative_to(root) for p in root.rglob("*") if ".dreamcut" not in p.parts)
    assert after == [p for p in before if ".dreamcut" not in p.parts]
