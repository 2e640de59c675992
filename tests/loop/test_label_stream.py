"""Tests of the labelling stream: points added while others are in flight are all committed exactly once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from activeamp.data.dataset import OracleConfig
from activeamp.data.store import ShardStore, make_point_ids
from activeamp.loop.label_stream import LabelStream
from activeamp.loop.pool import OraclePool, PoolConfig
from oracles.mock import MockOracle
from tests.conftest import physical_points


def test_points_added_while_labelling_are_committed_once(ray_local: object, tmp_path: Path) -> None:
    store = ShardStore.create(tmp_path / "store", "gg_yyg")
    first, second = physical_points("gg_yyg", 120, seed=3), physical_points("gg_yyg", 80, seed=4)
    store.append_points(make_point_ids(1, 1, 1, 120), first, split="train", round=1, batch=1)
    with OraclePool(OracleConfig("mock", {"latency": 0.002}), "gg_yyg", PoolConfig(n_actors=2, batch_size=16)) as pool:
        stream = pool.stream(store, progress=False)
        assert isinstance(stream, LabelStream) and stream.idle
        stream.add(store.unlabelled())
        assert stream.pending_points == 120
        stream.step(5.0)  # some batches done, the rest queued or in flight
        store.append_points(make_point_ids(1, 2, 1, 80), second, split="train", round=2, batch=1)
        todo = store.unlabelled()
        stream.add(todo.take(np.isin(todo.ids, make_point_ids(1, 2, 1, 80))))  # only the new ones
        while not stream.idle:
            stream.step(5.0)
        report = stream.report()
        stream.close()
    assert stream.pending_points == 0 and report.n_points == 200 and report.n_ok == 200
    assert store.summary().n_points == 200 and store.unlabelled().ids.size == 0 and store.duplicates().num_rows == 0
    arrays = store.arrays()
    np.testing.assert_array_equal(arrays.amplitude, MockOracle("gg_yyg").amplitude(arrays.momenta))
    assert 0 < report.utilisation <= 1.0 and len(report.busy_seconds) == 2
