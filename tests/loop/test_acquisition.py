"""Tests of acquisition scores and batch selection (pure numpy), scalar and vector-valued predictions."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.config import ConfigError
from activeamp.loop.acquisition import AcquisitionConfig, score, select
from activeamp.surrogate.prediction import Prediction


def _vector(n: int = 200, seed: int = 0) -> Prediction:
    rng = np.random.default_rng(seed)
    mean = rng.normal(0.0, 1.0, (n, 3)) * np.array([1.0, 1e3, 1e-4])  # outputs of very different sizes
    sigma = 0.05 * np.abs(mean) + 0.01 * np.array([1.0, 1e3, 1e-4])
    return Prediction(mean=mean, sigma_model=sigma, sigma_pred=0.5 * sigma)


def test_scalar_scores_are_sigma_tot_and_its_ratio() -> None:
    pred = Prediction(mean=np.array([1.0, 10.0, 100.0]), sigma_model=np.array([0.3, 0.3, 3.0]), sigma_pred=np.zeros(3))
    np.testing.assert_allclose(score(pred, "absolute"), [0.3, 0.3, 3.0])
    np.testing.assert_allclose(score(pred, "relative"), [0.3, 0.03, 0.03])
    np.testing.assert_allclose(score(pred, "mixed", mix=0.5), np.sqrt([0.3 * 0.3, 0.3 * 0.03, 3.0 * 0.03]))


def test_weighted_score_is_the_event_weight_times_sigma_tot() -> None:
    pred = Prediction(mean=np.array([1.0, 10.0, 100.0]), sigma_model=np.array([0.3, 0.3, 3.0]), sigma_pred=np.zeros(3))
    np.testing.assert_allclose(score(pred, "weighted"), [0.3, 3.0, 300.0])  # equal phase-space weights
    np.testing.assert_allclose(score(pred, "weighted", weights=np.array([2.0, 1.0, 0.001])), [0.6, 3.0, 0.3])
    with pytest.raises(ValueError, match="weights have shape"):
        score(pred, "weighted", weights=np.ones(2))
    vector = Prediction(np.ones((3, 2)), np.ones((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="scalar"):
        score(vector, "weighted")
    assert AcquisitionConfig(score="weighted").score == "weighted"


def test_vector_scores_do_not_depend_on_the_units_of_an_output() -> None:
    pred = _vector()
    scale = np.array([1.0, 7.0, 1e6])
    rescaled = Prediction(pred.mean * scale, pred.sigma_model * scale, pred.sigma_pred * scale)
    for kind in ("absolute", "relative", "mixed"):
        for how in ("max", "mean", "norm"):
            s = score(pred, kind, reduce=how)
            assert s.shape == (200,)
            np.testing.assert_allclose(score(rescaled, kind, reduce=how), s, rtol=1e-12)


def test_vector_score_reduction_picks_the_worst_output() -> None:
    pred = _vector()
    sigma = pred.sigma_model.copy()
    sigma[17, 2] *= 1e3  # one output of one point is very uncertain
    noisy = Prediction(pred.mean, sigma, pred.sigma_pred)
    for how in ("max", "mean", "norm"):
        assert int(np.argmax(score(noisy, "absolute", reduce=how))) == 17
    s_max, s_mean = score(noisy, "absolute", reduce="max"), score(noisy, "absolute", reduce="mean")
    assert np.all(s_max >= s_mean - 1e-15)


def test_selection_prefers_high_scores_without_near_duplicates() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(500, 3))
    features[1] = features[0] + 1e-4  # a near-duplicate of the best point
    scores = np.linspace(0.0, 1.0, 500)[::-1].copy()
    picked = select(scores, 10, rng, strategy="greedy", features=features, min_distance=0.05)
    assert len(set(picked.tolist())) == 10 and 0 in picked and 1 not in picked


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="acquisition.reduce: 'sum'"):
        AcquisitionConfig(reduce="sum")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="acquisition.n_candidates"):
        AcquisitionConfig(n_candidates=10, batch_size=20)


def test_explore_fills_part_of_the_batch_uniformly() -> None:
    rng = np.random.default_rng(3)
    scores = np.zeros(1000)
    scores[:50] = 1.0 + np.arange(50)  # 50 clear favourites
    picked = select(scores, 40, rng, strategy="greedy", explore=0.5)
    assert len(set(picked.tolist())) == 40
    assert set(range(30, 50)) <= set(picked.tolist())  # the 20 best by score
    assert (picked >= 50).sum() >= 15  # the uniform half lands mostly outside the favourites
    again = select(scores, 40, np.random.default_rng(3), strategy="greedy", explore=0.5)
    np.testing.assert_array_equal(picked, again)
    assert select(scores, 1, rng, strategy="greedy", explore=0.6).size == 1
    with pytest.raises(ValueError, match="explore must lie in \\[0, 1\\)"):
        select(scores, 5, rng, explore=1.0)
    with pytest.raises(ConfigError, match="acquisition.explore"):
        AcquisitionConfig(explore=-0.1)
