"""The job runner's batched catalog reads and writes: `jobs_by_key` (the rows of many keys, any
number of them, in statements of 500 keys) and `start_attempt` (one more attempt counted in the
same UPDATE that marks the job, not a read and a write)."""

from __future__ import annotations

from dreamcut.catalog import Catalog


def _add(catalog: Catalog, n: int) -> None:
    with catalog.transaction():
        for i in range(n):
            catalog.add_job(f"k{i}", shot_id="s", kind="take", variant=0, backend="b:m", request_json="{}",
                            reserved_usd=0.5, key_version=3)


def test_jobs_by_key_finds_every_existing_key_past_one_statement(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    _add(catalog, 1200)
    asked = [f"k{i}" for i in range(1300)]  # 100 of them never made
    rows = catalog.jobs_by_key(asked)
    assert set(rows) == {f"k{i}" for i in range(1200)}
    assert rows["k1199"]["state"] == "pending" and rows["k0"]["key"] == "k0"
    assert catalog.jobs_by_key([]) == {}


def test_start_attempt_counts_and_sets_in_one_update(tmp_path):
    catalog = Catalog(tmp_path / "catalog.sqlite")
    _add(catalog, 2)
    catalog.start_attempt("k0", state="submitting", sent_at=123.0)
    catalog.start_attempt("k0", state="submitting", sent_at=456.0)
    row = catalog.job("k0")
    assert (row["attempts"], row["state"], row["sent_at"]) == (2, "submitting", 456.0)
    assert catalog.job("k1")["attempts"] == 0
