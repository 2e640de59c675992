"""Tests of the search definition: validation naming the key, YAML and overrides, the parsed search space."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activeamp.config import ConfigError
from activeamp.loop.tuning.config import (
    SearchConfig,
    best_surrogate_config,
    experiment_path,
    load_search_config,
)
from activeamp.loop.tuning.space import DEFAULT_SPACE, Dimension, SearchSpace
from activeamp.surrogate.config import SurrogateConfig
from tests.loop.tuning.conftest import ROOT, TINY_BASE, TINY_SPACE, search_dict


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"space": {"lr": {"loguniform": [1e-2, 1e-4]}}}, "space.lr.loguniform: need low < high"),
        ({"space": {"prior_width": {"loguniform": [0, 1]}}}, "space.prior_width.loguniform: a log distribution"),
        ({"space": {"lr": {"logunifrom": [1e-4, 1e-2]}}}, "space.lr: unknown distribution 'logunifrom'"),
        ({"space": {"lr": {"uniform": [1e-4]}}}, "space.lr.uniform: expected [low, high]"),
        ({"space": {"lr": {"uniform": [0, 1e-2]}}}, "space.lr: lr: must be > 0"),
        ({"space": {"family": {"choice": ["bnn", "cnn"]}}}, "space.family: family: 'cnn' is not one of"),
        ({"space": {"depth": {"randint": [2, 4]}}}, "space.depth: not a surrogate setting"),
        ({"space": {"max_epochs": {"randint": [2, 4]}}}, "space.max_epochs: set by the search"),
        ({"space": {"n_layers": {"randint": [2, 4]}}}, "space.width: n_layers and width go together"),
        ({"space": {"n_layers": {"uniform": [2, 4]}, "width": 8}}, "space.n_layers: needs integers"),
        ({"space": {"n_layers": {"randint": [0, 3]}, "width": 8}}, "space.n_layers: layer counts must be"),
        ({"space": {"n_layers": 2, "width": {"choice": [8, 0]}}}, "space.width:"),
        ({"space": {"n_layers": 2, "width": {"grid": [8, 16]}}}, "space.width: grid is not supported"),
        ({"base": {"lr": -1}}, "base.lr: must be > 0"),
        ({"base": {"lrate": 1}}, "base.lrate"),
        ({"metric": "val_loss"}, "metric: 'val_loss' is not one of"),
        ({"store": ""}, "store: required"),
        ({"epochs": 3, "scheduler": {"grace_period": 5}}, "scheduler.grace_period: 5 exceeds epochs (3)"),
        ({"scheduler": {"reduction_factor": 1}}, "scheduler.reduction_factor: must be > 1"),
        ({"trial_gpus": "some"}, "trial_gpus: expected a number or 'auto'"),
        ({"trial_resources": {"CPU": 1}}, "trial_resources.CPU: use trial_cpus"),
        ({"name": "a/b"}, "name: expected a folder name"),
        ({"validation_split": "train"}, "validation_split: must differ"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, change: dict[str, object], message: str) -> None:
    data = search_dict(tmp_path / "store", tmp_path / "out")
    data.update(change)
    with pytest.raises(ConfigError) as err:
        SearchConfig.from_dict(data)
    assert message in str(err.value)


def test_yaml_file_overrides_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(search_dict("data/store", Path("results"))))
    config = load_search_config(path, ["num_samples=9", "space.lr={loguniform: [1e-5, 1e-3]}", "base.lr=1e-3"])
    assert config.num_samples == 9 and config.space.get("lr") == Dimension("lr", "loguniform", (1e-5, 1e-3))
    assert config.to_dict()["space"]["lr"] == {"loguniform": [1e-5, 1e-3]}
    assert config.store == str(tmp_path / "data" / "store")
    assert config.storage_path == str(tmp_path / "results")
    assert experiment_path(config) == str(tmp_path / "results" / "tiny")
    assert SearchConfig.from_dict(config.to_dict()) == config
    assert SearchConfig.from_yaml(path, ["num_samples=9", "space.lr={loguniform: [1e-5, 1e-3]}", "base.lr=1e-3"]) == (
        config
    )
    with pytest.raises(ConfigError, match=r"search.yaml: space.lr.loguniform\[0\]: expected a number"):
        load_search_config(path, ["space.lr={loguniform: [abc, 1e-3]}"])
    assert SearchConfig.from_dict({"store": "s3://bucket/store", "storage_path": "s3://b/tune"}).storage_path == (
        "s3://b/tune"
    )


def test_default_search_yaml_is_valid() -> None:
    config = load_search_config(ROOT / "tune" / "search.yaml")
    assert config.metric == "val_delta68" and config.scheduler.kind == "asha"
    space = config.space
    assert space.max_layers == 6 and space.n_trials(config.num_samples) == config.num_samples
    assert set(space.to_dict()) == set(DEFAULT_SPACE)


def test_config_holds_the_parsed_space_checked_against_its_base(tmp_path: Path) -> None:
    config = SearchConfig.from_dict(search_dict(tmp_path / "store", tmp_path))
    assert isinstance(config.space, SearchSpace) and all(isinstance(d, Dimension) for d in config.space.dimensions)
    assert config.space == SearchSpace.parse(TINY_SPACE) and config.space.n_layers == Dimension(
        "n_layers", "randint", (2, 6)
    )
    default = SearchConfig.from_dict({"store": "x"})  # no space: the default one, parsed
    assert default.space == SearchSpace.parse(DEFAULT_SPACE)
    assert SearchConfig.from_dict({"store": "x", "space": config.space}).space is config.space  # parsed stays
    with pytest.raises(ConfigError, match=r"^space: expected a SearchSpace"):
        SearchConfig(store="x", space={"lr": 1e-3})  # type: ignore[arg-type]
    # the values are checked against the base of this search, not the default surrogate
    laplace = SearchConfig.from_dict({"store": "x", "base": {"family": "laplace"}, "space": {"loss": "mse"}})
    assert laplace.space.get("loss") == Dimension("loss", "constant", ("mse",))
    with pytest.raises(ConfigError, match=r"^space\.loss: loss: 'mse'"):
        SearchConfig.from_dict({"store": "x", "base": {"family": "bnn"}, "space": {"loss": "mse"}})
    with pytest.raises(ConfigError, match=r"^space\.family: family: 'cnn'"):
        SearchConfig.from_dict({"store": "x", "space": {"family": {"choice": ["cnn"]}}})


def test_best_surrogate_config_is_the_base_with_the_trial_values(tmp_path: Path) -> None:
    config = SearchConfig.from_dict(search_dict(tmp_path / "store", tmp_path, epochs=7))
    trial = {"family": "ensemble", "prior_width": 0.5, "lr": 2e-3, "n_layers": 3, "width_0": 8, "width_1": 32}
    trial.update({"width_2": 16, "width_3": 8, "width_4": 8})
    best = best_surrogate_config(config, trial)
    assert best == SurrogateConfig.from_dict(
        {**TINY_BASE, "family": "ensemble", "prior_width": 0.5, "lr": 2e-3, "hidden": [8, 32, 16]}
    )
    assert best.max_epochs == SurrogateConfig().max_epochs  # from base, not the search's epoch limit
