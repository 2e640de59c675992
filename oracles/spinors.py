"""Massless spinor products of all-outgoing momenta in the BDK/MCFM convention, vectorised over points."""

from __future__ import annotations

import numpy as np

__all__ = ["LIGHT_CONE_ROTATIONS", "cross_to_outgoing", "light_cone_frame", "spinor_products"]

#: Exact rotations (entries 0, ±1, determinant +1) that map the six candidate light-cone directions
#: +x, -x, +y, -y, +z, -z onto +x. Applied to a point they change no rounding, only the spinor phases.
LIGHT_CONE_ROTATIONS: np.ndarray = np.array(
    [
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]],  # +x
        [[-1, 0, 0], [0, -1, 0], [0, 0, 1]],  # -x: 180° about z
        [[0, 1, 0], [-1, 0, 0], [0, 0, 1]],  # +y: -90° about z
        [[0, -1, 0], [1, 0, 0], [0, 0, 1]],  # -y: +90° about z
        [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],  # +z
        [[0, 0, -1], [0, 1, 0], [1, 0, 0]],  # -z
    ],
    dtype=np.float64,
)


def cross_to_outgoing(momenta: np.ndarray, n_incoming: int = 2) -> np.ndarray:
    """All-outgoing momenta ``k_i = -p_i`` for the incoming and ``k_i = p_i`` for the outgoing particles (spec Eq. 1.1).

    Parameters
    ----------
    momenta : numpy.ndarray
        Physical momenta, shape ``(N, n, 4)`` as (E, px, py, pz) [GeV], incoming particles first.
    n_incoming : int
        Number of incoming particles.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, n, 4)`` [GeV]; the crossed momenta have negative energy and ``Σ_i k_i = 0``.
    """
    k = np.array(momenta, dtype=np.float64, copy=True)
    k[:, :n_incoming] *= -1.0
    return k


def light_cone_frame(k: np.ndarray) -> np.ndarray:
    """Rotate every point so that no momentum lies close to the singular ``-x`` direction of Eq. (2.1).

    For each point the direction among ±x, ±y, ±z that maximises ``min_i (|k_i^0| + sgn(k_i^0) k_i·a)/|k_i^0|``
    is rotated onto +x (the bound is ≥ 1 − 1/√2 for up to five momenta). The rotations are exact
    permutations of components, so this loses no digits; it changes only the (unobservable) spinor phases.

    Parameters
    ----------
    k : numpy.ndarray
        All-outgoing massless momenta, shape ``(N, n, 4)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, n, 4)``, the rotated momenta.
    """
    e = k[..., 0]
    sign = np.where(e < 0.0, -1.0, 1.0)
    # quality[N, axis]: min over particles of 1 + (direction of sgn(E) k) · axis
    direction = sign[..., None] * k[..., 1:] / np.abs(e)[..., None]  # (N, n, 3)
    comps = np.concatenate([direction, -direction], axis=-1)[..., [0, 3, 1, 4, 2, 5]]  # (N, n, 6)
    best = np.argmax(np.min(comps, axis=1), axis=1)
    out = np.empty_like(k)
    out[..., 0] = e
    out[..., 1:] = np.einsum("nab,npb->npa", LIGHT_CONE_ROTATIONS[best], k[..., 1:])
    return out


def spinor_products(k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angle and square spinor products and invariants of all-outgoing massless momenta (spec Eqs. 2.1, 2.2).

    Uses the light-cone direction +x: for ``k^0 > 0``, ``r = √(k^0 + k^x)``, ``c = k^z − i k^y``, ``φ = 1``;
    for ``k^0 < 0``, ``r = √(−k^0 − k^x)``, ``c = −k^z + i k^y``, ``φ = i``. Then
    ``⟨ij⟩ = φ_i φ_j (c_i r_j/r_i − c_j r_i/r_j)``, ``s_ij = sgn(k_i^0 k_j^0) |⟨ij⟩|²`` (equal to ``2 k_i·k_j``
    for massless momenta, and better conditioned for nearly collinear pairs) and ``[ij] = −s_ij/⟨ij⟩``,
    so that ``⟨ij⟩[ji] = s_ij``.

    Parameters
    ----------
    k : numpy.ndarray
        All-outgoing massless momenta, shape ``(N, n, 4)`` [GeV]; none may point along ``-x``
        (see :func:`light_cone_frame`).

    Returns
    -------
    angle : numpy.ndarray
        ``⟨ij⟩``, shape ``(N, n, n)`` complex128 [GeV], antisymmetric.
    square : numpy.ndarray
        ``[ij]``, shape ``(N, n, n)`` complex128 [GeV], antisymmetric.
    s : numpy.ndarray
        ``s_ij = 2 k_i·k_j``, shape ``(N, n, n)`` float64 [GeV²], zero on the diagonal.
    """
    e = k[..., 0]
    sign = np.where(e < 0.0, -1.0, 1.0)
    r = np.sqrt(np.maximum(sign * (e + k[..., 1]), 0.0))
    c = sign * (k[..., 3] - 1j * k[..., 2])
    u = c / r  # c_i / r_i
    phi = np.where(e < 0.0, 1j, 1.0 + 0j)
    angle = (phi[:, :, None] * phi[:, None, :]) * (u[:, :, None] * r[:, None, :] - u[:, None, :] * r[:, :, None])
    sgn = sign[:, :, None] * sign[:, None, :]
    square = -sgn * np.conj(angle)
    s = sgn * (angle.real**2 + angle.imag**2)
    return angle, square, s
