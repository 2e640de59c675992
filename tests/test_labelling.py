"""Tests of serial labelling: every point stored once, failures recorded with reasons, resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.labelling import evaluate_isolating, label_store
from activeamp.store import ShardStore, make_point_ids
from oracles.base import OracleError
from oracles.mock import MockOracle, point_hash
from tests.conftest import physical_points


def _store(tmp_path: Path, n: int = 500, process: str = "gg_yyg") -> tuple[ShardStore, np.ndarray]:
    store = ShardStore.create(tmp_path / "store", process)
    p = physical_points(process, n)
    store.append_points(make_point_ids(1, 0, 0, n), p, split="train", round=0, batch=0)
    return store, p


def test_labels_every_point_once_and_records_failures(tmp_path: Path) -> None:
    store, p = _store(tmp_path)
    oracle = MockOracle("gg_yyg", nan_rate=0.05)
    report = label_store(store, oracle, batch_size=64, progress=False)
    expected_failed = int((point_hash(p) > 0.95).sum())
    assert (report.n_points, report.n_failed, report.n_ok) == (500, expected_failed, 500 - expected_failed)
    assert report.n_batches == 8
    summary = store.summary()
    assert summary.count("train", "ok") == 500 - expected_failed
    assert summary.count("train", "failed") == expected_failed
    assert summary.n_duplicates == 0
    failed = store.read(status="failed", columns=["reason"])
    assert set(failed["reason"].to_pylist()) == {"nan"}
    arrays = store.arrays("train")
    assert np.isfinite(arrays.amplitude).all() and len(arrays) == 500 - expected_failed
    np.testing.assert_allclose(arrays.amplitude, MockOracle("gg_yyg").amplitude(arrays.momenta), rtol=1e-15)
    # nothing left to do: a second pass makes no oracle call
    again = label_store(store, oracle, progress=False)
    assert again.n_points == 0 and again.n_batches == 0


def test_retry_failed_relabels_only_failed_points(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, 200)
    label_store(store, MockOracle("gg_yyg", nan_rate=0.1), progress=False)
    n_failed = store.summary().count(status="failed")
    assert n_failed > 0
    report = label_store(store, MockOracle("gg_yyg"), retry_failed=True, progress=False)
    assert report.n_points == n_failed and report.n_failed == 0
    assert store.summary().count(status="ok") == 200
    assert store.duplicates().num_rows == 0


def test_interrupted_pass_resumes_without_repeats(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, 300)
    first = label_store(store, MockOracle("gg_yyg"), batch_size=50, limit=120, progress=False)
    assert first.n_points == 120
    rest = label_store(store, MockOracle("gg_yyg"), batch_size=50, progress=False)
    assert rest.n_points == 180
    assert store.summary().count(status="ok") == 300 and store.duplicates().num_rows == 0


class _FailsOnSome(MockOracle):
    """Raises for any batch containing a 'bad' point, like a library that aborts a whole call."""

    def _evaluate(self, momenta: np.ndarray) -> np.ndarray:
        if (point_hash(momenta) < 0.05).any():
            raise OracleError("library error: unstable point")
        return super()._evaluate(momenta)


def test_batch_errors_are_isolated_to_the_bad_points() -> None:
    p = physical_points("gg_yyg", 100)
    result = evaluate_isolating(_FailsOnSome("gg_yyg"), p)
    bad = point_hash(p) < 0.05
    assert bad.any()
    np.testing.assert_array_equal(~result.ok, bad)
    assert all(
        r == "oracle error: library error: unstable point" for r, b in zip(result.reasons, bad, strict=True) if b
    )


def test_process_mismatch_is_an_error(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, 10)
    with pytest.raises(ValueError, match="computes gg_yy, but store .* holds gg_yyg"):
        label_store(store, MockOracle("gg_yy"), progress=False)
