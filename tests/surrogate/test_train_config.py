"""Tests of the configuration of activeamp train (activeamp.surrogate.train_config)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activeamp.config import ConfigError
from activeamp.surrogate.boosting import BoostingSchedule
from activeamp.surrogate.surrogate import SurrogateConfig
from activeamp.surrogate.train_config import TrainConfig, load_train_config


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
