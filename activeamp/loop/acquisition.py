"""Acquisition: score candidate points by the surrogate's uncertainty and pick a non-redundant batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from activeamp.config import ConfigError
from activeamp.surrogate.prediction import Prediction, reduce_outputs

__all__ = ["AcquisitionConfig", "score", "select", "standardise"]

ScoreKind = Literal["absolute", "relative", "mixed", "weighted"]
Reduction = Literal["max", "mean", "norm"]
Strategy = Literal["greedy", "proportional", "random"]


@dataclass(frozen=True)
class AcquisitionConfig:
    """How each round picks new points for the oracle.

    Attributes
    ----------
    n_candidates : int
        Candidate pool drawn from the phase-space sampler per round (much larger than the batch).
    batch_size : int
        Points selected from the candidates and labelled per round (the oracle pool sends them in calls of
        ``pool.batch_size`` points).
    score : {"absolute", "relative", "mixed", "weighted"}
        σ_tot (as the paper's performance boosting ranks points), σ_tot/⟨A⟩, the geometric mix
        σ_tot^(1−w) · (σ_tot/⟨A⟩)^w with ``w = mix``, or ``weighted``: w(x) · σ_tot(x) with w = ⟨A⟩ times the
        sampler's phase-space weight, the event weight of an event generator using that sampler (scalar
        oracles only).
    mix : float
        Weight ``w`` of the relative score in ``"mixed"``.
    strategy : {"greedy", "proportional", "random"}
        ``greedy``: highest scores first, skipping candidates closer than ``min_distance`` (in
        standardised input space) to one already picked; ``proportional``: sample without replacement
        with probability ∝ score^``power``; ``random``: uniform picks (the baseline of active learning).
    explore : float
        Fraction of each batch drawn uniformly from the rest of the candidate pool after the scored picks.
        Half-and-half (the default) keeps the bulk of phase space learning as fast as with random points while
        the scored half fixes the regions the surrogate is least sure of (bench/bench_acquisition.py,
        BENCHMARKS.md); 0 picks the whole batch by score. Ignored by ``strategy="random"``.
    min_distance : float
        Near-duplicate radius of ``greedy`` (standardised units; 0 disables it).
    power : float
        Sharpness of ``proportional``.
    sampler : {"uniform", "vegas"}
        Candidates from uniform RAMBO, or from a vegas map in front of RAMBO, adapted each round to a function of
        the current surrogate (``vegas_target``; ``phasespace.vegas_iterations`` × ``vegas_points`` evaluations).
    vegas_target : {"sigma_tot", "mean"}
        What the vegas map adapts to: σ_tot (candidates where the surrogate is unsure) or ⟨A⟩ (candidates
        distributed like the events of a generator using the surrogate; their phase-space weights carry the map's
        Jacobian, so the ``weighted`` score stays the event weight times σ_tot).
    n_weight_samples : int
        Weight samples M used to score candidates.
    reduce : {"max", "mean", "norm"}
        For vector-valued oracles (several outputs per point): how the per-output scores, each in units of
        its output's typical size, combine into one score per point (see :func:`score`).
    """

    n_candidates: int = 20_000
    batch_size: int = 500
    score: ScoreKind = "absolute"
    mix: float = 0.5
    strategy: Strategy = "greedy"
    explore: float = 0.5
    min_distance: float = 0.05
    power: float = 1.0
    sampler: Literal["uniform", "vegas"] = "uniform"
    vegas_target: Literal["sigma_tot", "mean"] = "sigma_tot"
    n_weight_samples: int = 20
    reduce: Reduction = "max"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"acquisition.batch_size: must be >= 1, got {self.batch_size}")
        if self.n_candidates < self.batch_size:
            raise ConfigError(
                f"acquisition.n_candidates: must be >= acquisition.batch_size ({self.batch_size}), "
                f"got {self.n_candidates}"
            )
        if not 0.0 <= self.mix <= 1.0:
            raise ConfigError(f"acquisition.mix: must lie in [0, 1], got {self.mix}")
        if not 0.0 <= self.explore < 1.0:
            raise ConfigError(f"acquisition.explore: must lie in [0, 1), got {self.explore}")
        if self.min_distance < 0 or self.power <= 0:
            raise ConfigError("acquisition.min_distance must be >= 0 and acquisition.power > 0")
        if self.n_weight_samples < 2:
            raise ConfigError(f"acquisition.n_weight_samples: must be >= 2, got {self.n_weight_samples}")
        if self.vegas_target not in ("sigma_tot", "mean"):
            raise ConfigError(f"acquisition.vegas_target: {self.vegas_target!r} is not one of 'sigma_tot', 'mean'")
        if self.reduce not in ("max", "mean", "norm"):
            raise ConfigError(f"acquisition.reduce: {self.reduce!r} is not one of 'max', 'mean', 'norm'")


def score(
    prediction: Prediction,
    kind: ScoreKind = "absolute",
    mix: float = 0.5,
    reduce: Reduction = "max",
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Acquisition score ``(N,)`` from a prediction: larger means less certain.

    Parameters
    ----------
    prediction : Prediction
        Surrogate prediction for the candidates (amplitude units): arrays ``(N,)``, or ``(N, K)`` for a
        vector-valued oracle.
    kind : {"absolute", "relative", "mixed", "weighted"}
        σ_tot; σ_tot/|⟨A⟩|; σ_tot^(1−mix) · (σ_tot/|⟨A⟩|)^mix; or w_Φ · ⟨A⟩ · σ_tot (scalar predictions).
    reduce : {"max", "mean", "norm"}
        Vector predictions only: the per-output scores are first put on a common footing, σ_tot,k in units of
        the candidates' median |⟨A⟩_k| (outputs differ by orders of magnitude), then combined per point by
        :func:`activeamp.surrogate.prediction.reduce_outputs`. The relative score of a signed output is large where
        the output crosses zero; ``"absolute"`` (the default) is the robust choice there.
    weights : numpy.ndarray, optional
        Shape ``(N,)``: the candidates' phase-space weights w_Φ (GeV^(2n−4)), for ``"weighted"`` (default: equal).
    """
    sigma = prediction.sigma_tot
    tiny = np.finfo(np.float64).tiny
    size = np.abs(prediction.mean)
    if sigma.ndim == 2:  # vector outputs: σ in units of each output's typical size
        typical = np.maximum(np.median(size, axis=0), tiny)
        sigma = sigma / typical
        size = size / typical
    relative = sigma / np.maximum(size, tiny)
    if kind == "absolute":
        out = sigma
    elif kind == "relative":
        out = relative
    elif kind == "mixed":
        out = np.exp((1 - mix) * np.log(np.maximum(sigma, tiny)) + mix * np.log(np.maximum(relative, tiny)))
    elif kind == "weighted":
        if sigma.ndim == 2:
            raise ValueError("score kind 'weighted': needs a scalar |M|² prediction (event weights), not K outputs")
        w_phi = np.ones_like(sigma) if weights is None else np.asarray(weights, dtype=np.float64)
        if w_phi.shape != sigma.shape:
            raise ValueError(f"score: weights have shape {w_phi.shape}, the prediction {sigma.shape}")
        out = w_phi * size * sigma
    else:
        raise ValueError(f"score kind: {kind!r} is not one of 'absolute', 'relative', 'mixed', 'weighted'")
    out = np.where(np.isfinite(out), out, 0.0)
    return reduce_outputs(out, None, reduce) if out.ndim == 2 else out


def standardise(features: np.ndarray) -> np.ndarray:
    """Columns scaled to zero mean and unit variance (constant columns dropped); shape ``(N, d')``."""
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    std = x.std(axis=0)
    keep = std > 1e-12 * np.maximum(np.abs(x.mean(axis=0)), 1.0)
    return (x[:, keep] - x[:, keep].mean(axis=0)) / std[keep]


def select(
    scores: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    strategy: Strategy = "greedy",
    features: np.ndarray | None = None,
    min_distance: float = 0.0,
    power: float = 1.0,
    explore: float = 0.0,
) -> np.ndarray:
    """Indices of ``k`` candidates to label: ``k − round(explore·k)`` by score, the rest uniformly.

    Parameters
    ----------
    scores : numpy.ndarray
        Shape ``(N,)``, non-negative acquisition scores.
    k : int
        Batch size (at most ``N``).
    rng : numpy.random.Generator
        For ``proportional`` and ``random`` (and tie-free greedy ordering).
    strategy : {"greedy", "proportional", "random"}
        See :class:`AcquisitionConfig`.
    features : numpy.ndarray, optional
        Shape ``(N, d)`` standardised inputs for the near-duplicate rule of ``greedy``.
    min_distance : float
        Near-duplicate radius for ``greedy``; if too few candidates survive it, the batch is filled
        with the best remaining ones.
    power : float
        Sharpness of ``proportional``.
    explore : float
        Fraction of the batch drawn uniformly from the candidates not picked by score (0 ≤ explore < 1).

    Returns
    -------
    numpy.ndarray
        Shape ``(k,)`` int64, distinct indices.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.shape[0]
    if not 0 < k <= n:
        raise ValueError(f"select: k must lie in [1, {n}], got {k}")
    if not 0.0 <= explore < 1.0:
        raise ValueError(f"select: explore must lie in [0, 1), got {explore}")
    if strategy == "random":
        return np.sort(rng.choice(n, size=k, replace=False))
    n_explore = int(round(explore * k))
    by_score = (
        _by_score(scores, k - n_explore, rng, strategy, features, min_distance, power)
        if k > n_explore
        else np.empty(0, dtype=np.int64)
    )
    if n_explore == 0:
        return by_score
    rest = np.setdiff1d(np.arange(n), by_score, assume_unique=True)
    return np.sort(np.concatenate([by_score, rng.choice(rest, size=n_explore, replace=False)]))


def _by_score(
    scores: np.ndarray,
    k: int,
    rng: np.random.Generator,
    strategy: Strategy,
    features: np.ndarray | None,
    min_distance: float,
    power: float,
) -> np.ndarray:
    """``k`` sorted indices chosen by score with a ``greedy`` or ``proportional`` strategy."""
    n = scores.shape[0]
    if strategy == "proportional":
        p = np.maximum(scores, 0.0) ** power
        if p.sum() <= 0 or np.count_nonzero(p) < k:
            p = p + np.finfo(np.float64).tiny
        return np.sort(rng.choice(n, size=k, replace=False, p=p / p.sum()))
    if strategy != "greedy":
        raise ValueError(f"select: strategy {strategy!r} is not one of 'greedy', 'proportional', 'random'")
    order = np.lexsort((rng.random(n), -scores))  # by descending score, random tie-break
    if features is None or min_distance <= 0:
        return np.sort(order[:k])
    return np.sort(_greedy_diverse(order, np.asarray(features, dtype=np.float64), k, min_distance))


def _greedy_diverse(order: np.ndarray, features: np.ndarray, k: int, radius: float) -> np.ndarray:
    """Walk ``order`` and keep candidates farther than ``radius`` from every kept one; fill up if needed."""
    x = features[order]
    picked: list[int] = []
    chosen = np.empty((k, x.shape[1]))
    r2 = radius * radius
    for pos in range(len(order)):
        if len(picked) == k:
            break
        if picked:
            d2 = ((chosen[: len(picked)] - x[pos]) ** 2).sum(axis=1)
            if d2.min() < r2:
                continue
        chosen[len(picked)] = x[pos]
        picked.append(pos)
    if len(picked) < k:  # not enough diverse candidates: take the best of the rest
        rest = np.setdiff1d(np.arange(len(order)), picked, assume_unique=True)[: k - len(picked)]
        picked.extend(rest.tolist())
    return order[np.asarray(picked, dtype=np.int64)]
