"""Tests for activeamp.report.histograms: amplitude-weighted histograms with the bands of Eqs. (23), (24)."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.report.histograms import histogram_bands
from activeamp.surrogate.prediction import Prediction
from tests.report.conftest import toy


def test_sigma_pred_band_is_std_of_sample_histograms() -> None:
    x = np.array([0.1, 0.2, 0.6, 0.7, 0.8, 1.5])  # last point outside the edges
    samples = np.array(
        [
            [1.0, 2.0, 3.0, 4.0, 5.0, 100.0],
            [2.0, 2.0, 1.0, 4.0, 7.0, 100.0],
            [0.0, 5.0, 3.0, 3.0, 5.0, 100.0],
        ]
    )
    pred = Prediction(samples.mean(0), np.array([0.1, 0.2, 0.3, 0.4, 0.5, 9.0]), samples.std(0), samples)
    a_true = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    hb = histogram_bands(x, pred, a_true, bins=np.array([0.0, 0.5, 1.0]))
    per_sample = np.array([[3.0, 12.0], [4.0, 12.0], [5.0, 11.0]])  # Σ_j Ā_j(ω_m) per bin, by hand
    np.testing.assert_allclose(hb.sigma_pred, per_sample.std(axis=0))
    np.testing.assert_allclose(hb.network, per_sample.mean(axis=0))
    np.testing.assert_allclose(hb.truth, [3.0, 12.0])
    np.testing.assert_allclose(hb.sigma_model, [0.3, 1.2])  # Σ σ_model (Eq. 24, linear)
    np.testing.assert_array_equal(hb.count, [2, 3])


def test_sigma_model_band_sums_and_density() -> None:
    pred, a = toy(3000)
    x = np.random.default_rng(5).uniform(0.0, 10.0, a.size)
    edges = np.linspace(0.0, 10.0, 11)
    hb = histogram_bands(x, pred, a, bins=edges)
    assert hb.sigma_model.sum() == pytest.approx(pred.sigma_model.sum())
    assert hb.network.sum() == pytest.approx(pred.mean.sum())
    assert hb.truth is not None and hb.truth.sum() == pytest.approx(a.sum())
    quad = histogram_bands(x, pred, a, bins=edges, model_correlated=False)
    np.testing.assert_allclose(
        quad.sigma_model**2, [np.sum(pred.sigma_model[(x >= lo) & (x < lo + 1)] ** 2) for lo in range(10)]
    )
    dens = histogram_bands(x, pred, a, bins=edges, density=True)
    np.testing.assert_allclose(dens.network, hb.network / (a.size * 1.0))
    assert dens.sigma_pred is not None and hb.sigma_pred is not None
    np.testing.assert_allclose(dens.sigma_pred, hb.sigma_pred / a.size)


def test_histogram_bands_without_samples_or_truth() -> None:
    pred, a = toy(100)
    hb = histogram_bands(np.linspace(0, 1, 100), Prediction(pred.mean, pred.sigma_model, pred.sigma_pred), bins=5)
    assert hb.sigma_pred is None and hb.truth is None and hb.edges.size == 6
    assert hb.count.sum() == 100


def test_histogram_bands_errors() -> None:
    pred, _ = toy(10)
    with pytest.raises(ValueError, match=r"values have shape \(9,\) but the prediction has 10 points"):
        histogram_bands(np.zeros(9), pred)
    with pytest.raises(ValueError, match="increasing"):
        histogram_bands(np.zeros(10), pred, bins=np.array([1.0, 0.0]))


def test_truth_statistical_error_and_points_beyond_the_range() -> None:
    x = np.array([0.1, 0.2, 0.6, 0.7, 5.0, -1.0])
    a = np.array([1.0, 3.0, 2.0, 2.0, 9.0, 9.0])
    pred = Prediction(a.copy(), 0.1 * a, 0.0 * a)
    hb = histogram_bands(x, pred, a, bins=np.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(hb.truth_error, [np.sqrt(10.0), np.sqrt(8.0)])  # sqrt(Σ A²) per bin
    assert (hb.below, hb.above) == (1, 1)


def test_automatic_range_starts_at_the_smallest_value() -> None:
    rng = np.random.default_rng(1)
    pt_values = 40.0 + rng.exponential(60.0, 5000)  # a cut at 40 GeV and a long tail
    pred = Prediction(np.ones(5000), np.full(5000, 0.1), np.zeros(5000))
    hb = histogram_bands(pt_values, pred, np.ones(5000), bins=20)
    assert hb.edges[0] == pt_values.min() and hb.edges[0] < 40.1  # the cut region is drawn
    assert hb.above == 5  # the 0.1 % beyond the 99.9 % quantile are counted, not silently dropped
