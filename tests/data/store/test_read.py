"""Tests of reading: the resolved view (ok > failed > unlabelled, latest wins, copies once), filters, arrays."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from activeamp.data.store import ShardStore, store_schema
from activeamp.data.store.read import resolution_order
from activeamp.physics.process import get_process
from oracles.mock import MockVectorOracle
from tests.data.store.conftest import OUTPUTS, PROCESS, VV_PROCESS, points, shards, vv_points


def test_resolution_order_puts_the_winning_record_first() -> None:
    raw = pa.table(
        {
            "point_id": ["b", "a", "a", "a", "b", "a"],
            "status": ["unlabelled", "unlabelled", "ok", "failed", "failed", "ok"],
            "created": pa.array([1, 1, 2, 3, 2, 2], pa.timestamp("ns", tz="UTC")),
            "_shard": pa.array([0, 0, 1, 2, 1, 3], pa.int32()),
        }
    )
    order, same, copy, rank, ids = resolution_order(raw)
    assert ids.to_pylist() == ["a"] * 4 + ["b"] * 2
    assert order.tolist() == [5, 2, 3, 1, 4, 0]  # ok before failed before unlabelled; later shard first
    assert same.tolist() == [False, True, True, True, False, True]
    assert copy.tolist() == [False, True, False, False, False, False]  # same id, status and created
    assert rank.tolist() == [2, 2, 1, 0, 1, 0]


def test_points_round_trip(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = points(store, rng, 50, round=2, batch=1, split="candidate")
    table = store.read()
    assert table.schema.names == store_schema(get_process(PROCESS)).names
    assert table.num_rows == 50 and table["point_id"].to_pylist() == ids.tolist()
    assert table["amplitude"].null_count == 50
    assert set(table["status"].to_pylist()) == {"unlabelled"}
    assert set(table["split"].to_pylist()) == {"candidate"}
    todo = ShardStore.open(store.path).unlabelled()
    assert todo.ids.tolist() == ids.tolist()
    np.testing.assert_array_equal(todo.momenta, p)
    assert (todo.round == 2).all() and (todo.batch == 1).all() and len(todo) == 50
    assert len(store.unlabelled(limit=7)) == 7
    assert len(store.arrays()) == 0 and store.labelled_ids() == frozenset()


def test_labels_resolve_over_unlabelled_points(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = points(store, rng, 20)
    todo = store.unlabelled()
    values = np.linspace(1.0, 2.0, 10)
    values[[2, 5]] = [np.nan, -1.0]
    store.append_labels(todo.ids[:10], todo.momenta[:10], values, oracle="mock", provenance={"seed": 3})
    table = store.read()
    assert table.num_rows == 20
    status = dict(zip(table["point_id"].to_pylist(), table["status"].to_pylist(), strict=True))
    assert [status[i] for i in ids[:10]].count("ok") == 8
    assert status[ids[2]] == "failed" and status[ids[12]] == "unlabelled"
    failed = store.read(status="failed", columns=["point_id", "reason", "amplitude", "oracle", "provenance"])
    assert failed["reason"].to_pylist() == ["nan", "negative"]
    assert failed["amplitude"].null_count == 2
    assert json.loads(store.read(status="ok")["provenance"][0].as_py()) == {"seed": 3}
    # failed points are excluded from training data and from the default unlabelled set
    arrays = store.arrays()
    assert len(arrays) == 8 and arrays.momenta.shape == (8, 4, 4) and arrays.amplitude.dtype == np.float64
    assert ids[2] not in set(arrays.ids) and ids[5] not in set(arrays.ids)
    np.testing.assert_array_equal(arrays.momenta, p[[i for i in range(10) if i not in (2, 5)]])
    assert set(store.unlabelled().ids) == set(ids[10:])
    assert set(store.unlabelled(include_failed=True).ids) == set(ids[10:]) | {ids[2], ids[5]}
    assert store.labelled_ids() == frozenset(ids[:10])
    assert store.labelled_ids(include_failed=False) == frozenset(ids[:10]) - {ids[2], ids[5]}
    # a retry that succeeds wins over the failure; momenta, split, round and batch come from the store
    store.append_labels(ids[[2, 5]], None, np.array([5.0, 6.0]), oracle="mock")
    assert len(store.arrays()) == 10
    assert store.records().num_rows == 32
    summary = store.summary()
    assert summary.counts == {"train": {"ok": 10, "unlabelled": 10}}
    assert summary.n_points == 20 and summary.n_records == 32 and summary.n_shards == 3
    assert summary.amplitude_max == 6.0 and summary.amplitude_min == 1.0
    assert summary.count(status="ok") == 10 and summary.count("test") == 0


def test_ok_beats_later_failure(store: ShardStore, rng: np.random.Generator) -> None:
    ids, _ = points(store, rng, 3)
    store.append_labels(ids, None, [1.0, 2.0, 3.0], oracle="a")
    store.append_labels(ids, None, [np.nan, 4.0, np.inf], oracle="b", on_duplicate="ignore")
    table = store.read(columns=["point_id", "status", "amplitude", "oracle"])
    assert table["status"].to_pylist() == ["ok", "ok", "ok"]
    assert table["amplitude"].to_pylist() == [1.0, 4.0, 3.0]
    assert table["oracle"].to_pylist() == ["a", "b", "a"]


def test_read_filters_by_split_and_status(store: ShardStore, rng: np.random.Generator) -> None:
    points(store, rng, 5, split="train")
    test_ids, _ = points(store, rng, 4, batch=1, split="test")
    val_ids, _ = points(store, rng, 3, batch=2, split="validation")
    store.append_labels(test_ids, None, np.arange(4.0), oracle="mock")
    assert store.read(split="test", status="ok").num_rows == 4
    assert store.read(split=["train", "validation"]).num_rows == 8
    assert store.read(split="validation", status="ok").num_rows == 0
    assert store.read(status=["ok", "failed"], columns=["point_id"]).column_names == ["point_id"]
    assert store.unlabelled(split="validation").ids.tolist() == val_ids.tolist()
    assert len(store.arrays(split="test")) == 4
    assert store.records(split="test", columns=["point_id", "status"]).num_rows == 8


def test_copied_shard_counts_once(store: ShardStore, rng: np.random.Generator) -> None:
    ids, _ = points(store, rng, 5)
    store.append_labels(ids, None, np.ones(5), oracle="a")
    shard = shards(store)[-1]
    copy = shard.with_name(shard.name.replace(shard.name[6:26], f"{time.time_ns():020d}"))
    copy.write_bytes(shard.read_bytes())  # what a crash between writing and deleting during compaction leaves
    assert store.records().num_rows == 15
    assert store.duplicates().num_rows == 0 and store.validate().ok
    assert len(store.arrays()) == 5


def test_vector_labels_round_trip(vstore: ShardStore) -> None:
    ids, p = vv_points(vstore, 40)
    oracle = MockVectorOracle(VV_PROCESS, n_outputs=3, nan_rate=0.15)
    todo = vstore.unlabelled()
    result = oracle.evaluate(todo.momenta)
    assert 0 < result.n_failed < 40
    vstore.append_labels(
        todo.ids,
        todo.momenta,
        result.values,
        ok=result.ok,
        reasons=result.reasons,
        oracle=oracle.name,
        provenance=oracle.provenance(),
    )
    arrays = ShardStore.open(vstore.path).arrays()
    good = result.ok
    assert len(arrays) == int(good.sum()) and arrays.ids.tolist() == ids[good].tolist()
    assert arrays.values is not None and arrays.values.shape == (len(arrays), 3) and arrays.values.dtype == np.float64
    np.testing.assert_array_equal(arrays.values, result.values[good])
    np.testing.assert_array_equal(arrays.momenta, p[good])
    assert arrays.amplitude.shape == (len(arrays),) and np.isnan(arrays.amplitude).all()
    assert arrays.targets is arrays.values and (arrays.values < 0).any()
    failed = vstore.read(status="failed", columns=["point_id", "reason", "values", "amplitude"])
    assert failed.num_rows == result.n_failed and set(failed["reason"].to_pylist()) == {"nan"}
    assert failed["values"].null_count == failed.num_rows and failed["amplitude"].null_count == failed.num_rows
    assert vstore.read()["amplitude"].null_count == 40
    assert set(vstore.unlabelled(include_failed=True).ids) == set(ids[~good])
    # raw (N, K) arrays: rows with a non-finite entry fail with reason "nan", negative values are fine
    retry = np.full((result.n_failed, 3), -2.5)
    retry[0, 1] = np.inf
    vstore.append_labels(ids[~good], None, retry, oracle="retry")
    table = vstore.read(columns=["point_id", "status", "reason", "oracle"])
    status = dict(zip(table["point_id"].to_pylist(), table["status"].to_pylist(), strict=True))
    assert status[ids[~good][0]] == "failed" and all(status[i] == "ok" for i in ids[~good][1:])
    arrays = vstore.arrays()
    assert len(arrays) == 39 and (arrays.values == -2.5).all(axis=1).sum() == result.n_failed - 1
    # summary: counts, per-output ranges, no amplitude statistics
    summary = vstore.summary()
    assert summary.counts == {"train": {"ok": 39, "failed": 1}} and summary.outputs == OUTPUTS
    assert summary.amplitude_min is None and summary.amplitude_median is None
    assert summary.values_min == tuple(arrays.values.min(axis=0)) and summary.values_max == tuple(
        arrays.values.max(axis=0)
    )
    assert vstore.validate().ok, vstore.validate().message()
    assert vstore.duplicates().num_rows == 0
    empty = ShardStore.create(Path(vstore.path).parent / "empty", VV_PROCESS, outputs=OUTPUTS)
    assert empty.summary().values_min is None and len(empty.arrays()) == 0 and empty.arrays().values.shape == (0, 3)
