"""Tests of the loss pieces and ensemble networks (activeamp.surrogate.models)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from activeamp.surrogate.models import (
    EnsembleNet,
    RepulsiveEnsembleNet,
    heteroscedastic_head,
    heteroscedastic_nll,
    rbf_repulsion,
    squared_error,
)

DTYPE = torch.float64


def test_nll_by_hand() -> None:
    mean = torch.tensor([[1.0, 2.0, 0.0], [3.0, 2.0, 1.0]], dtype=DTYPE)
    sigma = torch.tensor([[1.0, 0.5, 2.0], [2.0, 0.5, 1.0]], dtype=DTYPE)
    target = torch.tensor([2.0, 2.0, 0.0], dtype=DTYPE)
    # point 0: ω1 ½·1 + 0 = 0.5, ω2 ½·(1/2)² + log 2 = 0.125 + 0.6931 → mean 0.6591
    # point 1: both ω: 0 + log 0.5 = −0.6931
    # point 2: ω1 0 + log 2 = 0.6931, ω2 ½·1 + 0 = 0.5 → mean 0.5966
    per_point = np.array([(0.5 + 0.125 + math.log(2)) / 2, math.log(0.5), (math.log(2) + 0.5) / 2])
    assert float(heteroscedastic_nll(mean, sigma, target)) == pytest.approx(per_point.mean(), rel=1e-14)
    w = torch.tensor([1.0, 0.0, 3.0], dtype=DTYPE)
    expected = (per_point[0] + 3 * per_point[2]) / 4
    assert float(heteroscedastic_nll(mean, sigma, target, w)) == pytest.approx(expected, rel=1e-14)


def test_head_is_positive_with_floor() -> None:
    raw = torch.tensor([[[0.3, -50.0], [1.0, 2.0]]], dtype=DTYPE)
    mean, sigma = heteroscedastic_head(raw, 1e-4)
    assert mean.tolist() == [[0.3, 1.0]]
    assert float(sigma[0, 0]) >= 1e-4
    assert float(sigma[0, 1]) == pytest.approx(math.log1p(math.exp(2.0)) + 1e-4)


def test_ensembles_have_fixed_members_and_the_repulsion_pushes_apart() -> None:
    net = EnsembleNet(3, (8,), n_members=4, generator=torch.Generator().manual_seed(0))
    x = torch.randn(10, 3)
    mean, sigma = net(x, n_samples=99)
    assert net.fixed_samples == 4 and mean.shape == (4, 10)
    assert float(net.penalty(mean)) == 0.0
    assert not torch.allclose(mean[0], mean[1])  # independently initialised members

    f = torch.tensor([[0.0, 0.0], [0.1, 0.0], [2.0, 1.0]], requires_grad=True)
    rbf_repulsion(f).backward()
    # minimising the loss moves the two close members apart
    step = f.detach() - 0.1 * f.grad
    assert torch.dist(step[0], step[1]) > torch.dist(f[0].detach(), f[1].detach())
    assert float(rbf_repulsion(torch.zeros(1, 5))) == 0.0

    rep = RepulsiveEnsembleNet(3, (8,), n_members=3, prior_width=2.0, repulsion=0.0)
    with torch.no_grad():
        l2 = sum(float(p.square().sum()) for p in rep.parameters()) / (2 * 4.0) / 3
        assert float(rep.penalty(torch.zeros(3, 10))) == pytest.approx(l2, rel=1e-6)


def test_vector_head_and_nll_sum_over_outputs() -> None:
    gen = torch.Generator().manual_seed(7)
    raw = torch.randn(4, 5, 6, generator=gen, dtype=DTYPE)  # M = 4, B = 5, K = 3
    mean, sigma = heteroscedastic_head(raw, 1e-4, n_outputs=3)
    assert mean.shape == sigma.shape == (4, 5, 3)
    assert torch.equal(mean, raw[..., :3])
    assert torch.allclose(sigma, torch.nn.functional.softplus(raw[..., 3:]) + 1e-4)
    target = torch.randn(5, 3, generator=gen, dtype=DTYPE)
    w = torch.tensor([1.0, 0.0, 3.0, 2.0, 1.0], dtype=DTYPE)
    # independent Gaussians: the NLL of a point is the sum over its outputs, so the loss is the sum of the
    # per-output scalar losses (with the same per-point weights)
    for weights in (None, w):
        vector = heteroscedastic_nll(mean, sigma, target, weights)
        per_output = sum(heteroscedastic_nll(mean[..., k], sigma[..., k], target[:, k], weights) for k in range(3))
        assert float(vector) == pytest.approx(float(per_output), rel=1e-13)


def test_squared_error_is_the_weighted_mean_of_half_squares() -> None:
    mean = torch.tensor([[1.0, 2.0, 4.0]], dtype=DTYPE)  # (M = 1, B = 3)
    target = torch.tensor([0.0, 2.0, 2.0], dtype=DTYPE)
    assert float(squared_error(mean, target)) == pytest.approx(0.5 * (1.0 + 0.0 + 4.0) / 3)
    weights = torch.tensor([2.0, 1.0, 1.0], dtype=DTYPE)  # a point of multiplicity 2 counts twice
    assert float(squared_error(mean, target, weights)) == pytest.approx(0.5 * (2.0 + 0.0 + 4.0) / 4)
