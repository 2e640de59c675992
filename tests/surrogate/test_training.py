"""Tests of the training glue: store → trained model on disk → metrics, figures and summary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from activeamp.config import ConfigError, from_dict
from activeamp.data.dataset import DatasetConfig, build_dataset
from activeamp.data.store import ShardStore
from activeamp.surrogate.boosting import BoostingSchedule
from activeamp.surrogate.metrics import TOP_FRACTIONS, Metrics, VectorMetrics, read_metrics_json
from activeamp.surrogate.surrogate import Surrogate, SurrogateConfig
from activeamp.surrogate.training import (
    TrainConfig,
    evaluate_model,
    format_delta_table,
    load_train_config,
    load_training_data,
    train_from_store,
)


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    """Tiny networks train fastest on one thread; spinning OpenMP threads stall on a shared 2-core runner."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


# ---------------------------------------------------------------------------- configuration
def test_config_nests_the_surrogate_and_boosting_sections_and_round_trips() -> None:
    cfg = TrainConfig.from_dict(
        {"surrogate": {"hidden": [8, 8], "lr": "1e-4"}, "boosting": {"steps": ["loss*2"]}, "n_train": 100}
    )
    assert cfg.surrogate == SurrogateConfig(hidden=(8, 8), lr=1e-4)
    assert cfg.boosting == BoostingSchedule(steps=("loss", "loss")) and cfg.boosts
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict()))) == cfg
    assert not TrainConfig().boosts and not TrainConfig.from_dict({"boosting": {"steps": []}}).boosts


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"surrogate": {"lr": 0}}, r"^surrogate\.lr: must be > 0"),
        ({"surrogate": {"lr": "fast"}}, r"^surrogate\.lr: expected a number"),
        ({"surrogate": {"lrr": 1e-3}}, r"unknown key surrogate\.lrr; allowed: .*lr"),
        ({"surrogate": {"family": "gp"}}, r"^surrogate\.family: 'gp' is not one of"),
        ({"surrogate": [1, 2]}, r"^surrogate: expected a mapping"),
        ({"boosting": {"steps": ["lost"]}}, r"^boosting\.steps\[0\]: 'lost' is not one of"),
        ({"boosting": {"loss": {"threshold": -1}}}, r"^boosting\.loss\.threshold: must be >= 0"),
        ({"boosting": {"performance": {"kk": 3}}}, r"unknown key boosting\.performance\.kk"),
        ({"boosting": {"max_epochs": 0}}, r"^boosting\.max_epochs: must be >= 1"),
        ({"validation_fraction": 1.0}, r"^validation_fraction: must be in \[0, 1\)"),
        ({"train_split": "training"}, r"^train_split: 'training' is not one of"),
        ({"validation_split": "train"}, r"^validation_split: must differ from train_split"),
        ({"n_train": 1}, r"^n_train: must be >= 2"),
        ({"n_trian": 10}, r"unknown key n_trian; allowed: .*n_train"),
    ],
)
def test_config_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(data)


def test_load_train_config_applies_overrides_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({"surrogate": {"hidden": [4]}, "n_train": 50}))
    cfg = load_train_config(path, ["surrogate.lr=2e-3", "boosting.steps=[performance*3]"])
    assert cfg.surrogate.hidden == (4,) and cfg.surrogate.lr == 2e-3 and cfg.n_train == 50
    assert cfg.boosting is not None and cfg.boosting.steps == ("performance",) * 3
    with pytest.raises(ConfigError, match=r"train\.yaml: surrogate\.batch_size: must be >= 1"):
        load_train_config(path, ["surrogate.batch_size=0"])
    assert load_train_config(None, ["seed=4"]).seed == 4


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


def test_evaluate_model_writes_metrics_plots_and_summary(trained: tuple, store: ShardStore, tmp_path: Path) -> None:
    result, _ = trained
    metrics = evaluate_model(result.model_path, store.path, tmp_path, n_samples=8)
    assert list(metrics) == ["train", "test"] and all(isinstance(m, Metrics) for m in metrics.values())
    assert metrics["train"].count == 1500 and metrics["test"].count == 300
    test = metrics["test"]
    assert test.delta_top1.count == int(np.ceil(TOP_FRACTIONS[0] * 300)) and test.delta_top01.count == 1
    assert test.pull_model_weights is not None and test.pull_model_weights.count == 8 * 300
    assert np.isfinite(test.delta_all.half_width_68) and test.pull_tot.count == 300
    from_file, extra = read_metrics_json(tmp_path / "metrics.json")
    assert from_file["test"].delta_all == test.delta_all
    assert extra["n_samples"] == 8 and extra["sizes"]["test"]["n_points"] == 300
    for name in ("delta.png", "delta_log.png", "pulls.png", "loss.png", "kin_pT_a1.png", "kin_dR_a1g1.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    summary = (tmp_path / "summary.txt").read_text()
    assert "top 0.1%" in summary and f"{test.delta_all.half_width_68:.3e}" in summary


def test_evaluate_subsets_and_in_memory_model_agree_with_the_checkpoint(
    trained: tuple, store: ShardStore, tmp_path: Path
) -> None:
    result, _ = trained
    kw = {"splits": ["test"], "n_samples": 5, "max_points": 100, "seed": 9, "plots": False}
    from_disk = evaluate_model(result.model_path, store, tmp_path / "a", **kw)
    in_memory = evaluate_model(result.surrogate, store, tmp_path / "b", **kw)
    assert from_disk["test"].count == 100
    assert from_disk["test"] == in_memory["test"]
    assert not (tmp_path / "a" / "delta.png").exists() and (tmp_path / "a" / "summary.txt").exists()
    with pytest.raises(ValueError, match="split 'validation' has no labelled"):
        evaluate_model(result.surrogate, store, tmp_path / "c", splits=["validation"])
    with pytest.raises(ValueError, match="report_split: 'train' is not among"):
        evaluate_model(result.surrogate, store, tmp_path / "c", splits=["test"], report_split="train")


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


def test_model_of_another_process_is_refused(trained: tuple, tmp_path: Path) -> None:
    result, _ = trained
    data = {"phasespace": {"process": "gg_yy"}, "oracle": {"name": "mock"}, "n_train": 0, "n_test": 20}
    config = from_dict(DatasetConfig, data)
    other, _ = build_dataset(config, tmp_path / "yy", progress=False)
    with pytest.raises(ValueError, match="does not fit process gg_yy"):
        evaluate_model(result.model_path, other, tmp_path / "out", splits=["test"])


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


def test_format_delta_table_lists_every_set(trained: tuple, store: ShardStore, tmp_path: Path) -> None:
    result, _ = trained
    metrics = evaluate_model(result.surrogate, store, tmp_path, n_samples=4, max_points=50, plots=False)
    table = format_delta_table(metrics)
    lines = table.splitlines()
    assert lines[1].split()[:3] == ["set", "N", "all"] and lines[2].startswith("train") and lines[3].startswith("test")
    assert f"{metrics['test'].delta_all.half_width_68:.3e}" in lines[3]
    assert f"{metrics['test'].delta_top01.abs_68:.3e}" in lines[3]  # top sets: a quantile of |Δ|, with the median


# ---------------------------------------------------------------------------- vector stores
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


def test_vector_evaluation_writes_per_output_metrics_plots_and_summary(
    vector_trained: tuple, vector_store: ShardStore, tmp_path: Path
) -> None:
    result, _ = vector_trained
    metrics = evaluate_model(result.model_path, vector_store.path, tmp_path, splits=["train", "test"], n_samples=6)
    assert list(metrics) == ["train", "test"] and all(isinstance(m, VectorMetrics) for m in metrics.values())
    test = metrics["test"]
    assert test.names == ("c1", "c2", "c3") and test.count == 100 and len(test.scale) == 3
    assert test.precision == max(m.precision for m in test.per_output.values()) and np.isfinite(test.precision)
    assert test.per_output["c2"].pull_model_weights is not None  # samples kept: the Eq. 17 pull per output
    from_file, extra = read_metrics_json(tmp_path / "metrics.json")
    assert isinstance(from_file["test"], VectorMetrics) and from_file["test"].per_output["c1"] == test.per_output["c1"]
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert set(doc["sets"]["train"]["per_output"]) == {"c1", "c2", "c3"}
    assert extra["outputs"] == ["c1", "c2", "c3"] and extra["sizes"]["test"]["n_points"] == 100
    for name in ("residuals.png", "pulls_c1.png", "pulls_c3.png", "kin_sqrt_s_c2.png", "kin_m34_c1.png", "loss.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / "delta.png").exists()
    summary = (tmp_path / "summary.txt").read_text()
    assert "Delta_k = (A_NN,k - A_k)/(|A_k| + m_k)" in summary and "  test/c3: t_model std" in summary
    assert f"{test.per_output['c2'].delta_all.half_width_68:.3e}" in summary


def test_format_delta_table_has_a_row_per_set_and_output(
    vector_trained: tuple, vector_store: ShardStore, tmp_path: Path
) -> None:
    result, _ = vector_trained
    metrics = evaluate_model(
        result.surrogate, vector_store, tmp_path, splits=["validation", "test"], n_samples=4, plots=False
    )
    lines = format_delta_table(metrics).splitlines()
    assert lines[1].split()[:4] == ["set", "output", "N", "all"] and len(lines) == 2 + 6 + 1
    assert lines[2].split()[:3] == ["validation", "c1", "60"] and lines[7].split()[:3] == ["test", "c3", "100"]
    assert f"{metrics['test'].per_output['c3'].delta_all.half_width_68:.3e}" in lines[7]
    worst = max(metrics["test"].names, key=lambda n: metrics["test"].per_output[n].precision)
    assert (
        lines[-1].startswith("worst output: validation ")
        and f"test {metrics['test'].precision:.3e} ({worst})" in lines[-1]
    )


def test_model_and_store_outputs_must_agree(vector_trained: tuple, vector_store: ShardStore, tmp_path: Path) -> None:
    result, _ = vector_trained
    two = {"phasespace": {"process": "uu_ZZ"}, "oracle": {"name": "mock_vv", "options": {"n_outputs": 2}}}
    other, _ = build_dataset(
        from_dict(DatasetConfig, {**two, "n_train": 0, "n_test": 20}), tmp_path / "two", progress=False
    )
    with pytest.raises(ValueError, match=r"the model has 3 outputs but the store holds 2 outputs per point \(c1, c2\)"):
        evaluate_model(result.model_path, other, tmp_path / "a", splits=["test"])
    scalar = {"phasespace": {"process": "gg_yy"}, "oracle": {"name": "mock"}, "n_train": 0, "n_test": 20}
    yy, _ = build_dataset(from_dict(DatasetConfig, scalar), tmp_path / "yy", progress=False)
    with pytest.raises(ValueError, match="the model has 3 outputs but the store holds scalar amplitudes"):
        evaluate_model(result.surrogate, yy, tmp_path / "b", splits=["test"])
    test = yy.arrays("test")  # a scalar model with the input shape of uu_ZZ (both 2 → 2)
    scalar_model = Surrogate({**TINY, "max_epochs": 1})
    scalar_model.fit(test.momenta, test.amplitude, progress=False)
    with pytest.raises(ValueError, match=r"the model has one output \(a scalar model\) but the store holds 3 outputs"):
        evaluate_model(scalar_model, vector_store, tmp_path / "c", splits=["test"])
    assert not (tmp_path / "a" / "metrics.json").exists()
