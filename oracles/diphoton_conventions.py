"""Conventions shared by the exact g g → γ γ (g) amplitudes: couplings, quark charges, prefactors, helicity labels."""

from __future__ import annotations

import math

__all__ = [
    "ALPHA",
    "ALPHA_S",
    "N_C",
    "helicity_labels",
    "k2_prefactor",
    "k3_prefactor",
    "sum_q2_for",
]

#: Fine-structure constant of the reference points (spec Sec. 0).
ALPHA: float = 1.0 / 137.035999084
#: Strong coupling of the reference points.
ALPHA_S: float = 0.118
#: Number of colours.
N_C: int = 3
#: Electric charges of the massless quark flavours in the order d, u, s, c, b, t.
_QUARK_CHARGES: tuple[float, ...] = (-1 / 3, 2 / 3, -1 / 3, 2 / 3, -1 / 3, 2 / 3)


def helicity_labels(n: int) -> tuple[str, ...]:
    """All ``2**n`` helicity labels of ``n`` all-outgoing particles (``"-…-"`` first, ``"+…+"`` last)."""
    return tuple("".join("+" if (c >> (n - 1 - i)) & 1 else "-" for i in range(n)) for c in range(2**n))


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
