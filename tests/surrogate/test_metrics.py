"""Tests for activeamp.surrogate.metrics: Δ statistics, top selections, pulls, coverage, per-output evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from activeamp.surrogate.metrics import (
    Metrics,
    delta,
    delta_stats,
    evaluate_prediction,
    event_weighted_stats,
    gaussian_coverage,
    normalised_residual,
    pull_stats,
    pulls,
    read_metrics_json,
    top_fraction_indices,
    weighted_quantile,
    write_metrics_json,
)
from activeamp.surrogate.prediction import Prediction, reduce_outputs
from tests.surrogate.toys import gaussian_case, signed_truth


def _uniform_delta(n: int, half_range: float) -> np.ndarray:
    """Deterministic Δ uniform on (−r, r), midpoints so no value sits on a round threshold."""
    return ((np.arange(n) + 0.5) / n * 2.0 - 1.0) * half_range


def _prediction_from_delta(d: np.ndarray, a_true: np.ndarray, rel_sigma: float = 0.01) -> Prediction:
    mean = a_true * (1.0 + d)
    return Prediction(mean=mean, sigma_model=rel_sigma * a_true, sigma_pred=0.5 * rel_sigma * a_true)




# ------------------------------------------------------------------------------------------------ Δ


def test_delta_stats_uniform_known_quantiles() -> None:
    d = _uniform_delta(10_000, 0.01)
    s = delta_stats(d)
    assert s.count == 10_000
    assert s.median == pytest.approx(0.0, abs=1e-12)
    assert s.mean == pytest.approx(0.0, abs=1e-12)
    # uniform on (−r, r): q_p = r (2p − 1)
    assert s.q16 == pytest.approx(-0.0068, abs=2e-6)
    assert s.q84 == pytest.approx(0.0068, abs=2e-6)
    assert s.half_width_68 == pytest.approx(0.0068, abs=2e-6)
    assert s.q2_5 == pytest.approx(-0.0095, abs=2e-6)
    assert s.q97_5 == pytest.approx(0.0095, abs=2e-6)
    assert s.frac_below_1e_3 == pytest.approx(0.1)  # |Δ| < 0.1 r
    assert s.frac_below_1e_2 == 1.0


def test_delta_stats_empty_is_nan() -> None:
    s = delta_stats(np.zeros(0))
    assert s.count == 0
    assert math.isnan(s.median) and math.isnan(s.half_width_68) and math.isnan(s.frac_below_1e_2)


def test_delta_values_and_shape_mismatch() -> None:
    np.testing.assert_allclose(delta(np.array([1.1, 2.0]), np.array([1.0, 4.0])), [0.1, -0.5])
    with pytest.raises(ValueError, match=r"a_pred has shape \(3,\) but a_true has shape \(2,\)"):
        delta(np.ones(3), np.ones(2))


def test_zero_truth_error_names_count() -> None:
    a = np.ones(10)
    a[[2, 7]] = 0.0
    with pytest.raises(ValueError, match=r"a_true: 2 of 10 true amplitudes are exactly zero \(first at index 2\)"):
        evaluate_prediction(_prediction_from_delta(np.zeros(10), np.ones(10)), a)


def test_nonfinite_truth_error_names_count() -> None:
    a = np.ones(5)
    a[4] = np.nan
    with pytest.raises(ValueError, match=r"1 of 5 values are not finite \(first at index 4\)"):
        delta(np.ones(5), a)


def test_prediction_shape_mismatch_named() -> None:
    pred = _prediction_from_delta(np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match=r"prediction\.mean has shape \(4,\) but a_true has shape \(5,\)"):
        evaluate_prediction(pred, np.ones(5))
    bad = Prediction(np.ones(4), np.ones(4), np.ones(4), samples=np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"prediction\.samples has shape \(3, 5\); expected \(M, 4\)"):
        evaluate_prediction(bad, np.ones(4))


# ------------------------------------------------------------------------------------------------ top selection


def test_top_fraction_indices_selects_largest() -> None:
    rng = np.random.default_rng(3)
    a = rng.permutation(np.arange(1, 1001, dtype=np.float64))
    top = top_fraction_indices(a, 0.01)
    assert top.size == 10
    np.testing.assert_array_equal(a[top], np.arange(1000, 990, -1))
    assert top_fraction_indices(a, 0.001).size == 1
    assert a[top_fraction_indices(a, 0.001)][0] == 1000.0


@pytest.mark.parametrize(
    ("n", "fraction", "k"), [(300, 0.01, 3), (10, 0.001, 1), (1, 0.01, 1), (0, 0.01, 0), (150, 0.01, 2)]
)
def test_top_fraction_count(n: int, fraction: float, k: int) -> None:
    assert top_fraction_indices(np.arange(1.0, n + 1.0), fraction).size == k


def test_top_fraction_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError, match="fraction must be in"):
        top_fraction_indices(np.ones(3), 0.0)


def test_evaluate_top_subsets_use_top_points() -> None:
    n = 2000
    a = np.arange(1.0, n + 1.0)
    d = np.full(n, 1e-4)
    d[-20:] = 0.05  # the 20 largest amplitudes (top 1 %) are off by 5 %
    m = evaluate_prediction(_prediction_from_delta(d, a), a)
    assert m.delta_top1.count == 20 and m.delta_top01.count == 2
    assert m.delta_top1.median == pytest.approx(0.05)
    assert m.delta_top01.median == pytest.approx(0.05)
    assert m.delta_all.median == pytest.approx(1e-4)
    assert m.delta_all.frac_below_1e_3 == pytest.approx(0.99)


def test_small_set_top01_has_one_point() -> None:
    a = np.array([3.0, 1.0, 2.0])
    m = evaluate_prediction(_prediction_from_delta(np.array([0.1, 0.2, 0.3]), a), a)
    assert m.delta_top01.count == 1
    assert m.delta_top01.median == pytest.approx(0.1)


def test_empty_set() -> None:
    empty = np.zeros(0)
    m = evaluate_prediction(Prediction(empty, empty, empty), empty)
    assert m.count == 0 and m.delta_all.count == 0 and m.delta_top1.count == 0
    assert math.isnan(m.precision)
    assert math.isnan(m.coverage[0].observed)
    assert m.pull_tot.count == 0


# ------------------------------------------------------------------------------------------------ pulls


def test_pull_stats_gaussian() -> None:
    t = np.random.default_rng(0).standard_normal(200_000)
    s = pull_stats(t)
    assert s.count == 200_000 and s.n_invalid == 0
    assert s.mean == pytest.approx(0.0, abs=0.01)
    assert s.std == pytest.approx(1.0, abs=0.01)
    assert s.frac_within_1 == pytest.approx(0.6827, abs=0.005)
    assert s.frac_within_2 == pytest.approx(0.9545, abs=0.003)


def test_pull_stats_skips_nonfinite() -> None:
    s = pull_stats(np.array([0.5, np.inf, -1.5, np.nan]))
    assert s.count == 2 and s.n_invalid == 2
    assert s.frac_within_1 == 0.5 and s.frac_within_2 == 1.0


def test_pulls_definitions() -> None:
    a = np.array([1.0, 2.0])
    pred = Prediction(
        mean=np.array([1.3, 1.6]),
        sigma_model=np.array([0.3, 0.2]),
        sigma_pred=np.array([0.4, 0.0]),
        samples=np.array([[1.0, 2.0], [1.6, 1.2]]),
        sigma_model_samples=np.array([[0.5, 0.4], [0.3, 0.2]]),
    )
    t = pulls(pred, a)
    np.testing.assert_allclose(t["t_model"], [1.0, -2.0])
    np.testing.assert_allclose(t["t_pred"][0], 0.75)
    assert np.isneginf(t["t_pred"][1])
    np.testing.assert_allclose(t["t_tot"], [0.3 / 0.5, -0.4 / 0.2])
    np.testing.assert_allclose(t["t_model_weights"], [[0.0, 0.0], [2.0, -4.0]])


def test_evaluate_calibrated_gaussian_coverage() -> None:
    pred, a = gaussian_case(50_000, 4)
    m = evaluate_prediction(pred, a)
    c1, c2 = m.coverage
    assert (c1.k, c2.k) == (1.0, 2.0)
    assert c1.expected == pytest.approx(0.6827, abs=1e-4) and c2.expected == pytest.approx(0.9545, abs=1e-4)
    assert c1.observed == pytest.approx(c1.expected, abs=0.01)
    assert c2.observed == pytest.approx(c2.expected, abs=0.005)
    assert m.pull_tot.std == pytest.approx(1.0, abs=0.02)
    assert m.pull_tot.frac_within_1 == c1.observed
    assert m.pull_model.std > 1.05  # σ_model alone under-covers
    assert m.pull_model_weights is not None and m.pull_model_weights.count == 4 * 50_000
    assert m.rel_sigma_tot.median == pytest.approx(math.hypot(0.01, 0.005))
    assert m.rel_sigma_model.q16 == pytest.approx(0.01) and m.rel_sigma_pred.q84 == pytest.approx(0.005)
    # precision: |Δ| ~ |N(0, 1.118 %)| → 68 % half-width ≈ 0.0111
    assert m.precision == pytest.approx(0.994 * math.hypot(0.01, 0.005), rel=0.03)


def test_gaussian_coverage_values() -> None:
    assert gaussian_coverage(1.0) == pytest.approx(0.682689, abs=1e-6)
    assert gaussian_coverage(2.0) == pytest.approx(0.954500, abs=1e-6)


def test_no_samples_no_weight_pull() -> None:
    a = np.ones(10)
    m = evaluate_prediction(_prediction_from_delta(np.zeros(10), a), a)
    assert m.pull_model_weights is None


def test_abs_68_counts_a_bias_the_half_width_misses() -> None:
    from activeamp.surrogate.metrics import delta_stats

    biased = delta_stats(np.full(1000, -0.5) + np.linspace(-1e-3, 1e-3, 1000))
    assert biased.half_width_68 < 1e-3
    assert biased.abs_68 == pytest.approx(0.5, abs=2e-3)
    centred = delta_stats(np.linspace(-1.0, 1.0, 100_001))
    assert centred.abs_68 == pytest.approx(0.68, abs=1e-3)


# ------------------------------------------------------------------------------------------------ vector outputs


def test_prediction_outputs_and_elementwise_sigma_tot() -> None:
    scalar = Prediction(np.ones(4), np.full(4, 3.0), np.full(4, 4.0))
    assert scalar.n_outputs is None and len(scalar) == 4
    vector = Prediction(np.ones((4, 2)), np.full((4, 2), 3.0), np.tile([4.0, 0.0], (4, 1)))
    assert vector.n_outputs == 2 and len(vector) == 4
    np.testing.assert_array_equal(vector.sigma_tot, np.tile([5.0, 3.0], (4, 1)))


def test_reduce_outputs_shapes_scaling_and_reductions() -> None:
    one = np.array([1, 2, 3])
    out = reduce_outputs(one, np.array([10.0]), "norm")  # 1-D: unchanged (scales ignored), float64
    assert out.dtype == np.float64 and np.array_equal(out, [1.0, 2.0, 3.0])
    v = np.array([[3.0, 40.0], [-6.0, 80.0], [0.0, 0.0]])
    np.testing.assert_array_equal(reduce_outputs(v), [40.0, 80.0, 0.0])
    np.testing.assert_array_equal(reduce_outputs(v, how="mean"), [21.5, 37.0, 0.0])
    np.testing.assert_allclose(reduce_outputs(v, how="norm"), np.hypot(v[:, 0], v[:, 1]), rtol=1e-15)
    scales = np.array([1.0, 10.0])  # column-wise: [[3, 4], [-6, 8], [0, 0]]
    np.testing.assert_array_equal(reduce_outputs(v, scales, "max"), [4.0, 8.0, 0.0])
    np.testing.assert_array_equal(reduce_outputs(v, scales, "mean"), [3.5, 1.0, 0.0])
    np.testing.assert_allclose(reduce_outputs(v, scales, "norm"), [5.0, 10.0, 0.0], rtol=1e-15)
    assert reduce_outputs(np.zeros((0, 2))).shape == (0,)
    with pytest.raises(ValueError, match=r"scales: expected shape \(2,\)"):
        reduce_outputs(v, np.ones(3))
    with pytest.raises(ValueError, match="scales: must be positive"):
        reduce_outputs(v, np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="how: 'median' is not one of"):
        reduce_outputs(v, how="median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"expected shape \(N,\) or \(N, K\)"):
        reduce_outputs(np.zeros((2, 2, 2)))




def test_vector_perfect_prediction_has_zero_width() -> None:
    truth = signed_truth()
    assert np.any(truth[:, 0] == 0.0)  # the scalar Δ would be undefined here
    pred = Prediction(truth.copy(), 0.01 * np.abs(truth) + 1e-9, 0.005 * np.abs(truth) + 1e-9)
    m = evaluate_prediction(pred, truth, ["a", "b", "c"])
    assert m.outputs == ("a", "b", "c") and m.count == 2000 and m.precision == 0.0
    for name in m.outputs:
        d = m.per_output[name].delta_all
        assert d.half_width_68 == 0.0 and d.abs_68 == 0.0 and d.frac_below_1e_3 == 1.0
        assert m.per_output[name].coverage[0].observed == 1.0
    np.testing.assert_allclose(m.scale, np.median(np.abs(truth), axis=0), rtol=1e-15)


def test_vector_known_offsets_give_the_expected_half_widths() -> None:
    truth = signed_truth()
    n = truth.shape[0]
    widths = np.array([0.01, 0.001, 0.05])
    norm = np.abs(truth) + np.median(np.abs(truth), axis=0)  # |A_k| + m_k
    u = _uniform_delta(n, 1.0)[np.random.default_rng(4).permutation(n)]
    d = u[:, None] * widths  # deviations uniform on (−w_k, w_k): 68 % half-width 0.68 w_k
    sigma = norm * widths
    pred = Prediction(truth + d * norm, sigma, np.zeros_like(sigma))
    m = evaluate_prediction(pred, truth, ["a", "b", "c"])
    got = [m.per_output[k].delta_all.half_width_68 for k in m.outputs]
    np.testing.assert_allclose(got, 0.68 * widths, rtol=1e-3)
    assert m.precision == max(got)
    # pulls: |t| = |u| < 1 everywhere, uniform on (−1, 1); σ_k/(|A_k| + m_k) = w_k
    for k, name in enumerate(m.outputs):
        out = m.per_output[name]
        assert out.pull_tot.frac_within_1 == 1.0 and out.pull_tot.std == pytest.approx(1 / np.sqrt(3), rel=1e-3)
        assert out.rel_sigma_tot.median == pytest.approx(widths[k], rel=1e-12)
    # top 1 % by |A_k|: output "b" is largest in magnitude at its most negative values
    top = np.argsort(-np.abs(truth[:, 1]), kind="stable")[:20]
    assert m.per_output["b"].delta_top1.count == 20
    assert m.per_output["b"].delta_top1.median == pytest.approx(np.median(d[top, 1]), rel=1e-12)


def test_vector_metrics_reuse_the_scalar_pulls_and_coverage() -> None:
    pred, a = gaussian_case(500, 3)
    stack = Prediction(
        np.stack([pred.mean, -pred.mean], axis=1),
        np.stack([pred.sigma_model] * 2, axis=1),
        np.stack([pred.sigma_pred] * 2, axis=1),
        np.stack([pred.samples, -pred.samples], axis=2),
        np.stack([pred.sigma_model_samples] * 2, axis=2),
    )
    m = evaluate_prediction(stack, np.stack([a, -a], axis=1), ("plus", "minus"))
    scalar = evaluate_prediction(pred, a)
    for name in ("plus", "minus"):
        out = m.per_output[name]
        assert out.coverage == scalar.coverage and out.pull_model_weights.count == 1500
        assert out.pull_model.std == pytest.approx(scalar.pull_model.std, rel=1e-12)
    assert m.per_output["plus"].pull_tot == scalar.pull_tot
    assert m.per_output["minus"].pull_tot.mean == pytest.approx(-scalar.pull_tot.mean, rel=1e-12)


def test_vector_metrics_round_trip_and_errors(tmp_path: Path) -> None:
    truth = signed_truth(300)
    rng = np.random.default_rng(6)
    pred = Prediction(truth * (1 + 0.01 * rng.standard_normal(truth.shape)), np.abs(truth) + 1, np.abs(truth))
    m = evaluate_prediction(pred, truth, ["a", "b", "c"])
    assert Metrics.from_dict(m.to_dict()) == m
    assert Metrics.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    scalar_pred, a = gaussian_case(200, 2)
    sets = {"test": m, "scalar": evaluate_prediction(scalar_pred, a)}
    back, _ = read_metrics_json(write_metrics_json(tmp_path / "metrics.json", sets))
    assert back["test"] == m and back["scalar"] == sets["scalar"] and back["scalar"].outputs is None
    empty = evaluate_prediction(Prediction(*(np.zeros((0, 2)),) * 3), np.zeros((0, 2)), ["a", "b"])
    assert empty.count == 0 and math.isnan(empty.precision)
    with pytest.raises(ValueError, match="outputs: 2 names for 3 outputs"):
        evaluate_prediction(pred, truth, ["a", "b"])
    with pytest.raises(ValueError, match=r"prediction\.mean has shape \(300, 3\) but truth has shape \(300, 2\)"):
        evaluate_prediction(pred, truth[:, :2], ["a", "b"])
    with pytest.raises(ValueError, match="truth: output 1 is zero at all 300 points"):
        evaluate_prediction(pred, truth * [1.0, 0.0, 1.0], ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"truth: 1 of 900 values are not finite \(first at index \(4, 2\)\)"):
        evaluate_prediction(pred, np.where(np.arange(900).reshape(300, 3) == 14, np.nan, truth), ["a", "b", "c"])
    with pytest.raises(ValueError, match="expected a sequence of output names, got the string 'abc'"):
        evaluate_prediction(pred, truth, "abc")
    with pytest.raises(ValueError, match=r"truth has shape \(300, 3\): a vector prediction needs its K output names"):
        evaluate_prediction(pred, truth)
    with pytest.raises(ValueError, match=r"truth has shape \(300,\): a scalar prediction takes no output names"):
        evaluate_prediction(pred.output(0), truth[:, 0], ["a"])
    with pytest.raises(ValueError, match=r"Metrics\.per_output\.b\.delta_all: missing keys \['median'\]"):
        broken = m.to_dict()
        del broken["per_output"]["b"]["delta_all"]["median"]
        Metrics.from_dict(broken)
    with pytest.raises(ValueError, match="output names must be unique"):
        evaluate_prediction(pred, truth, ["a", "a", "c"])



def test_vector_deviation_is_relative_for_large_values_and_floored_at_zeros() -> None:
    truth = np.array([[0.0], [1.0], [2.0], [1e4], [-1e4]])  # m = median |A| = 2
    pred = truth * 1.01 + np.array([[0.03], [0.0], [0.0], [0.0], [0.0]])
    d, floor = normalised_residual(pred, truth)
    np.testing.assert_allclose(floor, [2.0])
    np.testing.assert_allclose(d[:, 0], [0.03 / 2.0, 0.01 / 3.0, 0.02 / 4.0, 100.0 / (1e4 + 2), -100.0 / (1e4 + 2)])
    assert abs(d[3, 0] - 0.01) < 1e-5  # ≈ A_NN/A_true − 1 where the output is large
    mostly_zero = np.array([[0.0], [0.0], [0.0], [4.0]])
    _, floor = normalised_residual(mostly_zero, mostly_zero)
    np.testing.assert_allclose(floor, [1.0])  # the mean of |A| when the median is zero


def test_event_weighted_stats_weight_points_by_their_amplitude() -> None:
    np.testing.assert_allclose(weighted_quantile(np.array([1.0, 2.0, 3.0]), np.ones(3), 0.5), 2.0)
    np.testing.assert_allclose(weighted_quantile(np.array([1.0, 2.0]), np.array([1.0, 3.0]), 0.5), 1.75)
    a = np.concatenate([np.full(900, 1.0), np.full(100, 100.0)])  # 10 % of the points carry 92 % of the events
    mean = a * np.where(a > 10, 1.01, 1.0)  # only the large amplitudes are off, by 1 %
    pred = Prediction(mean, 0.001 * a, np.zeros_like(a))
    stats = event_weighted_stats(pred, a)
    assert stats.median == pytest.approx(0.01) and stats.abs_68 == pytest.approx(0.01)
    assert evaluate_prediction(pred, a).delta_all.median == 0.0  # uniformly, most points are exact
    assert stats.cross_section_error == pytest.approx(0.01 * 10000 / 10900)
    assert stats.cross_section_sigma == pytest.approx(0.001 * np.sqrt(900 + 100 * 1e4) / 10900)
    assert evaluate_prediction(pred, a).event_weighted == stats
