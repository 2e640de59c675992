"""Unweighting by hit-or-miss with overweights, and the two-stage scheme with a surrogate (arXiv:2109.11964).

One stage keeps a weighted point with probability ``min(1, w / w_max)`` and gives a kept point the event weight
``max(1, w / w_max)``: the kept events, with their weights, follow the density ∝ w exactly, whatever ``w_max``; a
``w_max`` below the largest weight trades a few events of weight > 1 (*overweights*) for a higher efficiency.

Two stages with a surrogate: the first unweights the sampler's points with the surrogate's weight
``s(x) = w_Φ(x) ⟨A⟩(x)`` (no oracle call), the second keeps a first-stage event with probability
``min(1, r / r_max)`` of the ratio ``r = A(x) / ⟨A⟩(x)``, so the oracle is called only on first-stage events. The
product of the two acceptances is ``w_Φ A / (s_max r_max)``: the events follow the exact distribution, with event
weights ``max(1, s/s_max) · max(1, r/r_max)``, and a surrogate that is not exact costs efficiency, not bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from activeamp.physics.phasespace import mc_integral

__all__ = ["Acceptance", "CrossSection", "cross_section", "hit_or_miss", "reference_maximum"]


def reference_maximum(weights: np.ndarray, quantile: float = 1.0) -> float:
    """The ``w_max`` of an unweighting: the ``quantile`` of the positive ``weights`` (1: their maximum).

    Parameters
    ----------
    weights : numpy.ndarray
        Shape ``(N,)``: weights of a pilot sample (any units; zeros, e.g. points outside the cuts, are ignored).
    quantile : float
        In (0, 1]. Below 1 the largest weights become overweights (event weight > 1).

    Raises
    ------
    ValueError
        For a quantile outside (0, 1] or when no weight is positive and finite.
    """
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile: must be in (0, 1], got {quantile}")
    w = np.asarray(weights, dtype=np.float64)
    w = w[np.isfinite(w) & (w > 0)]
    if w.size == 0:
        raise ValueError("no positive finite weight to take the unweighting maximum from")
    return float(np.quantile(w, quantile)) if quantile < 1.0 else float(w.max())


@dataclass(frozen=True)
class Acceptance:
    """Outcome of one hit-or-miss stage on N weighted points.

    Attributes
    ----------
    kept : numpy.ndarray
        Shape ``(N,)`` bool: the points kept as events.
    event_weights : numpy.ndarray
        Shape ``(N,)`` float64: ``max(1, w / w_max)`` (≥ 1; the weight a kept point carries).
    """

    kept: np.ndarray
    event_weights: np.ndarray

    @property
    def n_kept(self) -> int:
        """Number of kept points."""
        return int(np.count_nonzero(self.kept))

    @property
    def n_overweight(self) -> int:
        """Number of kept points with event weight > 1."""
        return int(np.count_nonzero(self.kept & (self.event_weights > 1.0)))


def hit_or_miss(weights: np.ndarray, w_max: float, rng: np.random.Generator) -> Acceptance:
    """Keep each point with probability ``min(1, w / w_max)`` (one uniform number per point).

    Parameters
    ----------
    weights : numpy.ndarray
        Shape ``(N,)``: non-negative weights (NaN counts as 0: never kept).
    w_max : float
        The reference maximum (same units as ``weights``), > 0.
    rng : numpy.random.Generator
        Source of the uniform numbers.
    """
    if not (math.isfinite(w_max) and w_max > 0):
        raise ValueError(f"w_max: must be positive and finite, got {w_max}")
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0)
    if np.any(w < 0):
        raise ValueError("hit_or_miss: negative weights cannot be unweighted by hit-or-miss")
    ratio = w / w_max
    kept = rng.random(w.shape) < ratio
    return Acceptance(kept=kept, event_weights=np.maximum(ratio, 1.0))


@dataclass(frozen=True)
class CrossSection:
    """A Monte Carlo integral and its standard error (units of the weights)."""

    value: float
    error: float

    def relative_to(self, other: CrossSection) -> tuple[float, float]:
        """``self / other − 1`` and its standard error (independent estimates)."""
        ratio = self.value / other.value
        err = abs(ratio) * math.hypot(self.error / self.value, other.error / other.value)
        return ratio - 1.0, err


def cross_section(event_weights: np.ndarray, scale: float, n_trials: int) -> CrossSection:
    """``∫ w dΦ`` from unweighted events: ``scale · Σ event weights / n_trials`` and its standard error.

    Parameters
    ----------
    event_weights : numpy.ndarray
        Shape ``(K,)``: the weights of the kept events (the other ``n_trials − K`` trials contribute 0).
    scale : float
        The product of the stages' reference maxima (``w_max``, or ``s_max · r_max`` for two stages).
    n_trials : int
        Points drawn from the sampler, including those outside the cuts.
    """
    return CrossSection(*mc_integral(np.asarray(event_weights, dtype=np.float64) * scale, n_trials))
