"""Precision and calibration metrics of a surrogate prediction against true amplitudes or outputs (pure numpy)."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.atomic import write_atomic
from activeamp.surrogate.prediction import Prediction

__all__ = [
    "METRICS_SCHEMA",
    "AnyMetrics",
    "TOP_FRACTIONS",
    "CoverageStats",
    "DeltaStats",
    "Metrics",
    "PullStats",
    "RelativeUncertaintyStats",
    "VectorMetrics",
    "delta",
    "delta_stats",
    "evaluate_prediction",
    "evaluate_vector_prediction",
    "gaussian_coverage",
    "normalised_residual",
    "pull_stats",
    "pulls",
    "read_metrics_json",
    "relative_uncertainty_stats",
    "top_fraction_indices",
    "validate_truth",
    "write_metrics_json",
]

logger = logging.getLogger(__name__)

#: Identifier written into metrics JSON files; bumped when the layout changes.
METRICS_SCHEMA: str = "activeamp.metrics/1"

#: Fractions of the largest true amplitudes whose Δ statistics are reported (top 1 %, top 0.1 %).
TOP_FRACTIONS: tuple[float, float] = (0.01, 0.001)

_NAN = float("nan")


class _Record:
    """Mixin: ``to_dict`` / ``from_dict`` for flat frozen dataclasses of ints and floats."""

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of the fields (floats may be NaN; the JSON writer maps NaN to null)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "") -> Any:
        """Build from a mapping produced by ``to_dict``; null values become NaN.

        Raises
        ------
        ValueError
            If keys are missing or unknown; the message names them and ``where``.
        """
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        _check_keys(data, names, where or cls.__name__)
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            value = data[f.name]
            if f.type in ("int", int):
                kwargs[f.name] = int(value)
            else:
                kwargs[f.name] = _NAN if value is None else float(value)
        return cls(**kwargs)


def _check_keys(data: Mapping[str, Any], names: list[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    missing = [n for n in names if n not in data]
    unknown = [k for k in data if k not in names]
    if missing or unknown:
        raise ValueError(f"{where}: missing keys {missing}, unknown keys {unknown}")


@dataclass(frozen=True)
class DeltaStats(_Record):
    """Distribution of the relative deviation Δ = A_NN/A_true − 1 on a set of points.

    Attributes
    ----------
    count : int
        Number of points (0 for an empty set, in which case all statistics are NaN).
    median : float
        Median of Δ.
    mean : float
        Mean of Δ.
    half_width_68 : float
        Half the central 68 % interval, (q84 − q16)/2: the headline precision of the paper.
    q16, q84 : float
        16 % and 84 % quantiles of Δ.
    q2_5, q97_5 : float
        2.5 % and 97.5 % quantiles of Δ (central 95 % interval).
    frac_below_1e_3, frac_below_1e_2 : float
        Fractions of points with |Δ| < 10⁻³ and |Δ| < 10⁻².
    abs_68 : float
        68 % quantile of |Δ|: like the half-width, but it also counts a bias (a set predicted at half its
        true value has half-width 0 and ``abs_68`` 0.5).
    """

    count: int
    median: float
    mean: float
    half_width_68: float
    q16: float
    q84: float
    q2_5: float
    q97_5: float
    frac_below_1e_3: float
    frac_below_1e_2: float
    abs_68: float


@dataclass(frozen=True)
class PullStats(_Record):
    """Distribution of a pull t = (⟨A⟩ − A_true)/σ (Eq. 16); a calibrated σ gives a unit Gaussian.

    Attributes
    ----------
    count : int
        Number of finite pulls used (points with σ = 0 and a non-zero deviation are left out).
    n_invalid : int
        Number of non-finite pulls left out.
    mean, std : float
        Mean and standard deviation (ddof = 0) of t; 0 and 1 for a calibrated σ.
    frac_within_1, frac_within_2 : float
        Fractions with |t| < 1 and |t| < 2 (Gaussian: 0.683 and 0.954).
    """

    count: int
    n_invalid: int
    mean: float
    std: float
    frac_within_1: float
    frac_within_2: float


@dataclass(frozen=True)
class CoverageStats(_Record):
    """Coverage of an uncertainty: fraction of points with |⟨A⟩ − A_true| < k σ.

    Attributes
    ----------
    k : float
        Number of standard deviations.
    observed : float
        Observed fraction (NaN for an empty set).
    expected : float
        Gaussian expectation erf(k/√2): 0.683 for k = 1, 0.954 for k = 2.
    count : int
        Number of points.
    """

    k: float
    observed: float
    expected: float
    count: int


@dataclass(frozen=True)
class RelativeUncertaintyStats(_Record):
    """Summary of a relative uncertainty σ/A_true over a set of points (dimensionless).

    Attributes
    ----------
    count : int
        Number of points.
    median, mean : float
        Median and mean of σ/|A_true|.
    q16, q84 : float
        16 % and 84 % quantiles of σ/|A_true|.
    """

    count: int
    median: float
    mean: float
    q16: float
    q84: float


@dataclass(frozen=True)
class Metrics:
    """All metrics of one prediction on one set (e.g. "train" or "test").

    Attributes
    ----------
    count : int
        Number of points in the set.
    delta_all, delta_top1, delta_top01 : DeltaStats
        Δ statistics for all points, and for the top 1 % and top 0.1 % by true amplitude
        (each at least one point when the set is not empty).
    pull_model, pull_pred, pull_tot : PullStats
        Pulls (⟨A⟩ − A_true)/σ with σ = σ_model, σ_pred, σ_tot (Eq. 16).
    pull_model_weights : PullStats or None
        Weight-dependent pull t_model(ω) = (Ā(ω) − A_true)/σ_model(ω) (Eq. 17) over all M × N
        sample/point pairs; None when the prediction carries no samples.
    coverage : tuple of CoverageStats
        Coverage of σ_tot for k = 1 and k = 2.
    rel_sigma_model, rel_sigma_pred, rel_sigma_tot : RelativeUncertaintyStats
        σ_model/A_true, σ_pred/A_true, σ_tot/A_true.
    """

    count: int
    delta_all: DeltaStats
    delta_top1: DeltaStats
    delta_top01: DeltaStats
    pull_model: PullStats
    pull_pred: PullStats
    pull_tot: PullStats
    pull_model_weights: PullStats | None
    coverage: tuple[CoverageStats, ...]
    rel_sigma_model: RelativeUncertaintyStats
    rel_sigma_pred: RelativeUncertaintyStats
    rel_sigma_tot: RelativeUncertaintyStats

    _DELTA = ("delta_all", "delta_top1", "delta_top01")
    _PULL = ("pull_model", "pull_pred", "pull_tot")
    _REL = ("rel_sigma_model", "rel_sigma_pred", "rel_sigma_tot")

    @property
    def precision(self) -> float:
        """The headline precision: 68 % half-width of Δ over all points."""
        return self.delta_all.half_width_68

    def to_dict(self) -> dict[str, Any]:
        """Nested plain ``dict`` (JSON-ready apart from NaN, which the writer maps to null)."""
        out: dict[str, Any] = {"count": self.count}
        for name in self._DELTA + self._PULL + self._REL:
            out[name] = getattr(self, name).to_dict()
        out["pull_model_weights"] = None if self.pull_model_weights is None else self.pull_model_weights.to_dict()
        out["coverage"] = [c.to_dict() for c in self.coverage]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "Metrics") -> Metrics:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            If keys are missing or unknown; the message names them and ``where``.
        """
        names = ["count", *cls._DELTA, *cls._PULL, "pull_model_weights", "coverage", *cls._REL]
        _check_keys(data, names, where)
        kwargs: dict[str, Any] = {"count": int(data["count"])}
        for name in cls._DELTA:
            kwargs[name] = DeltaStats.from_dict(data[name], f"{where}.{name}")
        for name in cls._PULL:
            kwargs[name] = PullStats.from_dict(data[name], f"{where}.{name}")
        for name in cls._REL:
            kwargs[name] = RelativeUncertaintyStats.from_dict(data[name], f"{where}.{name}")
        pmw = data["pull_model_weights"]
        kwargs["pull_model_weights"] = None if pmw is None else PullStats.from_dict(pmw, f"{where}.pull_model_weights")
        kwargs["coverage"] = tuple(
            CoverageStats.from_dict(c, f"{where}.coverage[{i}]") for i, c in enumerate(data["coverage"])
        )
        return cls(**kwargs)


@dataclass(frozen=True)
class VectorMetrics:
    """Metrics of a vector prediction (K outputs per point, e.g. signed form-factor coefficients), per output.

    Each output has a full :class:`Metrics` record, with one change of meaning: Δ is the floored relative
    deviation ``Δ_k = (⟨A⟩_k − A_k) / (|A_k| + m_k)`` with ``m_k`` the median of ``|A_k|`` over the evaluated set
    (see :func:`normalised_residual`), and the ``rel_sigma_*`` entries are ``σ_k / (|A_k| + m_k)``.

    Attributes
    ----------
    names : tuple of str
        Output names, in the order of the prediction's last axis.
    per_output : dict
        Output name → :class:`Metrics`.
    scale : tuple of float
        ``m_k`` per output (target units), the floor of the normalisation of Δ_k; empty when not recorded.
    """

    names: tuple[str, ...]
    per_output: dict[str, Metrics]
    scale: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "scale", tuple(float(r) for r in self.scale))
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"VectorMetrics: output names must be unique, got {list(self.names)}")
        if set(self.per_output) != set(self.names):
            raise ValueError(
                f"VectorMetrics: per_output has outputs {sorted(self.per_output)}, names are {list(self.names)}"
            )
        if self.scale and len(self.scale) != len(self.names):
            raise ValueError(f"VectorMetrics: {len(self.scale)} scales for {len(self.names)} outputs")

    @property
    def count(self) -> int:
        """Number of points in the set (0 without outputs)."""
        return self.per_output[self.names[0]].count if self.names else 0

    @property
    def precision(self) -> float:
        """The worst (largest) per-output 68 % half-width of Δ_k; NaN when no output has one."""
        widths = [self.per_output[n].precision for n in self.names]
        finite = [w for w in widths if not math.isnan(w)]
        return max(finite) if finite else _NAN

    def to_dict(self) -> dict[str, Any]:
        """Nested plain ``dict``: ``names``, ``scale`` and ``per_output`` (name → :meth:`Metrics.to_dict`)."""
        return {
            "names": list(self.names),
            "scale": list(self.scale),
            "per_output": {n: self.per_output[n].to_dict() for n in self.names},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "VectorMetrics") -> VectorMetrics:
        """Inverse of :meth:`to_dict` (``null`` read back as NaN).

        Raises
        ------
        ValueError
            If keys are missing or unknown; the message names them and ``where``.
        """
        _check_keys(data, ["names", "scale", "per_output"], where)
        per_output = data["per_output"]
        if not isinstance(per_output, Mapping):
            raise ValueError(f"{where}.per_output: expected a mapping, got {type(per_output).__name__}")
        scale = tuple(_NAN if r is None else float(r) for r in data["scale"])
        metrics = {str(n): Metrics.from_dict(m, f"{where}.per_output.{n}") for n, m in per_output.items()}
        return cls(tuple(data["names"]), metrics, scale)


#: A metrics record of one set: scalar or vector.
AnyMetrics = Metrics | VectorMetrics


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


def evaluate_prediction(pred: Prediction, a_true: np.ndarray) -> Metrics:
    """All metrics of a prediction against the true amplitudes of the same points.

    Parameters
    ----------
    pred : Prediction
        Prediction for N points (``samples`` optional, used for the Eq. 17 pull).
    a_true : numpy.ndarray
        Shape ``(N,)``, true amplitudes in the units of ``pred``; finite and non-zero.

    Returns
    -------
    Metrics

    Raises
    ------
    ValueError
        On shape mismatches, or non-finite / zero true amplitudes (the message gives their count).
    """
    a_true = _check_prediction(pred, a_true)
    metrics = _metrics(pred, a_true, delta(pred.mean, a_true), a_true, np.abs(a_true))
    logger.debug("evaluate_prediction: N=%d, 68%% half-width of Δ = %.3g", metrics.count, metrics.precision)
    return metrics


def _metrics(pred: Prediction, a_true: np.ndarray, d: np.ndarray, size: np.ndarray, reference: Any) -> Metrics:
    """Assemble :class:`Metrics` of a scalar prediction ``(N,)`` from checked inputs.

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
    return Metrics(
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


def evaluate_vector_prediction(pred: Prediction, truth: np.ndarray, names: Sequence[str]) -> VectorMetrics:
    """All metrics of a vector prediction (K outputs per point), output by output.

    Per output k the deviation is the floored relative deviation ``Δ_k = (⟨A⟩_k − A_k) / (|A_k| + m_k)`` with
    ``m_k`` the median of ``|A_k|`` over the evaluated set (:func:`normalised_residual`): the ratio
    ``A_NN/A_true − 1`` of :func:`evaluate_prediction` is undefined where a signed coefficient crosses zero.
    The top 1 % / 0.1 % are the points with the largest ``|A_k|``; pulls (Eqs. 16, 17) and the coverage of
    σ_tot are as in the scalar :class:`Metrics`; ``rel_sigma_*`` are ``σ_k / (|A_k| + m_k)``.

    Parameters
    ----------
    pred : Prediction
        Vector prediction: ``mean``, ``sigma_model``, ``sigma_pred`` of shape ``(N, K)``, optional samples
        ``(M, N, K)``.
    truth : numpy.ndarray
        Shape ``(N, K)``: true outputs in the units of ``pred``; finite, and not zero at every point of any output.
    names : sequence of str
        K unique output names.

    Returns
    -------
    VectorMetrics
    """
    truth = _validate_vector_truth(truth)
    names = tuple(str(n) for n in names)
    n, k = truth.shape
    if len(names) != k:
        raise ValueError(f"names: {len(names)} names for {k} outputs")
    for attr in ("mean", "sigma_model", "sigma_pred"):
        shape = np.shape(getattr(pred, attr))
        if shape != (n, k):
            raise ValueError(f"prediction.{attr} has shape {shape} but truth has shape {truth.shape}")
    for attr in ("samples", "sigma_model_samples"):
        arr = getattr(pred, attr)
        if arr is not None and (np.ndim(arr) != 3 or np.shape(arr)[1:] != (n, k)):
            raise ValueError(f"prediction.{attr} has shape {np.shape(arr)}; expected (M, {n}, {k})")
    d, floor = normalised_residual(pred.mean, truth)
    per_output = {}
    for j, name in enumerate(names):
        a_j = truth[:, j]
        per_output[name] = _metrics(pred.output(j), a_j, d[:, j], np.abs(a_j), np.abs(a_j) + floor[j])
    metrics = VectorMetrics(names, per_output, tuple(floor.tolist()))
    logger.debug("evaluate_vector_prediction: N=%d, K=%d, worst 68%% half-width of Δ_k = %.3g", n, k, metrics.precision)
    return metrics


# --------------------------------------------------------------------------------------------------
# JSON


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _nan_to_none(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_metrics_json(
    path: str | os.PathLike[str], metrics_by_set: Mapping[str, AnyMetrics], extra: Mapping[str, Any] | None = None
) -> Path:
    """Write metrics of several sets to a JSON file, atomically.

    Layout: ``{"schema": METRICS_SCHEMA, "sets": {name: Metrics.to_dict()}, "extra": extra}``; NaN and ±inf
    are written as ``null``. A set may also hold :class:`VectorMetrics` (``VectorMetrics.to_dict()``,
    recognised on reading by its ``per_output`` key).

    Parameters
    ----------
    path : path-like
        Destination; parent folders are created.
    metrics_by_set : mapping
        Set name (e.g. ``"train"``, ``"test"``) → :class:`Metrics` or :class:`VectorMetrics`.
    extra : mapping, optional
        JSON-serialisable provenance (config, oracle calls, code version...); numpy scalars and arrays allowed.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    for name, m in metrics_by_set.items():
        if not isinstance(m, (Metrics, VectorMetrics)):
            raise TypeError(f"metrics_by_set[{name!r}] is a {type(m).__name__}, not Metrics or VectorMetrics")
    doc = {
        "schema": METRICS_SCHEMA,
        "sets": {str(name): m.to_dict() for name, m in metrics_by_set.items()},
        "extra": dict(extra or {}),
    }
    try:
        text = json.dumps(_nan_to_none(doc), indent=2, allow_nan=False, ensure_ascii=False)
    except TypeError as exc:
        raise TypeError(f"{path}: extra is not JSON-serialisable: {exc}") from None
    write_atomic(path, text + "\n")
    logger.info("wrote metrics of %d set(s) to %s", len(metrics_by_set), path)
    return path


def read_metrics_json(path: str | os.PathLike[str]) -> tuple[dict[str, AnyMetrics], dict[str, Any]]:
    """Read a file written by :func:`write_metrics_json`.

    Returns
    -------
    (dict, dict)
        Set name → :class:`Metrics` or :class:`VectorMetrics` (``null`` read back as NaN), and the ``extra``
        mapping.

    Raises
    ------
    ValueError
        If the file is not valid JSON, has another schema, or a field is missing/unknown (named in the message).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != METRICS_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{path}: schema {found!r}, expected {METRICS_SCHEMA!r}")
    sets = doc.get("sets")
    if not isinstance(sets, dict):
        raise ValueError(f"{path}: field 'sets' missing or not a mapping")
    metrics = {name: _metrics_from_dict(m, f"{path}: sets.{name}") for name, m in sets.items()}
    extra = doc.get("extra") or {}
    return metrics, extra


def _metrics_from_dict(data: Any, where: str) -> AnyMetrics:
    """:class:`VectorMetrics` for a mapping with ``per_output``, else :class:`Metrics`."""
    if isinstance(data, Mapping) and "per_output" in data:
        return VectorMetrics.from_dict(data, where)
    return Metrics.from_dict(data, where)
