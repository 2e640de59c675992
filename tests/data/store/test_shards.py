"""Tests of the shard layer: content-hash names, bad files named or skipped, killed and concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from activeamp.data.store import ShardStore
from activeamp.data.store.shards import shard_name as store_shard_name
from tests.conftest import two_body_points
from tests.data.store.conftest import expect_bad, points, shard_name, shards, two_good_shards


def test_shards_are_named_by_time_and_content(store: ShardStore, rng: np.random.Generator) -> None:
    names = points(store, rng, 3)[0], points(store, rng, 4, batch=1)[0]
    files = shards(store)
    assert len(names) == len(files) == 2 and store.shard_names() == [f.name for f in files]
    for f in files:
        ts = int(f.name[6:26])
        assert store_shard_name(ts, f.read_bytes()) == f.name == shard_name(f.read_bytes(), ts)
    assert int(files[0].name[6:26]) < int(files[1].name[6:26])
    assert [t.num_rows for t in (pa.ipc.open_file(pa.memory_map(str(f))).read_all() for f in files)] == [3, 4]


def test_garbage_file_is_named(store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture) -> None:
    two_good_shards(store, rng)
    bad = Path(store.path) / "notes.txt"
    bad.write_text("not a shard")
    expect_bad(store, bad, "foreign file", caplog)
    assert store.shard_names() == [f.name for f in shards(store)]  # skipped, never raised


def test_garbage_with_shard_name_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    two_good_shards(store, rng)
    bad = Path(store.path) / shard_name(b"x")
    bad.write_bytes(b"\x00garbage" * 100)
    expect_bad(store, bad, "truncated or corrupt", caplog)


def test_truncated_shard_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    two_good_shards(store, rng)
    points(store, rng, 9, batch=2)
    bad = shards(store)[-1]
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) - 100])
    expect_bad(store, bad, "truncated or corrupt", caplog)


def test_corrupted_shard_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    two_good_shards(store, rng)
    points(store, rng, 9, batch=2)
    bad = shards(store)[-1]
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    expect_bad(store, bad, "truncated or corrupt", caplog)


def test_parquet_file_is_named(store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture) -> None:
    two_good_shards(store, rng)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"point_id": ["a"], "amplitude": [1.0]}), sink)
    data = sink.getvalue().to_pybytes()
    bad = Path(store.path) / shard_name(data)
    bad.write_bytes(data)
    expect_bad(store, bad, "not a readable Arrow IPC file", caplog)


def test_subdirectory_is_named(store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture) -> None:
    two_good_shards(store, rng)
    bad = Path(store.path) / "round-1"
    bad.mkdir()
    expect_bad(store, bad, "not a regular file", caplog)


_WRITER = """
import sys
import numpy as np
from activeamp.data.store import ShardStore, make_point_ids
store = ShardStore.open(sys.argv[1])
seed = int(sys.argv[2])
momenta = np.load(sys.argv[4])
print("ready", flush=True)
for batch in range(int(sys.argv[3])):
    store.append_points(make_point_ids(seed, 0, batch, 200), momenta,
                        split="train", round=0, batch=batch, check_existing=False)
"""


def _writer_momenta(store: ShardStore) -> str:
    """A file with 200 physical gg_yy points for the writer processes (the same for every batch)."""
    path = Path(store.path).parent / "writer-momenta.npy"
    np.save(path, two_body_points(200, np.random.default_rng(5)))
    return str(path)


def test_killed_writer_leaves_a_readable_store(store: ShardStore) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, store.path, "1", "100000", _writer_momenta(store)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while len(shards(store)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    n = len(shards(store))
    assert n >= 3
    report = store.validate()
    assert report.ok, report.message()
    assert store.read().num_rows == 200 * report.n_shards
    store.cleanup(older_than=0)
    assert not list(Path(store.path).glob(".tmp-*"))


def test_concurrent_writers(store: ShardStore) -> None:
    momenta = _writer_momenta(store)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, store.path, str(seed), "5", momenta], stdout=subprocess.DEVNULL
        )
        for seed in range(3)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert len(shards(store)) == 15
    summary = store.summary()
    assert summary.n_points == 3000 and summary.count("train", "unlabelled") == 3000
    assert store.validate().ok
