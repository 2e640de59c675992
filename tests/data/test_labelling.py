"""Tests of serial labelling: every point stored once, failures recorded with reasons, resumable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.data.labelling import evaluate_isolating, failed_result, label_store
from activeamp.data.store import ShardStore, make_point_ids
from activeamp.physics.process import get_process
from activeamp.physics.vv_phasespace import VVPhaseSpace
from oracles.base import OracleError, OracleResult
from oracles.mock import MockOracle, MockVectorOracle, point_hash
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


# ------------------------------------------------------------------------------------ vector oracles


def _vv_store(tmp_path: Path, oracle: MockVectorOracle, n: int = 200) -> tuple[ShardStore, np.ndarray]:
    store = ShardStore.create(tmp_path / "vv", "uu_ZZ", outputs=oracle.outputs)
    p = VVPhaseSpace("uu_ZZ").sample(n, np.random.default_rng(3)).momenta
    store.append_points(make_point_ids(1, 0, 0, n), p, split="train", round=0, batch=0)
    return store, p


def test_vector_oracle_labels_are_stored_with_failures(tmp_path: Path) -> None:
    oracle = MockVectorOracle("uu_ZZ", n_outputs=3, nan_rate=0.1)
    store, p = _vv_store(tmp_path, oracle)
    report = label_store(store, oracle, batch_size=64, progress=False)
    expected = oracle.evaluate(p)
    assert report.n_failed == expected.n_failed > 0 and report.n_ok + report.n_failed == 200
    arrays = store.arrays("train")
    assert arrays.targets.shape == (200 - expected.n_failed, 3)
    by_id = dict(zip(make_point_ids(1, 0, 0, 200), expected.values, strict=True))
    np.testing.assert_array_equal(arrays.values, np.stack([by_id[i] for i in arrays.ids]))
    assert (arrays.values < 0).any()  # signed outputs are kept as they are
    assert store.unlabelled().ids.size == 0 and store.validate().ok


def test_vector_batch_errors_are_isolated_to_the_bad_points() -> None:
    oracle = MockVectorOracle("uu_ZZ", n_outputs=2)
    p = VVPhaseSpace("uu_ZZ").sample(6, np.random.default_rng(4)).momenta
    p[2, 0, 0] = -1.0  # an unphysical point fails alone
    result = evaluate_isolating(oracle, p)
    assert result.values.shape == (6, 2)
    assert result.ok.tolist() == [True, True, False, True, True, True]
    assert result.reasons[2].startswith("invalid input")
    np.testing.assert_array_equal(result.values[[0, 1, 3, 4, 5]], oracle(p[[0, 1, 3, 4, 5]]))


def test_store_and_oracle_outputs_must_match(tmp_path: Path) -> None:
    store, _ = _vv_store(tmp_path, MockVectorOracle("uu_ZZ", n_outputs=3))
    with pytest.raises(ValueError, match="holds outputs \\['c1', 'c2', 'c3'\\], but oracle 'mock_vv' returns"):
        label_store(store, MockVectorOracle("uu_ZZ", n_outputs=2), progress=False)
    scalar, _ = _store(tmp_path / "scalar", 10)
    with pytest.raises(ValueError, match="holds scalar"):
        label_store(scalar, _ScalarAsVector(), progress=False)


class _ScalarAsVector(MockVectorOracle):
    """A vector oracle that claims the gg_yyg process (only to reach the output check)."""

    def __init__(self) -> None:
        super().__init__("uu_ZZ", n_outputs=1)
        self.process = get_process("gg_yyg")


def test_failed_results_have_the_oracles_shape() -> None:
    assert failed_result(3, "x").values.shape == (3,)
    vector = failed_result(2, "quarantined: y", n_outputs=4)
    assert vector.values.shape == (2, 4) and vector.n_failed == 2 and vector.reasons == ("quarantined: y",) * 2
    assert np.isnan(vector.values).all() and type(vector) is OracleResult and vector.n_outputs == 4
