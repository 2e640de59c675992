"""Tests of the uncertainty summaries and pulls (activeamp.surrogate.uncertainty)."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.preprocessing import LogTargetTransform
from activeamp.surrogate.uncertainty import (
    lognormal_summary,
    stratified_normal_nodes,
    summarise_samples,
    t_model,
    t_model_weights,
    t_pred,
    t_tot,
)


def test_sigma_propagation_by_sampling_matches_the_lognormal() -> None:
    from activeamp.surrogate.preprocessing import TargetTransform

    t = TargetTransform(sigma_a=2.0, mu=0.3, scale=1.5)
    m = np.array([[-1.0, 0.0, 1.0]])
    for s_pre, rtol in ((1e-3, 1e-4), (0.1, 0.01)):
        pred = summarise_samples(m, np.full_like(m, s_pre), t, stratified_normal_nodes(32))
        s = t.scale * s_pre  # A + σ_A = σ_A exp(s y + μ): lognormal with log-width s
        exact = t.sigma_a * np.exp(t.scale * m[0] + t.mu) * np.sqrt(np.expm1(s**2)) * np.exp(s**2 / 2)
        np.testing.assert_allclose(pred.sigma_model, exact, rtol=rtol)
        np.testing.assert_allclose(pred.mean, t.inverse(m[0]), rtol=1e-14)
        assert np.all(pred.sigma_pred == 0)  # a single weight sample
    z = stratified_normal_nodes(16)
    assert abs(z.mean()) < 1e-15 and np.mean(z**2) == pytest.approx(1.0, rel=1e-14)


def test_lognormal_summary_is_the_limit_of_weight_sampling() -> None:
    t = LogTargetTransform(mu=-2.0, scale=1.3)
    y_hat = np.array([-1.0, 0.2, 1.5])
    var = np.array([1e-4, 4e-3, 0.02])
    sigma = np.array([0.01, 0.05, 0.1])
    envelope = np.array([2.0, 0.5, 3.0])
    draws = y_hat + np.sqrt(var) * np.random.default_rng(5).standard_normal((400_000, 3))  # Ā(ω) ~ N(ŷ, v)
    sampled = summarise_samples(draws, np.broadcast_to(sigma, draws.shape), t, stratified_normal_nodes(256))
    closed = lognormal_summary(y_hat, var, sigma, t, envelope)
    np.testing.assert_allclose(closed.mean, sampled.mean * envelope, rtol=1e-3)
    np.testing.assert_allclose(closed.sigma_pred, sampled.sigma_pred * envelope, rtol=5e-3)
    np.testing.assert_allclose(closed.sigma_model, sampled.sigma_model * envelope, rtol=5e-3)
    pre = lognormal_summary(y_hat, var, sigma)  # no target map: the preprocessed moments themselves
    np.testing.assert_array_equal(pre.mean, y_hat)
    np.testing.assert_allclose(pre.sigma_pred, np.sqrt(var), rtol=1e-15)
    np.testing.assert_array_equal(pre.sigma_model, sigma)
    vector = lognormal_summary(np.tile(y_hat[:, None], 2), np.tile(var[:, None], 2), np.tile(sigma[:, None], 2), t,
                               envelope)
    np.testing.assert_allclose(vector.mean[:, 1], closed.mean, rtol=1e-15)  # the envelope scales every output


def test_pull_functions_on_a_constructed_prediction() -> None:
    pred = Prediction(
        mean=np.array([1.0, 2.0]),
        sigma_model=np.array([0.5, 1.0]),
        sigma_pred=np.array([0.25, 2.0]),
        samples=np.array([[1.0, 1.0], [1.0, 3.0]]),
        sigma_model_samples=np.array([[0.5, 1.0], [0.5, 1.0]]),
    )
    truth = np.array([0.5, 4.0])
    np.testing.assert_allclose(t_model(pred, truth), [1.0, -2.0])
    np.testing.assert_allclose(t_pred(pred, truth), [2.0, -1.0])
    np.testing.assert_allclose(t_tot(pred, truth), [0.5 / np.sqrt(0.3125), -2.0 / np.sqrt(5.0)])
    np.testing.assert_allclose(t_model_weights(pred, truth), [[1.0, -3.0], [1.0, -1.0]])
    with pytest.raises(ValueError, match="return_samples=True"):
        t_model_weights(Prediction(pred.mean, pred.sigma_model, pred.sigma_pred), truth)
