"""Scalar multi-precision (mpmath) evaluation of the g g → γ γ (g) specification, for validating the oracles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["helicity_terms_2to2", "helicity_terms_2to3"]

# A deliberately plain transcription of one_loop_diphoton.md: one point, one helicity configuration,
# one ordering at a time, every formula written as printed (no parity trick, no rearrangement, the
# closed forms of Eqs. 3.3-3.5 and s_ij = 2 k_i·k_j), evaluated with `dps` significant digits.
# It is slow (about 2 s per 2 → 3 point) and only meant for tests and precision studies.

_ORDERINGS = (
    (1, 2, 3, 4, 5), (1, 2, 4, 3, 5), (1, 3, 2, 4, 5), (3, 1, 2, 4, 5),
    (1, 4, 2, 3, 5), (3, 1, 4, 2, 5), (1, 3, 4, 2, 5), (1, 4, 3, 2, 5),
    (4, 1, 2, 3, 5), (4, 1, 3, 2, 5), (3, 4, 1, 2, 5), (4, 3, 1, 2, 5),
)  # fmt: skip


def _labels(n: int) -> list[str]:
    return ["".join("+" if (c >> (n - 1 - i)) & 1 else "-" for i in range(n)) for c in range(2**n)]


class _Functions:
    """The logarithms and loop functions of spec Sec. 3 at the working precision of ``mp``."""

    def __init__(self, mp: Any) -> None:
        self.mp = mp

    def ell(self, x: Any) -> Any:
        """Eq. (3.1): ln|x| − iπ Θ(−x)."""
        return self.mp.log(abs(x)) - (1j * self.mp.pi if x < 0 else 0)

    def log_ratio(self, x: Any, y: Any) -> Any:
        """Eq. (3.2)."""
        return self.ell(x) - self.ell(y)

    def l0(self, x: Any, y: Any) -> Any:
        return self.log_ratio(x, y) / (1 - x / y)

    def l1(self, x: Any, y: Any) -> Any:
        return (self.l0(x, y) + 1) / (1 - x / y)

    def l2(self, x: Any, y: Any) -> Any:
        r = x / y
        return (self.log_ratio(x, y) - (r - 1 / r) / 2) / (1 - r) ** 3

    def li2_one_minus(self, x: Any, y: Any) -> Any:
        """Li2(1 − x/y), continued by Eq. (3.6) for x/y < 0."""
        mp = self.mp
        r = x / y
        if r > 0:
            return mp.polylog(2, 1 - r)
        return mp.pi**2 / 6 - mp.polylog(2, r) - self.log_ratio(x, y) * mp.log(1 - r)

    def ls1(self, x1: Any, y1: Any, x2: Any, y2: Any) -> Any:
        """Eqs. (3.4), (3.5)."""
        mp = self.mp
        r1, r2 = x1 / y1, x2 / y2
        ls_m1 = (
            self.li2_one_minus(x1, y1)
            + self.li2_one_minus(x2, y2)
            + self.log_ratio(x1, y1) * self.log_ratio(x2, y2)
            - mp.pi**2 / 6
        )
        return (ls_m1 / (1 - r1 - r2) + self.l0(x1, y1) + self.l0(x2, y2)) / (1 - r1 - r2)


def _spinors(mp: Any, point: np.ndarray) -> tuple[dict, dict, dict]:
    """⟨ij⟩, [ij], s_ij (0-based keys) of the crossed momenta (Eqs. 1.1, 2.1, 2.2)."""
    k = [[mp.mpf(float(x)) for x in row] for row in point]
    for i in (0, 1):
        k[i] = [-x for x in k[i]]
    r, c, phi = [], [], []
    for v in k:
        if v[0] > 0:
            r.append(mp.sqrt(v[0] + v[1]))
            c.append(v[3] - 1j * v[2])
            phi.append(1)
        else:
            r.append(mp.sqrt(-v[0] - v[1]))
            c.append(-v[3] + 1j * v[2])
            phi.append(1j)
    angle, square, s = {}, {}, {}
    for i in range(len(k)):
        for j in range(len(k)):
            if i != j:
                angle[i, j] = phi[i] * phi[j] * (c[i] * r[j] / r[i] - c[j] * r[i] / r[j])
                s[i, j] = 2 * (k[i][0] * k[j][0] - k[i][1] * k[j][1] - k[i][2] * k[j][2] - k[i][3] * k[j][3])
                square[i, j] = -s[i, j] / angle[i, j]
    return angle, square, s


def _primitive(
    fn: _Functions,
    spinors: tuple[dict, dict, dict],
    rho: tuple[int, ...],
    cls: str,
    parity: int,
    mu2: Any,
    inv_eps: Any,
) -> Any:
    """Â of Eqs. (5.3)-(5.6) for the relabelling ``rho`` (1-based), with ⟨⟩ ↔ [] if ``parity``."""
    angle, square, sij = spinors
    if parity:
        angle, square = square, angle
    idx = [q - 1 for q in rho]

    def a(i: int, j: int) -> Any:
        return angle[idx[i - 1], idx[j - 1]]

    def b(i: int, j: int) -> Any:
        return square[idx[i - 1], idx[j - 1]]

    def s(i: int, j: int) -> Any:
        return sij[idx[i - 1], idx[j - 1]]

    pt = a(1, 2) * a(2, 3) * a(3, 4) * a(4, 5) * a(5, 1)
    if cls == "pp":  # Eq. (5.3)
        num = s(1, 2) * s(2, 3) + s(2, 3) * s(3, 4) + s(3, 4) * s(4, 5) + s(4, 5) * s(5, 1) + s(5, 1) * s(1, 2)
        num += b(1, 2) * a(2, 3) * b(3, 4) * a(4, 1) - a(1, 2) * b(2, 3) * a(3, 4) * b(4, 1)
        return -num / (6 * pt)
    if cls == "m":  # Eq. (5.4)
        x = (s(2, 3) + s(3, 4) + s(4, 5)) * b(2, 5) ** 2 - b(2, 4) * a(4, 3) * b(3, 5) * b(2, 5)
        x -= (
            b(1, 2)
            * b(1, 5)
            / (a(1, 2) * a(1, 5))
            * (
                a(1, 2) ** 2 * a(1, 3) ** 2 * b(2, 3) / a(2, 3)
                + a(1, 3) ** 2 * a(1, 4) ** 2 * b(3, 4) / a(3, 4)
                + a(1, 4) ** 2 * a(1, 5) ** 2 * b(4, 5) / a(4, 5)
            )
        )
        return x / (3 * b(1, 2) * a(2, 3) * a(3, 4) * a(4, 5) * b(5, 1))
    third = fn.mp.mpf(1) / 3
    if cls == "adj":  # Eq. (5.5)
        vf = -fn.mp.mpf(5) / 2 * inv_eps - 2 - (fn.log_ratio(mu2, -s(2, 3)) + fn.log_ratio(mu2, -s(5, 1))) / 2
        vs = -vf * third + fn.mp.mpf(2) / 9
        tree = a(1, 2) ** 4 / pt
        bb = a(2, 3) * b(3, 4) * a(4, 1) + a(2, 4) * b(4, 5) * a(5, 1)
        l0, l2 = fn.l0(-s(2, 3), -s(5, 1)), fn.l2(-s(2, 3), -s(5, 1))
        ff = -(a(1, 2) ** 2) * l0 * bb / (2 * a(2, 3) * a(3, 4) * a(4, 5) * a(5, 1) * s(5, 1))
        fs = (
            -ff * third
            - b(3, 4) * a(4, 1) * a(2, 4) * b(4, 5) * l2 * bb / (3 * a(3, 4) * a(4, 5) * s(5, 1) ** 3)
            - a(3, 5) * b(3, 5) ** 3 / (3 * b(1, 2) * b(2, 3) * a(3, 4) * a(4, 5) * b(5, 1))
            + a(1, 2) * b(3, 5) ** 2 / (3 * b(2, 3) * a(3, 4) * a(4, 5) * b(5, 1))
            + a(1, 2) * b(3, 4) * a(4, 1) * a(2, 4) * b(4, 5) / (6 * s(2, 3) * a(3, 4) * a(4, 5) * s(5, 1))
        )
        return -(vf + vs) * tree - (ff + fs)
    # Eq. (5.6)
    vf = -fn.mp.mpf(5) / 2 * inv_eps - 2 - (fn.log_ratio(mu2, -s(3, 4)) + fn.log_ratio(mu2, -s(5, 1))) / 2
    vs = -vf * third + fn.mp.mpf(2) / 9
    tree = a(1, 3) ** 4 / pt
    la = fn.ls1(-s(2, 3), -s(5, 1), -s(3, 4), -s(5, 1))
    lb = fn.ls1(-s(1, 2), -s(3, 4), -s(5, 1), -s(3, 4))
    c = a(1, 5) * b(5, 2) * a(2, 3) - a(3, 4) * b(4, 2) * a(2, 1)
    l0 = fn.l0(-s(3, 4), -s(5, 1))
    ff = (
        -(a(1, 3) ** 2) * a(4, 1) * b(2, 4) ** 2 / (a(4, 5) * a(5, 1) * s(5, 1) ** 2) * la
        + a(1, 3) ** 2 * a(5, 3) * b(2, 5) ** 2 / (a(3, 4) * a(4, 5) * s(3, 4) ** 2) * lb
        - a(1, 3) ** 3 * l0 * c / (2 * pt * s(5, 1))
    )
    fs = (
        -a(1, 2)
        * a(2, 3)
        * a(3, 4)
        * (a(4, 1) * b(2, 4)) ** 2
        / (a(4, 5) * a(5, 1) * a(2, 4) ** 2 * s(5, 1) ** 2)
        * (2 * la + fn.l1(-s(2, 3), -s(5, 1)) + fn.l1(-s(3, 4), -s(5, 1)))
        + a(3, 2)
        * a(2, 1)
        * a(1, 5)
        * (a(5, 3) * b(2, 5)) ** 2
        / (a(5, 4) * a(4, 3) * a(2, 5) ** 2 * s(3, 4) ** 2)
        * (2 * lb + fn.l1(-s(1, 2), -s(3, 4)) + fn.l1(-s(5, 1), -s(3, 4)))
        + 2
        * a(2, 3) ** 2
        * (a(4, 1) * b(2, 4)) ** 3
        / (3 * a(4, 5) * a(5, 1) * a(2, 4) * s(5, 1) ** 3)
        * fn.l2(-s(2, 3), -s(5, 1))
        - 2
        * a(2, 1) ** 2
        * (a(5, 3) * b(2, 5)) ** 3
        / (3 * a(5, 4) * a(4, 3) * a(2, 5) * s(3, 4) ** 3)
        * fn.l2(-s(1, 2), -s(3, 4))
        + fn.l2(-s(3, 4), -s(5, 1))
        / s(5, 1) ** 3
        * (
            a(1, 3) * b(2, 4) * b(2, 5) * c / (3 * a(4, 5))
            + 2 * (a(1, 2) * a(3, 4)) ** 2 * a(4, 1) * b(2, 4) ** 3 / (3 * a(4, 5) * a(5, 1) * a(2, 4))
            - 2 * (a(3, 2) * a(1, 5)) ** 2 * a(5, 3) * b(2, 5) ** 3 / (3 * a(5, 4) * a(4, 3) * a(2, 5))
        )
        + a(1, 3) ** 3 * l0 * c / (6 * pt * s(5, 1))
        + (b(2, 4) * b(2, 5)) ** 2 / (3 * b(1, 2) * b(2, 3) * b(3, 4) * a(4, 5) * b(5, 1))
        - a(1, 2) * a(4, 1) ** 2 * b(2, 4) ** 3 / (3 * a(4, 5) * a(5, 1) * a(2, 4) * b(2, 3) * b(3, 4) * s(5, 1))
        + a(3, 2) * a(5, 3) ** 2 * b(2, 5) ** 3 / (3 * a(5, 4) * a(4, 3) * a(2, 5) * b(2, 1) * b(1, 5) * s(3, 4))
        + a(1, 3) ** 2 * b(2, 4) * b(2, 5) / (6 * s(3, 4) * a(4, 5) * s(5, 1))
    )
    return -(vf + vs) * tree - (ff + fs)


def _classify(label: str, order: tuple[int, ...]) -> tuple[str, tuple[int, ...], int]:
    """Class, relabelling and parity of one (configuration, ordering), spec Sec. 6."""
    hel = [label[q - 1] for q in order]
    parity = 0
    if hel.count("-") > 2:
        parity, hel = 1, ["+" if h == "-" else "-" for h in hel]
    minus = [i for i in range(5) if hel[i] == "-"]
    if not minus:
        cls, start = "pp", 0
    elif len(minus) == 1:
        cls, start = "m", minus[0]
    else:
        p, q = minus
        cls, start = {1: ("adj", p), 4: ("adj", q), 2: ("non", p), 3: ("non", q)}[q - p]
    return cls, tuple(order[(start + i) % 5] for i in range(5)), parity


def _with_mpmath(dps: int, body: Callable[[Any], np.ndarray]) -> np.ndarray:
    import mpmath  # optional dependency, only for validation

    with mpmath.workdps(dps):
        return body(mpmath.mp)


def helicity_terms_2to3(
    momenta: np.ndarray, *, dps: int = 40, mu2: float | None = None, inv_eps: float = 0.0
) -> np.ndarray:
    """``|Ŝ_h|²`` of g g → γ γ g (spec Eq. 7.3 terms) evaluated with ``dps`` significant digits.

    Parameters
    ----------
    momenta : numpy.ndarray
        Physical momenta ``(N, 5, 4)`` [GeV], taken as exact binary numbers.
    dps : int
        Decimal digits of the mpmath working precision.
    mu2 : float or None
        μ² [GeV²]; ``None`` means ``s12``.
    inv_eps : float
        Value of 1/ε.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 32)`` float64 [GeV⁻²], all-outgoing helicity labels in binary order ('-' < '+').
    """

    def body(mp: Any) -> np.ndarray:
        fn = _Functions(mp)
        out = np.empty((len(momenta), 32))
        for n, point in enumerate(momenta):
            spinors = _spinors(mp, point)
            m2 = spinors[2][0, 1] if mu2 is None else mp.mpf(mu2)
            for c, label in enumerate(_labels(5)):
                total = 0
                for order in _ORDERINGS:
                    cls, rho, parity = _classify(label, order)
                    total += _primitive(fn, spinors, rho, cls, parity, m2, mp.mpf(inv_eps))
                out[n, c] = float(abs(total) ** 2)
        return out

    return _with_mpmath(dps, body)


def helicity_terms_2to2(momenta: np.ndarray, *, dps: int = 40) -> np.ndarray:
    """``|M^(1)_h|²`` of g g → γ γ (spec Eqs. 4.2, 4.3 terms) evaluated with ``dps`` significant digits.

    Parameters
    ----------
    momenta : numpy.ndarray
        Physical momenta ``(N, 4, 4)`` [GeV], taken as exact binary numbers.
    dps : int
        Decimal digits of the mpmath working precision.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 16)`` float64, all-outgoing helicity labels in binary order ('-' < '+').
    """

    def body(mp: Any) -> np.ndarray:
        fn = _Functions(mp)

        def f(big_s: Any, t: Any, u: Any) -> Any:  # Eq. (4.2)
            log = fn.log_ratio(-t, -u)
            return -1 - (t - u) / big_s * log - (t * t + u * u) / (2 * big_s**2) * (log * log + mp.pi**2)

        out = np.ones((len(momenta), 16))
        for n, point in enumerate(momenta):
            _, _, s = _spinors(mp, point)
            s12, s13, s14 = s[0, 1], s[0, 2], s[0, 3]
            values = {1: f(s12, s13, s14), 2: f(s13, s12, s14), 3: f(s14, s12, s13)}
            for c, label in enumerate(_labels(4)):
                if label.count("-") == 2:
                    partner = next(k for k in (1, 2, 3) if label[k] == label[0])
                    out[n, c] = float(abs(values[partner]) ** 2)
        return out

    return _with_mpmath(dps, body)
