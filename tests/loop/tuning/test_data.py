"""Tests of the search data: the train and validation splits, their fingerprint, vector stores."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from activeamp.config import ConfigError
from activeamp.data.store import ShardStore, StoreError
from activeamp.loop.tuning.config import SearchConfig, TuningError
from activeamp.loop.tuning.data import load_search_data
from tests.loop.tuning.conftest import TINY_SPACE, VECTOR_BASE, search_dict


def test_search_data_is_the_train_and_validation_split(store: ShardStore, tmp_path: Path) -> None:
    data = load_search_data(SearchConfig.from_dict(search_dict(store.path, tmp_path)))
    assert data.x.shape == (600, 5, 4) and data.x_val.shape == (150, 5, 4) and data.a_val.shape == (150,)
    assert data.fingerprint["n_train"] == 600 and len(data.fingerprint["sha256"]) == 64
    assert data.process == "gg_yyg" and set(data.arrays()) == {"x", "amplitude", "x_val", "a_val"}
    with pytest.raises(TuningError, match="no labelled points in split 'candidate' \\(validation_split\\)"):
        load_search_data(SearchConfig.from_dict(search_dict(store.path, tmp_path, validation_split="candidate")))
    with pytest.raises(StoreError):
        load_search_data(SearchConfig.from_dict(search_dict(tmp_path / "nothing", tmp_path)))
    with pytest.raises(TuningError, match="metric 'val_top1' .* has 150 labelled points \\(1 in its top 1 %\\)"):
        load_search_data(SearchConfig.from_dict(search_dict(store.path, tmp_path, metric="val_top1")))


def _digest(store: ShardStore, vector: bool) -> str:
    digest = hashlib.sha256()
    for split in ("train", "validation"):
        arrays = store.arrays(split)
        digest.update("\n".join(arrays.ids.tolist()).encode())
        digest.update(np.ascontiguousarray(arrays.values if vector else arrays.amplitude).tobytes())
    return digest.hexdigest()


def test_search_data_fingerprint_hashes_amplitudes_or_values(
    store: ShardStore, vector_store: ShardStore, tmp_path: Path
) -> None:
    scalar = load_search_data(SearchConfig.from_dict(search_dict(store.path, tmp_path)))
    assert scalar.outputs is None and "outputs" not in scalar.fingerprint
    assert scalar.fingerprint["sha256"] == _digest(store, vector=False)  # unchanged: resumes of old searches work
    vector = load_search_data(SearchConfig.from_dict(search_dict(vector_store.path, tmp_path, base=VECTOR_BASE)))
    assert vector.outputs == ("c1", "c2") and vector.fingerprint["outputs"] == ["c1", "c2"]
    assert vector.fingerprint["sha256"] == _digest(vector_store, vector=True)
    assert vector.amplitude.shape == (300, 2) and vector.a_val.shape == (80, 2) and vector.x_val.shape == (80, 4, 4)
    np.testing.assert_array_equal(vector.a_val, vector_store.arrays("validation").values)


def test_vector_search_needs_the_signed_target_map(vector_store: ShardStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^base\.target_transform: .* holds 2 signed outputs per point \(c1, c2\)"):
        load_search_data(SearchConfig.from_dict(search_dict(vector_store.path, tmp_path)))
    space = {**TINY_SPACE, "target_transform": {"choice": ["signed", "log"]}}
    with pytest.raises(ConfigError, match=r"^space\.target_transform: .* which the 'log' map cannot learn"):
        load_search_data(
            SearchConfig.from_dict(search_dict(vector_store.path, tmp_path, base=VECTOR_BASE, space=space))
        )
    space = {**TINY_SPACE, "target_transform": "signed"}  # a constant signed map in the space is enough
    load_search_data(SearchConfig.from_dict(search_dict(vector_store.path, tmp_path, space=space)))
