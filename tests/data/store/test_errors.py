"""Tests of the store's errors (hierarchy, named files) and of the bad-shard and duplicate policies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.data.store import (
    BadShardError,
    ShardSchemaError,
    ShardStore,
    StoreError,
    StoreInputError,
    StoreNotFoundError,
    make_point_ids,
)
from activeamp.data.store.errors import check_bad_shard_policy, check_duplicate_policy
from tests.data.store.conftest import PROCESS, points


def test_errors_are_caught_as_the_builtin_kind_they_are(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="store.json missing"):
        ShardStore.open(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="prefix"):
        make_point_ids("a b", 0, 0, 1)
    err = ShardSchemaError("/data/shard-1.arrow", "field 'reason' missing")
    assert isinstance(err, BadShardError) and isinstance(err, StoreError)
    assert err.path == "/data/shard-1.arrow" and str(err) == "/data/shard-1.arrow: field 'reason' missing"
    assert issubclass(StoreNotFoundError, StoreError) and issubclass(StoreInputError, StoreError)


def test_policies_are_checked(tmp_path: Path, rng: np.random.Generator) -> None:
    assert check_bad_shard_policy("skip") == "skip" and check_duplicate_policy("warn") == "warn"
    with pytest.raises(StoreInputError, match="on_bad_shard must be 'raise' or 'skip', got 'ignore'"):
        check_bad_shard_policy("ignore")
    with pytest.raises(StoreInputError, match="on_duplicate must be 'raise', 'warn' or 'ignore', got 'skip'"):
        check_duplicate_policy("skip")
    store = ShardStore.create(tmp_path / "s", PROCESS)
    with pytest.raises(StoreInputError, match="on_bad_shard"):
        ShardStore.open(store.path, on_bad_shard="ignore")  # type: ignore[arg-type]
    with pytest.raises(StoreInputError, match="on_bad_shard"):
        store.read(on_bad_shard="warn")  # type: ignore[arg-type]
    ids, _ = points(store, rng, 2)
    with pytest.raises(StoreInputError, match="on_duplicate"):
        store.append_labels(ids, None, [1.0, 2.0], oracle="x", on_duplicate="sometimes")  # type: ignore[arg-type]
    assert store.labelled_ids() == frozenset()
