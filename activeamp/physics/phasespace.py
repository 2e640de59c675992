"""Phase-space sampling: massless RAMBO, its unit-hypercube interface and the uniform sampler with cuts."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from activeamp.physics.cuts import CutLike, Cuts, as_cuts
from activeamp.physics.process import Process, get_process

__all__ = [
    "DEFAULT_SQRT_S",
    "RngLike",
    "as_generator",
    "massless_phase_space_volume",
    "mc_integral",
    "rambo_core",
    "rambo_from_unit",
    "rambo",
    "PhaseSpaceSample",
    "PhaseSpaceSampler",
]

logger = logging.getLogger(__name__)

#: Default partonic centre-of-mass energy (GeV).
DEFAULT_SQRT_S = 1000.0
#: Smallest argument passed to the logarithm in RAMBO (guards against ``u = 0``).
_TINY = 1e-300
#: Give up when this many points were generated without a single one passing the cuts.
_MAX_TRIALS_WITHOUT_ACCEPTANCE = 1_000_000  # a few seconds: impossible cuts fail fast

#: A random source: a generator, or an integer seed for a fresh one (see :func:`as_generator`).
RngLike = np.random.Generator | int


def as_generator(rng: RngLike) -> np.random.Generator:
    """The generator itself, or a fresh ``numpy.random.default_rng(seed)`` for an integer seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"expected a numpy.random.Generator or an integer seed, got {type(rng).__name__}")


def _check_sqrt_s(sqrt_s: float) -> float:
    x = float(sqrt_s)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"sqrt_s must be a positive finite energy in GeV, got {sqrt_s!r}")
    return x


def massless_phase_space_volume(n: int, sqrt_s: float = DEFAULT_SQRT_S) -> float:
    """Volume of the massless n-body phase space.

    Convention: ``dΦ_n = (2π)⁴ δ⁴(P − Σ p_i) Π_i d³p_i / ((2π)³ 2E_i)``, so that

    ``V_n = ∫ dΦ_n = (2π)^(4−3n) (π/2)^(n−1) s^(n−2) / (Γ(n) Γ(n−1))``,

    e.g. ``V_2 = 1/(8π)``, ``V_3 = s/(256 π³)``. Then ``σ = (1/2s) ∫ |M|² dΦ_n``.

    Parameters
    ----------
    n : int
        Number of final-state particles, ``n ≥ 2``.
    sqrt_s : float
        Centre-of-mass energy √s (GeV).

    Returns
    -------
    float
        ``V_n`` in GeV^(2n−4).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"phase-space volume needs n >= 2 final-state particles, got {n!r}")
    n = int(n)
    s = _check_sqrt_s(sqrt_s) ** 2
    log_v = (
        (4 - 3 * n) * math.log(2 * math.pi)
        + (n - 1) * math.log(math.pi / 2)
        + (n - 2) * math.log(s)
        - math.lgamma(n)
        - math.lgamma(n - 1)
    )
    return math.exp(log_v)


def rambo_core(ut: np.ndarray, sqrt_s: float, out: np.ndarray) -> None:
    """RAMBO on particle-major uniform numbers.

    Parameters
    ----------
    ut : numpy.ndarray
        Shape ``(4n, N)``, C-contiguous, in ``[0, 1]``; rows ``4i … 4i+3`` belong to particle ``i``. Overwritten.
    sqrt_s : float
        √s (GeV).
    out : numpy.ndarray
        Shape ``(N, 2+n, 4)``: filled with the momenta (incoming first).
    """
    n = ut.shape[0] // 4
    npts = ut.shape[1]
    u = ut.reshape(n, 4, npts)
    # q[k, i] = component k of the isotropic massless momentum of particle i, energy density q0 e^{-q0}.
    q = np.empty((4, n, npts))
    q0, qx, qy, qz = q[0], q[1], q[2], q[3]
    np.multiply(u[:, 2], u[:, 3], out=q0)
    np.maximum(q0, _TINY, out=q0)
    np.log(q0, out=q0)
    np.negative(q0, out=q0)
    cos_t = u[:, 0]
    cos_t *= 2.0
    cos_t -= 1.0
    np.multiply(cos_t, q0, out=qz)
    sin_t = np.multiply(cos_t, cos_t, out=cos_t)  # cos_t no longer needed
    np.subtract(1.0, sin_t, out=sin_t)
    np.maximum(sin_t, 0.0, out=sin_t)
    np.sqrt(sin_t, out=sin_t)
    sin_t *= q0  # now the transverse magnitude q0 sin θ
    ang = u[:, 1]
    ang *= 2.0 * np.pi
    np.cos(ang, out=qx)
    np.sin(ang, out=qy)
    qx *= sin_t
    qy *= sin_t
    # Total momentum Q of the isotropic set, its mass M and the boost/scale that maps it to (√s, 0⃗).
    big_q = q.sum(axis=1)  # (4, N)
    mass = big_q[0] * big_q[0]
    mass -= big_q[1] * big_q[1]
    mass -= big_q[2] * big_q[2]
    mass -= big_q[3] * big_q[3]
    np.sqrt(mass, out=mass)
    inv_m = np.divide(1.0, mass, out=mass)
    b = big_q[1:]
    b *= -inv_m  # b⃗ = −Q⃗/M
    gamma = big_q[0] * inv_m
    scale = inv_m  # x = √s/M
    scale *= sqrt_s
    a = np.add(gamma, 1.0)
    np.divide(1.0, a, out=a)
    bq = b[0] * qx
    bq += b[1] * qy
    bq += b[2] * qz
    # E = x (γ q0 + b⃗·q⃗);  p⃗ = x (q⃗ + b⃗ (q0 + a b⃗·q⃗))
    energy = gamma * q0
    energy += bq
    energy *= scale
    bq *= a
    bq += q0
    for k in range(3):
        comp = q[k + 1]
        comp += b[k] * bq
        comp *= scale
    # Clean-up of round-off: the boost above loses ~γ²·1e-16 relative precision when the isotropic set is
    # nearly collinear (M ≪ Q⁰, rare but real for n = 2). Remove the residual total momentum in proportion
    # to the energies, restore E = |p⃗| and rescale to Σ E = √s: conservation and masslessness then hold to
    # ~1e-15 relative for every point, while each momentum moves by only that residual (~γ²·1e-16).
    total_e = energy.sum(axis=0)
    np.divide(energy, total_e, out=energy)
    for k in range(1, 4):
        residual = q[k].sum(axis=0)
        q[k] -= energy * residual
    np.multiply(q[1], q[1], out=q0)
    q0 += q[2] * q[2]
    q0 += q[3] * q[3]
    np.sqrt(q0, out=q0)
    rescale = q0.sum(axis=0)
    np.divide(sqrt_s, rescale, out=rescale)
    q *= rescale
    half = 0.5 * sqrt_s
    out[:, 0] = (half, 0.0, 0.0, half)
    out[:, 1] = (half, 0.0, 0.0, -half)
    out[:, 2:] = q.transpose(2, 1, 0)


def rambo_from_unit(u: np.ndarray, sqrt_s: float = DEFAULT_SQRT_S) -> tuple[np.ndarray, np.ndarray]:
    """Map points of the unit hypercube ``[0, 1]^(4n)`` to massless n-body phase space with RAMBO.

    RAMBO (Kleiss, Stirling, Ellis, Comput. Phys. Commun. 40 (1986) 359) maps ``4n`` uniform numbers per
    point onto the phase space of ``n`` massless particles with total momentum ``(√s, 0, 0, 0)``, with a
    constant Jacobian: for uniform ``u`` the points are distributed uniformly in phase space, and
    ``∫_{[0,1]^(4n)} f(Φ(u)) V_n du = ∫ f dΦ_n`` with ``V_n`` from :func:`massless_phase_space_volume`.
    Particle ``i`` uses ``u[:, 4i:4i+4] = (r1, r2, r3, r4)``: ``cos θ = 2 r1 − 1``, ``φ = 2π r2``,
    ``q⁰ = −ln(r3 r4)``, before the conformal transformation to the centre-of-mass frame.

    Parameters
    ----------
    u : numpy.ndarray
        Shape ``(N, 4n)`` with values in ``[0, 1]`` and ``n ≥ 2``. Any sampler over the hypercube
        (uniform, a ``vegas.AdaptiveMap``) can drive it; multiply the returned weight by its Jacobian.
    sqrt_s : float
        Partonic centre-of-mass energy √s (GeV).

    Returns
    -------
    momenta : numpy.ndarray
        Shape ``(N, 2+n, 4)``, float64, GeV: ``p1 = (√s/2, 0, 0, √s/2)``, ``p2 = (√s/2, 0, 0, −√s/2)``,
        then the ``n`` outgoing momenta (positive energies), in the centre-of-mass frame.
    weights : numpy.ndarray
        Shape ``(N,)``: the phase-space weight ``V_n`` (GeV^(2n−4)), the same for every point.

    Raises
    ------
    ValueError
        If ``u`` has the wrong shape or values outside ``[0, 1]``.
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[1] % 4 or u.shape[1] < 8:
        raise ValueError(f"u: expected shape (N, 4n) with n >= 2, got {u.shape}")
    if u.size and (np.min(u) < 0.0 or np.max(u) > 1.0):
        raise ValueError("u: values must lie in [0, 1]")
    sqrt_s = _check_sqrt_s(sqrt_s)
    n = u.shape[1] // 4
    momenta = np.empty((u.shape[0], 2 + n, 4))
    rambo_core(np.array(u.T, order="C"), sqrt_s, momenta)
    return momenta, np.full(u.shape[0], massless_phase_space_volume(n, sqrt_s))


def rambo(n_points: int, n_final: int, rng: RngLike, sqrt_s: float = DEFAULT_SQRT_S) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_points`` uniformly distributed massless ``n_final``-body phase-space points with RAMBO.

    Equivalent to ``rambo_from_unit(rng.random((n_points, 4 * n_final)), sqrt_s)``.

    Parameters
    ----------
    n_points : int
        Number of points ``N``.
    n_final : int
        Number of outgoing massless particles ``n ≥ 2``.
    rng : numpy.random.Generator or int
        Source of randomness (an int is used as a seed).
    sqrt_s : float
        √s (GeV).

    Returns
    -------
    momenta : numpy.ndarray
        Shape ``(N, 2+n, 4)``, float64, GeV (see :func:`rambo_from_unit`).
    weights : numpy.ndarray
        Shape ``(N,)``: ``V_n`` (GeV^(2n−4)).
    """
    if n_final < 2:
        raise ValueError(f"rambo needs n_final >= 2, got {n_final}")
    u = as_generator(rng).random((int(n_points), 4 * int(n_final)))
    return rambo_from_unit(u, sqrt_s)


@dataclass(frozen=True, eq=False)
class PhaseSpaceSample:
    """Phase-space points with their weights and cut information.

    Integrals over the cut region are estimated by ``Σ_i weights_i f_i / n_trials``
    (see :meth:`integral`), whether or not failing points were filtered out. (When filtered, stopping at
    the ``N``-th accepted point biases this by a relative ``O(1/N)``, negligible for large samples.)

    Attributes
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)``, float64, GeV, ordered as ``process.kinds``.
    weights : numpy.ndarray
        Shape ``(N,)``, GeV^(2n−4): phase-space weight × sampler Jacobian × cut indicator
        (zero for points failing the cuts).
    passed : numpy.ndarray
        Shape ``(N,)``, bool: which points pass the cuts (all True when filtered).
    n_trials : int
        Number of points generated to obtain these: ``N`` when unfiltered, otherwise the number of points
        drawn up to and including the last accepted one.
    process : Process
        The process.
    sqrt_s : float
        √s (GeV).
    """

    momenta: np.ndarray
    weights: np.ndarray
    passed: np.ndarray
    n_trials: int
    process: Process
    sqrt_s: float

    def __len__(self) -> int:
        return self.momenta.shape[0]

    @property
    def n_accepted(self) -> int:
        """Number of returned points that pass the cuts."""
        return int(np.count_nonzero(self.passed))

    @property
    def acceptance(self) -> float:
        """Fraction of generated points that passed the cuts (``n_accepted / n_trials``)."""
        return self.n_accepted / self.n_trials if self.n_trials else float("nan")

    def integral(self, values: np.ndarray | None = None) -> tuple[float, float]:
        """Monte Carlo estimate of ``∫_cuts f dΦ_n`` and its standard error.

        Parameters
        ----------
        values : numpy.ndarray, optional
            Shape ``(N,)``: ``f`` at the returned points (units of ``f``); ``None`` means ``f = 1`` (the
            phase-space volume inside the cuts).

        Returns
        -------
        (float, float)
            Estimate and its one-sigma error, in units of ``f`` × GeV^(2n−4).
        """
        if values is None:
            w = self.weights
        else:
            values = np.asarray(values, dtype=np.float64)
            if values.shape != (len(self),):
                raise ValueError(f"values: expected shape ({len(self)},), got {values.shape}")
            w = self.weights * values
        return mc_integral(w, self.n_trials)


def mc_integral(weights: np.ndarray, n_trials: int) -> tuple[float, float]:
    """``Σ w / n_trials`` and its standard error, the ``n_trials − N`` trials not in ``weights`` counting as 0.

    Parameters
    ----------
    weights : numpy.ndarray
        Shape ``(N,)``: the non-zero contributions (any units), ``N ≤ n_trials``.
    n_trials : int
        All trials drawn, at least two.
    """
    if n_trials < 2:
        raise ValueError("integral needs at least two trials")
    w = np.asarray(weights, dtype=np.float64)
    mean = float(np.sum(w)) / n_trials
    # Two-pass variance; the n_trials − N trials not given contribute (0 − mean)² each.
    d = w - mean
    var = (float(np.dot(d, d)) + (n_trials - w.size) * mean * mean) / (n_trials - 1)
    return mean, math.sqrt(var / n_trials)


class PhaseSpaceSampler:
    """Uniform phase-space sampler (RAMBO) for a process at fixed √s, with optional cuts.

    Parameters
    ----------
    process : Process or str
        The process (or its name); its particles must be massless (:attr:`activeamp.physics.process.Process.massless`).
    sqrt_s : float
        Partonic centre-of-mass energy √s (GeV).
    cuts : Cuts, cut object, mapping, list of cut objects, or None
        Cuts on the outgoing particles (see :func:`activeamp.physics.cuts.as_cuts`).
    chunk_size : int
        Number of points generated per vectorised batch (bounds the working memory).

    Raises
    ------
    ValueError
        For a process with massive particles (the q q̄′ → V1 V2 processes: use
        :class:`activeamp.physics.vv_phasespace.VVPhaseSpace`).

    Notes
    -----
    Points are drawn from ``u = rng.random((N, 4n))`` in order, in batches, so that the ``k``-th point
    depends only on the generator's state and ``k``: ``sample(N)`` is a prefix of ``sample(2N)`` for the same
    seed, and the accepted points of ``sample(N, only_accepted=True)`` are the first accepted points of the
    unfiltered stream.
    """

    def __init__(
        self,
        process: Process | str,
        sqrt_s: float = DEFAULT_SQRT_S,
        cuts: CutLike | Mapping[str, Any] | list[CutLike] | None = None,
        *,
        chunk_size: int = 1 << 15,
    ) -> None:
        self.process: Process = get_process(process) if isinstance(process, str) else process
        if not self.process.massless:
            raise ValueError(
                f"process {self.process.name} has massive particles; "
                "sample it with activeamp.physics.vv_phasespace.VVPhaseSpace"
            )
        self.sqrt_s: float = _check_sqrt_s(sqrt_s)
        self.cuts: Cuts = as_cuts(cuts)
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size!r}")
        self.chunk_size: int = int(chunk_size)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(process={self.process.name!r}, sqrt_s={self.sqrt_s:g}, "
            f"cuts={self.cuts.describe()!r})"
        )

    @property
    def n_final(self) -> int:
        """Number of outgoing particles ``n``."""
        return self.process.n_final

    @property
    def dim(self) -> int:
        """Dimension ``4n`` of the unit hypercube the sampler draws from."""
        return 4 * self.process.n_final

    @property
    def volume(self) -> float:
        """Massless n-body phase-space volume ``V_n`` without cuts (GeV^(2n−4))."""
        return massless_phase_space_volume(self.n_final, self.sqrt_s)

    def from_unit(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map unit-hypercube points to momenta and weights (no cuts applied).

        Parameters
        ----------
        y : numpy.ndarray
            Shape ``(N, 4n)``, values in ``[0, 1)``.

        Returns
        -------
        momenta : numpy.ndarray
            Shape ``(N, 2+n, 4)``, GeV.
        weights : numpy.ndarray
            Shape ``(N,)``: ``V_n`` × Jacobian of the sampler's map (GeV^(2n−4)).
        """
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != self.dim:
            raise ValueError(f"y: expected shape (N, {self.dim}), got {y.shape}")
        if y.size and (np.min(y) < 0.0 or np.max(y) > 1.0):
            raise ValueError("y: values must lie in [0, 1]")
        momenta = np.empty((y.shape[0], self.process.n_particles, 4))
        weights = self._map_into(y, momenta)
        return momenta, weights

    def _map_into(self, y: np.ndarray, momenta: np.ndarray) -> np.ndarray:
        """Fill ``momenta`` from ``y`` (shape ``(N, 4n)``) and return the weights ``(N,)``."""
        rambo_core(np.array(y.T, order="C"), self.sqrt_s, momenta)
        return np.full(y.shape[0], self.volume)

    def passes(self, momenta: np.ndarray) -> np.ndarray:
        """Cut mask of shape ``(N,)`` for momenta of shape ``(N, n_particles, 4)`` (all True without cuts)."""
        if not self.cuts:
            return np.ones(momenta.shape[0], dtype=bool)
        return self.cuts.mask(momenta, self.process, check=False)

    def _chunk(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        momenta = np.empty((m, self.process.n_particles, 4))
        weights = self._map_into(rng.random((m, self.dim)), momenta)
        return momenta, weights, self.passes(momenta)

    def sample(self, n: int, rng: RngLike, *, only_accepted: bool = False) -> PhaseSpaceSample:
        """Draw phase-space points.

        Parameters
        ----------
        n : int
            Number of points to return.
        rng : numpy.random.Generator or int
            Source of randomness (an int is used as a seed).
        only_accepted : bool
            If True, generate in batches until ``n`` points pass the cuts and return only those;
            otherwise return ``n`` points with zero weight where they fail the cuts.

        Returns
        -------
        PhaseSpaceSample
            Momenta ``(n, n_particles, 4)``, weights ``(n,)`` and acceptance information.

        Raises
        ------
        ValueError
            If ``only_accepted`` and no point passes the cuts in the first 10⁶ trials (the message gives the
            95 % upper limit on the acceptance and the cuts).
        """
        n = int(n)
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        rng = as_generator(rng)
        shape = (n, self.process.n_particles, 4)
        momenta = np.empty(shape)
        weights = np.empty(n)
        if not only_accepted or not self.cuts:
            passed = np.empty(n, dtype=bool)
            for start in range(0, n, self.chunk_size):
                stop = min(start + self.chunk_size, n)
                mom, w, ok = self._chunk(stop - start, rng)
                momenta[start:stop] = mom
                weights[start:stop] = np.where(ok, w, 0.0)
                passed[start:stop] = ok
            return PhaseSpaceSample(momenta, weights, passed, n, self.process, self.sqrt_s)
        filled = 0
        trials = 0
        while filled < n:
            mom, w, ok = self._chunk(self.chunk_size, rng)
            idx = np.flatnonzero(ok)
            take = min(idx.size, n - filled)
            trials += int(idx[take - 1]) + 1 if take < idx.size else self.chunk_size
            idx = idx[:take]
            momenta[filled : filled + take] = mom[idx]
            weights[filled : filled + take] = w[idx]
            filled += take
            if filled == 0 and trials >= _MAX_TRIALS_WITHOUT_ACCEPTANCE:
                raise ValueError(
                    f"no point passed the cuts in {trials} trials ({self.process.name}, √s = {self.sqrt_s:g} GeV; "
                    f"acceptance < {3.0 / trials:.1e} at 95 % CL): {self.cuts.describe()}"
                )
        logger.debug("sampled %d accepted points in %d trials (acceptance %.4f)", n, trials, n / max(trials, 1))
        return PhaseSpaceSample(momenta, weights, np.ones(n, dtype=bool), trials, self.process, self.sqrt_s)
