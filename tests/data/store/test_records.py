"""Tests of the records the store hands out (point sets, arrays, summaries, reports) and of point ids."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.data.store import (
    LabelledArrays,
    PointSet,
    StoreInputError,
    StoreSummary,
    ValidationReport,
    make_point_ids,
)


def test_point_ids_are_deterministic_unique_and_sortable() -> None:
    a = make_point_ids(7, 2, 3, 5)
    assert a.tolist() == make_point_ids(7, 2, 3, 5).tolist()
    assert a[0] == "s7/r00002/b000003/00000000"
    assert make_point_ids("run-A", 0, 0, 2, start=10).tolist() == [
        "run-A/r00000/b000000/00000010",
        "run-A/r00000/b000000/00000011",
    ]
    others = np.concatenate([make_point_ids(7, 2, 4, 5), make_point_ids(7, 3, 3, 5), make_point_ids(8, 2, 3, 5)])
    assert not set(a.tolist()) & set(others.tolist())
    ordered = np.concatenate([make_point_ids(7, r, b, 3) for r in range(2) for b in range(11)])
    assert sorted(ordered.tolist()) == ordered.tolist()
    for bad in ("a/b", "", "x y"):
        with pytest.raises(StoreInputError, match="prefix"):
            make_point_ids(bad, 0, 0, 1)
    with pytest.raises(StoreInputError, match="round"):
        make_point_ids(1, -1, 0, 1)
    with pytest.raises(StoreInputError, match="seed must be >= 0"):
        make_point_ids(-3, 0, 0, 1)
    with pytest.raises(StoreInputError, match="n must be an int"):
        make_point_ids(1, 0, 0, True)  # type: ignore[arg-type]


def test_summary_counts_by_split_and_status() -> None:
    summary = StoreSummary(
        process="gg_yy",
        n_shards=2,
        n_records=9,
        n_points=7,
        counts={"train": {"ok": 3, "failed": 1}, "test": {"ok": 2, "unlabelled": 1}},
        amplitude_min=1.0,
        amplitude_max=2.0,
        amplitude_median=1.5,
        n_duplicates=0,
    )
    assert summary.count() == 7 and summary.count("train") == 4 and summary.count(status="ok") == 5
    assert summary.count("test", "unlabelled") == 1 and summary.count("validation") == 0


def test_report_arrays_and_point_sets() -> None:
    good = ValidationReport(n_shards=1, n_records=2, n_points=2, bad_shards=(), issues=(), tmp_files=("x",))
    assert good.ok and good.message() == "store is valid"
    bad = ValidationReport(1, 2, 2, bad_shards=(("f", "f: corrupt"),), issues=("duplicate",))
    assert not bad.ok and bad.message() == "f: corrupt\nduplicate"
    ids = np.array(["a", "b"], dtype=object)
    scalar = LabelledArrays(ids, np.zeros((2, 4, 4)), np.array([1.0, 2.0]))
    assert len(scalar) == 2 and scalar.targets is scalar.amplitude
    vector = LabelledArrays(ids, np.zeros((2, 4, 4)), np.full(2, np.nan), values=np.ones((2, 3)))
    assert vector.targets is vector.values
    todo = PointSet(ids, np.zeros((2, 4, 4)), np.array(["train"] * 2, dtype=object), np.zeros(2), np.arange(2))
    assert len(todo) == 2
    second = todo.take(np.array([False, True]))
    assert second.ids.tolist() == ["b"] and second.batch.tolist() == [1] and second.momenta.shape == (1, 4, 4)
