"""Tests of the optimiser construction and the warm-up + cosine schedule."""

from __future__ import annotations

import pytest
import torch

from activeamp.surrogate.bnn import BayesianNet
from activeamp.surrogate.laplace import LastLayerNet
from activeamp.surrogate.optim import build_optimizer, warmup_cosine


def test_schedule_rises_then_decays_to_the_floor() -> None:
    assert warmup_cosine(0.0, 1e-3, 1e-6, 0.1) == pytest.approx(1e-6)
    assert warmup_cosine(0.05, 1e-3, 1e-6, 0.1) == pytest.approx(0.5 * (1e-3 + 1e-6))
    assert warmup_cosine(0.1, 1e-3, 1e-6, 0.1) == pytest.approx(1e-3)
    assert warmup_cosine(0.55, 1e-3, 1e-6, 0.1) == pytest.approx(0.5 * (1e-3 + 1e-6))
    assert warmup_cosine(1.0, 1e-3, 1e-6, 0.1) == pytest.approx(1e-6)
    assert warmup_cosine(7.0, 1e-3, 1e-6, 0.0) == pytest.approx(1e-6)  # clipped past the end
    values = [warmup_cosine(p / 100, 1e-3, 1e-6, 0.0) for p in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_adamw_decays_weights_only() -> None:
    net = LastLayerNet(3, (4, 4))
    opt = build_optimizer(net, "adamw", 1e-3, weight_decay=0.1)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in net.named_parameters():
        assert (id(p) in decayed) == name.endswith("weight"), name


def test_bnn_log_variances_are_never_decayed() -> None:
    net = BayesianNet(3, (4,))
    opt = build_optimizer(net, "adamw", 1e-3, weight_decay=0.1)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    names = {name for name, p in net.named_parameters() if id(p) in decayed}
    assert names and all(name.endswith("weight_mu") for name in names)


def test_adam_and_unknown_names() -> None:
    net = LastLayerNet(3, (4,))
    assert isinstance(build_optimizer(net, "adam", 1e-3), torch.optim.Adam)
    with pytest.raises(ValueError, match="optimizer: 'sgd' is not one of adam, adamw"):
        build_optimizer(net, "sgd", 1e-3)
