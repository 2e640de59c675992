"""Kinematics of four-momenta (pT, η, φ, ΔR, Minkowski products, invariants s_ij, q q̄′ → V1 V2), pure numpy."""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_momenta",
    "minkowski_dot",
    "mass_squared",
    "pt",
    "pt2",
    "rapidity",
    "pseudorapidity",
    "phi",
    "wrap_phi",
    "delta_phi",
    "delta_r",
    "pair_indices",
    "invariants_matrix",
    "invariants",
    "all_outgoing",
    "boost",
    "kallen",
    "vv_invariants",
    "vv_invariants_from_variables",
    "vv_momenta",
    "vv_variables",
]

_METRIC = np.array([1.0, -1.0, -1.0, -1.0])


def as_momenta(momenta: np.ndarray, n_particles: int | None = None, *, name: str = "momenta") -> np.ndarray:
    """Validate momenta and return them as a float64 array of shape ``(N, n, 4)``.

    Parameters
    ----------
    momenta : array_like
        Shape ``(N, n, 4)``: ``N`` points of ``n`` four-momenta ``(E, px, py, pz)`` in GeV.
    n_particles : int, optional
        Required number of particles ``n``; not checked when None.
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        The same data, float64, shape ``(N, n, 4)`` (no copy when already float64).

    Raises
    ------
    ValueError
        If the shape is wrong or the array contains non-finite values.
    """
    arr = np.asarray(momenta, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 4:
        raise ValueError(f"{name}: expected shape (N, n_particles, 4), got {arr.shape}")
    if n_particles is not None and arr.shape[1] != n_particles:
        raise ValueError(f"{name}: expected {n_particles} particles per point, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains non-finite values")
    return arr


def minkowski_dot(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Minkowski product ``p·q = p⁰q⁰ − p⃗·q⃗`` (metric ``+,−,−,−``).

    Parameters
    ----------
    p, q : numpy.ndarray
        Four-momenta of shape ``(..., 4)`` (GeV), broadcastable against each other.

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, GeV².
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    return p[..., 0] * q[..., 0] - p[..., 1] * q[..., 1] - p[..., 2] * q[..., 2] - p[..., 3] * q[..., 3]


def mass_squared(p: np.ndarray) -> np.ndarray:
    """Invariant mass squared ``p² = E² − |p⃗|²``.

    Parameters
    ----------
    p : numpy.ndarray
        Shape ``(..., 4)`` (GeV).

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, GeV².
    """
    return minkowski_dot(p, p)


def pt2(p: np.ndarray) -> np.ndarray:
    """Transverse momentum squared ``px² + py²`` (beam along z).

    Parameters
    ----------
    p : numpy.ndarray
        Shape ``(..., 4)`` (GeV).

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, GeV².
    """
    p = np.asarray(p, dtype=np.float64)
    return p[..., 1] * p[..., 1] + p[..., 2] * p[..., 2]


def pt(p: np.ndarray) -> np.ndarray:
    """Transverse momentum ``sqrt(px² + py²)``.

    Parameters
    ----------
    p : numpy.ndarray
        Shape ``(..., 4)`` (GeV).

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, GeV.
    """
    p = np.asarray(p, dtype=np.float64)
    return np.hypot(p[..., 1], p[..., 2])


def rapidity(p: np.ndarray) -> np.ndarray:
    """Rapidity ``y = ½ ln((E + pz)/(E − pz))``.

    For massless particles it equals the pseudorapidity. Particles along the beam give ``±inf``.

    Parameters
    ----------
    p : numpy.ndarray
        Shape ``(..., 4)`` (GeV), with ``E ≥ |pz|``.

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, dimensionless.
    """
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 0.5 * np.log((p[..., 0] + p[..., 3]) / (p[..., 0] - p[..., 3]))


def pseudorapidity(p: np.ndarray) -> np.ndarray:
    """Pseudorapidity ``η = −ln tan(θ/2) = asinh(pz / pT)``.

    Particles along the beam (``pT = 0``) give ``±inf`` (``nan`` for a zero momentum).

    Parameters
    ----------
    p : numpy.ndarray
        Shape ``(..., 4)`` (GeV).

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, dimensionless.
    """
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.arcsinh(p[..., 3] / pt(p))


def phi(p: np.ndarray) -> np.ndarray:
    """Azimuthal angle ``φ = atan2(py, px)`` in ``(−π, π]``.

    Parameters
    ----------
    p : numpy.ndarray
        Shape ``(..., 4)`` (GeV).

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, radians.
    """
    p = np.asarray(p, dtype=np.float64)
    return np.arctan2(p[..., 2], p[..., 1])


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Wrap angle differences into ``[−π, π]``.

    Parameters
    ----------
    dphi : numpy.ndarray
        Any shape, radians.

    Returns
    -------
    numpy.ndarray
        Same shape, radians, ``dphi + 2πk`` for the integer ``k`` that brings it into ``[−π, π]``.
    """
    dphi = np.asarray(dphi, dtype=np.float64)
    return dphi - 2.0 * np.pi * np.round(dphi / (2.0 * np.pi))


def delta_phi(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Azimuthal separation ``φ_p − φ_q`` wrapped into ``[−π, π]``.

    Parameters
    ----------
    p, q : numpy.ndarray
        Shape ``(..., 4)`` (GeV), broadcastable.

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, radians.
    """
    return wrap_phi(phi(p) - phi(q))


def delta_r(p: np.ndarray, q: np.ndarray, *, use_rapidity: bool = False) -> np.ndarray:
    """Angular separation ``ΔR = sqrt(Δη² + Δφ²)``, with ``Δφ`` wrapped into ``[−π, π]``.

    Parameters
    ----------
    p, q : numpy.ndarray
        Shape ``(..., 4)`` (GeV), broadcastable.
    use_rapidity : bool
        Use the rapidity ``y`` instead of the pseudorapidity ``η`` (identical for massless particles).

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``, dimensionless.
    """
    eta_fn = rapidity if use_rapidity else pseudorapidity
    deta = eta_fn(p) - eta_fn(q)
    return np.sqrt(deta * deta + delta_phi(p, q) ** 2)


def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` with ``i < j < n`` in the order ``(0,1), (0,2), …, (0,n−1), (1,2), …``.

    Parameters
    ----------
    n : int
        Number of particles.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Two int arrays of shape ``(n(n−1)/2,)``: the first and second index of each pair.
    """
    i, j = np.triu_indices(n, k=1)
    return i, j


def invariants_matrix(momenta: np.ndarray) -> np.ndarray:
    """All two-particle invariants ``s_ij = 2 p_i·p_j`` as a symmetric matrix.

    Apply :func:`all_outgoing` first to get the all-outgoing convention used by amplitudes
    (then ``s_12 = s`` and ``s_1j < 0`` for outgoing ``j``).

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n, 4)`` (GeV).

    Returns
    -------
    numpy.ndarray
        Shape ``(N, n, n)``, GeV²; the diagonal holds ``2 p_i²`` (zero for massless particles).
    """
    momenta = np.asarray(momenta, dtype=np.float64)
    return 2.0 * np.einsum("...ia,a,...ja->...ij", momenta, _METRIC, momenta)


def invariants(momenta: np.ndarray) -> np.ndarray:
    """The independent two-particle invariants ``s_ij = 2 p_i·p_j`` for ``i < j``.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n, 4)`` (GeV).

    Returns
    -------
    numpy.ndarray
        Shape ``(N, n(n−1)/2)``, GeV², pairs ordered as in :func:`pair_indices`.
    """
    momenta = np.asarray(momenta, dtype=np.float64)
    i, j = pair_indices(momenta.shape[-2])
    return 2.0 * minkowski_dot(momenta[..., i, :], momenta[..., j, :])


def all_outgoing(momenta: np.ndarray, n_incoming: int = 2) -> np.ndarray:
    """Cross the incoming momenta to the all-outgoing convention: ``k_i = −p_i`` for incoming ``i``.

    In this convention momentum conservation reads ``Σ_i k_i = 0``.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n, 4)`` (GeV), incoming particles first.
    n_incoming : int
        Number of incoming particles (the first ``n_incoming`` of each point).

    Returns
    -------
    numpy.ndarray
        New array of shape ``(N, n, 4)`` (GeV).
    """
    out = np.array(momenta, dtype=np.float64, copy=True)
    out[..., :n_incoming, :] *= -1.0
    return out


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz-boost four-momenta by the velocity ``β⃗``: a particle at rest acquires velocity ``β⃗``.

    Parameters
    ----------
    p : numpy.ndarray
        Shape ``(..., 4)`` (GeV).
    beta : numpy.ndarray
        Shape ``(..., 3)``, broadcastable against ``p[..., 1:]``, with ``|β⃗| < 1``.

    Returns
    -------
    numpy.ndarray
        Shape of the broadcast ``(..., 4)`` (GeV): ``E' = γ(E + β⃗·p⃗)``,
        ``p⃗' = p⃗ + β⃗ [(γ − 1)(β⃗·p⃗)/β² + γE]``.
    """
    p = np.asarray(p, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    b2 = np.sum(beta * beta, axis=-1)
    if np.any(b2 >= 1.0):
        raise ValueError("boost: |beta| must be < 1")
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[..., 1:], axis=-1)
    # (γ − 1)/β² = γ²/(1 + γ), finite at β = 0.
    coef = gamma * gamma / (1.0 + gamma) * bp + gamma * p[..., 0]
    energy = gamma * (p[..., 0] + bp)
    space = p[..., 1:] + beta * coef[..., None]
    return np.concatenate([energy[..., None], space], axis=-1)


# --------------------------------------------------------------------------------------------------------------
# q q̄′ → V1 V2 with off-shell bosons: invariants (s, t, ma2, mb2), the variables (√s, cos θ*, m34, m56), momenta


def kallen(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Källén function ``λ(a, b, c) = a² + b² + c² − 2ab − 2ac − 2bc`` (elementwise; GeV⁴ for squared masses)."""
    return a * a + b * b + c * c - 2 * a * b - 2 * a * c - 2 * b * c


def vv_invariants_from_variables(variables: np.ndarray) -> np.ndarray:
    """Map ``(√s, cos θ*, m34, m56)`` to the invariants ``(s, t, ma2, mb2)`` of q q̄′ → V1 V2.

    ``t = (p1 − p3)²`` with the quark ``p1`` along +z and V1 = ``p3`` at angle θ* in the centre-of-mass
    frame: ``t = (ma2 + mb2 − s + cos θ* · λ^½(s, ma2, mb2)) / 2``.

    Parameters
    ----------
    variables : numpy.ndarray
        Shape ``(N, 4)``: √s [GeV], cos θ*, m34 [GeV], m56 [GeV].

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²].
    """
    v = np.asarray(variables, dtype=np.float64)
    s = v[:, 0] ** 2
    ma2 = v[:, 2] ** 2
    mb2 = v[:, 3] ** 2
    root = np.sqrt(np.maximum(kallen(s, ma2, mb2), 0.0))
    t = 0.5 * (ma2 + mb2 - s + v[:, 1] * root)
    return np.stack([s, t, ma2, mb2], axis=1)


def vv_variables(kinematics: np.ndarray) -> np.ndarray:
    """Inverse of :func:`vv_invariants_from_variables`: ``(s, t, ma2, mb2)`` [GeV²] → ``(√s, cos θ*, m34, m56)``.

    Parameters
    ----------
    kinematics : numpy.ndarray
        Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²].

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 4)``: √s [GeV], cos θ*, m34 [GeV], m56 [GeV].
    """
    k = np.asarray(kinematics, dtype=np.float64)
    s, t, ma2, mb2 = k.T
    root = np.sqrt(np.maximum(kallen(s, ma2, mb2), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = (2 * t + s - ma2 - mb2) / root
    return np.stack([np.sqrt(s), cos, np.sqrt(ma2), np.sqrt(mb2)], axis=1)


def vv_invariants(momenta: np.ndarray) -> np.ndarray:
    """Invariants of q q̄′ → V1 V2 four-momenta, in any Lorentz frame: the inverse of :func:`vv_momenta`.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, 4, 4)``: ``(E, px, py, pz)`` [GeV] of q (``p1``), q̄′ (``p2``), V1 (``p3``), V2 (``p4``).

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 4)``: ``s = (p1 + p2)²``, ``t = (p1 − p3)²``, ``ma2 = p3²``, ``mb2 = p4²`` [GeV²].

    Raises
    ------
    ValueError
        If ``momenta`` is not of shape ``(N, 4, 4)``.
    """
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (4, 4):
        raise ValueError(
            f"momenta: expected shape (N, 4, 4) as q, q̄′, V1, V2 with (E, px, py, pz) in GeV, got {p.shape}"
        )
    p1, p2, p3, p4 = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    ma2 = minkowski_dot(p3, p3)
    # massless quarks: s = 2 p1·p2 and t = ma2 − 2 p1·p3 (no p1², p2² round-off)
    s = 2.0 * minkowski_dot(p1, p2)
    t = ma2 - 2.0 * minkowski_dot(p1, p3)
    return np.stack([s, t, ma2, minkowski_dot(p4, p4)], axis=1)


def vv_momenta(kinematics: np.ndarray) -> np.ndarray:
    """Four-momenta of q, q̄′, V1, V2 in the centre-of-mass frame (q along +z, V1 in the x–z plane).

    Parameters
    ----------
    kinematics : numpy.ndarray
        Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²].

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 4, 4)``: ``(E, px, py, pz)`` [GeV].
    """
    v = vv_variables(kinematics)
    rs, cos = v[:, 0], np.clip(v[:, 1], -1.0, 1.0)
    s, ma2, mb2 = rs**2, v[:, 2] ** 2, v[:, 3] ** 2
    p = np.sqrt(np.maximum(kallen(s, ma2, mb2), 0.0)) / (2 * rs)
    sin = np.sqrt(1 - cos**2)
    out = np.zeros((len(rs), 4, 4))
    out[:, 0] = np.stack([rs / 2, 0 * rs, 0 * rs, rs / 2], axis=1)
    out[:, 1] = np.stack([rs / 2, 0 * rs, 0 * rs, -rs / 2], axis=1)
    out[:, 2] = np.stack([(s + ma2 - mb2) / (2 * rs), p * sin, 0 * rs, p * cos], axis=1)
    out[:, 3] = out[:, 0] + out[:, 1] - out[:, 2]
    return out
