"""Fixtures and helpers of the shard-store tests: scalar and vector stores, points, shard files, bad-file checks."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from activeamp.data.store import BadShardError, ShardStore, make_point_ids
from activeamp.physics.vv_phasespace import VVPhaseSpace
from tests.conftest import two_body_points

PROCESS = "gg_yy"
VV_PROCESS = "uu_ZZ"
OUTPUTS = ("c1", "c2", "c3")


@pytest.fixture
def store(tmp_path: Path) -> ShardStore:
    return ShardStore.create(tmp_path / "store", PROCESS)


@pytest.fixture
def vstore(tmp_path: Path) -> ShardStore:
    return ShardStore.create(tmp_path / "vstore", VV_PROCESS, outputs=OUTPUTS)


def points(
    store: ShardStore, rng: np.random.Generator, n: int, *, round: int = 0, batch: int = 0, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Append ``n`` unlabelled gg_yy points; returns (ids, momenta)."""
    ids = make_point_ids(1234, round, batch, n)
    p = two_body_points(n, rng)
    store.append_points(ids, p, split=split, round=round, batch=batch)
    return ids, p


def vv_points(
    store: ShardStore, n: int, *, seed: int = 0, batch: int = 0, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Append ``n`` unlabelled uu_ZZ points; returns (ids, momenta)."""
    ids = make_point_ids(seed, 0, batch, n)
    p = VVPhaseSpace(VV_PROCESS).sample(n, np.random.default_rng([seed, batch])).momenta
    store.append_points(ids, p, split=split, round=0, batch=batch)
    return ids, p


def shards(store: ShardStore) -> list[Path]:
    """The shard files of ``store``, in name order."""
    return sorted(Path(store.path).glob("shard-*.arrow"))


def shard_name(data: bytes, ts: int = 1) -> str:
    """A valid shard file name for ``data``."""
    return f"shard-{ts:020d}-{hashlib.blake2b(data, digest_size=8).hexdigest()}.arrow"


def ipc_bytes(table: pa.Table) -> bytes:
    """``table`` as an uncompressed Arrow IPC file."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def two_good_shards(store: ShardStore, rng: np.random.Generator) -> None:
    """Two shards with 5 and 7 unlabelled points."""
    points(store, rng, 5, batch=0)
    points(store, rng, 7, batch=1)


def expect_bad(
    store: ShardStore, bad: Path, match: str, caplog: pytest.LogCaptureFixture, error: type[Exception] = BadShardError
) -> None:
    """``bad`` raises ``error`` naming it, is skipped with a warning on request, and is reported by validate."""
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
