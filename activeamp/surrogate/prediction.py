"""The surrogate's answer for a set of points: mean amplitude and its uncertainties, for one or several outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Prediction", "reduce_outputs"]


@dataclass(frozen=True)
class Prediction:
    """Surrogate prediction with the uncertainty decomposition of arXiv:2206.14831.

    All arrays are float64 in amplitude space (the units of the oracle, e.g. GeV⁻² for 2→3). A scalar model
    gives one output per point; a vector model (K outputs per point, e.g. form-factor coefficients) adds a
    trailing axis of length K to every array, and every statistic below is taken per output.

    Attributes
    ----------
    mean : numpy.ndarray
        Shape ``(N,)`` or ``(N, K)``: ⟨A⟩ = ⟨Ā(ω)⟩_ω (Eq. 8).
    sigma_model : numpy.ndarray
        Shape ``(N,)`` or ``(N, K)``: σ_model = sqrt(⟨σ_model(ω)²⟩_ω) (Eq. 11), the learned systematic
        uncertainty.
    sigma_pred : numpy.ndarray
        Shape ``(N,)`` or ``(N, K)``: σ_pred = sqrt(⟨(Ā(ω) − ⟨A⟩)²⟩_ω) (Eq. 10), the weight-sampling
        uncertainty.
    samples : numpy.ndarray or None
        Shape ``(M, N)`` or ``(M, N, K)``: Ā(ω_m) for each of the M weight samples (needed for σ_h,pred
        bands); None when not requested.
    sigma_model_samples : numpy.ndarray or None
        Shape ``(M, N)`` or ``(M, N, K)``: σ_model(ω_m) for each weight sample (needed for the pull
        t_model(ω), Eq. 17).
    """

    mean: np.ndarray
    sigma_model: np.ndarray
    sigma_pred: np.ndarray
    samples: np.ndarray | None = None
    sigma_model_samples: np.ndarray | None = None

    @property
    def sigma_tot(self) -> np.ndarray:
        """Shape ``(N,)`` or ``(N, K)``: σ_tot = sqrt(σ_model² + σ_pred²), elementwise."""
        return np.sqrt(self.sigma_model**2 + self.sigma_pred**2)

    @property
    def n_outputs(self) -> int | None:
        """Number of outputs K of a vector prediction (``mean`` of shape ``(N, K)``); None when ``mean`` is 1-D."""
        return None if np.ndim(self.mean) == 1 else int(np.shape(self.mean)[-1])

    def output(self, k: int) -> Prediction:
        """Output ``k`` of a vector prediction as a scalar one (arrays ``(N,)``, samples ``(M, N)``)."""
        if self.n_outputs is None:
            raise ValueError(f"Prediction.output: the prediction is not vector-valued (mean shape {self.mean.shape})")

        def take(arr: np.ndarray | None) -> np.ndarray | None:
            return None if arr is None else np.ascontiguousarray(np.asarray(arr, dtype=np.float64)[..., k])

        return Prediction(
            take(self.mean),
            take(self.sigma_model),
            take(self.sigma_pred),
            take(self.samples),
            take(self.sigma_model_samples),
        )

    def scaled(self, factor: np.ndarray | None) -> Prediction:
        """Every array multiplied by a positive per-point ``factor`` ``(N,)`` (e.g. an envelope); None: unchanged.

        ⟨A⟩, σ_model and σ_pred scale alike, so the decomposition σ_tot² = σ_model² + σ_pred² is kept.
        """
        if factor is None:
            return self
        f = np.asarray(factor, dtype=np.float64)
        per_point = f.reshape(f.shape + (1,) * (np.ndim(self.mean) - 1))

        def mul(arr: np.ndarray | None) -> np.ndarray | None:
            return None if arr is None else arr * per_point

        return Prediction(mul(self.mean), mul(self.sigma_model), mul(self.sigma_pred), mul(self.samples),
                          mul(self.sigma_model_samples))

    def __len__(self) -> int:
        return int(self.mean.shape[0])


def reduce_outputs(
    values: np.ndarray, scales: np.ndarray | None = None, how: Literal["max", "mean", "norm"] = "max"
) -> np.ndarray:
    """One number per point from per-output values, e.g. to rank points by σ_tot over several outputs.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(N,)`` (returned unchanged, as float64) or ``(N, K)``.
    scales : numpy.ndarray, optional
        Shape ``(K,)``, positive: each column is divided by its scale first (e.g. ``Surrogate.output_scales``,
        so that outputs of very different size count alike); ignored for 1-D ``values``.
    how : {"max", "mean", "norm"}
        Reduction over the K outputs: maximum, mean, or Euclidean norm ``sqrt(Σ_k v_k²)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)`` float64.
    """
    if how not in ("max", "mean", "norm"):
        raise ValueError(f"how: {how!r} is not one of 'max', 'mean', 'norm'")
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        return v
    if v.ndim != 2:
        raise ValueError(f"values: expected shape (N,) or (N, K), got {v.shape}")
    if scales is not None:
        s = np.asarray(scales, dtype=np.float64)
        if s.shape != (v.shape[1],):
            raise ValueError(f"scales: expected shape ({v.shape[1]},) for values of shape {v.shape}, got {s.shape}")
        if not np.all(np.isfinite(s) & (s > 0)):
            raise ValueError(f"scales: must be positive and finite, got {s.tolist()}")
        v = v / s
    if v.shape[1] == 0:
        raise ValueError("values: need at least one output column")
    if how == "max":
        return v.max(axis=1)
    if how == "mean":
        return v.mean(axis=1)
    return np.sqrt(np.sum(v * v, axis=1))
