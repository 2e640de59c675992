"""Tests of the last-layer Bayesian network: σ head fit, closed-form posterior, weight sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activeamp.surrogate.laplace import LastLayerNet, fit_sigma_head, posterior_precision

pytestmark = pytest.mark.usefixtures("single_thread")


def test_outputs_shapes_and_point_estimate_before_the_posterior() -> None:
    net = LastLayerNet(3, (8, 8), generator=torch.Generator().manual_seed(0))
    x = torch.randn(5, 3)
    mean, sigma = net.evaluate(x, net.draw(4))
    assert mean.shape == sigma.shape == (4, 5) and torch.all(sigma > 0)
    assert torch.allclose(mean, mean[0].expand_as(mean))  # zero posterior width: every sample is the same
    assert net(x, 4)[0].shape == (1, 5)  # training passes use the point estimate of the head
    vec = LastLayerNet(3, (8,), n_outputs=2)
    assert vec.evaluate(x, vec.draw(3))[0].shape == (3, 5, 2)


def test_sigma_head_learns_a_heteroscedastic_noise_level() -> None:
    gen = torch.Generator().manual_seed(1)
    net = LastLayerNet(1, (16,), generator=gen)
    x = torch.linspace(-1, 1, 4000)[:, None]
    with torch.no_grad():
        phi = net.features(x)[None]  # (G=1, N, H)
    level = 0.05 * (1.0 + 2.0 * x[:, 0] ** 2)
    residual = (level * torch.randn(4000, generator=gen))[:, None]
    fit_sigma_head(net, phi, x[None], residual, steps=600)
    with torch.no_grad():
        _, sigma = net.evaluate(x, net.draw(1, mean=True))
    ratio = (sigma[0] / level).numpy()
    assert 0.8 < np.median(ratio) < 1.2 and np.quantile(ratio, 0.05) > 0.6 and np.quantile(ratio, 0.95) < 1.6


def test_posterior_is_the_bayesian_linear_regression_of_the_head() -> None:
    rng = np.random.default_rng(2)
    phi = torch.as_tensor(rng.normal(size=(500, 4)))
    sigma = torch.as_tensor(rng.uniform(0.5, 2.0, size=(500, 1)))
    weights = torch.as_tensor(rng.integers(1, 3, size=500).astype(float))
    lam = posterior_precision(phi, sigma, weights, prior_width=2.0)
    design = np.concatenate([phi.numpy(), np.ones((500, 1))], axis=1)
    expected = (design * (weights.numpy() / sigma.numpy()[:, 0] ** 2)[:, None]).T @ design + np.eye(5) / 4.0
    np.testing.assert_allclose(lam[0].numpy(), expected, rtol=1e-12)


def test_weight_samples_follow_the_posterior_covariance() -> None:
    net = LastLayerNet(2, (3,), generator=torch.Generator().manual_seed(3))
    cov = torch.diag(torch.tensor([4.0, 1.0, 0.25, 9.0], dtype=torch.float64))[None]
    net.set_posterior(torch.linalg.inv(cov))
    params = net.draw(20000, torch.Generator().manual_seed(4))
    w, b = params[len(net.trunk)]  # the mean head
    samples = torch.cat([w[:, 0, :], b[:, :1]], dim=1) - torch.cat([net.mean_head.weight[0, 0], net.mean_head.bias[0]])
    np.testing.assert_allclose(samples.double().var(dim=0).detach().numpy(), [4.0, 1.0, 0.25, 9.0], rtol=0.05)
    x = torch.randn(7, 2)
    mean, _ = net.evaluate(x, params)
    phi = torch.cat([net.features(x), torch.ones(7, 1)], dim=1).double()
    predicted = (phi @ cov[0] * phi).sum(dim=1)
    np.testing.assert_allclose(mean.double().var(dim=0).detach().numpy(), predicted.detach().numpy(), rtol=0.08)


def test_moments_are_the_exact_predictive_of_the_image_averaged_head() -> None:
    net = LastLayerNet(3, (6, 5), generator=torch.Generator().manual_seed(6), n_outputs=2)
    a = torch.randn(6, 6, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    cov = (a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64))[None].repeat(2, 1, 1) * 1e-2
    net.set_posterior(torch.linalg.inv(cov))
    x = torch.randn(4, 9, 3)  # 4 symmetry images of 9 points
    mean, var, sigma = net.moments(x)
    point, sig = net.evaluate(x.reshape(36, 3), net.draw(1, mean=True))
    torch.testing.assert_close(mean, point[0].reshape(4, 9, 2).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(sigma, sig[0].reshape(4, 9, 2).mean(0), rtol=1e-5, atol=1e-7)
    phi = torch.cat([net.features(x.reshape(36, 3)).reshape(4, 9, 5).mean(0), torch.ones(9, 1)], dim=1).double()
    expected = torch.einsum("bi,kij,bj->bk", phi, cov, phi)  # φ̃ᵀ Σ φ̃ per point and output
    torch.testing.assert_close(var.double(), expected, rtol=1e-4, atol=1e-9)
    draws = net.evaluate(x.reshape(36, 3), net.draw(20000, torch.Generator().manual_seed(8)))[0]
    empirical = draws.reshape(20000, 4, 9, 2).mean(1).double().var(0)
    torch.testing.assert_close(empirical, expected, rtol=0.06, atol=1e-9)
