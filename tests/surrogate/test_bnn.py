"""Tests of the Bayesian layers, the KL term, the loss pieces and the ensemble families."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from activeamp.surrogate.bnn import BayesianLinear, BayesianNet, kl_gaussian
from activeamp.surrogate.models import (
    BatchedLinear,
    EnsembleNet,
    RepulsiveEnsembleNet,
    heteroscedastic_nll,
    objective,
)

DTYPE = torch.float64


@pytest.mark.parametrize(
    ("mu", "sigma", "prior"), [(0.0, 1.0, 1.0), (0.7, 0.3, 1.0), (-1.5, 0.05, 2.0), (0.2, 3.0, 0.5)]
)
def test_kl_matches_numerical_integral(mu: float, sigma: float, prior: float) -> None:
    x = np.linspace(-40.0, 40.0, 400_001)
    log_q = -0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))
    log_p = -0.5 * (x / prior) ** 2 - math.log(prior * math.sqrt(2 * math.pi))
    numeric = np.trapezoid(np.exp(log_q) * (log_q - log_p), x)
    closed = kl_gaussian(torch.tensor(mu, dtype=DTYPE), torch.tensor(2 * math.log(sigma), dtype=DTYPE), prior)
    assert float(closed) == pytest.approx(numeric, rel=1e-8, abs=1e-10)


def test_kl_is_zero_at_the_prior_and_layer_kl_sums_elements() -> None:
    zero = kl_gaussian(torch.zeros(3, dtype=DTYPE), torch.full((3,), 2 * math.log(0.4), dtype=DTYPE), 0.4)
    assert torch.allclose(zero, torch.zeros(3, dtype=DTYPE), atol=1e-15)
    layer = BayesianLinear(3, 2, prior_width=0.5, generator=torch.Generator().manual_seed(0)).to(DTYPE)
    expected = (
        kl_gaussian(layer.weight_mu, layer.weight_log_var, 0.5).sum()
        + kl_gaussian(layer.bias_mu, layer.bias_log_var, 0.5).sum()
    )
    assert torch.allclose(layer.kl(), expected)


def test_multiplicity_weighting_equals_duplicating_points_and_kl_follows_n_eff() -> None:
    gen = torch.Generator().manual_seed(3)
    mean = torch.randn(4, 5, generator=gen, dtype=DTYPE)
    sigma = torch.rand(4, 5, generator=gen, dtype=DTYPE) + 0.1
    target = torch.randn(5, generator=gen, dtype=DTYPE)
    n = torch.tensor([1, 6, 1, 2, 1])
    kl = torch.tensor(37.0, dtype=DTYPE)
    weighted = objective(mean, sigma, target, n.to(DTYPE), kl, float(n.sum()))
    idx = torch.repeat_interleave(torch.arange(5), n)
    duplicated = objective(mean[:, idx], sigma[:, idx], target[idx], None, kl, float(len(idx)))
    assert float(weighted) == pytest.approx(float(duplicated), rel=1e-14)
    # the KL part is divided by Σ n_j, not by the number of distinct points
    nll_only = objective(mean, sigma, target, n.to(DTYPE), torch.zeros((), dtype=DTYPE), 1.0)
    assert float(weighted - nll_only) == pytest.approx(37.0 / 11.0, rel=1e-14)


def _toy_net(log_var: float) -> BayesianNet:
    """Linear BNN (no hidden layer, one input): Ā = w₀x + b₀, σ = softplus(w₁x + b₁) + floor."""
    net = BayesianNet(1, (), sigma_floor=1e-6).to(DTYPE)
    layer = net.layers[0]
    with torch.no_grad():
        layer.weight_mu.copy_(torch.tensor([[0.8], [0.1]], dtype=DTYPE))
        layer.bias_mu.copy_(torch.tensor([-0.3, -1.0], dtype=DTYPE))
        layer.weight_log_var.fill_(log_var)
        layer.bias_log_var.fill_(log_var)
    return net


def test_weight_sampling_reproduces_the_known_posterior_and_total_variance() -> None:
    from activeamp.surrogate.surrogate import summarise_samples

    sw2 = 0.2**2
    net = _toy_net(math.log(sw2))
    x = torch.tensor([[-1.0], [0.0], [2.0]], dtype=DTYPE)
    gen = torch.Generator().manual_seed(11)
    m = 100_000
    with torch.no_grad():
        mean, sigma = net.evaluate(x, net.draw(m, gen))
    assert mean.shape == (m, 3)
    xs = x[:, 0].numpy()
    pred = summarise_samples(mean.numpy(), sigma.numpy())  # preprocessed space
    np.testing.assert_allclose(pred.mean, 0.8 * xs - 0.3, atol=5 * np.sqrt(sw2 * 5 / m))
    np.testing.assert_allclose(pred.sigma_pred**2, sw2 * (xs**2 + 1), rtol=0.02)
    np.testing.assert_allclose(pred.sigma_tot**2, pred.sigma_model**2 + pred.sigma_pred**2, rtol=1e-14)
    # law of total variance: y ~ N(Ā(ω), σ(ω)²) with ω ~ q has Var[y] = σ_model² + σ_pred²
    y = mean.numpy() + sigma.numpy() * np.random.default_rng(5).standard_normal(mean.shape)
    np.testing.assert_allclose(y.var(axis=0), pred.sigma_tot**2, rtol=0.02)
    np.testing.assert_allclose(y.mean(axis=0), pred.mean, atol=5 * pred.sigma_tot.max() / np.sqrt(m))


def test_mean_mode_uses_mean_weights_and_sampling_is_seeded() -> None:
    net = _toy_net(math.log(0.01))
    x = torch.tensor([[0.5], [1.5]], dtype=DTYPE)
    with torch.no_grad():
        mean, _ = net.evaluate(x, net.draw(1, mean=True))
        a, _ = net.evaluate(x, net.draw(5, torch.Generator().manual_seed(1)))
        b, _ = net.evaluate(x, net.draw(5, torch.Generator().manual_seed(1)))
    np.testing.assert_allclose(mean.numpy(), [[0.8 * 0.5 - 0.3, 0.8 * 1.5 - 0.3]], rtol=1e-14)
    assert torch.equal(a, b)


def test_local_reparameterisation_matches_weight_sampling_in_distribution() -> None:
    layer = BayesianLinear(3, 2, init_log_var=math.log(0.3**2), generator=torch.Generator().manual_seed(2)).to(DTYPE)
    x = torch.tensor([[0.5, -1.0, 2.0]], dtype=DTYPE)
    m = 200_000
    with torch.no_grad():
        local = layer.local(x, m, torch.Generator().manual_seed(4))[:, 0]
        w, b = layer.sample(m, torch.Generator().manual_seed(5))
        direct = (torch.matmul(x, w.transpose(-1, -2)) + b[:, None, :])[:, 0]
    np.testing.assert_allclose(local.mean(0), direct.mean(0), atol=0.01)
    np.testing.assert_allclose(local.var(0), direct.var(0), rtol=0.02)


def test_local_reparam_network_gives_gradients_for_all_parameters() -> None:
    net = BayesianNet(4, (8, 8), local_reparam=True, generator=torch.Generator().manual_seed(0))
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
    mean, sigma = net(x, 3, torch.Generator().manual_seed(2))
    assert mean.shape == sigma.shape == (3, 16)
    (mean.sum() + sigma.sum() + net.penalty(mean)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_paper_network_size_and_last_layer_only() -> None:
    full = BayesianNet(20, (20, 20, 30, 40))
    deterministic_count = 20 * 20 + 20 + 20 * 20 + 20 + 20 * 30 + 30 + 30 * 40 + 40 + 40 * 2 + 2
    assert sum(p.numel() for p in full.parameters()) == 2 * deterministic_count == 5584  # ≈ 6k of the paper
    last = BayesianNet(20, (20, 20, 30, 40), last_layer_only=True)
    assert sum(p.numel() for p in last.parameters()) == deterministic_count + 40 * 2 + 2
    assert isinstance(last.layers[0], BatchedLinear) and isinstance(last.layers[-1], BayesianLinear)
    assert float(last.kl().detach()) == pytest.approx(float(last.layers[-1].kl().detach()))
    x = torch.randn(7, 20)
    with torch.no_grad():
        mean, sigma = last.evaluate(x, last.draw(6, torch.Generator().manual_seed(0)))
    assert mean.shape == (6, 7) and bool((sigma > 0).all())
    assert float(mean.std(0).mean()) > 0  # the last layer still varies across samples


# ---------------------------------------------------------------------------- vector outputs


@pytest.mark.parametrize("family", ["bnn", "bnn_local", "ensemble", "repulsive"])
def test_networks_with_k_outputs(family: str) -> None:
    gen = torch.Generator().manual_seed(0)
    if family.startswith("bnn"):
        net = BayesianNet(4, (8,), local_reparam=family == "bnn_local", generator=gen, n_outputs=3)
    elif family == "ensemble":
        net = EnsembleNet(4, (8,), n_members=2, generator=gen, n_outputs=3)
    else:
        net = RepulsiveEnsembleNet(4, (8,), n_members=2, generator=gen, n_outputs=3)
    assert net.n_outputs == 3 and net.head_width == 6
    x = torch.randn(10, 4, generator=torch.Generator().manual_seed(1))
    mean, sigma = net(x, 5, torch.Generator().manual_seed(2))
    m = 5 if family.startswith("bnn") else 2
    assert mean.shape == sigma.shape == (m, 10, 3) and bool((sigma > 0).all())
    with torch.no_grad():
        mean_eval, _ = net.evaluate(x, net.draw(3, torch.Generator().manual_seed(3)))
    assert mean_eval.shape == ((3 if family.startswith("bnn") else 2), 10, 3)
    (heteroscedastic_nll(mean, sigma, torch.zeros(10, 3)) + net.penalty(mean)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    # only the output layer grows: (hidden + 1) × 2K parameters (doubled for the BNN's log-variances)
    scalar = type(net)(4, (8,), **({} if family.startswith("bnn") else {"n_members": 2}))
    members = 1 if family.startswith("bnn") else 2
    factor = 2 if family.startswith("bnn") else 1
    extra = factor * members * (8 + 1) * (6 - 2)
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in scalar.parameters()) + extra
    with pytest.raises(ValueError, match="n_outputs: must be >= 1"):
        EnsembleNet(4, (8,), n_outputs=0)
