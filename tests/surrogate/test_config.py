"""Tests of the surrogate configuration (activeamp.surrogate.config)."""

from __future__ import annotations

import pytest

from activeamp.surrogate.config import SurrogateConfig


def test_config_from_dict_validates_and_round_trips() -> None:
    cfg = SurrogateConfig.from_dict({"hidden": [4, 5], "family": "ensemble", "lr": "1e-4", "sigma_a": 2})
    assert cfg.hidden == (4, 5) and cfg.lr == 1e-4 and cfg.sigma_a == 2.0
    assert SurrogateConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown key hiden; allowed: activation, .*hidden"):
        SurrogateConfig.from_dict({"hiden": [4]})
    with pytest.raises(ValueError, match="family: 'gp' is not one of 'laplace', 'bnn', 'deterministic'"):
        SurrogateConfig.from_dict({"family": "gp"})
    with pytest.raises(ValueError, match="prior_width: must be > 0"):
        SurrogateConfig(prior_width=0.0)
    with pytest.raises(ValueError, match="activation: 'sigmoid' is not one of"):
        SurrogateConfig(activation="sigmoid")
    with pytest.raises(ValueError, match="sigma_a: 'max' is not one of"):
        SurrogateConfig(sigma_a="max")
    with pytest.raises(ValueError, match="inputs: 'angles'"):
        SurrogateConfig(inputs="angles")  # type: ignore[arg-type]
    assert SurrogateConfig(hidden=[3, 4]).hidden == (3, 4)  # type: ignore[arg-type]
    paper = SurrogateConfig.for_process("gg_yygg", seed=3)
    assert paper.hidden == (32, 64, 256, 512, 128, 64, 32) and paper.batch_size == 8192 and paper.seed == 3


def test_vector_config_field_is_validated() -> None:
    assert SurrogateConfig().target_transform == "pure_log"
    assert SurrogateConfig.from_dict({"target_transform": "signed"}).target_transform == "signed"
    with pytest.raises(ValueError, match="target_transform: 'asinh' is not one of 'pure_log', 'log', 'signed'"):
        SurrogateConfig.from_dict({"target_transform": "asinh"})


def test_activation_names_match_the_modules_and_devices_are_checked_without_torch() -> None:
    from activeamp.surrogate.config import ACTIVATION_NAMES
    from activeamp.surrogate.models import ACTIVATIONS

    assert set(ACTIVATION_NAMES) == set(ACTIVATIONS)
    assert SurrogateConfig(device="cuda:1").device == "cuda:1"
    with pytest.raises(ValueError, match="device: 'gpu' is not 'auto'"):
        SurrogateConfig(device="gpu")
