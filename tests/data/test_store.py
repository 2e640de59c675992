"""Tests of the append-only Arrow shard store: ids, resolution, duplicates, atomicity and bad files."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyarrow.fs import _MockFileSystem

from activeamp.data.store import (
    MANIFEST_NAME,
    SCHEMA_VERSION,
    BadShardError,
    DuplicateLabelError,
    ManifestError,
    ShardSchemaError,
    ShardStore,
    StoreError,
    StoreInputError,
    StoreNotFoundError,
    StoreValidationError,
    make_point_ids,
    store_schema,
)
from activeamp.physics.process import get_process
from oracles.base import OracleResult, classify_values
from tests.conftest import two_body_points

PROCESS = "gg_yy"


@pytest.fixture
def store(tmp_path: Path) -> ShardStore:
    return ShardStore.create(tmp_path / "store", PROCESS)


def _points(
    store: ShardStore, rng: np.random.Generator, n: int, *, round: int = 0, batch: int = 0, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    ids = make_point_ids(1234, round, batch, n)
    p = two_body_points(n, rng)
    store.append_points(ids, p, split=split, round=round, batch=batch)
    return ids, p


def _shards(store: ShardStore) -> list[Path]:
    return sorted(Path(store.path).glob("shard-*.arrow"))


def _shard_name(data: bytes, ts: int = 1) -> str:
    return f"shard-{ts:020d}-{hashlib.blake2b(data, digest_size=8).hexdigest()}.arrow"


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


# ------------------------------------------------------------------------------------------------------ ids


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


# ----------------------------------------------------------------------------------------------- manifest


def test_create_writes_manifest_and_open_checks_it(tmp_path: Path) -> None:
    store = ShardStore.create(tmp_path / "s", PROCESS, metadata={"run": "test"})
    manifest = json.loads((tmp_path / "s" / MANIFEST_NAME).read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["process"] == PROCESS and manifest["n_particles"] == 4
    assert manifest["metadata"] == {"run": "test"} and "created" in manifest and "created_by" in manifest
    assert ShardStore.open(tmp_path / "s").process.name == PROCESS
    assert ShardStore.create(tmp_path / "s", PROCESS, exist_ok=True).path == store.path
    with pytest.raises(StoreError, match="already exists"):
        ShardStore.create(tmp_path / "s", PROCESS)
    with pytest.raises(StoreError, match="gg_yyg"):
        ShardStore.create(tmp_path / "s", "gg_yyg", exist_ok=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(StoreError, match="not empty"):
        ShardStore.create(tmp_path / "other", PROCESS)
    with pytest.raises(StoreNotFoundError, match="store.json"):
        ShardStore.open(tmp_path / "other")


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(schema_version=99), "'schema_version' is 99"),
        (lambda m: m.update(process="gg_zz"), "'process'"),
        (lambda m: m.update(format="other"), "'format'"),
    ],
)
def test_bad_manifest_is_named(tmp_path: Path, edit: object, match: str) -> None:
    ShardStore.create(tmp_path, PROCESS)
    path = tmp_path / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    edit(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=match) as err:
        ShardStore.open(tmp_path)
    assert str(path) in str(err.value)
    path.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        ShardStore.open(tmp_path)


# ------------------------------------------------------------------------------------------- round trips


def test_points_round_trip(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = _points(store, rng, 50, round=2, batch=1, split="candidate")
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


def test_repeated_append_is_idempotent_and_conflicts_raise(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = _points(store, rng, 10)
    assert store.append_points(ids, p, split="train", round=0, batch=0) == []
    assert len(_shards(store)) == 1
    q = p.copy()
    q[3, 2, 0] += 1.0
    with pytest.raises(StoreInputError, match=f"{ids[3]}.*different momenta"):
        store.append_points(ids, q, split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="split"):
        store.append_points(ids, p, split="test", round=0, batch=0)


def test_input_validation(store: ShardStore, rng: np.random.Generator) -> None:
    ids = make_point_ids(1, 0, 0, 3)
    p = two_body_points(3, rng)
    with pytest.raises(StoreInputError, match=r"shape \(3, 4, 4\)"):
        store.append_points(ids, p[:, :3], split="train", round=0, batch=0)
    bad = p.copy()
    bad[1, 0, 0] = np.nan
    with pytest.raises(StoreInputError, match="non-finite.*point 1"):
        store.append_points(ids, bad, split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="unknown split 'training'"):
        store.append_points(ids, p, split="training", round=0, batch=0)
    with pytest.raises(StoreInputError, match="repeated id"):
        store.append_points(np.array([ids[0], ids[0], ids[1]]), p, split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="round"):
        store.append_points(ids, p, split="train", round=-1, batch=0)
    with pytest.raises(StoreInputError, match="batch"):
        store.append_points(ids, p, split="train", round=0, batch=[0, 1])
    with pytest.raises(StoreInputError, match="marked ok"):
        result = OracleResult(values=np.array([1.0, np.nan, 2.0]), ok=np.ones(3, bool), reasons=("",) * 3)
        store.append_labels(ids, p, result, oracle="mock", split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="provenance"):
        store.append_labels(ids, p, [1.0, 2.0, 3.0], oracle="mock", provenance="{bad", split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="unknown column"):
        store.read(columns=["momenta", "energy"])
    with pytest.raises(StoreInputError, match="unknown status"):
        store.read(status="done")
    assert _shards(store) == []


# ------------------------------------------------------------------------------------------- resolution


def test_labels_resolve_over_unlabelled_points(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = _points(store, rng, 20)
    todo = store.unlabelled()
    values = np.linspace(1.0, 2.0, 10)
    values[[2, 5]] = [np.nan, -1.0]
    result = classify_values(values)
    store.append_labels(todo.ids[:10], todo.momenta[:10], result, oracle="mock", provenance={"seed": 3})
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
    ids, _ = _points(store, rng, 3)
    store.append_labels(ids, None, [1.0, 2.0, 3.0], oracle="a")
    store.append_labels(ids, None, [np.nan, 4.0, np.inf], oracle="b", on_duplicate="ignore")
    table = store.read(columns=["point_id", "status", "amplitude", "oracle"])
    assert table["status"].to_pylist() == ["ok", "ok", "ok"]
    assert table["amplitude"].to_pylist() == [1.0, 4.0, 3.0]
    assert table["oracle"].to_pylist() == ["a", "b", "a"]


def test_new_points_can_be_labelled_directly(store: ShardStore, rng: np.random.Generator) -> None:
    ids = make_point_ids("direct", 0, 0, 4)
    p = two_body_points(4, rng)
    with pytest.raises(StoreInputError, match="not in the store.*split, round, batch"):
        store.append_labels(ids, p, np.ones(4), oracle="mock")
    store.append_labels(ids, p, np.ones(4), oracle="mock", split="test", round=1, batch=[0, 0, 1, 1])
    table = store.read(split="test")
    assert table.num_rows == 4 and table["batch"].to_pylist() == [0, 0, 1, 1]
    assert store.read(split="train").num_rows == 0
    with pytest.raises(StoreInputError, match="stored in split 'test'"):
        store.append_labels(ids, p, np.ones(4), oracle="mock", split="train", on_duplicate="ignore")
    q = p.copy()
    q[0, 3, 3] *= -1
    with pytest.raises(StoreInputError, match="different momenta"):
        store.append_labels(ids, q, np.ones(4), oracle="mock", on_duplicate="ignore")


def test_read_filters_by_split_and_status(store: ShardStore, rng: np.random.Generator) -> None:
    _points(store, rng, 5, split="train")
    test_ids, _ = _points(store, rng, 4, batch=1, split="test")
    val_ids, _ = _points(store, rng, 3, batch=2, split="validation")
    store.append_labels(test_ids, None, np.arange(4.0), oracle="mock")
    assert store.read(split="test", status="ok").num_rows == 4
    assert store.read(split=["train", "validation"]).num_rows == 8
    assert store.read(split="validation", status="ok").num_rows == 0
    assert store.read(status=["ok", "failed"], columns=["point_id"]).column_names == ["point_id"]
    assert store.unlabelled(split="validation").ids.tolist() == val_ids.tolist()
    assert len(store.arrays(split="test")) == 4


# ------------------------------------------------------------------------------------------- duplicates


def test_duplicate_labels_are_detected_and_reported(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    ids, _ = _points(store, rng, 6)
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


# ---------------------------------------------------------------------------------------------- atomicity


def test_leftover_temporary_files_are_ignored_and_cleaned(store: ShardStore, rng: np.random.Generator) -> None:
    ids, _ = _points(store, rng, 8)
    shard = _shards(store)[0]
    # a crash mid-write leaves a partial temporary file: readers never see it
    tmp = Path(store.path) / f".tmp-{shard.name}.0badc0de"
    tmp.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert store.read().num_rows == 8
    report = store.validate()
    assert report.ok and report.tmp_files == (str(tmp),)
    assert store.cleanup() == []  # too fresh: might belong to a writer still at work
    assert store.cleanup(older_than=0) == [str(tmp)]
    assert not tmp.exists() and store.validate().tmp_files == ()


def test_failed_write_leaves_no_shard(
    store: ShardStore, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _points(store, rng, 5)

    def crash(*args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        _points(store, rng, 5, batch=1)
    monkeypatch.undo()
    assert len(_shards(store)) == 1
    assert not list(Path(store.path).glob(".tmp-*"))
    assert store.read().num_rows == 5


_WRITER = """
import sys
import numpy as np
from activeamp.data.store import ShardStore, make_point_ids
store = ShardStore.open(sys.argv[1])
seed = int(sys.argv[2])
rng = np.random.default_rng(seed)
print("ready", flush=True)
for batch in range(int(sys.argv[3])):
    store.append_points(make_point_ids(seed, 0, batch, 200), rng.uniform(1, 10, (200, 4, 4)),
                        split="train", round=0, batch=batch, check_existing=False)
"""


def test_killed_writer_leaves_a_readable_store(store: ShardStore) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, store.path, "1", "100000"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while len(_shards(store)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    n = len(_shards(store))
    assert n >= 3
    report = store.validate()
    assert report.ok, report.message()
    assert store.read().num_rows == 200 * report.n_shards
    store.cleanup(older_than=0)
    assert not list(Path(store.path).glob(".tmp-*"))


def test_concurrent_writers(store: ShardStore) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, store.path, str(seed), "5"], stdout=subprocess.DEVNULL)
        for seed in range(3)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert len(_shards(store)) == 15
    summary = store.summary()
    assert summary.n_points == 3000 and summary.count("train", "unlabelled") == 3000
    assert store.validate().ok


# ------------------------------------------------------------------------------------------- bad files


def _two_good_shards(store: ShardStore, rng: np.random.Generator) -> None:
    _points(store, rng, 5, batch=0)
    _points(store, rng, 7, batch=1)


def _expect_bad(
    store: ShardStore, bad: Path, match: str, caplog: pytest.LogCaptureFixture, error: type[Exception] = BadShardError
) -> None:
    with pytest.raises(error, match=match) as err:
        store.read()
    assert str(bad) in str(err.value)
    assert err.value.path == str(bad)  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="activeamp.data.store"):
        table = store.read(on_bad_shard="skip")
    assert str(bad) in caplog.text
    assert table.num_rows == 12
    skipping = ShardStore.open(store.path, on_bad_shard="skip")
    summary = skipping.summary()
    assert summary.bad_shards == (str(bad),) and summary.n_points == 12
    assert len(skipping.arrays()) == 0 and len(skipping.unlabelled()) == 12
    report = store.validate()
    assert [f for f, _ in report.bad_shards] == [str(bad)]
    assert str(bad) in report.message()


def test_garbage_file_is_named(store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture) -> None:
    _two_good_shards(store, rng)
    bad = Path(store.path) / "notes.txt"
    bad.write_text("not a shard")
    _expect_bad(store, bad, "foreign file", caplog)


def test_garbage_with_shard_name_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    _two_good_shards(store, rng)
    bad = Path(store.path) / _shard_name(b"x")
    bad.write_bytes(b"\x00garbage" * 100)
    _expect_bad(store, bad, "truncated or corrupt", caplog)


def test_truncated_shard_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    _two_good_shards(store, rng)
    _points(store, rng, 9, batch=2)
    bad = _shards(store)[-1]
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) - 100])
    _expect_bad(store, bad, "truncated or corrupt", caplog)


def test_corrupted_shard_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    _two_good_shards(store, rng)
    _points(store, rng, 9, batch=2)
    bad = _shards(store)[-1]
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    _expect_bad(store, bad, "truncated or corrupt", caplog)


def test_parquet_file_is_named(store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture) -> None:
    _two_good_shards(store, rng)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"point_id": ["a"], "amplitude": [1.0]}), sink)
    data = sink.getvalue().to_pybytes()
    bad = Path(store.path) / _shard_name(data)
    bad.write_bytes(data)
    _expect_bad(store, bad, "not a readable Arrow IPC file", caplog)


def test_arrow_file_with_wrong_schema_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    _two_good_shards(store, rng)
    data = _ipc_bytes(pa.table({"point_id": ["a"], "amplitude": [1.0]}))
    bad = Path(store.path) / _shard_name(data)
    bad.write_bytes(data)
    _expect_bad(store, bad, "activeamp.schema_version", caplog, ShardSchemaError)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda t, m: (t, {**m, b"activeamp.schema_version": b"2"}), "schema_version is '2', store uses 1"),
        (lambda t, m: (t, {**m, b"activeamp.process": b"gg_yyg"}), "process is 'gg_yyg', store process is 'gg_yy'"),
        (lambda t, m: (t.drop_columns(["reason"]), m), "field 'reason' missing"),
        (
            lambda t, m: (t.set_column(3, "amplitude", t["amplitude"].cast(pa.float32())), m),
            "field 'amplitude' has type float",
        ),
        (lambda t, m: (t.append_column("extra", pa.array([1] * t.num_rows)), m), "unexpected field.*'extra'"),
        (lambda t, m: (t.set_column(4, "status", t["status"]), m), "field 'status' is nullable"),
    ],
)
def test_shard_schema_mismatch_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture, mutate: object, match: str
) -> None:
    _two_good_shards(store, rng)
    table = store.records(split="train").slice(0, 3)
    table, meta = mutate(table, dict(store.schema.metadata))  # type: ignore[operator]
    data = _ipc_bytes(table.replace_schema_metadata(meta))
    bad = Path(store.path) / _shard_name(data)
    bad.write_bytes(data)
    _expect_bad(store, bad, match, caplog, ShardSchemaError)


def test_subdirectory_is_named(store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture) -> None:
    _two_good_shards(store, rng)
    bad = Path(store.path) / "round-1"
    bad.mkdir()
    _expect_bad(store, bad, "not a regular file", caplog)


def test_validate_checks_record_values(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = _points(store, rng, 4)
    table = store.records()
    status = pa.array(["ok", "bogus", "unlabelled", "unlabelled"])
    table = table.set_column(table.schema.get_field_index("status"), pa.field("status", pa.string(), False), status)
    moved = p.copy()
    moved[2, 0, 0] += 1
    momenta = pa.FixedSizeListArray.from_arrays(pa.array(moved.reshape(-1)), 16)
    table = table.set_column(table.schema.get_field_index("momenta"), pa.field("momenta", momenta.type, False), momenta)
    data = _ipc_bytes(table.replace_schema_metadata(store.schema.metadata))
    (Path(store.path) / _shard_name(data, ts=time.time_ns())).write_bytes(data)
    report = store.validate()
    assert report.bad_shards == ()
    text = "\n".join(report.issues)
    assert "field 'status'" in text and "field 'amplitude'" in text and "different momenta" in text
    assert ids[0] in text


# ------------------------------------------------------------------------------------------- compaction


def test_compact_keeps_the_resolved_view(store: ShardStore, rng: np.random.Generator) -> None:
    ids = []
    for batch in range(6):
        ids.append(_points(store, rng, 10, batch=batch)[0])
    flat = np.concatenate(ids)
    store.append_labels(flat[:30], None, np.where(np.arange(30) % 7 == 0, np.nan, np.arange(30.0)), oracle="a")
    store.append_labels(flat[:2], None, [100.0, 200.0], oracle="b", on_duplicate="ignore")
    before = store.read(on_duplicate="ignore")
    dups_before = store.duplicates()
    assert dups_before["point_id"].to_pylist() == [flat[1]]
    new = store.compact(max_rows=50)
    assert len(new) == 2 and [p.name for p in _shards(store)] == sorted(new)
    assert store.read(on_duplicate="ignore").equals(before)
    assert store.duplicates().equals(dups_before)
    assert store.records().num_rows == 60 + 30 + 2
    store.compact(drop_superseded=True)
    assert len(_shards(store)) == 1
    # one record per point, plus the earlier ok label of point 1 (point 0 had failed before "b" labelled it)
    assert store.records().num_rows == 60 + 1
    assert store.read(on_duplicate="ignore").equals(before)


def test_copied_shard_counts_once(store: ShardStore, rng: np.random.Generator) -> None:
    ids, _ = _points(store, rng, 5)
    store.append_labels(ids, None, np.ones(5), oracle="a")
    shard = _shards(store)[-1]
    copy = shard.with_name(shard.name.replace(shard.name[6:26], f"{time.time_ns():020d}"))
    copy.write_bytes(shard.read_bytes())  # what a crash between writing and deleting during compaction leaves
    assert store.records().num_rows == 15
    assert store.duplicates().num_rows == 0 and store.validate().ok
    assert len(store.arrays()) == 5


def test_store_on_a_pyarrow_filesystem(rng: np.random.Generator) -> None:
    fs = _MockFileSystem()
    store = ShardStore.create("bucket/store", PROCESS, filesystem=fs)
    ids, p = make_point_ids(0, 0, 0, 6), two_body_points(6, rng)
    store.append_points(ids, p, split="train", round=0, batch=0)
    store.append_labels(ids[:3], None, [1.0, 2.0, 3.0], oracle="mock")
    reopened = ShardStore.open("bucket/store", filesystem=fs)
    np.testing.assert_array_equal(reopened.arrays().momenta, p[:3])
    assert reopened.summary().counts == {"train": {"ok": 3, "unlabelled": 3}}


def test_store_handle_pickles(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = _points(store, rng, 4)
    clone = pickle.loads(pickle.dumps(store))
    clone.append_labels(ids, None, np.ones(4), oracle="mock")
    np.testing.assert_array_equal(store.arrays().momenta, p)


# ------------------------------------------------------------------------------------------- vector labels

VV_PROCESS = "uu_ZZ"
OUTPUTS = ("c1", "c2", "c3")


@pytest.fixture
def vstore(tmp_path: Path) -> ShardStore:
    return ShardStore.create(tmp_path / "vstore", VV_PROCESS, outputs=OUTPUTS)


def _vv_points(
    store: ShardStore, n: int, *, seed: int = 0, batch: int = 0, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    from oracles.vvamp import VVPhaseSpace

    ids = make_point_ids(seed, 0, batch, n)
    p = VVPhaseSpace(VV_PROCESS).sample(n, np.random.default_rng([seed, batch])).momenta
    store.append_points(ids, p, split=split, round=0, batch=batch)
    return ids, p


def test_vector_store_manifest_schema_and_reopening(tmp_path: Path, vstore: ShardStore) -> None:
    manifest = json.loads((Path(vstore.path) / MANIFEST_NAME).read_text())
    assert manifest["outputs"] == list(OUTPUTS) and manifest["schema_version"] == SCHEMA_VERSION
    assert vstore.outputs == OUTPUTS and vstore.n_outputs == 3 and "outputs=['c1', 'c2', 'c3']" in repr(vstore)
    reopened = ShardStore.open(vstore.path)
    assert reopened.outputs == OUTPUTS and reopened.schema.equals(vstore.schema, check_metadata=True)
    field = vstore.schema.field("values")
    assert field.type == pa.list_(pa.float64(), 3) and field.nullable
    assert json.loads(vstore.schema.metadata[b"activeamp.outputs"]) == list(OUTPUTS)
    assert ShardStore.create(vstore.path, VV_PROCESS, outputs=list(OUTPUTS), exist_ok=True).outputs == OUTPUTS
    with pytest.raises(StoreError, match=r"existing store has outputs \['c1', 'c2', 'c3'\].*requested \['a', 'b'\]"):
        ShardStore.create(vstore.path, VV_PROCESS, outputs=["a", "b"], exist_ok=True)
    with pytest.raises(StoreError, match=r"outputs \['c1', 'c2', 'c3'\] \(vector store\), requested None"):
        ShardStore.create(vstore.path, VV_PROCESS, exist_ok=True)
    # scalar stores are unchanged: no outputs in the manifest, the schema or the metadata
    scalar = ShardStore.create(tmp_path / "scalar", PROCESS)
    assert scalar.outputs is None and scalar.n_outputs is None
    assert "outputs" not in json.loads((tmp_path / "scalar" / MANIFEST_NAME).read_text())
    assert "values" not in scalar.schema.names and b"activeamp.outputs" not in scalar.schema.metadata
    assert scalar.schema.equals(store_schema(get_process(PROCESS)), check_metadata=True)
    with pytest.raises(StoreError, match=r"existing store has outputs None \(scalar store\), requested \['a'\]"):
        ShardStore.create(tmp_path / "scalar", PROCESS, outputs=["a"], exist_ok=True)
    for bad, match in (
        ([], "at least one output"),
        (["a", "a"], "'a' more than once"),
        ("abc", "the string"),
        (["a", ""], r"outputs\[1\] is ''"),
    ):
        with pytest.raises(StoreInputError, match=match):
            ShardStore.create(tmp_path / "bad", VV_PROCESS, outputs=bad)
    assert not (tmp_path / "bad" / MANIFEST_NAME).exists()


def test_vector_manifest_with_bad_outputs_is_named(vstore: ShardStore) -> None:
    path = Path(vstore.path) / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    for bad in (["x", "x"], "x", []):
        path.write_text(json.dumps({**manifest, "outputs": bad}))
        with pytest.raises(ManifestError, match="'outputs'") as err:
            ShardStore.open(vstore.path)
        assert str(path) in str(err.value)


def test_vector_labels_round_trip(vstore: ShardStore) -> None:
    from oracles.mock import MockVectorOracle

    ids, p = _vv_points(vstore, 40)
    oracle = MockVectorOracle(VV_PROCESS, n_outputs=3, nan_rate=0.15)
    todo = vstore.unlabelled()
    result = oracle.evaluate(todo.momenta)
    assert 0 < result.n_failed < 40
    vstore.append_labels(todo.ids, todo.momenta, result, oracle=oracle.name, provenance=oracle.provenance())
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


def test_vector_result_of_the_wrong_shape_is_named(vstore: ShardStore, tmp_path: Path) -> None:
    from oracles.vvamp import VectorOracleResult

    ids, _ = _vv_points(vstore, 4)
    cases = [
        (np.ones(4), r"expects values of shape \(4, 3\) for the outputs \['c1', 'c2', 'c3'\], got shape \(4,\)"),
        (np.ones((4, 2)), r"expects values of shape \(4, 3\) .* got shape \(4, 2\)"),
        (np.ones((3, 3)), r"got shape \(3, 3\)"),
        (classify_values(np.ones(4)), r"got a scalar result of shape \(4,\)"),
        (
            VectorOracleResult(np.ones((4, 2)), np.ones(4, bool), ("",) * 4),
            r"got a vector result with values of shape \(4, 2\)",
        ),
        (
            VectorOracleResult(np.array([[1.0, np.nan, 2.0]] * 4), np.ones(4, bool), ("",) * 4),
            "point 0 .* marked ok but values are",
        ),
    ]
    for result, match in cases:
        with pytest.raises(StoreInputError, match=match) as err:
            vstore.append_labels(ids, None, result, oracle="x")
        assert vstore.path in str(err.value)
    scalar = ShardStore.create(tmp_path / "scalar", PROCESS)
    sids = make_point_ids(0, 0, 0, 4)
    p = two_body_points(4, np.random.default_rng(0))
    for result, match in (
        (VectorOracleResult(np.ones((4, 3)), np.ones(4, bool), ("",) * 4), r"vector result of shape \(4, 3\)"),
        (np.ones((4, 3)), r"expects 4 values of shape \(4,\), got shape \(4, 3\)"),
    ):
        with pytest.raises(StoreInputError, match=match) as err:
            scalar.append_labels(sids, p, result, oracle="x", split="train", round=0, batch=0)
        assert scalar.path in str(err.value) and "outputs=" in str(err.value)
    assert len(_shards(vstore)) == 1 and _shards(scalar) == []
    # results without values (every point failed) and OracleResults carrying (N, K) values are accepted
    nothing = OracleResult(values=np.full(4, np.nan), ok=np.zeros(4, bool), reasons=("oracle error",) * 4)
    vstore.append_labels(ids, None, nothing, oracle="x")
    assert vstore.read(status="failed")["reason"].to_pylist() == ["oracle error"] * 4
    packed = OracleResult(values=-np.ones((4, 3)), ok=np.array([True, True, False, True]), reasons=("",) * 4)
    vstore.append_labels(ids, None, packed, oracle="x")
    assert len(vstore.arrays()) == 3 and (vstore.arrays().values == -1.0).all() and vstore.validate().ok


def test_vector_duplicates_compaction_and_pickling(vstore: ShardStore) -> None:
    ids, _ = _vv_points(vstore, 6)
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
    assert len(_shards(vstore)) == 1 and vstore.read(on_duplicate="ignore").equals(before)
    clone = pickle.loads(pickle.dumps(vstore))
    assert clone.outputs == OUTPUTS
    np.testing.assert_array_equal(clone.arrays(on_duplicate="ignore").values, arrays.values)


def test_failed_vector_write_leaves_no_shard(vstore: ShardStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids, _ = _vv_points(vstore, 5)

    def crash(*args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        vstore.append_labels(ids, None, np.ones((5, 3)), oracle="x")
    monkeypatch.undo()
    assert len(_shards(vstore)) == 1 and not list(Path(vstore.path).glob(".tmp-*"))
    assert len(vstore.unlabelled()) == 5 and vstore.validate().ok


def test_shard_of_other_outputs_is_named(vstore: ShardStore, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _vv_points(vstore, 5)
    other = ShardStore.create(tmp_path / "other", VV_PROCESS, outputs=["a", "b", "c"])
    scalar_vv = ShardStore.create(tmp_path / "scalar_vv", VV_PROCESS)
    for source, match in (
        (other, r"activeamp.outputs is \['a', 'b', 'c'\], store outputs are \['c1', 'c2', 'c3'\]"),
        (scalar_vv, r"activeamp.outputs is None, store outputs are \['c1', 'c2', 'c3'\] \(vector store\)"),
    ):
        _vv_points(source, 3, seed=1)
        shard = _shards(source)[0]
        bad = Path(vstore.path) / shard.name
        bad.write_bytes(shard.read_bytes())
        with pytest.raises(ShardSchemaError, match=match) as err:
            vstore.read()
        assert err.value.path == str(bad)
        with caplog.at_level(logging.WARNING, logger="activeamp.data.store"):
            assert vstore.read(on_bad_shard="skip").num_rows == 5
        assert [f for f, _ in vstore.validate().bad_shards] == [str(bad)]
        bad.unlink()
    # and a vector shard in a scalar store
    shard = _shards(vstore)[0]
    (Path(scalar_vv.path) / shard.name).write_bytes(shard.read_bytes())
    with pytest.raises(ShardSchemaError, match=r"activeamp.outputs is \['c1', 'c2', 'c3'\], store outputs are None"):
        scalar_vv.read()


def test_validate_checks_vector_values(vstore: ShardStore) -> None:
    ids, _ = _vv_points(vstore, 4)
    vstore.append_labels(ids, None, np.ones((4, 3)), oracle="x")
    table = vstore.records(columns=None).filter(pc.field("status") == "ok")
    k = table.schema.get_field_index("values")
    values = pa.array([None, [1.0, float("nan"), 2.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], pa.list_(pa.float64(), 3))
    table = table.set_column(k, table.schema.field("values"), values)
    amp = pa.array([None, None, 5.0, None], pa.float64())
    table = table.set_column(table.schema.get_field_index("amplitude"), table.schema.field("amplitude"), amp)
    data = _ipc_bytes(table.replace_schema_metadata(vstore.schema.metadata))
    (Path(vstore.path) / _shard_name(data, ts=time.time_ns())).write_bytes(data)
    report = vstore.validate()
    assert report.bad_shards == ()
    text = "\n".join(report.issues)
    assert "field 'values': 2 record(s) are ok but not 3 finite numbers" in text
    assert "field 'amplitude': 1 record(s) carry a value in a vector store" in text
