"""Tests of the Ray oracle pool: every point stored exactly once, failures recorded, poison points quarantined."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from activeamp.data.dataset import OracleConfig
from activeamp.data.store import ShardStore, make_point_ids
from activeamp.loop.pool import OraclePool, PoolConfig, PoolError
from activeamp.physics.vv_phasespace import VVPhaseSpace
from oracles.mock import MockOracle, MockVectorOracle, point_hash
from tests.conftest import physical_points


def _store(tmp_path: Path, n: int) -> tuple[ShardStore, np.ndarray]:
    store = ShardStore.create(tmp_path / "store", "gg_yyg")
    p = physical_points("gg_yyg", n, seed=11)
    store.append_points(make_point_ids(2, 0, 0, n), p, split="train", round=0, batch=0)
    return store, p


def _assert_each_point_once(store: ShardStore, n: int) -> None:
    assert store.summary().n_points == n
    assert store.unlabelled().ids.size == 0
    assert store.duplicates().num_rows == 0
    assert store.validate().ok


def test_labels_all_points_with_exact_values(ray_local: object, tmp_path: Path) -> None:
    store, _ = _store(tmp_path, 300)
    with OraclePool(OracleConfig("mock", {"nan_rate": 0.05}), "gg_yyg", PoolConfig(n_actors=2, batch_size=32)) as pool:
        report = pool.label(store, progress=False)
    _assert_each_point_once(store, 300)
    arrays = store.arrays()
    np.testing.assert_array_equal(arrays.amplitude, MockOracle("gg_yyg").amplitude(arrays.momenta))
    n_nan = int((point_hash(store.read(status="failed", columns=["point_id", "momenta"]).column("momenta")
                 .combine_chunks().flatten().to_numpy().reshape(-1, 5, 4)) > 0.95).sum())  # fmt: skip
    assert report.n_failed == n_nan == store.summary().count(status="failed") > 0
    assert report.n_ok + report.n_failed == 300 and report.n_calls == 10 and report.n_crashes == 0
    assert set(store.read(status="failed", columns=["reason"])["reason"].to_pylist()) == {"nan"}
    assert 0 < report.utilisation <= 1.0


def test_killed_actors_lose_and_duplicate_nothing(ray_local: object, tmp_path: Path) -> None:
    """SIGKILL both oracle processes in the middle of their calls (as the OOM killer would)."""
    store, _ = _store(tmp_path, 200)
    oracle = OracleConfig("mock", {"latency": 0.01})
    config = PoolConfig(n_actors=2, batch_size=20, max_restarts=-1)
    with OraclePool(oracle, "gg_yyg", config) as pool:
        pids = pool.actor_pids()
        killer = threading.Timer(0.3, lambda: [os.kill(pid, signal.SIGKILL) for pid in pids])
        killer.start()
        report = pool.label(store, progress=False)
        killer.join()
    _assert_each_point_once(store, 200)
    assert report.n_crashes > 0 and report.n_quarantined == 0
    assert report.n_ok == 200 and store.summary().count(status="ok") == 200


def test_poison_point_is_quarantined_and_the_rest_labelled(ray_local: object, tmp_path: Path) -> None:
    store, p = _store(tmp_path, 80)
    poison = point_hash(p) < 0.02
    assert poison.sum() == 1
    config = PoolConfig(n_actors=2, batch_size=8, max_restarts=-1, quarantine_after=2)
    with OraclePool(OracleConfig("mock", {"poison_rate": 0.02}), "gg_yyg", config) as pool:
        report = pool.label(store, progress=False)
    _assert_each_point_once(store, 80)
    assert report.n_quarantined == int(poison.sum())
    failed = store.read(status="failed", columns=["point_id", "reason"])
    ids = np.asarray(make_point_ids(2, 0, 0, 80))
    assert sorted(failed["point_id"].to_pylist()) == sorted(ids[poison].tolist())
    assert all(r.startswith("quarantined: the oracle process died") for r in failed["reason"].to_pylist())
    assert store.summary().count(status="ok") == 80 - int(poison.sum())


def test_raising_oracle_is_retried_then_failed_with_reason(ray_local: object, tmp_path: Path) -> None:
    store, _ = _store(tmp_path, 40)
    config = PoolConfig(n_actors=1, batch_size=8, quarantine_after=2)
    with OraclePool(OracleConfig("mock", {"fail_call_rate": 1.0, "seed": 1}), "gg_yyg", config) as pool:
        report = pool.label(store, progress=False)
    _assert_each_point_once(store, 40)
    assert report.n_quarantined == 40 and report.n_errors > 0
    reasons = set(store.read(columns=["reason"])["reason"].to_pylist())
    assert reasons == {"quarantined: oracle error: mock oracle: injected failure for a batch of 1 points"}


def test_oracle_that_cannot_be_built_is_a_clear_error(ray_local: object) -> None:
    with pytest.raises(PoolError, match="could not be built in an actor: .*latency must be >= 0"):
        OraclePool(OracleConfig("mock", {"latency": -1.0}), "gg_yyg", PoolConfig(n_actors=1))


def test_config_validation() -> None:
    from activeamp.config import ConfigError

    with pytest.raises(ConfigError, match="pool.n_actors: must be >= 1, got 0"):
        PoolConfig(n_actors=0)
    with pytest.raises(ConfigError, match="pool.resources.oracle: must be a number >= 0"):
        PoolConfig(resources={"oracle": -1})


def test_vector_oracle_pool_survives_killed_actors(ray_local: object, tmp_path: Path) -> None:
    """A vector-valued oracle (VVAMP-like coefficients): every point once, NaN rows failed, SIGKILL survived."""
    oracle = MockVectorOracle("uu_ZZ", n_outputs=3, nan_rate=0.05)
    store = ShardStore.create(tmp_path / "vv", "uu_ZZ", outputs=oracle.outputs)
    p = VVPhaseSpace("uu_ZZ").sample(200, np.random.default_rng(8)).momenta
    store.append_points(make_point_ids(2, 0, 0, 200), p, split="train", round=0, batch=0)
    config = PoolConfig(n_actors=2, batch_size=20, max_restarts=-1)
    options = {"n_outputs": 3, "nan_rate": 0.05, "latency": 0.002}
    with OraclePool(OracleConfig("mock_vv", options), "uu_ZZ", config) as pool:
        assert pool.outputs == ("c1", "c2", "c3")
        pids = pool.actor_pids()
        killer = threading.Timer(0.2, lambda: [os.kill(pid, signal.SIGKILL) for pid in pids])
        killer.start()
        report = pool.label(store, progress=False)
        killer.join()
    _assert_each_point_once(store, 200)
    expected = oracle.evaluate(p)
    assert report.n_failed == expected.n_failed > 0 and report.n_ok == 200 - expected.n_failed
    arrays = store.arrays()
    by_id = dict(zip(make_point_ids(2, 0, 0, 200), expected.values, strict=True))
    np.testing.assert_array_equal(arrays.values, np.stack([by_id[i] for i in arrays.ids]))


def test_pool_refuses_a_store_of_other_outputs(ray_local: object, tmp_path: Path) -> None:
    store, _ = _store(tmp_path, 5)
    with OraclePool(OracleConfig("mock_vv", {"n_outputs": 2}), "uu_ZZ", PoolConfig(n_actors=1)) as pool:
        vv = ShardStore.create(tmp_path / "vv", "uu_ZZ", outputs=["a", "b"])
        mismatch = "holds outputs \\['a', 'b'\\], but oracle 'mock_vv' returns outputs \\['c1', 'c2'\\]"
        with pytest.raises(ValueError, match=mismatch):
            pool.label(vv, progress=False)
        with pytest.raises(ValueError, match="pool labels uu_ZZ, but store"):
            pool.label(store, progress=False)
