"""The records of surrogate metrics: Δ, pull, coverage and relative-uncertainty statistics, per output and per set."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "CoverageStats",
    "DeltaStats",
    "EventWeightedStats",
    "Metrics",
    "OutputMetrics",
    "PullStats",
    "RelativeUncertaintyStats",
]

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
class EventWeightedStats(_Record):
    """Precision where events land: Δ weighted by the true amplitude, and the error of the set's cross section.

    On a set drawn uniformly in phase space (the test sets; equal phase-space weights), an event generator's
    events fall on a point with probability ∝ A_true, and its cross-section estimate is ∝ Σ A. These are the
    figures an event-generation user reads (issue 14); the uniform :class:`DeltaStats` weight every point alike.

    Attributes
    ----------
    count : int
        Number of points.
    median : float
        A-weighted median of Δ.
    half_width_68 : float
        Half the central 68 % interval of Δ, A-weighted.
    abs_68 : float
        A-weighted 68 % quantile of |Δ| (counts a bias too).
    cross_section_error : float
        ``Σ ⟨A⟩ / Σ A_true − 1``: relative error of ∫ A dΦ estimated on the set with the surrogate.
    cross_section_sigma : float
        ``sqrt(Σ σ_tot²) / Σ A_true``: the surrogate's own uncertainty on that ratio, taking points as independent.
    """

    count: int
    median: float
    half_width_68: float
    abs_68: float
    cross_section_error: float
    cross_section_sigma: float


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
class OutputMetrics:
    """All metrics of one output of a prediction on one set (e.g. "train" or "test").

    For a scalar prediction Δ is A_NN/A_true − 1 and the top subsets are the largest true amplitudes; for an
    output of a vector prediction Δ is the floored relative deviation ``Δ_k = (⟨A⟩_k − A_k) / (|A_k| + m_k)``
    (:func:`normalised_residual`), the top subsets are the largest ``|A_k|`` and the ``rel_sigma_*`` entries are
    ``σ_k / (|A_k| + m_k)``.

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
    event_weighted : EventWeightedStats or None
        A-weighted Δ and the cross-section error (scalar predictions; None for vector outputs and in files
        written before it existed).
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
    event_weighted: EventWeightedStats | None = None

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
        if self.event_weighted is not None:
            out["event_weighted"] = self.event_weighted.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "OutputMetrics") -> OutputMetrics:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            If keys are missing or unknown; the message names them and ``where``.
        """
        names = ["count", *cls._DELTA, *cls._PULL, "pull_model_weights", "coverage", *cls._REL]
        weighted = data.get("event_weighted") if isinstance(data, Mapping) else None
        _check_keys({k: v for k, v in data.items() if k != "event_weighted"} if isinstance(data, Mapping) else data,
                    names, where)
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
        if weighted is not None:
            kwargs["event_weighted"] = EventWeightedStats.from_dict(weighted, f"{where}.event_weighted")
        return cls(**kwargs)


def _scalar_field(name: str) -> property:
    def get(self: Metrics) -> Any:
        return getattr(self.scalar, name)

    return property(get, doc=f"``{name}`` of the one output of a scalar record (:class:`OutputMetrics`).")


@dataclass(frozen=True)
class Metrics:
    """Metrics of one prediction on one set: scalar (values ``(N,)``) or vector (``(N, K)``, per output).

    A scalar record holds one :class:`OutputMetrics`, whose fields it also shows (``metrics.delta_all``, ...);
    a vector record holds one per output, in :attr:`per_output`, with Δ the floored relative deviation
    ``Δ_k = (⟨A⟩_k − A_k) / (|A_k| + m_k)`` and ``m_k`` the median of ``|A_k|`` over the evaluated set
    (:func:`normalised_residual`).

    Attributes
    ----------
    records : tuple of OutputMetrics
        One record per output (one for a scalar prediction).
    outputs : tuple of str or None
        Output names, in the order of the prediction's last axis; None for a scalar prediction.
    scale : tuple of float
        ``m_k`` per output (target units), the floor of the normalisation of Δ_k; empty for a scalar record
        (and for vector records written without it).
    """

    records: tuple[OutputMetrics, ...]
    outputs: tuple[str, ...] | None = None
    scale: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(self.records))
        object.__setattr__(self, "scale", tuple(float(r) for r in self.scale))
        if self.outputs is None:
            if len(self.records) != 1 or self.scale:
                raise ValueError(
                    f"Metrics: a scalar record (outputs None) has one record and no scale, got {len(self.records)} "
                    f"records and {len(self.scale)} scales"
                )
            return
        object.__setattr__(self, "outputs", tuple(str(n) for n in self.outputs))
        if len(set(self.outputs)) != len(self.outputs):
            raise ValueError(f"Metrics: output names must be unique, got {list(self.outputs)}")
        if len(self.records) != len(self.outputs):
            raise ValueError(f"Metrics: {len(self.records)} records for the outputs {list(self.outputs)}")
        if self.scale and len(self.scale) != len(self.outputs):
            raise ValueError(f"Metrics: {len(self.scale)} scales for {len(self.outputs)} outputs")

    @property
    def scalar(self) -> OutputMetrics:
        """The one record of a scalar prediction.

        Raises
        ------
        ValueError
            For a vector record (use :attr:`per_output`).
        """
        if self.outputs is not None:
            raise ValueError(
                f"Metrics of the outputs {list(self.outputs)}: take a record from per_output (or records)"
            )
        return self.records[0]

    @property
    def per_output(self) -> dict[str, OutputMetrics]:
        """Output name → record of a vector prediction; empty for a scalar record."""
        return {} if self.outputs is None else dict(zip(self.outputs, self.records, strict=True))

    @property
    def count(self) -> int:
        """Number of points in the set (0 without outputs)."""
        return self.records[0].count if self.records else 0

    @property
    def precision(self) -> float:
        """The headline precision: the 68 % half-width of Δ, for a vector record the worst (largest) of the
        outputs'; NaN when there is none."""
        if self.outputs is None:
            return self.records[0].precision
        finite = [m.precision for m in self.records if not math.isnan(m.precision)]
        return max(finite) if finite else _NAN

    @property
    def top1(self) -> tuple[float, float]:
        """The 1 % largest |targets|: (68 % half-width of Δ, 68 % quantile of |Δ|), for a vector record the worst
        (largest) output's of each; NaN where there is none. The quantile counts a bias, the half-width does not."""

        def worst(values: list[float]) -> float:
            finite = [v for v in values if not math.isnan(v)]
            return max(finite) if finite else _NAN

        return (
            worst([m.delta_top1.half_width_68 for m in self.records]),
            worst([m.delta_top1.abs_68 for m in self.records]),
        )

    delta_all = _scalar_field("delta_all")
    delta_top1 = _scalar_field("delta_top1")
    delta_top01 = _scalar_field("delta_top01")
    pull_model = _scalar_field("pull_model")
    pull_pred = _scalar_field("pull_pred")
    pull_tot = _scalar_field("pull_tot")
    pull_model_weights = _scalar_field("pull_model_weights")
    coverage = _scalar_field("coverage")
    rel_sigma_model = _scalar_field("rel_sigma_model")
    rel_sigma_pred = _scalar_field("rel_sigma_pred")
    rel_sigma_tot = _scalar_field("rel_sigma_tot")
    event_weighted = _scalar_field("event_weighted")

    def to_dict(self) -> dict[str, Any]:
        """Nested plain ``dict``: a scalar record as :meth:`OutputMetrics.to_dict`, a vector one as ``names``,
        ``scale`` and ``per_output`` (name → :meth:`OutputMetrics.to_dict`)."""
        if self.outputs is None:
            return self.records[0].to_dict()
        return {
            "names": list(self.outputs),
            "scale": list(self.scale),
            "per_output": {n: m.to_dict() for n, m in zip(self.outputs, self.records, strict=True)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "Metrics") -> Metrics:
        """Inverse of :meth:`to_dict` (``null`` read back as NaN); a mapping with ``per_output`` is a vector record.

        Raises
        ------
        ValueError
            If keys are missing or unknown; the message names them and ``where``.
        """
        if not (isinstance(data, Mapping) and "per_output" in data):
            return cls((OutputMetrics.from_dict(data, where),))
        _check_keys(data, ["names", "scale", "per_output"], where)
        per_output = data["per_output"]
        if not isinstance(per_output, Mapping):
            raise ValueError(f"{where}.per_output: expected a mapping, got {type(per_output).__name__}")
        names = tuple(str(n) for n in data["names"])
        if set(per_output) != set(names):
            raise ValueError(f"{where}: per_output has outputs {sorted(per_output)}, names are {list(names)}")
        scale = tuple(_NAN if r is None else float(r) for r in data["scale"])
        records = tuple(OutputMetrics.from_dict(per_output[n], f"{where}.per_output.{n}") for n in names)
        return cls(records, names, scale)
