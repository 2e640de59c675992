"""The surrogate's answer for a set of points: mean amplitude and its uncertainties."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Prediction"]


@dataclass(frozen=True)
class Prediction:
    """Surrogate prediction with the uncertainty decomposition of arXiv:2206.14831.

    All arrays are float64 in amplitude space (the units of the oracle, e.g. GeV⁻² for 2→3).

    Attributes
    ----------
    mean : numpy.ndarray
        Shape ``(N,)``: ⟨A⟩ = ⟨Ā(ω)⟩_ω (Eq. 8).
    sigma_model : numpy.ndarray
        Shape ``(N,)``: σ_model = sqrt(⟨σ_model(ω)²⟩_ω) (Eq. 11), the learned systematic uncertainty.
    sigma_pred : numpy.ndarray
        Shape ``(N,)``: σ_pred = sqrt(⟨(Ā(ω) − ⟨A⟩)²⟩_ω) (Eq. 10), the weight-sampling uncertainty.
    samples : numpy.ndarray or None
        Shape ``(M, N)``: Ā(ω_m) for each of the M weight samples (needed for σ_h,pred bands);
        None when not requested.
    sigma_model_samples : numpy.ndarray or None
        Shape ``(M, N)``: σ_model(ω_m) for each weight sample (needed for the pull t_model(ω), Eq. 17).
    """

    mean: np.ndarray
    sigma_model: np.ndarray
    sigma_pred: np.ndarray
    samples: np.ndarray | None = None
    sigma_model_samples: np.ndarray | None = None

    @property
    def sigma_tot(self) -> np.ndarray:
        """Shape ``(N,)``: σ_tot = sqrt(σ_model² + σ_pred²)."""
        return np.sqrt(self.sigma_model**2 + self.sigma_pred**2)

    def __len__(self) -> int:
        return int(self.mean.shape[0])
