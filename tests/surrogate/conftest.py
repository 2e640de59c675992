"""Shared fixtures of the training and evaluation tests: small labelled stores and models trained on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from activeamp.config import from_dict
from activeamp.data.dataset import DatasetConfig, build_dataset
from activeamp.data.store import ShardStore
from activeamp.surrogate.training import train_from_store

TINY = {"hidden": [16, 16], "batch_size": 256, "max_epochs": 4, "lr": 3e-3, "seed": 3}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ShardStore:
    """g g → γ γ g with the paper's cuts, labelled by the mock oracle: 1500 train + 300 test points."""
    data = {"oracle": {"name": "mock"}, "n_train": 1500, "n_test": 300, "batch_size": 1000, "seed": 11}
    config = from_dict(DatasetConfig, data)
    s, report = build_dataset(config, tmp_path_factory.mktemp("data") / "store", progress=False)
    assert report.n_ok == 1800
    return s


@pytest.fixture(scope="module")
def trained(store: ShardStore, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    out = tmp_path_factory.mktemp("train")
    result = train_from_store(store, {"surrogate": TINY, "validation_fraction": 0.1}, out, progress=False)
    return result, out


VECTOR_SURROGATE = {**TINY, "target_transform": "signed", "sigma_a": "median", "batch_size": 64}


@pytest.fixture(scope="module")
def vector_store(tmp_path_factory: pytest.TempPathFactory) -> ShardStore:
    """q q̄ → Z Z with 3 signed outputs per point (the analytic VV mock): 300 train, 60 validation, 100 test."""
    data = {
        "phasespace": {"process": "uu_ZZ"},
        "oracle": {"name": "mock_vv", "options": {"n_outputs": 3}},
        "n_train": 300,
        "n_validation": 60,
        "n_test": 100,
        "seed": 5,
    }
    s, report = build_dataset(from_dict(DatasetConfig, data), tmp_path_factory.mktemp("vv") / "store", progress=False)
    assert report.n_ok == 460 and s.outputs == ("c1", "c2", "c3")
    return s


@pytest.fixture(scope="module")
def vector_trained(vector_store: ShardStore, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    out = tmp_path_factory.mktemp("vv-train")
    config = {"surrogate": VECTOR_SURROGATE, "boosting": {"steps": ["loss", "performance"], "max_epochs": 1}}
    return train_from_store(vector_store, config, out, progress=False), out

