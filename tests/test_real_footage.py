"""Real third-party footage with known cuts, imported and ranked like any take.

The clips (tests/data/clips/SOURCES.md: source, licence, cut lists labelled frame by frame) are
joined here with ffmpeg at known frames, faded from and to black, cut to black, dissolved, and
converted to 29.97 fps. They are imported into a 24 fps project (so every import converts the
frame rate) and ranked with `dreamcut rank --json`. Hard cuts are scored against the labels
(±0.1 s); PySceneDetect's ContentDetector runs on the same originals for comparison.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from _takes import write_song
from dreamcut.media import ffmpeg_exe

CLIPS = Path(__file__).parent / "data" / "clips"
BIKES_CUTS = [30, 76, 137, 187, 242]  # frames at 25 fps where a new shot starts (labelled by eye)
TOL = 0.1  # s


def _ff(out: Path, inputs: list[Path], graph: str) -> Path:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    for i in inputs:
        cmd += ["-i", str(i)]
    cmd += ["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
            "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, check=True)
    return out


def _vfr(out: Path, src: Path) -> Path:
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-vf",
           "setpts='if(lt(N,100),N/25,4+(N-100)/12.5)/TB'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset",
           "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, check=True)
    return out


def _remux(src: Path, out: Path) -> Path:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-c", "copy", str(out)],
                   check=True)
    return out


def _part(i: int, a: int, b: int, label: str) -> str:
    """Frames [a, b) of input i at 25 fps, 640x360 square pixels."""
    return (f"[{i}:v]fps=25,scale=640:360,setsar=1,trim=start_frame={a}:end_frame={b},"
            f"setpts=PTS-STARTPTS[{label}]")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """{name: (file, expected hard cuts in s, expected transitions in s)}."""
    d = tmp_path_factory.mktemp("footage")
    bikes, bunny = CLIPS / "bikes.mp4", CLIPS / "bigbuckbunny.mp4"
    cuts25 = [f / 25 for f in BIKES_CUTS]
    out = {
        "bikes": (bikes, cuts25, []),
        "bunny": (bunny, [], []),
        "bikes2997": (_ff(d / "bikes2997.mp4", [bikes], "[0:v]fps=30000/1001[v]"), cuts25, []),
        "joined": (_ff(d / "joined.mp4", [bunny, bikes, bunny],
                       ";".join([_part(0, 0, 50, "a"), _part(1, 80, 136, "b"), _part(2, 60, 110, "c"),
                                 "[a][b][c]concat=n=3:v=1[v]"])), [50 / 25, 106 / 25], []),
        # variable frame rate: the first 100 frames at 25 fps, the rest at 12.5 fps (each lasts 80 ms)
        "bikesvfr": (_vfr(d / "bikesvfr.mp4", bikes), [f / 25 if f < 100 else 4.0 + (f - 100) / 12.5
                                                       for f in BIKES_CUTS], []),
        # the same joins in a Matroska file, its muxer string left in
        "joinedmkv": (_remux(d / "joined.mp4", d / "joined.mkv"), [50 / 25, 106 / 25], []),
        "edgefades": (_ff(d / "edgefades.mp4", [bunny],
                          _part(0, 0, 125, "a") + ";[a]fade=t=in:st=0:d=0.6,fade=t=out:st=4.4:d=0.6[v]"), [], []),
        "blackgap": (_ff(d / "blackgap.mp4", [bunny, bunny],
                         ";".join([_part(0, 0, 50, "a"), _part(1, 62, 125, "b"),
                                   "color=black:s=640x360:r=25:d=0.48,setsar=1,format=yuv420p[k]",
                                   "[a][k][b]concat=n=3:v=1[v]"])), [50 / 25], []),
        "dissolve": (_ff(d / "dissolve.mp4", [bunny, bikes],
                         ";".join([_part(0, 0, 60, "a"), _part(1, 80, 136, "b"),
                                   "[a][b]xfade=transition=fade:duration=0.6:offset=1.8[v]"])), [], [1.8]),
    }
    return out


@pytest.fixture(scope="module")
def ranked(corpus, tmp_path_factory):
    from conftest import run_cli

    root = tmp_path_factory.mktemp("proj")
    write_song(root / "song.wav")
    spec = {"title": "Real footage", "song": "song.wav", "fps": 24, "take_seconds": 4.0,
            "render": {"master": "320x180", "resolution": "320x180"},
            "shots": [{"id": name, "prompt": "footage of a street and a meadow"} for name in corpus]}
    (root / "dreamcut.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    for name, (path, _, _) in corpus.items():
        run_cli("--project", str(root), "import", name, str(path), "--source", "camera", check=True)
    r = run_cli("--project", str(root), "rank", "--json", check=True)
    doc = json.loads(r.stdout)
    return {t["shot"]: t for t in doc["takes"]}, doc


def _match(found: list[float], expected: list[float]) -> tuple[int, int, int]:
    """(true positives, false positives, misses) with each label matched at most once."""
    left = list(expected)
    tp = 0
    for t in found:
        hit = next((e for e in left if abs(e - t) <= TOL), None)
        if hit is not None:
            left.remove(hit)
            tp += 1
    return tp, len(found) - tp, len(left)


def test_rank_json_document(ranked):
    takes, doc = ranked
    assert doc["command"] == "rank" and doc["version"] == 1
    for t in doc["takes"]:  # imported takes are judged on their originals, not the 24 fps mezzanines
        assert t["analysed"].startswith(f"takes/{t['shot']}/originals/"), t
    for t in doc["takes"]:
        assert set(t) >= {"shot", "take", "score", "why", "defects"}
        for d in t["defects"]:
            assert set(d) == {"kind", "start", "end", "detail"} and 0 <= d["start"] < d["end"] <= 17.0


def test_hard_cuts_on_imported_takes_vs_pyscenedetect(ranked, corpus, capsys):
    from scenedetect import ContentDetector, detect

    takes, _ = ranked
    ours = theirs = (0, 0, 0)
    lines = []
    for name, (path, expected, _) in corpus.items():
        found = [d["start"] for d in takes[name]["defects"] if d["kind"] == "cut"]
        o = _match(found, expected)
        scenes = detect(str(path), ContentDetector())
        base = [s[0].seconds for s in scenes[1:]]
        p = _match(base, expected)
        ours = tuple(x + y for x, y in zip(ours, o))
        theirs = tuple(x + y for x, y in zip(theirs, p))
        lines.append(f"{name}: labels {len(expected)}, dreamcut {o}, ContentDetector {p}")
    tp, fp, miss = ours
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + miss)
    ptp, pfp, pmiss = theirs
    with capsys.disabled():
        print("\n" + "\n".join(lines))
        print(f"dreamcut rank (imported takes, originals analysed): {tp}/{tp + miss} cuts, {fp} false, "
              f"precision {precision:.2f}, recall {recall:.2f}")
        print(f"PySceneDetect ContentDetector on the originals: {ptp}/{ptp + pmiss} cuts, {pfp} false")
    assert recall == 1.0, lines
    assert precision >= 0.95, lines


def test_edge_fades_are_not_cuts(ranked):
    takes, _ = ranked
    t = takes["edgefades"]
    assert t["defects"] == [] and t["why"].startswith("clean"), t  # no cut, no transition, no dark, no stall


def test_black_gap_is_a_cut_to_black(ranked):
    takes, _ = ranked
    cuts = [d for d in takes["blackgap"]["defects"] if d["kind"] == "cut"]
    assert len(cuts) == 1 and "cut to black" in cuts[0]["detail"], takes["blackgap"]
    assert abs(cuts[0]["start"] - 2.0) <= TOL
    assert [d["kind"] for d in takes["blackgap"]["defects"]] == ["cut"]  # not also "frozen" or "dark"
    assert "cut to black at 2.0 s" in takes["blackgap"]["why"]


def test_a_dissolve_is_a_milder_transition(ranked):
    takes, _ = ranked
    t = takes["dissolve"]
    assert [d["kind"] for d in t["defects"] if d["kind"] in ("cut", "transition")] == ["transition"], t
    (tr,) = [d for d in t["defects"] if d["kind"] == "transition"]
    assert tr["start"] <= 2.1 and tr["end"] >= 2.1  # the dissolve's middle, 1.8 + 0.3 s
    assert t["score"] > takes["joined"]["score"]  # a dissolve costs less than two hard cuts
    for name in ("bikes", "bunny", "bikes2997", "bikesvfr", "joined", "joinedmkv"):  # motion is not a dissolve
        assert [d for d in takes[name]["defects"] if d["kind"] == "transition"] == [], takes[name]
