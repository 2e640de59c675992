"""Exact one-loop g g → γ γ g photon amplitudes through a massless quark loop (spec Sec. 5-7), vectorised in numpy.

Helicity classes, orderings and relabellings (Sec. 6, 7), the spinor and loop-function symbols of a block of
points, the primitive amplitudes of the four classes (Sec. 5) and their sum over orderings (Eq. 7.2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from oracles.diphoton_conventions import helicity_labels
from oracles.loop_functions import PairFunctions, ls1, pair_functions
from oracles.spinors import cross_to_outgoing, light_cone_frame, spinor_products

__all__ = [
    "DEFAULT_CHUNK_2TO3",
    "HELICITY_LABELS_2TO3",
    "ORDERINGS",
    "amplitudes_2to3",
    "blocks_2to3",
]

#: Helicities (h1..h5) of the all-outgoing particles, in the order of
#: :meth:`oracles.diphoton.GGYYGOracle.helicity_resolved`.
HELICITY_LABELS_2TO3: tuple[str, ...] = helicity_labels(5)

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


def blocks_2to3(
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
    for rows, block in blocks_2to3(momenta, mu2, inv_eps, chunk_size):
        out[rows] = block
    return out
