"""Take analysis on real H.264 takes with defects injected at known frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _takes import (clean_frames, inject_cut, inject_flash, inject_frozen, inject_jolt, write_take)
from dreamcut.analysis.video import (DEFECT_KINDS, Defect, TakeAnalysis, analyze_take, score_take)
from dreamcut.errors import BadInput

FPS = 24
N = 96  # 4 s at 24 fps, 320x180
TOL = 0.1  # seconds (~2 frames)


@pytest.fixture(scope="module")
def takes(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("takes")
    base = clean_frames(N)
    cases = {
        "clean": base,
        "frozen": inject_frozen(base, 40, 14),          # frames 41..54 repeat frame 40
        "cut": inject_cut(base, 50),                     # another picture from frame 50 on
        "flash": inject_flash(base, 30, length=2),       # frames 30, 31 blown bright
        "jolt": inject_jolt(base, 60, length=2),         # frames 60, 61 jump sideways
        "all": inject_jolt(inject_flash(inject_cut(inject_frozen(base, 10, 12), 70), 40), 55),
        "dark": [(f * 0.14).astype(np.uint8) if 20 <= i < 50 else f for i, f in enumerate(base)],  # dim, not black
        "glitch": inject_cut(base, 40)[:44] + base[44:],  # 4 frames of another picture, then back
        "flicker": [np.clip(f.astype(np.int16) + (9 if i % 2 else -9), 0, 255).astype(np.uint8)
                    for i, f in enumerate(base)],
    }
    return {k: write_take(d / f"{k}.mp4", v, FPS) for k, v in cases.items()}


def _found(a: TakeAnalysis, kind: str) -> list[Defect]:
    return [d for d in a.defects if d.kind == kind]


def test_clean_take_has_no_defects(takes):
    a = analyze_take(takes["clean"])
    assert a.defects == [], a.defects
    assert a.explanation.startswith("clean")
    assert 0.0 <= a.score <= 1.0


@pytest.mark.parametrize("case,kind,start,end", [
    ("frozen", "frozen", 41 / FPS, 55 / FPS),
    ("cut", "cut", 50 / FPS, None),
    ("flash", "flash", 30 / FPS, 32 / FPS),
    ("jolt", "motion_spike", 60 / FPS, None),
    ("dark", "dark", 20 / FPS, 50 / FPS),
])
def test_injected_defect_found_at_its_time(takes, case, kind, start, end):
    a = analyze_take(takes[case])
    found = _found(a, kind)
    assert len(found) == 1, a.defects
    assert abs(found[0].start - start) <= TOL, found
    if end is not None:
        assert abs(found[0].end - end) <= TOL, found
    # nothing else is reported on a take with one defect
    assert {d.kind for d in a.defects} == {kind}, a.defects


def test_every_defect_found_in_one_take(takes):
    a = analyze_take(takes["all"])
    expect = {"frozen": 11 / FPS, "flash": 40 / FPS, "motion_spike": 55 / FPS, "cut": 70 / FPS}
    for kind, t in expect.items():
        found = _found(a, kind)
        assert len(found) == 1 and abs(found[0].start - t) <= TOL, (kind, a.defects)
    assert all(d.kind in DEFECT_KINDS for d in a.defects)
    assert "frozen 0.5 s at 0.5 s" in a.explanation  # times for people are seconds with a unit


def test_cut_away_and_back_is_one_glitch(takes):
    a = analyze_take(takes["glitch"])
    assert [d.kind for d in a.defects] == ["cut"], a.defects
    (d,) = a.defects
    assert abs(d.start - 40 / FPS) <= TOL and abs(d.end - 44 / FPS) <= TOL
    assert "cut away and back (4 frame(s))" == d.detail


def test_flicker_is_found_and_named(takes):
    a = analyze_take(takes["flicker"])
    assert _found(a, "flicker"), a.defects
    assert "flicker" in a.explanation
    assert a.metrics["flicker"] > 5.0


def test_clean_take_scores_higher_than_every_defective_one(takes):
    clean = analyze_take(takes["clean"]).score
    for case in ("frozen", "cut", "flash", "jolt", "all", "dark", "flicker", "glitch"):
        assert analyze_take(takes[case]).score < clean, case
    assert analyze_take(takes["all"]).score < analyze_take(takes["frozen"]).score


def test_spans_are_what_the_planner_reads(takes):
    a = analyze_take(takes["cut"])
    (start, end, kind), = a.spans()
    assert kind == "cut" and end > start


def test_cache_by_content_hash(takes, tmp_path):
    cache = tmp_path / "cache"
    first = analyze_take(takes["frozen"], cache_dir=cache)
    files = list((cache / "takes").glob("*.json"))
    assert len(files) == 1
    # the cached file is what is returned next time (proved by editing it)
    data = json.loads(files[0].read_text())
    data["explanation"] = "from the cache"
    files[0].write_text(json.dumps(data))
    again = analyze_take(takes["frozen"], cache_dir=cache)
    assert again.explanation == "from the cache" and again.score == first.score
    # a copy with the same bytes hits the same entry; another take makes a new one
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(takes["frozen"].read_bytes())
    assert analyze_take(copy, cache_dir=cache).explanation == "from the cache"
    analyze_take(takes["clean"], cache_dir=cache)
    assert len(list((cache / "takes").glob("*.json"))) == 2


def test_round_trip():
    a = TakeAnalysis(0.5, [Defect(1.0, 2.0, "frozen", "x")], {"sharpness": 3.0}, "frozen 1.0 s at 00:01")
    assert TakeAnalysis.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_score_explains_with_times_in_seconds():
    metrics = {"seconds": 20.0, "sharpness": 100.0, "luma_mean": 118.0, "motion_smoothness": 0.9, "flicker_peak": 6.0}
    s, why = score_take(metrics, [Defect(7.0, 8.2, "frozen"), Defect(1, 20, "flicker")])
    assert "frozen 1.2 s at 7.0 s" in why and "flicker 6.0 levels throughout" in why
    clean, _ = score_take(metrics, [])
    assert s < clean


def test_not_a_video(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(BadInput):
        analyze_take(bad)


# -- prompt similarity with a tiny random CLIP built here and loaded back from disk ---------------


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's byte -> printable character table (so every text tokenizes to something)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def _tiny_clip(folder: Path) -> Path:
    from dreamcut.analysis._hf import hide_broken_torchvision

    hide_broken_torchvision()
    from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPTokenizer, CLIPVisionConfig

    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_chars()
    vocab = {tok: i for i, tok in enumerate(chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    text = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, max_position_embeddings=77, projection_dim=16,
                          bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"])
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=16)
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_prompt_similarity_with_a_local_clip(takes, tmp_path):
    clip = _tiny_clip(tmp_path / "tiny-clip")
    a = analyze_take(takes["clean"], prompt="a red car on a football field at dusk", clip_model=clip)
    sim = a.metrics["prompt_similarity"]
    assert -1.0 <= sim <= 1.0
    assert "prompt match" in a.explanation
    b = analyze_take(takes["clean"], prompt="a completely different prompt about the sea", clip_model=clip)
    assert b.metrics["prompt_similarity"] != sim  # the prompt reaches the text tower
    with pytest.raises(BadInput):
        analyze_take(takes["clean"], prompt="x", clip_model=tmp_path / "nowhere")


def test_rank_command_scores_and_explains(tmp_path, cli):
    from _takes import make_project
    from dreamcut.catalog import Catalog

    root = make_project(tmp_path / "p", shots=2, takes_per_shot=2)
    r = cli("--project", str(root), "rank")
    assert r.returncode == 0, r.stderr
    assert "4 takes, best first" in r.stdout and "frozen" in r.stdout  # make_project freezes every 4th file
    with Catalog(root / ".dreamcut" / "catalog.sqlite") as cat:
        takes = cat.takes()
        assert all(t.score is not None and "explanation" in t.score_detail for t in takes)
        frozen = [t for t in takes if any(d["kind"] == "frozen" for d in t.score_detail["defects"])]
        assert len(frozen) == 1 and frozen[0].score == min(t.score for t in takes)
    assert cli("--project", str(root), "rank", "--clip-model", str(tmp_path / "none")).returncode == 2


def test_any_signals_give_bounded_defects_and_score():
    """Whatever the frames measure, defects lie inside the take, have known kinds, and the score is 0..1."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dreamcut.analysis.video import Signals, find_defects

    @settings(max_examples=60, deadline=None)
    @given(st.integers(2, 80), st.integers(0, 2**31 - 1), st.sampled_from([12.0, 24.0, 30.0]))
    def check(n, seed, fps):
        rng = np.random.default_rng(seed)
        luma = rng.uniform(0, 255, n).astype(np.float32) if seed % 2 else np.full(n, 100, np.float32)
        s = Signals(times=np.arange(n) / fps, fps=fps, luma=luma,
                    dark_frac=rng.uniform(0, 1, n).astype(np.float32), blown_frac=rng.uniform(0, 1, n).astype(np.float32),
                    sharpness=rng.uniform(0, 500, n).astype(np.float32), diff=np.abs(rng.normal(0, 2, n)).astype(np.float32),
                    similarity=rng.uniform(-1, 1, n).astype(np.float32), motion=np.abs(rng.normal(0, 3, n)).astype(np.float32),
                    thumbs=rng.normal(0, 1, (n, 18, 32)).astype(np.float32),
                    smalls=rng.integers(0, 255, (n, 54, 96)).astype(np.uint8))
        defects, metrics = find_defects(s)
        end = n / fps + 1e-6
        for d in defects:
            assert d.kind in DEFECT_KINDS and 0 <= d.start < d.end <= end + 1 / fps
        score, why = score_take(metrics, defects)
        assert 0.0 <= score <= 1.0 and isinstance(why, str)

    check()
