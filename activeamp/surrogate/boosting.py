"""Loss-based and performance boosting (Sec. 4 of arXiv:2206.14831): multiplicity updates and the driver."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from activeamp import config as _config
from activeamp.surrogate.prediction import Prediction, reduce_outputs

if TYPE_CHECKING:
    from activeamp.surrogate.surrogate import Callback, Surrogate

__all__ = [
    "STEP_KINDS",
    "LossBoosting",
    "PerformanceBoosting",
    "BoostingSchedule",
    "BoostingResult",
    "pull_statistic",
    "loss_boost",
    "performance_boost",
    "ranking_statistic",
    "run_boosting",
]

logger = logging.getLogger(__name__)

#: Kinds of boosting step.
STEP_KINDS: tuple[str, ...] = ("loss", "performance")

_PULL_CHUNK = 65536  # training points per weight-pull evaluation (bounds the (M, chunk) arrays)


def pull_statistic(pulls: np.ndarray, reduce: str = "rms") -> np.ndarray:
    """Per-point size of the weight-dependent pulls t_model(ω) (Eq. 17).

    Parameters
    ----------
    pulls : numpy.ndarray
        Shape ``(N,)`` (one weight sample / mean weights), ``(M, N)``, or ``(M, N, K)`` for a vector model
        with K outputs per point.
    reduce : {"rms", "mean_abs", "max_abs"}
        How the ``M`` samples are combined: ``sqrt(⟨t(ω)²⟩_ω)`` (the pull part of the point's loss, default),
        ``⟨|t(ω)|⟩_ω`` or ``max_ω |t(ω)|``. For ``(M, N, K)`` pulls this is done per output and the point's
        statistic is the largest over its outputs, so a point counts as soon as one output is off.

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)``, ≥ 0.
    """
    t = np.abs(np.atleast_2d(np.asarray(pulls, dtype=np.float64)))
    if t.ndim > 3:
        raise ValueError(f"pulls: expected shape (N,), (M, N) or (M, N, K), got {t.shape}")
    if reduce == "rms":
        stat = np.sqrt(np.mean(t**2, axis=0))
    elif reduce == "mean_abs":
        stat = t.mean(axis=0)
    elif reduce == "max_abs":
        stat = t.max(axis=0)
    else:
        raise ValueError(f"reduce: {reduce!r} is not one of 'rms', 'mean_abs', 'max_abs'")
    return stat if stat.ndim == 1 else reduce_outputs(stat, how="max")


def loss_boost(
    multiplicities: np.ndarray,
    pulls: np.ndarray,
    threshold: float = 2.0,
    increment: int = 5,
    reduce: str = "rms",
) -> np.ndarray:
    """Loss-based boosting (Sec. 4.1): ``n_j += increment`` where the pull statistic exceeds ``threshold``.

    Parameters
    ----------
    multiplicities : numpy.ndarray
        Shape ``(N,)``: current ``n_j``.
    pulls : numpy.ndarray
        Shape ``(N,)``, ``(M, N)`` or ``(M, N, K)``: t_model(ω) of the training points (preprocessed space);
        with K outputs a point is boosted when any output exceeds the threshold.
    threshold, increment, reduce
        Paper: ``|t_model(ω)| > 2`` raises ``n_j`` by 5; see :func:`pull_statistic` for ``reduce``.

    Returns
    -------
    numpy.ndarray
        New multiplicities ``(N,)`` (the input is not modified).
    """
    n = np.asarray(multiplicities)
    stat = pull_statistic(pulls, reduce)
    if stat.shape != n.shape:
        raise ValueError(f"pulls describe {stat.shape[0]} points, multiplicities {n.shape[0]}")
    return n + increment * (stat > threshold)


def performance_boost(multiplicities: np.ndarray, sigma_tot: np.ndarray, k: int = 200, copies: int = 3) -> np.ndarray:
    """Performance boosting (Sec. 4.2): the ``k`` points with largest σ_tot get ``copies`` extra copies.

    Ties are broken by index (stable sort); ``k`` larger than ``N`` boosts every point. ``sigma_tot`` has
    shape ``(N,)``: for a vector model reduce it over the outputs first (:func:`ranking_statistic`).

    Returns
    -------
    numpy.ndarray
        New multiplicities ``(N,)`` (the input is not modified).
    """
    n = np.asarray(multiplicities)
    s = np.asarray(sigma_tot, dtype=np.float64)
    if s.shape != n.shape:
        raise ValueError(f"sigma_tot has shape {s.shape}, multiplicities {n.shape}")
    top = np.argsort(-s, kind="stable")[: max(int(k), 0)]
    out = n.copy()
    out[top] += copies
    return out


@dataclass(frozen=True)
class LossBoosting:
    """Parameters of a loss-boosting step (paper: threshold 2, increment 5)."""

    threshold: float = 2.0
    increment: int = 5
    reduce: Literal["rms", "mean_abs", "max_abs"] = "rms"
    n_samples: int | None = None

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise _config.ConfigError(f"loss.threshold: must be >= 0, got {self.threshold}")
        if self.increment < 1:
            raise _config.ConfigError(f"loss.increment: must be >= 1, got {self.increment}")
        if self.n_samples is not None and self.n_samples < 1:
            raise _config.ConfigError(f"loss.n_samples: must be >= 1 or null, got {self.n_samples}")
        if self.reduce not in ("rms", "mean_abs", "max_abs"):
            raise _config.ConfigError(f"loss.reduce: {self.reduce!r} is not one of 'rms', 'mean_abs', 'max_abs'")


@dataclass(frozen=True)
class PerformanceBoosting:
    """Parameters of a performance-boosting step (paper: the 200 largest σ_tot get 3 extra copies).

    ``space`` ranks by σ_tot in amplitude units (paper), in the preprocessed space, or relative (σ_tot/⟨A⟩).
    """

    k: int = 200
    copies: int = 3
    space: Literal["amplitude", "preprocessed", "relative"] = "amplitude"
    n_samples: int | None = None

    def __post_init__(self) -> None:
        if self.k < 1:
            raise _config.ConfigError(f"performance.k: must be >= 1, got {self.k}")
        if self.copies < 1:
            raise _config.ConfigError(f"performance.copies: must be >= 1, got {self.copies}")
        if self.n_samples is not None and self.n_samples < 1:
            raise _config.ConfigError(f"performance.n_samples: must be >= 1 or null, got {self.n_samples}")
        if self.space not in ("amplitude", "preprocessed", "relative"):
            raise _config.ConfigError(
                f"performance.space: {self.space!r} is not one of 'amplitude', 'preprocessed', 'relative'"
            )


def _expand_steps(steps: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for i, step in enumerate(steps):
        kind, _, count = step.partition("*")
        kind = kind.strip()
        if kind not in STEP_KINDS:
            raise _config.ConfigError(f"steps[{i}]: {step!r} is not one of {', '.join(STEP_KINDS)} (optionally '*N')")
        try:
            repeat = int(count) if count else 1
        except ValueError:
            raise _config.ConfigError(f"steps[{i}]: repeat count in {step!r} is not an integer") from None
        if repeat < 0:
            raise _config.ConfigError(f"steps[{i}]: repeat count must be >= 0 in {step!r}")
        out.extend([kind] * repeat)
    return tuple(out)


@dataclass(frozen=True)
class BoostingSchedule:
    """Sequence of boosting rounds, e.g. ``["loss*4", "performance*20"]`` or alternating kinds.

    Attributes
    ----------
    steps : tuple of str
        One entry per round (``"kind*N"`` repeats; expanded on construction).
    loss, performance : LossBoosting, PerformanceBoosting
        Per-kind parameters.
    max_epochs : int, optional
        Epoch limit of each retraining stage (default: the surrogate's ``max_epochs``).
    seed : int
        Seed for the weight draws that evaluate pulls and σ_tot (round ``r`` uses ``seed + r``).
    """

    steps: tuple[str, ...] = ("loss*4",)
    loss: LossBoosting = field(default_factory=LossBoosting)
    performance: PerformanceBoosting = field(default_factory=PerformanceBoosting)
    max_epochs: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", _expand_steps(tuple(self.steps)))
        if self.max_epochs is not None and self.max_epochs < 1:
            raise _config.ConfigError(f"max_epochs: must be >= 1, got {self.max_epochs}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BoostingSchedule:
        """Validated schedule from a mapping; unknown keys raise a ``ConfigError`` listing the allowed ones."""
        return _config.from_dict(cls, data)

    @classmethod
    def paper(cls, kind: str = "loss") -> BoostingSchedule:
        """The paper's schedules: 4 loss-boosting rounds, or 20 performance-boosting rounds."""
        return cls(steps=("loss*4",) if kind == "loss" else (f"{kind}*20",))


@dataclass(frozen=True)
class BoostingResult:
    """Outcome of :func:`run_boosting`.

    Attributes
    ----------
    multiplicities : numpy.ndarray
        Shape ``(N,)``: final ``n_j``.
    history : tuple of dict
        Round 0 (initial training, if any) and one record per boosting round: ``round``, ``kind``,
        ``n_boosted``, ``n_eff`` (Σ n_j), ``max_multiplicity``, ``mean_multiplicity``, ``epochs``,
        ``train_loss``, ``val_loss`` (None without validation set), ``converged``.
    """

    multiplicities: np.ndarray
    history: tuple[dict[str, Any], ...]


def _round_record(surrogate: Surrogate, index: int, kind: str, n: np.ndarray, n_boosted: int, start: int) -> dict:
    last = surrogate.history[-1] if surrogate.history else {}
    return {
        "round": index,
        "kind": kind,
        "n_boosted": int(n_boosted),
        "n_eff": float(n.sum()),
        "max_multiplicity": float(n.max()),
        "mean_multiplicity": float(n.mean()),
        "epochs": surrogate.epoch - start,
        "train_loss": last.get("train_loss"),
        "val_loss": last.get("val_loss"),
        "converged": bool(surrogate.stage["converged"]) if surrogate.stage else False,
    }


def ranking_statistic(prediction: Prediction, space: str = "amplitude", scales: np.ndarray | None = None) -> np.ndarray:
    """Per-point σ_tot that performance boosting ranks by, shape ``(N,)``.

    Parameters
    ----------
    prediction : Prediction
        In amplitude space (``space`` "amplitude" or "relative") or preprocessed (``space="preprocessed"``).
    space : {"amplitude", "preprocessed", "relative"}
        σ_tot, σ_tot in the preprocessed space, or σ_tot/|⟨A⟩|.
    scales : numpy.ndarray, optional
        Shape ``(K,)``: for a vector prediction in amplitude space, σ_tot of output k is divided by
        ``scales[k]`` (``Surrogate.output_scales``) before the maximum over outputs is taken
        (:func:`activeamp.surrogate.prediction.reduce_outputs`); preprocessed and relative σ_tot are already
        comparable across outputs and are not rescaled. A scalar prediction is returned as is.
    """
    sigma = prediction.sigma_tot
    if space == "relative":
        sigma = sigma / np.abs(prediction.mean)
    return reduce_outputs(sigma, scales if space == "amplitude" else None, "max")


def _boosting_statistic(
    surrogate: Surrogate, x: np.ndarray, a: np.ndarray, kind: str, sched: BoostingSchedule, seed: int
) -> np.ndarray:
    """Pull statistic (loss) or ranking σ_tot (performance) of all training points ``(N,)``, chunk by chunk.

    For a vector model both are reduced over the outputs: the largest per-output pull statistic, and the
    largest σ_tot in units of the output scales (:func:`ranking_statistic`).
    """
    out = np.empty(len(a))
    for start in range(0, len(a), _PULL_CHUNK):
        sl = slice(start, start + _PULL_CHUNK)
        if kind == "loss":
            pulls = surrogate.weight_pulls(x[sl], a[sl], sched.loss.n_samples, seed=seed)
            out[sl] = pull_statistic(pulls, sched.loss.reduce)
        else:
            space = "preprocessed" if sched.performance.space == "preprocessed" else "amplitude"
            pred = surrogate.predict(x[sl], sched.performance.n_samples, space=space, seed=seed)
            out[sl] = ranking_statistic(pred, sched.performance.space, surrogate.output_scales)
    return out


def run_boosting(
    surrogate: Surrogate,
    x: np.ndarray,
    amplitudes: np.ndarray,
    schedule: BoostingSchedule | Mapping[str, Any] | None = None,
    *,
    multiplicities: np.ndarray | None = None,
    x_val: np.ndarray | None = None,
    a_val: np.ndarray | None = None,
    callback: Callback | None = None,
    round_callback: Callable[[dict[str, Any]], None] | None = None,
    progress: bool | None = None,
) -> BoostingResult:
    """Run the boosting ``schedule``: update multiplicities, then retrain to convergence, round after round.

    An untrained surrogate (or one whose last stage is unfinished) is first trained with the starting
    multiplicities (history round 0). Each round then evaluates pulls / σ_tot with the current network,
    raises ``n_j`` (:func:`loss_boost` / :func:`performance_boost`) and continues training in a new stage
    (optimiser state kept, plateau rule reset) with the NLL weighted by ``n_j`` and the KL normalised to Σ n_j.

    Parameters
    ----------
    surrogate : Surrogate
        Trained or untrained; modified in place.
    x, amplitudes : numpy.ndarray
        Training inputs ``(N, n, 4)`` / ``(N, d)`` and amplitudes ``(N,)``, or ``(N, K)`` targets of a
        vector model (per-point multiplicities; a point is boosted for its worst output).
    schedule : BoostingSchedule or mapping, optional
        Default: 4 loss-boosting rounds.
    multiplicities : numpy.ndarray, optional
        Starting ``n_j`` (default all 1).
    x_val, a_val, callback, progress
        Passed to :meth:`Surrogate.fit`.
    round_callback : callable, optional
        Called with each round's history record.
    """
    if not isinstance(schedule, BoostingSchedule):
        schedule = BoostingSchedule.from_dict(schedule or {})
    x = np.asarray(x)
    a = np.asarray(amplitudes, dtype=np.float64)
    n = np.ones(len(a), dtype=np.int64) if multiplicities is None else np.array(multiplicities, copy=True)
    fit_kwargs = {"x_val": x_val, "a_val": a_val, "callback": callback, "progress": progress}
    history: list[dict[str, Any]] = []

    def record(entry: dict[str, Any]) -> None:
        history.append(entry)
        logger.info(
            "boosting round %d (%s): %d points boosted, N_eff = %g",
            entry["round"],
            entry["kind"],
            entry["n_boosted"],
            entry["n_eff"],
        )
        if round_callback is not None:
            round_callback(dict(entry))

    if not surrogate.is_fitted or surrogate.stage is None or not surrogate.stage["done"]:
        start = surrogate.epoch
        surrogate.fit(x, a, weights=n, max_epochs=schedule.max_epochs, **fit_kwargs)
        record(_round_record(surrogate, 0, "initial", n, 0, start))
    for index, kind in enumerate(schedule.steps, start=1):
        stat = _boosting_statistic(surrogate, x, a, kind, schedule, schedule.seed + index)
        if kind == "loss":
            new = loss_boost(n, stat, schedule.loss.threshold, schedule.loss.increment)
        else:
            new = performance_boost(n, stat, schedule.performance.k, schedule.performance.copies)
        n_boosted = int(np.count_nonzero(new != n))
        n = new
        start = surrogate.epoch
        surrogate.fit(x, a, weights=n, new_stage=True, max_epochs=schedule.max_epochs, **fit_kwargs)
        record(_round_record(surrogate, index, kind, n, n_boosted, start))
    return BoostingResult(multiplicities=n, history=tuple(history))
