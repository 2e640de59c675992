"""Exact one-loop g g → γ γ and g g → γ γ g (massless quark loop) oracles, vectorised in numpy."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from activeamp.physics.process import get_process
from oracles.base import Oracle, validate_momenta
from oracles.loop_functions import PairFunctions, horner, ls1, pair_functions
from oracles.spinors import cross_to_outgoing, light_cone_frame, spinor_products

__all__ = [
    "ALPHA",
    "ALPHA_S",
    "DEFAULT_CHUNK_2TO2",
    "DEFAULT_CHUNK_2TO3",
    "N_C",
    "HELICITY_LABELS_2TO2",
    "HELICITY_LABELS_2TO3",
    "ORDERINGS",
    "GGYYOracle",
    "GGYYGOracle",
    "amplitudes_2to2",
    "amplitudes_2to3",
    "k2_prefactor",
    "k3_prefactor",
    "sum_q2_for",
]

logger = logging.getLogger(__name__)

#: Fine-structure constant of the reference points (spec Sec. 0).
ALPHA: float = 1.0 / 137.035999084
#: Strong coupling of the reference points.
ALPHA_S: float = 0.118
#: Number of colours.
N_C: int = 3
#: Electric charges of the massless quark flavours in the order d, u, s, c, b, t.
_QUARK_CHARGES: tuple[float, ...] = (-1 / 3, 2 / 3, -1 / 3, 2 / 3, -1 / 3, 2 / 3)


def _labels(n: int) -> tuple[str, ...]:
    return tuple("".join("+" if (c >> (n - 1 - i)) & 1 else "-" for i in range(n)) for c in range(2**n))


#: Helicities (h1..h5) of the all-outgoing particles, in the order of :meth:`GGYYGOracle.helicity_resolved`.
HELICITY_LABELS_2TO3: tuple[str, ...] = _labels(5)
#: Helicities (h1..h4) of the all-outgoing particles, in the order of :meth:`GGYYOracle.helicity_resolved`.
HELICITY_LABELS_2TO2: tuple[str, ...] = _labels(4)

#: The 12 cyclic orderings whose gluon subsequence is cyclically (1, 2, 5), spec Eq. (7.1) (1-based labels).
ORDERINGS: tuple[tuple[int, ...], ...] = (
    (1, 2, 3, 4, 5), (1, 2, 4, 3, 5), (1, 3, 2, 4, 5), (3, 1, 2, 4, 5),
    (1, 4, 2, 3, 5), (3, 1, 4, 2, 5), (1, 3, 4, 2, 5), (1, 4, 3, 2, 5),
    (4, 1, 2, 3, 5), (4, 1, 3, 2, 5), (3, 4, 1, 2, 5), (4, 3, 1, 2, 5),
)  # fmt: skip

_CLASSES: tuple[str, ...] = ("all_plus", "one_minus", "adjacent", "non_adjacent")

#: Points per internal block for g g → γ γ g: keeps the (60 × block) complex work arrays below 128 KiB,
#: the size above which the C allocator maps fresh pages (page faults cost more than the arithmetic).
DEFAULT_CHUNK_2TO3: int = 128
#: Points per internal block for g g → γ γ.
DEFAULT_CHUNK_2TO2: int = 8192


def sum_q2_for(n_f: int) -> float:
    """``Σ_q Q_q²`` of the ``n_f`` lightest quark flavours (d, u, s, c, b, t); 11/9 for ``n_f = 5``."""
    if not isinstance(n_f, int) or not 1 <= n_f <= 6:
        raise ValueError(f"n_f: expected an integer between 1 and 6, got {n_f!r}")
    return float(sum(q * q for q in _QUARK_CHARGES[:n_f]))


def k2_prefactor(alpha: float, alpha_s: float, sum_q2: float) -> float:
    """``K2 = ¼ α² α_s² (Σ Q²)²`` of spec Eq. (4.4): averaged |M|² of g g → γ γ is ``K2 · H4``."""
    return 0.25 * alpha**2 * alpha_s**2 * sum_q2**2


def k3_prefactor(alpha: float, alpha_s: float, sum_q2: float) -> float:
    """``K3 = 4π α² α_s³ N_c/(N_c² − 1) (Σ Q²)²`` of spec Eq. (7.4): averaged |M|² of g g → γ γ g is ``K3 · H5``."""
    return 4.0 * math.pi * alpha**2 * alpha_s**3 * N_C / (N_C**2 - 1) * sum_q2**2


# ------------------------------------------------------------------------------------------------
# 2 → 2 (spec Sec. 4)
# ------------------------------------------------------------------------------------------------


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


def _amplitudes_2to2_block(momenta: np.ndarray) -> np.ndarray:
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
        out[start : start + chunk_size] = _amplitudes_2to2_block(momenta[start : start + chunk_size])
    return out


# ------------------------------------------------------------------------------------------------
# 2 → 3: static tables of helicity classes, orderings and relabellings (spec Sec. 6, 7)
# ------------------------------------------------------------------------------------------------


class _ClassTable:
    """Static description of all primitive amplitudes of one helicity class.

    Each entry is one (configuration with ≤ 2 minus, ordering) whose primitive amplitude is this
    class after the cyclic relabelling ``rho``; its parity partner (all helicities flipped, Eq. 6.1)
    uses the same ``rho`` with ⟨⟩ ↔ [] and is evaluated alongside.
    """

    def __init__(self, name: str, entries: list[tuple[int, int, tuple[int, ...]]]) -> None:
        self.name = name
        self.config = np.array([e[0] for e in entries], dtype=np.int64)
        self.ordering = np.array([e[1] for e in entries], dtype=np.int64)
        self.rho = np.array([e[2] for e in entries], dtype=np.int64).reshape(len(entries), 5)
        # rows of the (32 configurations × 12 orderings) accumulator: parity 0, then parity 1
        self.rows = np.stack([self.config * 12 + self.ordering, (31 - self.config) * 12 + self.ordering])

    def __len__(self) -> int:
        return len(self.config)

    def flat(self, i: int, j: int) -> np.ndarray:
        """Flat 5×5 index of the (ordered) spinor product of formula labels i, j (1-based)."""
        return 5 * self.rho[:, i - 1] + self.rho[:, j - 1]

    def invariant(self, i: int, j: int) -> np.ndarray:
        """Canonical flat index of s_ij for formula labels i, j (1-based)."""
        a, b = self.rho[:, i - 1], self.rho[:, j - 1]
        return 5 * np.minimum(a, b) + np.maximum(a, b)


def _build_classes() -> dict[str, _ClassTable]:
    """Locate the pattern of every (configuration, ordering) as in spec Sec. 6.1."""
    entries: dict[str, list[tuple[int, int, tuple[int, ...]]]] = {c: [] for c in _CLASSES}
    for c, label in enumerate(HELICITY_LABELS_2TO3):
        if label.count("-") > 2:
            continue  # parity partner of configuration 31 - c (Sec. 6.2)
        for o, order in enumerate(ORDERINGS):
            sigma = [p - 1 for p in order]
            minus = [i for i in range(5) if label[sigma[i]] == "-"]
            if not minus:
                cls, start = "all_plus", 0
            elif len(minus) == 1:
                cls, start = "one_minus", minus[0]
            else:
                p, q = minus
                cls, start = {1: ("adjacent", p), 4: ("adjacent", q), 2: ("non_adjacent", p), 3: ("non_adjacent", q)}[
                    q - p
                ]
            rho = tuple(sigma[(start + i) % 5] for i in range(5))
            entries[cls].append((c, o, rho))
    return {cls: _ClassTable(cls, e) for cls, e in entries.items()}


_TABLES: dict[str, _ClassTable] = _build_classes()
#: Gathered symbols per class held in the workspace (the classes use 13, 23, 18 and 27).
_GATHER_SLOTS: int = 32

# Ordered pairs (s_a, s_b) of invariants whose ratio enters L0, L1, L2 or Ls1 (formula labels, 1-based).
_PAIRS_ADJ: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (((2, 3), (5, 1)),)
_PAIRS_NON: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((2, 3), (5, 1)),
    ((3, 4), (5, 1)),
    ((1, 2), (3, 4)),
    ((5, 1), (3, 4)),
)


def _pair_table() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """All distinct ordered pairs of invariants used by the log classes, and per class the index of each."""
    pairs: dict[tuple[int, int], int] = {}
    per_class: dict[str, np.ndarray] = {}
    for cls, wanted in (("adjacent", _PAIRS_ADJ), ("non_adjacent", _PAIRS_NON)):
        t = _TABLES[cls]
        idx = np.empty((len(wanted), len(t)), dtype=np.int64)
        for w, (a, b) in enumerate(wanted):
            for m, key in enumerate(zip(t.invariant(*a).tolist(), t.invariant(*b).tolist(), strict=True)):
                idx[w, m] = pairs.setdefault(key, len(pairs))
        per_class[cls] = idx
    table = np.array(sorted(pairs, key=pairs.__getitem__), dtype=np.int64)
    return table, per_class


_PAIRS, _PAIR_INDEX = _pair_table()


class _Kinematics:
    """Spinor products, invariants and loop functions of one chunk of ``n`` points, in units of √s = 1.

    Arrays keep the point axis last and index pairs of particles by the flat index ``5 i + j``
    (0-based). Only the parity-0 quantities are needed: with the spinors of :func:`spinor_products`,
    swapping ⟨⟩ ↔ [] (Eq. 6.1) maps every spinor monomial ``m`` of an amplitude to ``−conj(m)`` (see
    :func:`_photon_amplitudes_scaled`).
    """

    def __init__(self, k: np.ndarray, mu2: np.ndarray, inv_eps: float) -> None:
        n = k.shape[0]
        angle, square, s = spinor_products(light_cone_frame(k))
        diag = np.eye(5, dtype=bool).reshape(25)
        self.a = np.ascontiguousarray(angle.reshape(n, 25).T)
        self.b = np.ascontiguousarray(square.reshape(n, 25).T)
        self.a[diag] = 1.0  # never used; keeps the inverses finite
        self.b[diag] = 1.0
        self.ia = 1.0 / self.a
        self.ib = 1.0 / self.b
        sr = np.ascontiguousarray(s.reshape(n, 25).T)
        sr[diag] = 1.0
        self.s = sr.astype(np.complex128)
        self.inv_s = 1.0 / self.s
        # ln(μ²/(−s_ab)) = ℓ(μ²) − ℓ(−s_ab) (Eq. 3.1), per invariant
        self.log_mu = np.log(mu2[None, :] / np.abs(sr)) + 1j * np.pi * (sr > 0)
        self.pole = -5.0 / 3.0 * inv_eps - 10.0 / 9.0  # V^f + V^s without the logs (Sec. 5.6)
        self.pairs = pair_functions(sr[_PAIRS[:, 0]], sr[_PAIRS[:, 1]])
        inv_pt = np.ones((len(ORDERINGS), n), dtype=np.complex128)  # 1/PT of each ordering (Eq. 5.2)
        for o, order in enumerate(ORDERINGS):
            for i in range(5):
                inv_pt[o] *= self.ia[5 * (order[i] - 1) + order[(i + 1) % 5] - 1]
        self.inv_pt = inv_pt


class _Gather:
    """Symbols of one helicity class, gathered for all its ``M`` primitive amplitudes: arrays ``(M, n)``.

    ``a(i, j)`` is ⟨ρ_i ρ_j⟩, ``b(i, j)`` is [ρ_i ρ_j], ``ia``/``ib`` their inverses, ``s``/``is_`` the
    invariant and its inverse (complex), for the relabelling ρ of each entry (Sec. 2.2, 6.1). Each
    symbol is gathered once, into the next free slot of the workspace ``ws`` ``(slots, M_max, n_max)``
    when one is given (slots are reused by the next class).
    """

    def __init__(self, kin: _Kinematics, table: _ClassTable, ws: np.ndarray | None = None) -> None:
        self.kin = kin
        self.t = table
        self._cache: dict[tuple[str, int, int], np.ndarray] = {}
        self._ws = ws

    def _get(self, kind: str, i: int, j: int) -> np.ndarray:
        key = (kind, i, j)
        got = self._cache.get(key)
        if got is None:
            if kind in ("s", "is"):
                src, idx = (self.kin.s if kind == "s" else self.kin.inv_s), self.t.invariant(i, j)
            else:
                src, idx = getattr(self.kin, kind), self.t.flat(i, j)
            slot = len(self._cache)
            if self._ws is not None and slot < self._ws.shape[0]:
                got = np.take(src, idx, axis=0, out=self._ws[slot, : len(idx), : src.shape[1]])
            else:
                got = src[idx]
            self._cache[key] = got
        return got

    def a(self, i: int, j: int) -> np.ndarray:
        return self._get("a", i, j)

    def b(self, i: int, j: int) -> np.ndarray:
        return self._get("b", i, j)

    def ia(self, i: int, j: int) -> np.ndarray:
        return self._get("ia", i, j)

    def ib(self, i: int, j: int) -> np.ndarray:
        return self._get("ib", i, j)

    def s(self, i: int, j: int) -> np.ndarray:
        return self._get("s", i, j)

    def is_(self, i: int, j: int) -> np.ndarray:
        return self._get("is", i, j)

    def inv_pt(self) -> np.ndarray:
        return self.kin.inv_pt[self.t.ordering]

    def log_mu(self, i: int, j: int) -> np.ndarray:
        return self.kin.log_mu[self.t.invariant(i, j)]

    def pair(self, which: int) -> PairFunctions:
        idx = _PAIR_INDEX[self.t.name][which]
        p = self.kin.pairs
        return PairFunctions(r=p.r[idx], log=p.log[idx], l0=p.l0[idx], l1=p.l1[idx], l2=p.l2[idx], li2=p.li2[idx])


class _LogSum:
    """``Σ_j m_j L_j`` and ``Σ_j m_j conj(L_j)`` over spinor coefficients ``m_j`` and loop functions ``L_j``.

    The first is the parity-0 amplitude's transcendental part; the second gives the parity partner's,
    whose spinor coefficients are ``−conj(m_j)`` while the loop functions stay as they are (Eq. 6.1).
    """

    def __init__(self, start: np.ndarray) -> None:
        self.plain = start.copy()
        self.conj = start.copy()

    def add(self, m: np.ndarray, fn: np.ndarray) -> None:
        self.plain += m * fn
        self.conj += m * np.conj(fn)


# ------------------------------------------------------------------------------------------------
# Primitive amplitudes Â of the four classes (spec Sec. 5), for all entries of a class at once.
# Each returns (Â, Â of the parity partner), both (M, n).
# ------------------------------------------------------------------------------------------------


def _all_plus(g: _Gather) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (5.3); rational, so the parity partner is −conj(Â)."""
    s12, s23, s34, s45, s51 = g.s(1, 2), g.s(2, 3), g.s(3, 4), g.s(4, 5), g.s(5, 1)
    num = s12 * s23 + s23 * s34 + s34 * s45 + s45 * s51 + s51 * s12
    mixed = g.b(1, 2) * g.a(2, 3) * g.b(3, 4) * g.a(4, 1) - g.a(1, 2) * g.b(2, 3) * g.a(3, 4) * g.b(4, 1)
    amp = (num + mixed) * g.inv_pt() * (-1.0 / 6.0)
    return amp, -np.conj(amp)


def _one_minus(g: _Gather) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (5.4), including MCFM's extra sign; rational, so the parity partner is −conj(Â)."""
    a, b, ia, ib = g.a, g.b, g.ia, g.ib
    a13sq = a(1, 3) * a(1, 3)
    a14sq = a(1, 4) * a(1, 4)
    inner = (
        a(1, 2) * a(1, 2) * a13sq * b(2, 3) * ia(2, 3)
        + a13sq * a14sq * b(3, 4) * ia(3, 4)
        + a14sq * a(1, 5) * a(1, 5) * b(4, 5) * ia(4, 5)
    )
    b25 = b(2, 5)
    x = (g.s(2, 3) + g.s(3, 4) + g.s(4, 5)) * b25 * b25 - b(2, 4) * a(4, 3) * b(3, 5) * b25
    x -= b(1, 2) * b(1, 5) * ia(1, 2) * ia(1, 5) * inner
    amp = x * (ib(1, 2) * ia(2, 3) * ia(3, 4) * ia(4, 5) * ib(5, 1)) * (1.0 / 3.0)
    return amp, -np.conj(amp)


def _adjacent(g: _Gather) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (5.5): Â = −(V^f + V^s) Â_tree,12 − (F^f + F^s) = −G, partner conj(G with conj loop functions)."""
    a, b, ia, ib, is_ = g.a, g.b, g.ia, g.ib, g.is_
    f = g.pair(0)  # (−s23, −s51)
    is51 = is_(5, 1)
    a12 = a(1, 2)
    bb = a(2, 3) * b(3, 4) * a(4, 1) + a(2, 4) * b(4, 5) * a(5, 1)
    q = b(3, 4) * a(4, 1) * a(2, 4) * b(4, 5)
    w = ia(3, 4) * ia(4, 5)
    b35 = b(3, 5)
    a12sq = a12 * a12
    tree = a12sq * a12sq * g.inv_pt()
    rational = (b35 * b35) * ib(2, 3) * ib(5, 1) * (a12 - a(3, 5) * b35 * ib(1, 2)) * (1.0 / 3.0)
    rational += a12 * q * (is_(2, 3) * is51) * (1.0 / 6.0)
    total = _LogSum(g.kin.pole * tree + w * rational)
    # (2/3) F^f: the L0 term; F^s − (−F^f/3): the L2 term
    total.add(a12sq * is51 * bb * ia(2, 3) * ia(5, 1) * w * (-1.0 / 3.0), f.l0)
    total.add(w * (is51 * is51 * is51) * q * bb * (-1.0 / 3.0), f.l2)
    total.add(tree, (g.log_mu(2, 3) + g.log_mu(5, 1)) * (-1.0 / 3.0))
    return -total.plain, np.conj(total.conj)


def _non_adjacent(g: _Gather) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (5.6): Â = −(V^f + V^s) Â_tree,13 − (F^f + F^s) = −G, partner conj(G with conj loop functions)."""
    a, b, ia, ib, is_ = g.a, g.b, g.ia, g.ib, g.is_
    p23_51, p34_51, p12_34, p51_34 = g.pair(0), g.pair(1), g.pair(2), g.pair(3)
    la = ls1(p23_51, p34_51)  # Ls1(−s23, −s51; −s34, −s51)
    lb = ls1(p12_34, p51_34)  # Ls1(−s12, −s34; −s51, −s34)
    is51, is34 = is_(5, 1), is_(3, 4)
    a12, a13, a23, a34, a15, a21, a32 = a(1, 2), a(1, 3), a(2, 3), a(3, 4), a(1, 5), a(2, 1), a(3, 2)
    b24, b25 = b(2, 4), b(2, 5)
    ia24, ia25, ia45 = ia(2, 4), ia(2, 5), ia(4, 5)
    t1 = a(4, 1) * b24  # ⟨41⟩[24]
    t2 = a(5, 3) * b25  # ⟨53⟩[25]
    c = a15 * b(5, 2) * a23 - a34 * b(4, 2) * a21
    u1 = ia45 * ia(5, 1)  # 1/(⟨45⟩⟨51⟩)
    u2 = ia(5, 4) * ia(4, 3)  # 1/(⟨54⟩⟨43⟩)
    a13sq = a13 * a13
    inv_pt = g.inv_pt()
    tree = a13sq * a13sq * inv_pt
    is51sq, is34sq = is51 * is51, is34 * is34
    t1sq, t2sq = t1 * t1, t2 * t2
    w1 = u1 * ia24 * is51 * t1sq  # common factor of the t1 sector of F^s
    w2 = u2 * ia25 * is34 * t2sq
    b24b25 = b24 * b25
    rational = w1 * a12 * b24 * ib(2, 3) * ib(3, 4) * (-1.0 / 3.0)
    rational += w2 * a32 * b25 * ib(2, 1) * ib(1, 5) * (1.0 / 3.0)
    rational += (b24b25 * b24b25) * ib(1, 2) * ib(2, 3) * ib(3, 4) * ia45 * ib(5, 1) * (1.0 / 3.0)
    rational += (is34 * is51) * a13sq * b24b25 * ia45 * (1.0 / 6.0)
    total = _LogSum(g.kin.pole * tree + rational)
    c1 = w1 * (ia24 * is51) * a12 * a23 * a34 * (-1.0)  # coefficient of 2 Ls1_a + L1 + L1
    c2 = w2 * (ia25 * is34) * a32 * a21 * a15
    total.add(a13sq * t1 * b24 * u1 * is51sq * (-1.0) + 2.0 * c1, la)
    total.add(c1, p23_51.l1 + p34_51.l1)
    total.add(a13sq * t2 * b25 * u2 * is34sq + 2.0 * c2, lb)
    total.add(c2, p12_34.l1 + p51_34.l1)
    total.add(a13sq * a13 * c * inv_pt * is51 * (-1.0 / 3.0), p34_51.l0)  # F^f and F^s L0 terms
    total.add(w1 * is51sq * a23 * a23 * t1 * (2.0 / 3.0), p23_51.l2)
    total.add(w2 * is34sq * a21 * a21 * t2 * (-2.0 / 3.0), p12_34.l2)
    a12a34 = a12 * a34
    a32a15 = a32 * a15
    br = a13 * b24b25 * c * ia45
    br += (a12a34 * a12a34) * a(4, 1) * (b24 * b24 * b24) * u1 * ia24 * 2.0
    br -= (a32a15 * a32a15) * a(5, 3) * (b25 * b25 * b25) * u2 * ia25 * 2.0
    total.add(br * (is51sq * is51) * (1.0 / 3.0), p34_51.l2)
    total.add(tree, (g.log_mu(3, 4) + g.log_mu(5, 1)) * (-1.0 / 3.0))
    return -total.plain, np.conj(total.conj)


_FORMULAS: dict[str, Callable[[_Gather], tuple[np.ndarray, np.ndarray]]] = {
    "all_plus": _all_plus,
    "one_minus": _one_minus,
    "adjacent": _adjacent,
    "non_adjacent": _non_adjacent,
}


def _photon_amplitudes_scaled(
    k: np.ndarray, mu2: np.ndarray, inv_eps: float, acc: np.ndarray, ws: np.ndarray | None = None
) -> np.ndarray:
    """``Ŝ_h`` (Eq. 7.2) for all-outgoing momenta ``k (n, 5, 4)`` in units √s = 1; returns ``(32, n)``.

    Parity (Eq. 6.1) is applied without a second evaluation: the spinors satisfy
    ``[ij] = −sgn(k_i^0 k_j^0) conj(⟨ij⟩)``, and every spinor monomial of a primitive amplitude has even
    degree in each particle's spinors (little-group weight ±2) and odd total degree (mass dimension −1),
    so swapping ⟨⟩ ↔ [] turns each monomial ``m`` into ``−conj(m)``; the logarithms are unchanged.
    """
    n = k.shape[0]
    kin = _Kinematics(k, mu2, inv_eps)
    for cls, table in _TABLES.items():
        amp, partner = _FORMULAS[cls](_Gather(kin, table, ws))
        acc[table.rows[0]] = amp
        acc[table.rows[1]] = partner
    return acc.reshape(32, 12, n).sum(axis=1)


def _scale(momenta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All-outgoing momenta in units of √s (s = (p1 + p2)²) and ``s`` [GeV²] per point."""
    p1, p2 = momenta[:, 0], momenta[:, 1]
    s = 2.0 * (p1[:, 0] * p2[:, 0] - np.einsum("ni,ni->n", p1[:, 1:], p2[:, 1:]))
    k = cross_to_outgoing(momenta) / np.sqrt(s)[:, None, None]
    return k, s


def _blocks_2to3(
    momenta: np.ndarray, mu2: float | None, inv_eps: float, chunk_size: int
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield ``(rows, Ŝ)`` with ``Ŝ`` of shape ``(m, 32)`` [GeV⁻¹] for consecutive blocks of points."""
    momenta = np.asarray(momenta, dtype=np.float64)
    n = momenta.shape[0]
    acc = np.empty((32 * 12, min(chunk_size, n)), dtype=np.complex128)
    # One buffer for the gathered symbols of all blocks (see _Gather): repeated fresh ~0.1-1 MB arrays
    # would be returned to the OS and page-faulted again by the C allocator at every block.
    ws = np.empty((_GATHER_SLOTS, max(len(t) for t in _TABLES.values()), min(chunk_size, n)), dtype=np.complex128)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        k, s = _scale(momenta[start:stop])
        mu2_scaled = np.ones(stop - start) if mu2 is None else mu2 / s
        block = _photon_amplitudes_scaled(k, mu2_scaled, inv_eps, acc[:, : stop - start], ws)
        yield slice(start, stop), block.T / np.sqrt(s)[:, None]


def amplitudes_2to3(
    momenta: np.ndarray, *, mu2: float | None = None, inv_eps: float = 0.0, chunk_size: int = DEFAULT_CHUNK_2TO3
) -> np.ndarray:
    """Photon amplitudes ``Ŝ_h`` of g g → γ γ g (spec Eq. 7.2), all-outgoing helicity labels.

    Parameters
    ----------
    momenta : numpy.ndarray
        Physical momenta ``(N, 5, 4)`` [GeV]: incoming gluons, photons, outgoing gluon.
    mu2 : float or None
        Renormalisation scale μ² [GeV²]; ``None`` means ``μ² = s12`` per point. The result does not
        depend on it (spec Sec. 7.3): a diagnostic parameter.
    inv_eps : float
        Number standing in for ``1/ε``; cancels like μ² (diagnostic, physical value 0).
    chunk_size : int
        Points evaluated at once (working memory about 0.1 MB per point of a block, 12 MB for 128).

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 32)`` complex128 [GeV⁻¹], in the order of :data:`HELICITY_LABELS_2TO3`. The phases
        depend on the spinor convention; ``|Ŝ_h|²`` do not.
    """
    out = np.empty((np.shape(momenta)[0], 32), dtype=np.complex128)
    for rows, block in _blocks_2to3(momenta, mu2, inv_eps, chunk_size):
        out[rows] = block
    return out


# ------------------------------------------------------------------------------------------------
# Oracles
# ------------------------------------------------------------------------------------------------


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
            amp = _amplitudes_2to2_block(momenta[start : start + self.chunk_size])
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
        for rows, block in _blocks_2to3(momenta, self.mu2, self.inv_eps, self.chunk_size):
            out[rows] = block.real**2 + block.imag**2
        return out

    def _helicity_sum(self, momenta: np.ndarray) -> np.ndarray:
        out = np.empty(momenta.shape[0])
        for rows, block in _blocks_2to3(momenta, self.mu2, self.inv_eps, self.chunk_size):
            out[rows] = (block.real**2 + block.imag**2).sum(axis=1)
        return out
