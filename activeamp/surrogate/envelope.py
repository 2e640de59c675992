"""Smooth envelopes E(x) of an amplitude, so that the network learns the flatter ratio A/E."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from activeamp.surrogate.preprocessing import as_features

__all__ = ["ENVELOPES", "MonomialEnvelope"]

logger = logging.getLogger(__name__)

#: Envelope kinds understood by ``SurrogateConfig.envelope``.
ENVELOPES: tuple[str, ...] = ("none", "monomial")


@dataclass(frozen=True)
class MonomialEnvelope:
    """``E(x) = exp(c₀ + Σ_ij c_ij (log s_ij − m_ij))``: a monomial ``Π s_ij^c_ij`` in the invariants.

    Fitted by least squares of ``log A`` on ``log s_ij`` over the training points. A network that sees
    ``log s_ij`` could represent it exactly; dividing it out makes the target's scale uniform over phase space
    (for g g → γ γ g the std of the log target drops from 1.56 to 0.33, ../shared/PRECISION_NOTES.md).

    Attributes
    ----------
    intercept : float
        ``c₀`` (log of amplitude units).
    exponents : numpy.ndarray
        Shape ``(n(n−1)/2,)``: ``c_ij`` for ``i < j`` (0 for invariants that are constant on the training data).
    centre : numpy.ndarray
        Shape ``(n(n−1)/2,)``: training means ``m_ij`` of ``log(s_ij / GeV²)``.
    """

    intercept: float
    exponents: np.ndarray
    centre: np.ndarray

    @classmethod
    def fit(cls, momenta: np.ndarray, amplitudes: np.ndarray) -> MonomialEnvelope:
        """Least-squares fit on momenta ``(N, n, 4)`` [GeV] and amplitudes ``(N,)`` > 0 (amplitude units).

        Pass every image of a symmetry group (:meth:`activeamp.physics.symmetry.SymmetryGroup.images`, flattened) to
        make the envelope exactly symmetric.
        """
        a = np.asarray(amplitudes, dtype=np.float64)
        if a.ndim != 1 or np.any(a <= 0):
            raise ValueError("envelope 'monomial': needs positive amplitudes of shape (N,)")
        feats, _ = as_features(momenta, "invariants")
        if feats.shape[0] != a.shape[0]:
            raise ValueError(f"envelope: {feats.shape[0]} points but {a.shape[0]} amplitudes")
        centre = feats.mean(axis=0)
        design = feats - centre
        spread = design.std(axis=0)
        varying = spread > 1e-10 * np.maximum(np.abs(centre), 1.0)
        y = np.log(a)
        intercept = float(y.mean())
        exponents = np.zeros(feats.shape[1])
        if varying.any():
            coef, *_ = np.linalg.lstsq(design[:, varying], y - intercept, rcond=None)
            exponents[varying] = coef
        env = cls(intercept, exponents, centre)
        residual = y - np.log(env(momenta))
        logger.info("monomial envelope: std of log A %.3g → std of log(A/E) %.3g", y.std(), residual.std())
        return env

    def __call__(self, momenta: np.ndarray) -> np.ndarray:
        """``E(x)``, shape ``(N,)`` float64 (amplitude units), for momenta ``(N, n, 4)`` [GeV]."""
        feats, _ = as_features(momenta, "invariants")
        return self.of_log_invariants(feats)

    def of_log_invariants(self, feats: np.ndarray) -> np.ndarray:
        """``E(x)`` ``(N,)`` from ``log(s_ij / GeV²)`` ``(N, n(n−1)/2)`` (``as_features(momenta, "invariants")``)."""
        if feats.shape[1] != self.exponents.shape[0]:
            raise ValueError(
                f"envelope: fitted on {self.exponents.shape[0]} invariants, momenta give {feats.shape[1]}"
            )
        return np.exp(self.intercept + (feats - self.centre) @ self.exponents)

    def state(self) -> dict[str, Any]:
        """Plain state for checkpoints; inverse of :meth:`from_state`."""
        return {"kind": "monomial", "intercept": self.intercept, "exponents": self.exponents.copy(),
                "centre": self.centre.copy()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MonomialEnvelope:
        """Rebuild from :meth:`state`."""
        return cls(float(state["intercept"]), np.asarray(state["exponents"], dtype=np.float64),
                   np.asarray(state["centre"], dtype=np.float64))
