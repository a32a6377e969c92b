"""Every `--json` output is one JSON document with the documented keys (README "Machine-readable output")."""

from __future__ import annotations

import json

import pytest

from _takes import make_project


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("j") / "p", shots=3, takes_per_shot=2)


def _doc(cli, root, *args, rc=0):
    r = cli("--project", str(root), *args, "--json")
    assert r.returncode == rc, (r.stdout[-800:], r.stderr[-800:])
    doc = json.loads(r.stdout)  # the whole of stdout is one document
    assert doc["command"] == args[0] and doc["version"] == 1
    return doc


def test_rank_json(cli, project):
    doc = _doc(cli, project, "rank")
    assert len(doc["takes"]) == 6
    scores = [t["score"] for t in doc["takes"]]
    assert scores == sorted(scores, reverse=True)
    frozen = [t for t in doc["takes"] if any(d["kind"] == "frozen" for d in t["defects"])]
    assert frozen and all(isinstance(d["start"], float) and d["end"] > d["start"] for d in frozen[0]["defects"])
    assert set(doc["takes"][0]) == {"shot", "take", "score", "why", "defects", "source", "analysed"}
    assert doc["takes"][0]["analysed"].startswith("takes/")


def test_status_estimate_check_json(cli, project):
    status = _doc(cli, project, "status")
    assert {s["shot"] for s in status["shots"]} == {"s01", "s02", "s03"}
    assert set(status) >= {"done", "to_go", "spent_usd", "reserved_usd", "budget_usd", "eta_seconds"}
    est = _doc(cli, project, "estimate")
    assert est["takes"] >= 0 and isinstance(est["usd"], float) and isinstance(est["backends"], list)
    check = _doc(cli, project, "check")
    assert check["ok"] is True and check["song_seconds"] > 0
    assert [p for p in check["problems"] if p["severity"] == "error"] == []  # warnings may be listed
    assert all(set(p) == {"shot", "severity", "message", "fix"} for p in check["problems"])


def test_edit_json_and_explain_labels_timecode(cli, project):
    doc = _doc(cli, project, "edit")
    assert doc["cuts"] and doc["cuts"][0]["start"] == 0.0
    starts = [c["start"] for c in doc["cuts"]]
    assert starts == sorted(starts) and all(c["shot"] in {"s01", "s02", "s03"} for c in doc["cuts"])
    assert isinstance(doc["degraded"], list) and all(isinstance(x, str) for x in doc["degraded"])
    r = cli("--project", str(project), "edit", "--explain")
    assert r.returncode == 0, r.stderr
    assert "timecode mm:ss.ff (ff = frame of 24 fps)" in r.stdout


def test_verify_json(cli, project):
    from dreamcut.catalog import Catalog

    with Catalog(project / ".dreamcut" / "catalog.sqlite") as cat:
        take = cat.takes()[0]
    doc = _doc(cli, project, "verify", str(project / take.path), rc=2)  # make_project's takes are unsigned
    assert doc["exit_code"] == 2 and doc["path"] == (project / take.path).name
