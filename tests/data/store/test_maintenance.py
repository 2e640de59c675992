"""Tests of maintenance: duplicate labels, summary, in-depth validation, cleanup of temporary files, compaction."""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from activeamp.data.store import DuplicateLabelError, ShardStore, StoreValidationError
from tests.data.store.conftest import OUTPUTS, ipc_bytes, points, shard_name, shards, vv_points


def test_duplicate_labels_are_detected_and_reported(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    ids, _ = points(store, rng, 6)
    store.append_labels(ids, None, np.ones(6), oracle="first")
    with pytest.raises(DuplicateLabelError, match="already have an ok label"):
        store.append_labels(ids[:2], None, [2.0, 3.0], oracle="second")
    with caplog.at_level(logging.WARNING, logger="activeamp.data.store"):
        store.append_labels(ids[:2], None, [2.0, 3.0], oracle="second", on_duplicate="warn")
    assert "duplicate" in caplog.text
    dups = store.duplicates()
    assert dups["point_id"].to_pylist() == ids[:2].tolist()
    assert dups["n_ok"].to_pylist() == [2, 2]
    assert dups["amplitude_max"].to_pylist() == [2.0, 3.0]
    assert sorted(dups["oracles"][0].as_py()) == ["first", "second"]
    # reading resolves to the latest ok label, warns, or raises on request
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="activeamp.data.store"):
        arrays = store.arrays()
    assert "more than one ok label" in caplog.text
    assert arrays.amplitude.tolist() == [2.0, 3.0, 1.0, 1.0, 1.0, 1.0]
    with pytest.raises(DuplicateLabelError, match=ids[0]):
        store.read(on_duplicate="raise")
    assert store.summary().n_duplicates == 2
    report = store.validate()
    assert not report.ok and any("more than one ok label" in issue for issue in report.issues)
    with pytest.raises(StoreValidationError, match="more than one ok label"):
        store.validate(raise_on_error=True)


def test_summary_of_an_empty_and_a_labelled_store(store: ShardStore, rng: np.random.Generator) -> None:
    empty = store.summary()
    assert empty.n_points == empty.n_records == empty.n_shards == 0 and empty.counts == {}
    assert empty.amplitude_min is None and empty.outputs is None and empty.values_min is None
    ids, _ = points(store, rng, 4, split="test")
    store.append_labels(ids[:3], None, [4.0, 1.0, 2.0], oracle="o")
    summary = store.summary()
    assert summary.counts == {"test": {"ok": 3, "unlabelled": 1}} and summary.n_shards == 2
    assert (summary.amplitude_min, summary.amplitude_median, summary.amplitude_max) == (1.0, 2.0, 4.0)


def test_leftover_temporary_files_are_ignored_and_cleaned(store: ShardStore, rng: np.random.Generator) -> None:
    points(store, rng, 8)
    shard = shards(store)[0]
    # a crash mid-write leaves a partial temporary file: readers never see it
    tmp = Path(store.path) / f".tmp-{shard.name}.0badc0de"
    tmp.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert store.read().num_rows == 8
    report = store.validate()
    assert report.ok and report.tmp_files == (str(tmp),)
    assert store.cleanup() == []  # too fresh: might belong to a writer still at work
    assert store.cleanup(older_than=0) == [str(tmp)]
    assert not tmp.exists() and store.validate().tmp_files == ()


def test_validate_checks_record_values(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = points(store, rng, 4)
    table = store.records()
    status = pa.array(["ok", "bogus", "unlabelled", "unlabelled"])
    table = table.set_column(table.schema.get_field_index("status"), pa.field("status", pa.string(), False), status)
    moved = p.copy()
    moved[2, 0, 0] += 1
    momenta = pa.FixedSizeListArray.from_arrays(pa.array(moved.reshape(-1)), 16)
    table = table.set_column(table.schema.get_field_index("momenta"), pa.field("momenta", momenta.type, False), momenta)
    data = ipc_bytes(table.replace_schema_metadata(store.schema.metadata))
    (Path(store.path) / shard_name(data, ts=time.time_ns())).write_bytes(data)
    report = store.validate()
    assert report.bad_shards == ()
    text = "\n".join(report.issues)
    assert "field 'status'" in text and "field 'amplitude'" in text and "different momenta" in text
    assert ids[0] in text


def test_validate_checks_vector_values(vstore: ShardStore) -> None:
    ids, _ = vv_points(vstore, 4)
    vstore.append_labels(ids, None, np.ones((4, 3)), oracle="x")
    table = vstore.records(columns=None).filter(pc.field("status") == "ok")
    k = table.schema.get_field_index("values")
    values = pa.array([None, [1.0, float("nan"), 2.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], pa.list_(pa.float64(), 3))
    table = table.set_column(k, table.schema.field("values"), values)
    amp = pa.array([None, None, 5.0, None], pa.float64())
    table = table.set_column(table.schema.get_field_index("amplitude"), table.schema.field("amplitude"), amp)
    data = ipc_bytes(table.replace_schema_metadata(vstore.schema.metadata))
    (Path(vstore.path) / shard_name(data, ts=time.time_ns())).write_bytes(data)
    report = vstore.validate()
    assert report.bad_shards == ()
    text = "\n".join(report.issues)
    assert "field 'values': 2 record(s) are ok but not 3 finite numbers" in text
    assert "field 'amplitude': 1 record(s) carry a value in a vector store" in text


def test_compact_keeps_the_resolved_view(store: ShardStore, rng: np.random.Generator) -> None:
    ids = []
    for batch in range(6):
        ids.append(points(store, rng, 10, batch=batch)[0])
    flat = np.concatenate(ids)
    store.append_labels(flat[:30], None, np.where(np.arange(30) % 7 == 0, np.nan, np.arange(30.0)), oracle="a")
    store.append_labels(flat[:2], None, [100.0, 200.0], oracle="b", on_duplicate="ignore")
    before = store.read(on_duplicate="ignore")
    dups_before = store.duplicates()
    assert dups_before["point_id"].to_pylist() == [flat[1]]
    new = store.compact(max_rows=50)
    assert len(new) == 2 and [p.name for p in shards(store)] == sorted(new)
    assert store.read(on_duplicate="ignore").equals(before)
    assert store.duplicates().equals(dups_before)
    assert store.records().num_rows == 60 + 30 + 2
    store.compact(drop_superseded=True)
    assert len(shards(store)) == 1
    # one record per point, plus the earlier ok label of point 1 (point 0 had failed before "b" labelled it)
    assert store.records().num_rows == 60 + 1
    assert store.read(on_duplicate="ignore").equals(before)
    assert store.compact() == store.shard_names()  # a single shard is left alone


def test_vector_duplicates_compaction_and_pickling(vstore: ShardStore) -> None:
    ids, _ = vv_points(vstore, 6)
    vstore.append_labels(ids, None, np.arange(18.0).reshape(6, 3) - 9.0, oracle="first")
    with pytest.raises(DuplicateLabelError, match="already have an ok label"):
        vstore.append_labels(ids[:2], None, np.zeros((2, 3)), oracle="second")
    vstore.append_labels(ids[:2], None, np.zeros((2, 3)), oracle="second", on_duplicate="ignore")
    dups = vstore.duplicates()
    assert dups["point_id"].to_pylist() == ids[:2].tolist() and dups["n_ok"].to_pylist() == [2, 2]
    assert sorted(dups["oracles"][0].as_py()) == ["first", "second"]
    before = vstore.read(on_duplicate="ignore")
    arrays = vstore.arrays(on_duplicate="ignore")
    np.testing.assert_array_equal(arrays.values[:2], 0.0)
    np.testing.assert_array_equal(arrays.values[2:], np.arange(6.0, 18.0).reshape(4, 3) - 9.0)
    assert vstore.summary().n_duplicates == 2 and not vstore.validate().ok
    vstore.compact()
    assert len(shards(vstore)) == 1 and vstore.read(on_duplicate="ignore").equals(before)
    clone = pickle.loads(pickle.dumps(vstore))
    assert clone.outputs == OUTPUTS
    np.testing.assert_array_equal(clone.arrays(on_duplicate="ignore").values, arrays.values)
