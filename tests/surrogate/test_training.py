"""Tests of the training glue: store → trained model on disk → metrics, figures and summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from activeamp.config import ConfigError
from activeamp.data.store import ShardStore
from activeamp.surrogate.surrogate import Surrogate
from activeamp.surrogate.training import TrainConfig, load_training_data, train_from_store
from tests.surrogate.conftest import TINY

pytestmark = pytest.mark.usefixtures("single_thread")








# ---------------------------------------------------------------------------- configuration


# ---------------------------------------------------------------------------- data selection
def test_training_data_selection_is_deterministic_and_nested(store: ShardStore) -> None:
    full = load_training_data(store, TrainConfig(validation_fraction=0.0))
    assert full.n_train == 1500 and full.validation_source == "none" and full.x_val is None
    default = load_training_data(store, TrainConfig())  # no validation split: 10 % carved for σ_model
    assert default.n_train == 1350 and default.validation_source == "carved" and len(default.x_val) == 150
    carved = load_training_data(store, TrainConfig(validation_fraction=0.2, seed=5))
    assert (carved.n_train, carved.n_validation, carved.validation_source) == (1200, 300, "carved")
    assert not set(carved.ids) & set(carved.val_ids)
    assert set(carved.ids) | set(carved.val_ids) == set(full.ids)
    small = load_training_data(store, TrainConfig(validation_fraction=0.2, seed=5, n_train=500))
    smaller = load_training_data(store, TrainConfig(validation_fraction=0.2, seed=5, n_train=200))
    assert small.n_train == 500 and set(smaller.ids) <= set(small.ids) <= set(carved.ids)
    np.testing.assert_array_equal(small.val_ids, carved.val_ids)
    again = load_training_data(store.path, TrainConfig(validation_fraction=0.2, seed=5, n_train=500))
    np.testing.assert_array_equal(again.ids, small.ids)
    np.testing.assert_array_equal(again.x, small.x)
    assert list(small.ids) == sorted(small.ids)
    other = load_training_data(store, TrainConfig(validation_fraction=0.2, seed=6, n_train=500))
    assert set(other.ids) != set(small.ids)
    # a validation split in the store is preferred over carving; test points are never trained on
    as_val = load_training_data(store, TrainConfig(validation_split="test", validation_fraction=0.2))
    assert as_val.validation_source == "split" and as_val.n_validation == 300 and as_val.n_train == 1500


def test_empty_training_split_is_an_error_naming_the_split(store: ShardStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"split 'candidate' has 0 labelled \(ok\) points"):
        train_from_store(store, {"train_split": "candidate", "surrogate": TINY}, tmp_path, progress=False)


# ---------------------------------------------------------------------------- training and evaluation
def test_train_from_store_writes_model_config_history_and_plot(trained: tuple) -> None:
    result, out = trained
    assert result.model_path == out / "model.pt" and result.model_path.is_file()
    assert (out / "loss.png").stat().st_size > 0
    assert result.n_train == 1350 and result.n_validation == 150 and result.epochs == 4
    assert result.multiplicities is None and result.boosting == () and result.seconds > 0
    assert TrainConfig.from_dict(yaml.safe_load((out / "train_config.yaml").read_text())).surrogate.hidden == (16, 16)
    history = json.loads((out / "history.json").read_text())
    assert history["schema"] == "activeamp.training-history/1"
    assert [h["epoch"] for h in history["epochs"]] == [1, 2, 3, 4]
    assert all(h["val_loss"] is not None for h in history["epochs"])
    assert history["data"]["n_train"] == 1350 and history["data"]["validation_source"] == "carved"
    assert not (out / "boosting.npz").exists()


def test_reloaded_model_predicts_identically(trained: tuple, store: ShardStore) -> None:
    result, _ = trained
    x = store.arrays("test").momenta[:100]
    loaded = Surrogate.load(result.model_path)
    a = result.surrogate.predict(x, 10, seed=42, return_samples=True)
    b = loaded.predict(x, 10, seed=42, return_samples=True)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.sigma_model, b.sigma_model)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(result.surrogate.predict_mean(x), loaded.predict_mean(x))


def test_boosting_schedule_runs_and_changes_multiplicities(store: ShardStore, tmp_path: Path) -> None:
    config = {
        "surrogate": {**TINY, "max_epochs": 2},
        "boosting": {"steps": ["loss", "performance"], "max_epochs": 2, "performance": {"k": 50, "copies": 3}},
        "n_train": 600,
    }
    result = train_from_store(store, config, tmp_path, progress=False)
    assert [r["kind"] for r in result.boosting] == ["loss", "performance"]
    assert result.epochs == 6 and len(result.history) == 6
    n = result.multiplicities
    assert n is not None and n.shape == (600,) and np.any(n != 1)
    assert result.boosting[-1]["n_boosted"] == 50 and np.count_nonzero(n >= 4) >= 50
    saved = np.load(tmp_path / "boosting.npz")
    np.testing.assert_array_equal(saved["multiplicities"], n)
    assert len(saved["ids"]) == 600
    history = json.loads((tmp_path / "history.json").read_text())
    assert [r["round"] for r in history["boosting"]] == [1, 2]


# ---------------------------------------------------------------------------- vector stores






def test_vector_store_needs_the_signed_target_map_before_training(vector_store: ShardStore, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^surrogate\.target_transform: .* holds 3 signed outputs per point \(c1, c2, c3\)"
    ):
        train_from_store(vector_store, {"surrogate": TINY}, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_vector_training_data_are_the_stored_values(vector_store: ShardStore) -> None:
    data = load_training_data(vector_store, TrainConfig(validation_fraction=0.2))
    assert data.outputs == ("c1", "c2", "c3") and data.validation_source == "split"
    assert data.amplitude.shape == (300, 3) and data.a_val is not None and data.a_val.shape == (60, 3)
    np.testing.assert_array_equal(data.amplitude, vector_store.arrays("train").values)
    assert (data.amplitude < 0).any()  # signed labels
    carved = load_training_data(vector_store, TrainConfig(validation_split=None, validation_fraction=0.2, n_train=100))
    assert carved.amplitude.shape == (100, 3) and carved.a_val is not None and carved.a_val.shape == (60, 3)


def test_vector_model_trains_boosts_and_saves(vector_trained: tuple) -> None:
    result, out = vector_trained
    assert result.surrogate.n_outputs == 3 and Surrogate.load(result.model_path).n_outputs == 3
    assert [r["kind"] for r in result.boosting] == ["loss", "performance"] and result.epochs == 6
    assert result.multiplicities is not None and result.multiplicities.shape == (300,)
    history = json.loads((out / "history.json").read_text())
    assert history["data"]["outputs"] == ["c1", "c2", "c3"] and history["data"]["validation_source"] == "split"


