"""Exact one-loop g g → γ γ helicity amplitudes through a massless quark loop (spec Sec. 4), vectorised in numpy."""

from __future__ import annotations

import numpy as np

from oracles.diphoton_conventions import helicity_labels
from oracles.loop_functions import horner

__all__ = [
    "DEFAULT_CHUNK_2TO2",
    "HELICITY_LABELS_2TO2",
    "amplitudes_2to2",
    "amplitudes_2to2_block",
]

#: Helicities (h1..h4) of the all-outgoing particles, in the order of
#: :meth:`oracles.diphoton.GGYYOracle.helicity_resolved`.
HELICITY_LABELS_2TO2: tuple[str, ...] = helicity_labels(4)
#: Points per internal block for g g → γ γ.
DEFAULT_CHUNK_2TO2: int = 8192


def _f_2to2_s(t: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``F(s12; s13, s14)`` of spec Eq. (4.2): ``T = t``, ``U = u`` both negative, so ``ln(T/U)`` is real."""
    big_s = -(t + u)
    log = np.log(t / u)
    inv_s = 1.0 / big_s
    return -1.0 - (t - u) * inv_s * log - 0.5 * (t * t + u * u) * inv_s**2 * (log * log + np.pi**2) + 0j


#: Σ_{n≥3} x^(n−3)/n, for g(x) = −ln(1 − x) − x − x²/2 = x³ Σ_{n≥3} x^(n−3)/n at x < 1/2.
_G_SERIES: np.ndarray = np.array([1.0 / n for n in range(3, 64)])


def _f_2to2_t(x: np.ndarray) -> np.ndarray:
    """``F(S; s12, U)`` of spec Eq. (4.2) for ``S = s13`` or ``s14``, as a function of ``x = −S/s12 ∈ (0, 1)``.

    With ``U = −s12 (1 − x)``, ``ln(s12/U) = a − iπ``, ``a = −ln(1 − x)`` and ``g = a − x − x²/2``, the
    printed form cancels two orders in x between its terms; written out it reads (no cancellations):
    ``Re F = −x²/4 − x³/4 − x⁴/8 − x² g/2 − (2 − 2x + x²) g²/(2x²)``,
    ``Im F = π[(2 − 2x + x²) g/x² + x²/2]``.
    """
    g = -np.log1p(-x) - x - 0.5 * x * x
    small = x < 0.5
    if small.any():
        xs = x[small]
        g[small] = xs**3 * horner(_G_SERIES, xs)
    x2 = x * x
    c = 2.0 - 2.0 * x + x2
    with np.errstate(divide="ignore", invalid="ignore"):
        g_x2 = np.where(x2 > 0.0, g / x2, 0.0)  # g/x² = O(x): F → 0 for forward scattering
    re = -0.25 * x2 - 0.25 * x2 * x - 0.125 * x2 * x2 - 0.5 * x2 * g - 0.5 * c * g * g_x2
    im = np.pi * (c * g_x2 + 0.5 * x2)
    return re + 1j * im


def _table_2to2() -> np.ndarray:
    """For each of the 16 configurations: -1 if M = 1, else the index 1..3 of the partner k of particle 1."""
    out = np.full(16, -1, dtype=np.int64)
    for c, label in enumerate(HELICITY_LABELS_2TO2):
        if label.count("-") == 2:
            out[c] = next(k for k in (1, 2, 3) if label[k] == label[0])
    return out


_PARTNER_2TO2: np.ndarray = _table_2to2()


def _minus_dot(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``E_p E_q − p⃗·q⃗`` of massless momenta ``(..., 4)``, written as ``|p⃗ × q⃗|²/(E_p E_q + p⃗·q⃗)`` where
    the direct difference would cancel (nearly collinear pairs)."""
    e = p[..., 0] * q[..., 0]
    dot = np.einsum("...i,...i->...", p[..., 1:], q[..., 1:])
    cross = np.cross(p[..., 1:], q[..., 1:])
    cross2 = np.einsum("...i,...i->...", cross, cross)
    return np.where(dot > 0.0, cross2 / (e + np.maximum(dot, 0.0)), e - dot)


def amplitudes_2to2_block(momenta: np.ndarray) -> np.ndarray:
    """``M^(1)_h`` ``(n, 16)`` for physical momenta ``(n, 4, 4)``; see :func:`amplitudes_2to2`."""
    p1 = momenta[:, 0]
    # all-outgoing invariants (Eq. 1.2): s12 = 2 p1·p2 > 0, s1j = −2 p1·pj < 0
    s12 = 2.0 * _minus_dot(p1, momenta[:, 1])
    s13 = -2.0 * _minus_dot(p1, momenta[:, 2])
    s14 = -2.0 * _minus_dot(p1, momenta[:, 3])
    # Eq. (4.2) for the three assignments of the table in Sec. 4.1
    f = {1: _f_2to2_s(s13, s14), 2: _f_2to2_t(-s13 / s12), 3: _f_2to2_t(-s14 / s12)}
    out = np.ones((momenta.shape[0], 16), dtype=np.complex128)
    for c, partner in enumerate(_PARTNER_2TO2):
        if partner > 0:
            out[:, c] = f[int(partner)]
    return out


def amplitudes_2to2(momenta: np.ndarray, *, chunk_size: int = DEFAULT_CHUNK_2TO2) -> np.ndarray:
    """Helicity amplitudes ``M^(1)_h`` of g g → γ γ (spec Eqs. 4.1, 4.2), all-outgoing helicity labels.

    Parameters
    ----------
    momenta : numpy.ndarray
        Physical momenta ``(N, 4, 4)`` [GeV]: incoming gluons, then the photons.
    chunk_size : int
        Points evaluated at once.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 16)`` complex128, dimensionless, in the order of :data:`HELICITY_LABELS_2TO2`.
    """
    momenta = np.asarray(momenta, dtype=np.float64)
    out = np.empty((momenta.shape[0], 16), dtype=np.complex128)
    for start in range(0, momenta.shape[0], chunk_size):
        out[start : start + chunk_size] = amplitudes_2to2_block(momenta[start : start + chunk_size])
    return out
