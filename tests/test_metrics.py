"""Tests for activeamp.metrics: Δ statistics, top selections, pulls, coverage and the JSON round trip."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from activeamp.metrics import (
    METRICS_SCHEMA,
    DeltaStats,
    Metrics,
    delta,
    delta_stats,
    evaluate_prediction,
    gaussian_coverage,
    pull_stats,
    pulls,
    read_metrics_json,
    top_fraction_indices,
    write_metrics_json,
)
from activeamp.prediction import Prediction


def _uniform_delta(n: int, half_range: float) -> np.ndarray:
    """Deterministic Δ uniform on (−r, r), midpoints so no value sits on a round threshold."""
    return ((np.arange(n) + 0.5) / n * 2.0 - 1.0) * half_range


def _prediction_from_delta(d: np.ndarray, a_true: np.ndarray, rel_sigma: float = 0.01) -> Prediction:
    mean = a_true * (1.0 + d)
    return Prediction(mean=mean, sigma_model=rel_sigma * a_true, sigma_pred=0.5 * rel_sigma * a_true)


def _gaussian_case(n: int, m: int, seed: int = 1) -> tuple[Prediction, np.ndarray]:
    """A calibrated toy: ⟨A⟩ − A_true ~ N(0, σ_tot²) with σ_model = 1 %, σ_pred = 0.5 % of A_true."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 1.0, n)
    sm, sp = 0.01 * a, 0.005 * a
    mean = a + np.hypot(sm, sp) * rng.standard_normal(n)
    samples = mean + sp * rng.standard_normal((m, n))
    sms = np.tile(sm, (m, 1))
    return Prediction(mean, sm, sp, samples, sms), a


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
    pred, a = _gaussian_case(50_000, 4)
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


# ------------------------------------------------------------------------------------------------ JSON


def test_json_round_trip(tmp_path: Path) -> None:
    pred, a = _gaussian_case(1000, 3)
    empty = np.zeros(0)
    sets = {
        "test": evaluate_prediction(pred, a),
        "train": evaluate_prediction(Prediction(pred.mean, pred.sigma_model, pred.sigma_pred), a),
        "empty": evaluate_prediction(Prediction(empty, empty, empty), empty),
    }
    extra = {"process": "gg_yyg", "oracle_calls": np.int64(1234), "seed": 7, "curve": np.array([0.1, 0.2])}
    path = write_metrics_json(tmp_path / "sub" / "metrics.json", sets, extra)
    raw = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert raw["schema"] == METRICS_SCHEMA
    assert raw["sets"]["empty"]["delta_all"]["median"] is None
    back, extra_back = read_metrics_json(path)
    assert set(back) == set(sets)
    assert back["test"] == sets["test"]
    assert back["train"] == sets["train"] and back["train"].pull_model_weights is None
    assert back["empty"].count == 0 and math.isnan(back["empty"].delta_all.median)
    assert extra_back == {"process": "gg_yyg", "oracle_calls": 1234, "seed": 7, "curve": [0.1, 0.2]}
    assert isinstance(back["test"].delta_all, DeltaStats)
    assert Metrics.from_dict(sets["test"].to_dict()) == sets["test"]


def test_json_errors(tmp_path: Path) -> None:
    bad_schema = tmp_path / "a.json"
    bad_schema.write_text('{"schema": "other/9", "sets": {}}')
    with pytest.raises(ValueError, match=r"a\.json: schema 'other/9'"):
        read_metrics_json(bad_schema)
    pred, a = _gaussian_case(100, 2)
    d = evaluate_prediction(pred, a).to_dict()
    del d["delta_top1"]["median"]
    d["pull_tot"]["bogus"] = 1
    broken = tmp_path / "b.json"
    broken.write_text(json.dumps({"schema": METRICS_SCHEMA, "sets": {"test": d}, "extra": {}}))
    with pytest.raises(ValueError, match=r"sets\.test\.delta_top1: missing keys \['median'\]"):
        read_metrics_json(broken)
    not_json = tmp_path / "c.json"
    not_json.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_metrics_json(not_json)
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        write_metrics_json(tmp_path / "d.json", {"test": evaluate_prediction(pred, a)}, {"f": object()})
    assert not (tmp_path / "d.json").exists()


def test_abs_68_counts_a_bias_the_half_width_misses() -> None:
    from activeamp.metrics import delta_stats

    biased = delta_stats(np.full(1000, -0.5) + np.linspace(-1e-3, 1e-3, 1000))
    assert biased.half_width_68 < 1e-3
    assert biased.abs_68 == pytest.approx(0.5, abs=2e-3)
    centred = delta_stats(np.linspace(-1.0, 1.0, 100_001))
    assert centred.abs_68 == pytest.approx(0.68, abs=1e-3)
