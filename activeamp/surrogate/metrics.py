"""Precision and calibration metrics of a surrogate prediction against true amplitudes or outputs (pure numpy).

The records live in :mod:`activeamp.surrogate.metrics_records` and the metrics files in
:mod:`activeamp.surrogate.metrics_io`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from activeamp.surrogate.metrics_io import METRICS_SCHEMA, read_metrics_json, write_metrics_json
from activeamp.surrogate.metrics_records import (
    CoverageStats,
    DeltaStats,
    EventWeightedStats,
    Metrics,
    OutputMetrics,
    PullStats,
    RelativeUncertaintyStats,
)
from activeamp.surrogate.prediction import Prediction

__all__ = [
    "METRICS_SCHEMA",
    "TOP_FRACTIONS",
    "CoverageStats",
    "DeltaStats",
    "EventWeightedStats",
    "Metrics",
    "OutputMetrics",
    "PullStats",
    "RelativeUncertaintyStats",
    "delta",
    "delta_stats",
    "evaluate_prediction",
    "event_weighted_stats",
    "gaussian_coverage",
    "normalised_residual",
    "pull_stats",
    "pulls",
    "read_metrics_json",
    "relative_uncertainty_stats",
    "top_fraction_indices",
    "validate_truth",
    "weighted_quantile",
    "write_metrics_json",
]

logger = logging.getLogger(__name__)

#: Fractions of the largest true amplitudes whose Δ statistics are reported (top 1 %, top 0.1 %).
TOP_FRACTIONS: tuple[float, float] = (0.01, 0.001)

_NAN = float("nan")


# --------------------------------------------------------------------------------------------------
# Building blocks


def _as_1d(name: str, values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected shape (N,), got {arr.shape}")
    return arr


def validate_truth(a_true: np.ndarray, name: str = "a_true") -> np.ndarray:
    """Check true amplitudes and return them as a float64 array.

    Parameters
    ----------
    a_true : numpy.ndarray
        Shape ``(N,)``, amplitude units.
    name : str
        Name used in error messages.

    Raises
    ------
    ValueError
        If the shape is not ``(N,)``, or entries are non-finite or exactly zero (Δ = A_NN/A_true − 1 is
        undefined); the message gives the count and the first offending index.
    """
    arr = _as_1d(name, a_true)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name}: {int(bad.sum())} of {arr.size} values are not finite (first at index {int(np.argmax(bad))})"
        )
    zero = arr == 0.0
    if zero.any():
        raise ValueError(
            f"{name}: {int(zero.sum())} of {arr.size} true amplitudes are exactly zero "
            f"(first at index {int(np.argmax(zero))}); the relative deviation Δ = A_NN/A_true − 1 is undefined"
        )
    return arr


def delta(a_pred: np.ndarray, a_true: np.ndarray) -> np.ndarray:
    """Relative deviation Δ = A_NN/A_true − 1.

    Parameters
    ----------
    a_pred, a_true : numpy.ndarray
        Shape ``(N,)``, same amplitude units.

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)``, dimensionless.

    Raises
    ------
    ValueError
        On shape mismatch, or non-finite / zero true amplitudes (see :func:`validate_truth`).
    """
    a_true = validate_truth(a_true)
    a_pred = _as_1d("a_pred", a_pred)
    if a_pred.shape != a_true.shape:
        raise ValueError(f"a_pred has shape {a_pred.shape} but a_true has shape {a_true.shape}")
    return a_pred / a_true - 1.0


def top_fraction_indices(a_true: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the ``fraction`` of points with the largest true amplitude, largest first.

    The number of points is ``ceil(fraction · N)`` (up to rounding noise), at least 1 for a non-empty set,
    so the top 0.1 % of 500 points is the single largest one. Ties are broken by index.

    Parameters
    ----------
    a_true : numpy.ndarray
        Shape ``(N,)``.
    fraction : float
        In ``(0, 1]``.

    Returns
    -------
    numpy.ndarray
        Integer indices, shape ``(k,)``, sorted by decreasing ``a_true``.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    a_true = _as_1d("a_true", a_true)
    n = a_true.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = min(n, max(1, math.ceil(fraction * n - 1e-9)))
    order = np.argsort(-a_true, kind="stable")
    return order[:k]


def delta_stats(values: np.ndarray) -> DeltaStats:
    """Summary statistics of Δ values.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(N,)``, Δ = A_NN/A_true − 1 (dimensionless). May be empty: all statistics are then NaN.
    """
    d = _as_1d("delta", values)
    if d.size == 0:
        return DeltaStats(0, *([_NAN] * 10))
    q2_5, q16, q50, q84, q97_5 = np.quantile(d, [0.025, 0.16, 0.5, 0.84, 0.975])
    ad = np.abs(d)
    return DeltaStats(
        count=int(d.size),
        median=float(q50),
        mean=float(d.mean()),
        half_width_68=float(0.5 * (q84 - q16)),
        q16=float(q16),
        q84=float(q84),
        q2_5=float(q2_5),
        q97_5=float(q97_5),
        frac_below_1e_3=float(np.mean(ad < 1e-3)),
        frac_below_1e_2=float(np.mean(ad < 1e-2)),
        abs_68=float(np.quantile(ad, 0.68)),
    )


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: np.ndarray | float) -> np.ndarray:
    """Quantiles ``q`` of ``values`` ``(N,)`` with non-negative ``weights`` ``(N,)`` (midpoint interpolation)."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, dtype=np.float64)[order], np.asarray(weights, dtype=np.float64)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    return np.interp(q, cdf, v)


def event_weighted_stats(pred: Prediction, a_true: np.ndarray) -> EventWeightedStats:
    """:class:`EventWeightedStats` of a scalar prediction on a uniformly drawn set (truth ``(N,)``, > 0)."""
    a = _as_1d("truth", a_true)
    if a.size == 0:
        return EventWeightedStats(0, *([_NAN] * 5))
    d = delta(pred.mean, a)
    q16, q50, q84 = weighted_quantile(d, a, [0.16, 0.5, 0.84])
    total = float(a.sum())
    return EventWeightedStats(
        count=int(a.size),
        median=float(q50),
        half_width_68=float(0.5 * (q84 - q16)),
        abs_68=float(weighted_quantile(np.abs(d), a, 0.68)),
        cross_section_error=float(np.sum(pred.mean) / total - 1.0),
        cross_section_sigma=float(np.sqrt(np.sum(pred.sigma_tot**2)) / total),
    )


def pull_stats(t: np.ndarray) -> PullStats:
    """Summary statistics of pulls; non-finite entries (σ = 0) are counted in ``n_invalid`` and left out.

    Parameters
    ----------
    t : numpy.ndarray
        Pulls of any shape (flattened), dimensionless.
    """
    t = np.asarray(t, dtype=np.float64).ravel()
    finite = np.isfinite(t)
    n_invalid = int(t.size - finite.sum())
    if n_invalid:
        logger.debug("pull_stats: %d of %d pulls are not finite and are left out", n_invalid, t.size)
    t = t[finite]
    if t.size == 0:
        return PullStats(0, n_invalid, _NAN, _NAN, _NAN, _NAN)
    at = np.abs(t)
    return PullStats(
        count=int(t.size),
        n_invalid=n_invalid,
        mean=float(t.mean()),
        std=float(t.std()),
        frac_within_1=float(np.mean(at < 1.0)),
        frac_within_2=float(np.mean(at < 2.0)),
    )


def gaussian_coverage(k: float) -> float:
    """Probability that a unit Gaussian lies within ±k: erf(k/√2)."""
    return math.erf(k / math.sqrt(2.0))


def _check_prediction(pred: Prediction, a_true: np.ndarray) -> np.ndarray:
    return _check_prediction_shapes(pred, validate_truth(a_true))


def _check_prediction_shapes(pred: Prediction, a_true: np.ndarray) -> np.ndarray:
    n = a_true.shape[0]
    for name in ("mean", "sigma_model", "sigma_pred"):
        arr = np.asarray(getattr(pred, name))
        if arr.shape != (n,):
            raise ValueError(f"prediction.{name} has shape {arr.shape} but a_true has shape {a_true.shape}")
    for name in ("samples", "sigma_model_samples"):
        arr = getattr(pred, name)
        if arr is not None and (np.ndim(arr) != 2 or np.shape(arr)[1] != n):
            raise ValueError(f"prediction.{name} has shape {np.shape(arr)}; expected (M, {n})")
    return a_true


def _ratio(num: np.ndarray, den: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(num, dtype=np.float64) / den


def pulls(pred: Prediction, a_true: np.ndarray) -> dict[str, np.ndarray]:
    """Pulls t = (⟨A⟩ − A_true)/σ (Eq. 16) for σ_model, σ_pred and σ_tot.

    Parameters
    ----------
    pred : Prediction
        N points.
    a_true : numpy.ndarray
        Shape ``(N,)``.

    Returns
    -------
    dict
        ``{"t_model", "t_pred", "t_tot"}`` → shape ``(N,)``; and ``"t_model_weights"`` → shape ``(M, N)``,
        t_model(ω) = (Ā(ω) − A_true)/σ_model(ω) (Eq. 17), when ``pred`` has samples and σ_model samples.
        Entries with σ = 0 are ±inf or NaN.
    """
    return _pulls(pred, _check_prediction(pred, a_true))


def _pulls(pred: Prediction, a_true: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`pulls` without the truth checks (``a_true`` already validated, zeros allowed)."""
    diff = np.asarray(pred.mean, dtype=np.float64) - a_true
    out = {
        "t_model": _ratio(diff, pred.sigma_model),
        "t_pred": _ratio(diff, pred.sigma_pred),
        "t_tot": _ratio(diff, pred.sigma_tot),
    }
    if pred.samples is not None and pred.sigma_model_samples is not None:
        samples = np.asarray(pred.samples, dtype=np.float64)
        out["t_model_weights"] = _ratio(samples - a_true[None, :], pred.sigma_model_samples)
    return out


def relative_uncertainty_stats(sigma: np.ndarray, a_true: np.ndarray) -> RelativeUncertaintyStats:
    """Summary of σ/|A_true|.

    Parameters
    ----------
    sigma, a_true : numpy.ndarray
        Shape ``(N,)``, same amplitude units; ``a_true`` non-zero.
    """
    a_true = validate_truth(a_true)
    return _relative_stats(_as_1d("sigma", sigma) / np.abs(a_true))


def _relative_stats(r: np.ndarray) -> RelativeUncertaintyStats:
    """Summary of relative uncertainties ``r`` ``(N,)`` (σ over a reference size)."""
    if r.size == 0:
        return RelativeUncertaintyStats(0, _NAN, _NAN, _NAN, _NAN)
    q16, q50, q84 = np.quantile(r, [0.16, 0.5, 0.84])
    return RelativeUncertaintyStats(int(r.size), float(q50), float(r.mean()), float(q16), float(q84))


def evaluate_prediction(pred: Prediction, truth: np.ndarray, outputs: Sequence[str] | None = None) -> Metrics:
    """All metrics of a prediction against the true values of the same points: scalar ``(N,)`` or vector ``(N, K)``.

    A scalar prediction (``truth`` ``(N,)``, ``outputs`` None) gets Δ = A_NN/A_true − 1, the top 1 % / 0.1 % by
    true amplitude, pulls (Eqs. 16, 17) and the coverage of σ_tot. A vector prediction (``truth`` ``(N, K)`` with
    ``K`` output names) is evaluated output by output with the floored relative deviation
    ``Δ_k = (⟨A⟩_k − A_k) / (|A_k| + m_k)``, ``m_k`` the median of ``|A_k|`` over the set
    (:func:`normalised_residual`), since ``A_NN/A_true − 1`` is undefined where a signed output crosses zero; its
    top subsets are the points with the largest ``|A_k|`` and ``rel_sigma_*`` are ``σ_k / (|A_k| + m_k)``.

    Parameters
    ----------
    pred : Prediction
        Prediction for N points: ``mean``, ``sigma_model``, ``sigma_pred`` of the shape of ``truth``, optional
        samples ``(M, N)`` / ``(M, N, K)`` (used for the Eq. 17 pull).
    truth : numpy.ndarray
        Shape ``(N,)``: true amplitudes in the units of ``pred``, finite and non-zero; or shape ``(N, K)``: true
        outputs, finite, and not zero at every point of any output.
    outputs : sequence of str, optional
        The K unique output names of a vector prediction; None for a scalar one.

    Returns
    -------
    Metrics
        ``outputs`` None with one record, or the K outputs with a record each.

    Raises
    ------
    ValueError
        On shape mismatches (scalar truth with outputs, vector truth without), or bad truth values (the message
        gives their count and the first index).
    """
    if outputs is not None:
        return _evaluate_vector(pred, truth, outputs)
    if np.ndim(truth) == 2:
        raise ValueError(f"truth has shape {np.shape(truth)}: a vector prediction needs its K output names (outputs=)")
    a_true = _check_prediction(pred, truth)
    record = _metrics(pred, a_true, delta(pred.mean, a_true), a_true, np.abs(a_true))
    weighted = event_weighted_stats(pred, a_true) if np.all(a_true > 0) else None
    metrics = Metrics((dataclasses.replace(record, event_weighted=weighted),))
    logger.debug("evaluate_prediction: N=%d, 68%% half-width of Δ = %.3g", metrics.count, metrics.precision)
    return metrics


def _metrics(
    pred: Prediction, a_true: np.ndarray, d: np.ndarray, size: np.ndarray, reference: Any
) -> OutputMetrics:
    """Assemble the :class:`OutputMetrics` of one output ``(N,)`` from checked inputs.

    Parameters
    ----------
    pred : Prediction
        N points, one output.
    a_true : numpy.ndarray
        Shape ``(N,)``: truth, checked.
    d : numpy.ndarray
        Shape ``(N,)``: the deviation Δ to summarise.
    size : numpy.ndarray
        Shape ``(N,)``: the size that selects the top fractions (largest first).
    reference : numpy.ndarray or float
        What σ is divided by in the ``rel_sigma_*`` entries (``|A_true|``, or ``|A_k| + m_k`` for vector outputs).
    """
    top1 = top_fraction_indices(size, TOP_FRACTIONS[0])
    top01 = top_fraction_indices(size, TOP_FRACTIONS[1])
    t = _pulls(pred, a_true)
    n = int(a_true.size)
    abs_dev = np.abs(np.asarray(pred.mean, dtype=np.float64) - a_true)
    sigma_tot = pred.sigma_tot
    coverage = tuple(
        CoverageStats(
            k=float(k),
            observed=float(np.mean(abs_dev < k * sigma_tot)) if n else _NAN,
            expected=gaussian_coverage(k),
            count=n,
        )
        for k in (1.0, 2.0)
    )
    return OutputMetrics(
        count=n,
        delta_all=delta_stats(d),
        delta_top1=delta_stats(d[top1]),
        delta_top01=delta_stats(d[top01]),
        pull_model=pull_stats(t["t_model"]),
        pull_pred=pull_stats(t["t_pred"]),
        pull_tot=pull_stats(t["t_tot"]),
        pull_model_weights=pull_stats(t["t_model_weights"]) if "t_model_weights" in t else None,
        coverage=coverage,
        rel_sigma_model=_relative_stats(_as_1d("sigma", pred.sigma_model) / reference),
        rel_sigma_pred=_relative_stats(_as_1d("sigma", pred.sigma_pred) / reference),
        rel_sigma_tot=_relative_stats(_as_1d("sigma", sigma_tot) / reference),
    )


def normalised_residual(a_pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-output floored relative deviation ``Δ_k = (A_NN,k − A_k) / (|A_k| + m_k)``, ``m_k = median_j |A_jk|``.

    The relative deviation ``A_NN/A_true − 1`` of the scalar metrics is undefined, and blows up, where a
    signed output crosses zero. With the floor ``m_k`` the deviation is relative (≈ ``A_NN/A_true − 1``) where
    the output is large, ``|A_k| ≫ m_k``, as the precision of a coefficient that spans decades should be, and
    in units of the output's typical size where it passes through zero. (A fixed normalisation such as the rms
    would make the bulk look perfect and the largest values look terrible for outputs spanning decades.) If
    more than half of an output's values are exactly zero, ``m_k`` is the mean of ``|A_k|`` instead.

    Parameters
    ----------
    a_pred, truth : numpy.ndarray
        Shape ``(N, K)``, same (target) units.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Δ of shape ``(N, K)`` (dimensionless) and ``m`` of shape ``(K,)`` (target units; NaN for N = 0).

    Raises
    ------
    ValueError
        On shape mismatch, non-finite truth, or an output whose truth is zero at every point.
    """
    truth = _validate_vector_truth(truth)
    a_pred = np.asarray(a_pred, dtype=np.float64)
    if a_pred.shape != truth.shape:
        raise ValueError(f"a_pred has shape {a_pred.shape} but truth has shape {truth.shape}")
    if truth.shape[0] == 0:
        return np.zeros(truth.shape), np.full(truth.shape[1], _NAN)
    size = np.abs(truth)
    floor = np.median(size, axis=0)
    floor = np.where(floor > 0, floor, size.mean(axis=0))
    zero = np.flatnonzero(floor == 0)
    if zero.size:
        raise ValueError(
            f"truth: output {int(zero[0])} is zero at all {truth.shape[0]} points; its normalised residual is undefined"
        )
    return (a_pred - truth) / (size + floor), floor


def _validate_vector_truth(truth: np.ndarray) -> np.ndarray:
    arr = np.asarray(truth, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"truth: expected shape (N, K), got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"truth: {int(bad.sum())} of {arr.size} values are not finite (first at index {first})")
    return arr


def _evaluate_vector(pred: Prediction, truth: np.ndarray, names: Sequence[str]) -> Metrics:
    """:func:`evaluate_prediction` of a vector prediction: truth ``(N, K)``, K output ``names``."""
    if isinstance(names, str):
        raise ValueError(f"outputs: expected a sequence of output names, got the string {names!r}")
    if np.ndim(truth) == 1:
        raise ValueError(f"truth has shape {np.shape(truth)}: a scalar prediction takes no output names")
    truth = _validate_vector_truth(truth)
    names = tuple(str(n) for n in names)
    n, k = truth.shape
    if len(names) != k:
        raise ValueError(f"outputs: {len(names)} names for {k} outputs")
    for attr in ("mean", "sigma_model", "sigma_pred"):
        shape = np.shape(getattr(pred, attr))
        if shape != (n, k):
            raise ValueError(f"prediction.{attr} has shape {shape} but truth has shape {truth.shape}")
    for attr in ("samples", "sigma_model_samples"):
        arr = getattr(pred, attr)
        if arr is not None and (np.ndim(arr) != 3 or np.shape(arr)[1:] != (n, k)):
            raise ValueError(f"prediction.{attr} has shape {np.shape(arr)}; expected (M, {n}, {k})")
    d, floor = normalised_residual(pred.mean, truth)
    records = tuple(
        _metrics(pred.output(j), truth[:, j], d[:, j], np.abs(truth[:, j]), np.abs(truth[:, j]) + floor[j])
        for j in range(k)
    )
    metrics = Metrics(records, names, tuple(floor.tolist()))
    logger.debug("evaluate_prediction: N=%d, K=%d, worst 68%% half-width of Δ_k = %.3g", n, k, metrics.precision)
    return metrics
