"""One-loop functions of [BDK] Eq. (10) (L0, L1, L2, Ls1) and the real dilogarithm, with the +i0 continuation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = [
    "LS1_THRESHOLD",
    "SERIES_THRESHOLD",
    "SERIES_TERMS",
    "PairFunctions",
    "horner",
    "li2_real",
    "ls1",
    "pair_functions",
]

#: Use the series in ``z = (r − 1)/(r + 1)`` for L0, L1, L2 when |z| is below this, i.e. for
#: 3/7 < r < 7/3 (spec Sec. 3.3 recommends series in δ = 1 − r for |δ| < 0.2; see :func:`pair_functions`).
SERIES_THRESHOLD: float = 0.4
#: Terms (powers of z²) kept in those series: 0.16**24 ≈ 8e-20, below double precision.
SERIES_TERMS: int = 24
#: Use the integral representation of Ls1 (see :func:`ls1`) when |1 − r1 − r2| < LS1_THRESHOLD |1 − z|.
LS1_THRESHOLD: float = 0.3

_PI2_6 = np.pi**2 / 6.0


def _bernoulli_even(n_max: int) -> list[Fraction]:
    """Bernoulli numbers B_0 .. B_n_max (B_1 = -1/2) as exact fractions."""
    b = [Fraction(0)] * (n_max + 1)
    b[0] = Fraction(1)
    for m in range(1, n_max + 1):
        acc = Fraction(0)
        binom = 1  # C(m + 1, k)
        for k in range(m):
            acc += binom * b[k]
            binom = binom * (m + 1 - k) // (k + 1)
        b[m] = -acc / (m + 1)
    return b


def _li2_coefficients(n_terms: int) -> np.ndarray:
    """Coefficients B_2k / (2k+1)! of Li2(z) = u − u²/4 + Σ_k B_2k u^(2k+1)/(2k+1)!, u = −ln(1 − z)."""
    b = _bernoulli_even(2 * n_terms)
    return np.array([float(b[2 * k] / math.factorial(2 * k + 1)) for k in range(1, n_terms + 1)])


#: Odd-power coefficients of the Bernoulli series of Li2 (|u| ≤ ln 2 needs ~10 terms for 1e-17).
_LI2_COEFF: np.ndarray = _li2_coefficients(12)

# Series in w = z², z = (r − 1)/(r + 1), equivalent to Eq. (3.7) (from ln r = 2 artanh z):
#   A = Σ_{k≥0} w^k/(2k+1),  B = (A − 1)/w = Σ_{k≥1} w^(k−1)/(2k+1),  C = Σ_{k≥1} k w^(k−1)/(2k+1).
_A_SERIES: np.ndarray = np.array([1.0 / (2 * k + 1) for k in range(SERIES_TERMS)])
_B_SERIES: np.ndarray = np.array([1.0 / (2 * k + 1) for k in range(1, SERIES_TERMS + 1)])
_C_SERIES: np.ndarray = np.array([k / (2 * k + 1) for k in range(1, SERIES_TERMS + 1)])


def horner(coeff: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate ``Σ_k coeff[k] x^k`` elementwise (Horner's scheme); ``x`` float or complex array."""
    out = np.full_like(x, coeff[-1])
    for c in coeff[-2::-1]:
        out *= x
        out += c
    return out


def li2_real(z: np.ndarray) -> np.ndarray:
    """Real dilogarithm ``Li2(z) = −∫_0^z ln(1−t)/t dt`` for real ``z ≤ 1``, to about 1 ulp.

    Maps ``z`` into ``[−1, 1/2]`` with ``Li2(z) = −π²/6 − ½ ln²(−z) − Li2(1/z)`` (``z < −1``) and
    ``Li2(z) = π²/6 − ln z ln(1−z) − Li2(1−z)`` (``z > 1/2``), then sums the Bernoulli series in
    ``u = −ln(1−z)``, ``|u| ≤ ln 2``.

    Parameters
    ----------
    z : numpy.ndarray
        Real arguments ``≤ 1``, any shape.

    Returns
    -------
    numpy.ndarray
        ``Li2(z)``, same shape, float64. NaN for ``z > 1``.
    """
    z = np.asarray(z, dtype=np.float64)
    big_neg = z < -1.0
    upper = z > 0.5
    w = np.where(big_neg, 1.0 / np.where(big_neg, z, -2.0), z)
    w = np.where(upper, 1.0 - z, w)
    u = -np.log1p(-w)
    u2 = u * u
    series = u * (1.0 + u2 * horner(_LI2_COEFF, u2)) - 0.25 * u2
    with np.errstate(divide="ignore", invalid="ignore"):
        log_neg = np.log(np.where(big_neg, -z, 1.0))
        one_minus = 1.0 - z
        refl = np.where(one_minus > 0.0, np.log(np.where(upper, z, 1.0)) * np.log(np.where(upper, one_minus, 1.0)), 0.0)
    out = np.where(big_neg, -_PI2_6 - 0.5 * log_neg * log_neg - series, series)
    out = np.where(upper, _PI2_6 - refl - series, out)
    return np.where(z > 1.0, np.nan, out)


@dataclass(frozen=True)
class PairFunctions:
    """Functions of one ratio ``r = x/y`` of two real invariants ``x = −s_a``, ``y = −s_b`` (spec Sec. 3).

    All arrays have the shape of the inputs of :func:`pair_functions`.

    Attributes
    ----------
    r : numpy.ndarray
        The real ratio ``x/y`` (float64).
    log : numpy.ndarray
        ``ln(x/y) = ℓ(x) − ℓ(y) = ln|x/y| − iπ[Θ(−x) − Θ(−y)]`` (Eq. 3.2), complex128.
    l0, l1, l2 : numpy.ndarray
        ``L0, L1, L2`` of Eq. (3.3); near ``r = 1`` from series equivalent to Eq. (3.7).
    li2 : numpy.ndarray
        ``Li2(1 − r)``, continued by Eq. (3.6) for ``r < 0``.
    """

    r: np.ndarray
    log: np.ndarray
    l0: np.ndarray
    l1: np.ndarray
    l2: np.ndarray
    li2: np.ndarray


def pair_functions(s_num: np.ndarray, s_den: np.ndarray) -> PairFunctions:
    """Evaluate ``L0, L1, L2, ln, Li2(1 − r)`` for ``x = −s_num``, ``y = −s_den`` (spec Eqs. 3.1-3.7).

    Parameters
    ----------
    s_num, s_den : numpy.ndarray
        Real nonzero invariants ``s_a, s_b`` (any common shape, any common unit); the functions take
        ``x = −s_a + i0``, ``y = −s_b + i0``.

    Returns
    -------
    PairFunctions
        Complex arrays of the shape of the inputs.
    """
    r = s_num / s_den
    # Eq. (3.2): Θ(−x) − Θ(−y) with x = −s_num, y = −s_den; the real part as the log of the ratio.
    k = (s_num > 0.0).astype(np.float64) - (s_den > 0.0).astype(np.float64)
    log_abs = np.log(np.abs(r))
    log = log_abs - 1j * np.pi * k
    delta = (s_den - s_num) / s_den  # 1 − r without the rounding of r (exact difference near r = 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_d = 1.0 / delta
        l0 = log * inv_d
        l1 = (l0 + 1.0) * inv_d
        l2 = (log - 0.5 * (r - 1.0 / r)) * inv_d**3
    # Near r = 1 the closed forms (3.3) cancel (L2 loses ~ε/δ²). With z = (r − 1)/(r + 1) = −δ/(2 − δ)
    # and ln r = 2z A(z²):  L0 = −(1 − z) A,  L1 = −(1 − z)(A − z B)/2,  L2 = (1 − z)³ C/2  (no cancellation).
    z = -delta / (2.0 - delta)
    near = np.abs(z) < SERIES_THRESHOLD  # implies r > 0, so k = 0 and the log is real
    if near.any():
        zn = z[near]
        w = zn * zn
        a = horner(_A_SERIES, w)
        one_minus = 1.0 - zn
        l0[near] = -one_minus * a
        l1[near] = -0.5 * one_minus * (a - zn * horner(_B_SERIES, w))
        l2[near] = 0.5 * one_minus**3 * horner(_C_SERIES, w)
    # Li2(1 − r): ordinary for r > 0; Eq. (3.6) on the side of the cut selected by +i0 for r < 0.
    positive = r > 0.0
    li2_pos = li2_real(np.where(positive, delta, 0.0))
    li2_r = li2_real(np.where(positive, 0.0, r))
    li2_neg = _PI2_6 - li2_r - log * np.log1p(-np.where(positive, 0.0, r))
    li2 = np.where(positive, li2_pos + 0j, li2_neg)
    return PairFunctions(r=r, log=log, l0=l0, l1=l1, l2=l2, li2=li2)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)
#: Gauss-Legendre nodes and weights on [0, 1] for the Ls1 integral (10 nodes: exact to rounding for |d| < 0.3 |1 − z|).
_GL_NODES: np.ndarray = 0.5 * (_GL_X + 1.0)
_GL_WEIGHTS: np.ndarray = 0.5 * _GL_W
#: Series of (y + (1 − y) ln(1 − y))/y² = Σ_{n≥2} y^(n−2)/(n(n−1)), used for |y| < 0.25.
_Q_SERIES: np.ndarray = np.array([1.0 / (n * (n - 1)) for n in range(2, 34)])


def _q(y: np.ndarray) -> np.ndarray:
    """``Q(y) = (y + (1 − y) ln(1 − y)) / (y² (1 − y))`` for real ``y < 1``, without cancellation at small ``y``."""
    small = np.abs(y) < 0.25
    with np.errstate(divide="ignore", invalid="ignore"):
        num = (y + (1.0 - y) * np.log1p(-y)) / (y * y)
    if small.any():
        num[small] = horner(_Q_SERIES, y[small])
    return num / (1.0 - y)


def _ls1_near(z: np.ndarray, d: np.ndarray, log_j: np.ndarray) -> np.ndarray:
    """Ls1 near ``d = 1 − r1 − r2 = 0`` from a one-dimensional integral without cancellations.

    With ``j`` such that ``z = r_j < 1`` and the other ratio ``r_i = 1 − z − d > 0``, ``ℓ_j = ln(x_j/y_j)``
    (Eq. 3.2) and Eq. (3.6), Euler's reflection gives
    ``Ls_{−1} = ∫_0^d [−ln(1 − z − τ)/(z + τ) − ℓ_j/(1 − z − τ)] dτ``; subtracting the values at d = 0,
    ``Ls1 = −∫_0^1 dσ [σ Q(z + dσ) + (1 − σ) ℓ_j/(1 − z − dσ)²]`` with
    ``Q(y) = (y + (1 − y) ln(1 − y))/(y²(1 − y))``. The integrand is analytic in σ within a distance
    ``|1 − z|/|d|`` of the interval, so 10-point Gauss-Legendre quadrature is exact to rounding for
    ``|d| < 0.3 |1 − z|``.
    """
    a = np.zeros_like(z)
    b = np.zeros_like(z)
    for node, weight in zip(_GL_NODES, _GL_WEIGHTS, strict=True):
        y = z + d * node
        a += (weight * node) * _q(y)
        b += (weight * (1.0 - node)) / (1.0 - y) ** 2
    return -(a + log_j * b)


def ls1(f1: PairFunctions, f2: PairFunctions) -> np.ndarray:
    """``Ls1(x1, y1; x2, y2)`` of [BDK] Eq. (10) (spec Eqs. 3.4, 3.5) from the two pairs' functions.

    The closed form loses about ``ε (|1 − z|/d)²`` near its removable singularity
    ``d = 1 − r1 − r2 = 0`` (a collinear limit, spec Sec. 3.3, 9.3); for ``|d| < LS1_THRESHOLD |1 − z|``
    an equivalent integral representation is used instead (see :func:`_ls1_near`, ``z`` is the
    negative ratio if there is one, else the smaller), accurate to about 1e-15 relative.

    Parameters
    ----------
    f1, f2 : PairFunctions
        Functions of ``r1 = x1/y1`` and ``r2 = x2/y2`` (same shape).

    Returns
    -------
    numpy.ndarray
        Complex128, the shape of the inputs.
    """
    d = 1.0 - f1.r - f2.r
    pick1 = (f1.r < 0.0) | ((f2.r >= 0.0) & (f1.r <= f2.r))
    z = np.where(pick1, f1.r, f2.r)
    valid = (1.0 - z - d > 0.0) & (z < 1.0)  # r_i > 0 and r_j < 1
    near = valid & (np.abs(d) < LS1_THRESHOLD * np.abs(1.0 - z))
    ls_m1 = f1.li2 + f2.li2 + f1.log * f2.log - _PI2_6
    inv = 1.0 / np.where(near, 1.0, d)
    out = (ls_m1 * inv + f1.l0 + f2.l0) * inv
    if near.any():
        out[near] = _ls1_near(z[near], d[near], np.where(pick1, f1.log, f2.log)[near])
    return out
