"""Exact one-loop g g → γ γ and g g → γ γ g (massless quark loop) oracles, vectorised in numpy."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from activeamp.physics.process import get_process
from oracles.base import Oracle, validate_momenta
from oracles.diphoton_2to2 import DEFAULT_CHUNK_2TO2, HELICITY_LABELS_2TO2, amplitudes_2to2, amplitudes_2to2_block
from oracles.diphoton_2to3 import DEFAULT_CHUNK_2TO3, HELICITY_LABELS_2TO3, blocks_2to3
from oracles.diphoton_conventions import ALPHA, ALPHA_S, k2_prefactor, k3_prefactor, sum_q2_for

__all__ = ["GGYYGOracle", "GGYYOracle"]

logger = logging.getLogger(__name__)


def _rotation(alpha: float, beta: float, gamma: float) -> np.ndarray:
    """Rotation matrix R_z(α) R_y(β) R_z(γ)."""

    def rz(t: float) -> np.ndarray:
        return np.array([[math.cos(t), -math.sin(t), 0.0], [math.sin(t), math.cos(t), 0.0], [0.0, 0.0, 1.0]])

    ry = np.array([[math.cos(beta), 0.0, math.sin(beta)], [0.0, 1.0, 0.0], [-math.sin(beta), 0.0, math.cos(beta)]])
    return rz(alpha) @ ry @ rz(gamma)


#: Generic rotation applied to the second evaluation of the precision estimate.
_CHECK_ROTATION: np.ndarray = _rotation(0.7137, 1.9391, -2.2718)


def _check_copy(momenta: np.ndarray) -> np.ndarray:
    """The same phase-space point, written differently: rotated, incoming gluons and photons swapped.

    The squared matrix element is invariant (rotations, Bose symmetry); the arithmetic is not, so the
    spread between the two evaluations measures the round-off.
    """
    order = [1, 0, 3, 2, *range(4, momenta.shape[1])]
    q = momenta[:, order].copy()
    q[..., 1:] = q[..., 1:] @ _CHECK_ROTATION.T
    return q


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


class _DiphotonOracle(Oracle):
    """Shared options, validation, precision check and helicity bookkeeping of the two oracles."""

    _labels: tuple[str, ...] = ()

    def __init__(
        self,
        process_name: str,
        *,
        alpha: float,
        alpha_s: float,
        n_f: int,
        sum_q2: float | None,
        check_precision: float | None,
        chunk_size: int,
    ) -> None:
        super().__init__(get_process(process_name))
        self.alpha = _positive_float("alpha", alpha)
        self.alpha_s = _positive_float("alpha_s", alpha_s)
        default_q2 = sum_q2_for(n_f)
        self.n_f = n_f
        self.sum_q2 = default_q2 if sum_q2 is None else _positive_float("sum_q2", sum_q2)
        self._sum_q2_given = sum_q2 is not None
        self.check_precision = None if check_precision is None else _positive_float("check_precision", check_precision)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
        self.chunk_size = chunk_size
        if self.check_precision is not None:
            self.cost_hint = 2.0 * type(self).cost_hint

    @property
    def prefactor(self) -> float:
        """``K`` such that the averaged squared matrix element is ``K`` times the helicity sum."""
        raise NotImplementedError

    def _terms(self, momenta: np.ndarray) -> np.ndarray:
        """Helicity-resolved terms ``(N, n_hel)`` for validated momenta."""
        raise NotImplementedError

    def _helicity_sum(self, momenta: np.ndarray) -> np.ndarray:
        """Helicity sum ``(N,)`` for validated momenta."""
        raise NotImplementedError

    def options(self) -> dict[str, Any]:
        """Constructor options (JSON-serialisable)."""
        return {
            "alpha": self.alpha,
            "alpha_s": self.alpha_s,
            "n_f": self.n_f,
            "sum_q2": self.sum_q2 if self._sum_q2_given else None,
            "check_precision": self.check_precision,
            "chunk_size": self.chunk_size,
        }

    @property
    def helicity_labels(self) -> tuple[str, ...]:
        """All-outgoing helicity labels, in the column order of :meth:`helicity_resolved`."""
        return self._labels

    def helicity_resolved(self, momenta: np.ndarray) -> np.ndarray:
        """Coupling-free helicity-resolved terms, in the order of :attr:`helicity_labels`.

        Parameters
        ----------
        momenta : numpy.ndarray
            Physical momenta ``(N, n, 4)`` [GeV], validated as by :meth:`evaluate`.

        Returns
        -------
        numpy.ndarray
            Shape ``(N, 2**n)`` float64: ``|Ŝ_h|²`` [GeV⁻²] for g g → γ γ g, ``|M^(1)_h|²`` for g g → γ γ;
            the averaged squared matrix element is :attr:`prefactor` times their sum.
        """
        return self._terms(validate_momenta(momenta, self.process))

    def precision_estimate(self, momenta: np.ndarray) -> np.ndarray:
        """Estimated relative round-off error of every point's squared matrix element.

        The point is evaluated a second time after a rotation and the exchange of the incoming gluons
        and of the photons; the estimate is the relative difference of the two helicity sums.

        Parameters
        ----------
        momenta : numpy.ndarray
            Physical momenta ``(N, n, 4)`` [GeV].

        Returns
        -------
        numpy.ndarray
            Shape ``(N,)`` float64, dimensionless.
        """
        p = validate_momenta(momenta, self.process)
        return self._estimate(p, self._helicity_sum(p))

    def _estimate(self, momenta: np.ndarray, helicity_sum: np.ndarray) -> np.ndarray:
        second = self._helicity_sum(_check_copy(momenta))
        return np.abs(second - helicity_sum) / np.abs(helicity_sum)

    def _evaluate(self, momenta: np.ndarray) -> np.ndarray:
        h = self._helicity_sum(momenta)
        if self.check_precision is not None:
            bad = ~(self._estimate(momenta, h) <= self.check_precision)
            if bad.any():
                logger.warning(
                    "%s: %d of %d points exceed the precision threshold %.3g; returned as NaN",
                    self.name,
                    int(bad.sum()),
                    len(h),
                    self.check_precision,
                )
                h = np.where(bad, np.nan, h)
        return self.prefactor * h


class GGYYOracle(_DiphotonOracle):
    """Exact one-loop ``g g → γ γ`` through a massless quark loop (spec Sec. 4).

    Returns the squared matrix element averaged over initial spins and colours, summed over final
    ones, with the factor 1/2 for identical photons: ``K2 · H4`` (Eqs. 4.3, 4.4), dimensionless.

    Parameters
    ----------
    alpha, alpha_s : float
        Electromagnetic and strong couplings.
    n_f : int
        Number of massless quark flavours in the loop (1..6, charges of d, u, s, c, b, t).
    sum_q2 : float or None
        ``Σ_q Q_q²``; ``None`` takes it from ``n_f`` (11/9 for ``n_f = 5``).
    check_precision : float or None
        If set, also evaluate every point in a rotated and relabelled frame and return NaN (a failed
        point for :meth:`evaluate`) where the relative difference exceeds this value. Doubles the cost.
    chunk_size : int
        Points evaluated at once.
    """

    name = "gg_yy"
    cost_hint = 1e-6
    _labels = HELICITY_LABELS_2TO2

    def __init__(
        self,
        *,
        alpha: float = ALPHA,
        alpha_s: float = ALPHA_S,
        n_f: int = 5,
        sum_q2: float | None = None,
        check_precision: float | None = None,
        chunk_size: int = DEFAULT_CHUNK_2TO2,
    ) -> None:
        super().__init__(
            "gg_yy",
            alpha=alpha,
            alpha_s=alpha_s,
            n_f=n_f,
            sum_q2=sum_q2,
            check_precision=check_precision,
            chunk_size=chunk_size,
        )

    @property
    def prefactor(self) -> float:
        """``K2`` of Eq. (4.4)."""
        return k2_prefactor(self.alpha, self.alpha_s, self.sum_q2)

    def _terms(self, momenta: np.ndarray) -> np.ndarray:
        amp = amplitudes_2to2(momenta, chunk_size=self.chunk_size)
        return amp.real**2 + amp.imag**2

    def _helicity_sum(self, momenta: np.ndarray) -> np.ndarray:
        out = np.empty(momenta.shape[0])
        for start in range(0, momenta.shape[0], self.chunk_size):
            amp = amplitudes_2to2_block(momenta[start : start + self.chunk_size])
            out[start : start + self.chunk_size] = (amp.real**2 + amp.imag**2).sum(axis=1)
        return out


class GGYYGOracle(_DiphotonOracle):
    """Exact one-loop ``g g → γ γ g`` through a massless quark loop (spec Sec. 5-7).

    Returns the squared matrix element averaged over initial spins and colours, summed over final
    ones, with the factor 1/2 for identical photons: ``K3 · H5`` (Eqs. 7.3, 7.4) in GeV⁻².

    Parameters
    ----------
    alpha, alpha_s : float
        Electromagnetic and strong couplings.
    n_f : int
        Number of massless quark flavours in the loop (1..6, charges of d, u, s, c, b, t).
    sum_q2 : float or None
        ``Σ_q Q_q²``; ``None`` takes it from ``n_f`` (11/9 for ``n_f = 5``).
    check_precision : float or None
        If set, also evaluate every point in a rotated and relabelled frame and return NaN (a failed
        point for :meth:`evaluate`) where the relative difference exceeds this value. Doubles the cost.
    chunk_size : int
        Points evaluated at once (working memory about 0.1 MB per point of a block; 128 suits the caches).
    mu2 : float or None
        Diagnostic: renormalisation scale μ² [GeV²] (``None``: μ² = s12); the result does not depend on it.
    inv_eps : float
        Diagnostic: value standing in for the 1/ε pole coefficient; the result does not depend on it.
    """

    name = "gg_yyg"
    cost_hint = 5e-5
    _labels = HELICITY_LABELS_2TO3

    def __init__(
        self,
        *,
        alpha: float = ALPHA,
        alpha_s: float = ALPHA_S,
        n_f: int = 5,
        sum_q2: float | None = None,
        check_precision: float | None = None,
        chunk_size: int = DEFAULT_CHUNK_2TO3,
        mu2: float | None = None,
        inv_eps: float = 0.0,
    ) -> None:
        super().__init__(
            "gg_yyg",
            alpha=alpha,
            alpha_s=alpha_s,
            n_f=n_f,
            sum_q2=sum_q2,
            check_precision=check_precision,
            chunk_size=chunk_size,
        )
        self.mu2 = None if mu2 is None else _positive_float("mu2", mu2)
        if isinstance(inv_eps, bool) or not isinstance(inv_eps, (int, float)) or not math.isfinite(inv_eps):
            raise ValueError(f"inv_eps: expected a finite number, got {inv_eps!r}")
        self.inv_eps = float(inv_eps)

    @property
    def prefactor(self) -> float:
        """``K3`` of Eq. (7.4) [dimensionless; H5 carries GeV⁻²]."""
        return k3_prefactor(self.alpha, self.alpha_s, self.sum_q2)

    def options(self) -> dict[str, Any]:
        """Constructor options (JSON-serialisable)."""
        return {**super().options(), "mu2": self.mu2, "inv_eps": self.inv_eps}

    def _terms(self, momenta: np.ndarray) -> np.ndarray:
        out = np.empty((momenta.shape[0], 32))
        for rows, block in blocks_2to3(momenta, self.mu2, self.inv_eps, self.chunk_size):
            out[rows] = block.real**2 + block.imag**2
        return out

    def _helicity_sum(self, momenta: np.ndarray) -> np.ndarray:
        out = np.empty(momenta.shape[0])
        for rows, block in blocks_2to3(momenta, self.mu2, self.inv_eps, self.chunk_size):
            out[rows] = (block.real**2 + block.imag**2).sum(axis=1)
        return out
