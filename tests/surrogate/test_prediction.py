"""Tests of the Prediction record and of reduce_outputs (activeamp.surrogate.prediction)."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.surrogate.prediction import Prediction, reduce_outputs


def vector_prediction() -> Prediction:
    mean = np.array([[1.0, -2.0], [3.0, 4.0]])
    return Prediction(mean, np.full_like(mean, 0.3), np.full_like(mean, 0.4), np.stack([mean, mean]), None)


def test_sigma_tot_adds_the_two_uncertainties_in_quadrature() -> None:
    p = Prediction(np.array([1.0, 2.0]), np.array([0.3, 0.0]), np.array([0.4, 1.0]))
    np.testing.assert_allclose(p.sigma_tot, [0.5, 1.0])
    assert p.n_outputs is None and len(p) == 2


def test_output_takes_one_column_of_a_vector_prediction() -> None:
    p = vector_prediction()
    assert p.n_outputs == 2
    second = p.output(1)
    np.testing.assert_array_equal(second.mean, [-2.0, 4.0])
    assert second.samples.shape == (2, 2) and second.sigma_model_samples is None
    with pytest.raises(ValueError, match="not vector-valued"):
        second.output(0)


def test_scaling_keeps_the_decomposition() -> None:
    p = vector_prediction()
    scaled = p.scaled(np.array([2.0, 10.0]))  # per point, e.g. an envelope
    np.testing.assert_allclose(scaled.mean, [[2.0, -4.0], [30.0, 40.0]])
    np.testing.assert_allclose(scaled.sigma_tot, p.sigma_tot * np.array([[2.0], [10.0]]))
    assert p.scaled(None) is p


def test_reduce_outputs_max_mean_norm_and_scales() -> None:
    v = np.array([[3.0, 4.0], [1.0, -1.0]])
    np.testing.assert_allclose(reduce_outputs(v), [4.0, 1.0])
    np.testing.assert_allclose(reduce_outputs(v, how="mean"), [3.5, 0.0])
    np.testing.assert_allclose(reduce_outputs(v, how="norm"), [5.0, np.sqrt(2.0)])
    np.testing.assert_allclose(reduce_outputs(v, scales=np.array([1.0, 4.0])), [3.0, 1.0])
    np.testing.assert_array_equal(reduce_outputs(np.array([1, 2])), [1.0, 2.0])
    with pytest.raises(ValueError, match="scales: expected shape"):
        reduce_outputs(v, scales=np.ones(3))
    with pytest.raises(ValueError, match="how: 'min'"):
        reduce_outputs(v, how="min")  # type: ignore[arg-type]
