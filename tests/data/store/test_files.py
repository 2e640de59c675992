"""Tests of the store directory layer: atomic (and exclusive) writes, failed writes, other pyarrow filesystems."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from pyarrow.fs import _MockFileSystem

from activeamp.data.store import ShardStore, make_point_ids
from activeamp.data.store.files import StoreDir
from tests.conftest import two_body_points
from tests.data.store.conftest import PROCESS, points, shards, vv_points


def test_atomic_writes_replace_or_refuse(tmp_path: Path) -> None:
    d = StoreDir(tmp_path / "d")
    d.fs.create_dir(d.root)
    assert d.local and d.root == str(tmp_path / "d") and not d.exists("a")
    d.write_atomic("a", b"one")
    d.write_atomic("a", b"two")
    assert d.read_bytes("a") == b"two"
    with pytest.raises(FileExistsError):
        d.write_atomic("a", b"three", exclusive=True)
    d.write_atomic("b", b"new", exclusive=True)
    assert [i.base_name for i in d.listdir()] == ["a", "b"] and d.read_bytes("a") == b"two"
    assert d.remove("b") and not d.remove("b")


def test_failed_write_leaves_no_shard(
    store: ShardStore, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    points(store, rng, 5)

    def crash(*args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        points(store, rng, 5, batch=1)
    monkeypatch.undo()
    assert len(shards(store)) == 1
    assert not list(Path(store.path).glob(".tmp-*"))
    assert store.read().num_rows == 5


def test_failed_vector_write_leaves_no_shard(vstore: ShardStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids, _ = vv_points(vstore, 5)

    def crash(*args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk on fire"):
        vstore.append_labels(ids, None, np.ones((5, 3)), oracle="x")
    monkeypatch.undo()
    assert len(shards(vstore)) == 1 and not list(Path(vstore.path).glob(".tmp-*"))
    assert len(vstore.unlabelled()) == 5 and vstore.validate().ok


def test_store_on_a_pyarrow_filesystem(rng: np.random.Generator) -> None:
    fs = _MockFileSystem()
    store = ShardStore.create("bucket/store", PROCESS, filesystem=fs)
    ids, p = make_point_ids(0, 0, 0, 6), two_body_points(6, rng)
    store.append_points(ids, p, split="train", round=0, batch=0)
    store.append_labels(ids[:3], None, [1.0, 2.0, 3.0], oracle="mock")
    reopened = ShardStore.open("bucket/store", filesystem=fs)
    np.testing.assert_array_equal(reopened.arrays().momenta, p[:3])
    assert reopened.summary().counts == {"train": {"ok": 3, "unlabelled": 3}}
    d = StoreDir("bucket/other", fs)
    d.fs.create_dir(d.root)
    assert not d.local
    d.write_atomic("x", b"1", exclusive=True)
    with pytest.raises(FileExistsError):
        d.write_atomic("x", b"2", exclusive=True)
    assert d.read_bytes("x") == b"1" and [i.base_name for i in d.listdir()] == ["x"]
