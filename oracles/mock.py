"""Deterministic mock oracles with simulated cost and failure injection, for tests and demos.

:class:`MockOracle` is an amplitude-like scalar |M|² for the massless processes; :class:`MockVectorOracle` is a
form-factor-like vector oracle (``outputs``, values ``(N, K)``) for the q q̄′ → V1 V2 processes that stands in for
:class:`oracles.vvamp.VVAmpOracle`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from typing import Any

import numpy as np

from activeamp.physics.process import Process, get_process, get_vv_process
from oracles.base import Oracle, OracleError, validate_vv_kinematics

__all__ = ["MockOracle", "MockVectorOracle", "invariant_hash", "point_hash"]

logger = logging.getLogger(__name__)

#: Pair weights of the propagator-like terms by the kinds of the two (all-outgoing) particles.
_PAIR_WEIGHT: dict[frozenset[str], float] = {
    frozenset({"gluon"}): 1.0,
    frozenset({"gluon", "photon"}): 0.5,
    frozenset({"photon"}): 0.25,
    frozenset({"quark", "antiquark"}): 1.0,
}


def point_hash(momenta: np.ndarray) -> np.ndarray:
    """Stable per-point numbers in [0, 1) derived from the momenta bytes (independent of batching).

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n, 4)`` float64.

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)`` float64, uniformly distributed for distinct points.
    """
    out = np.empty(momenta.shape[0])
    for i, row in enumerate(np.ascontiguousarray(momenta)):
        digest = hashlib.blake2b(row.tobytes(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") / 2.0**64
    return out


def invariant_hash(kinematics: np.ndarray, bits: int = 20) -> np.ndarray:
    """Stable per-point numbers in [0, 1) from invariants rounded to ``bits`` bits of mantissa.

    The rounding makes the hash insensitive to round-off, so that invariants computed from momenta
    (:func:`activeamp.physics.kinematics.vv_invariants`) hash like the invariants the momenta were built from.

    Parameters
    ----------
    kinematics : numpy.ndarray
        Shape ``(N, d)`` float64, e.g. ``(s, t, ma2, mb2)`` [GeV²].
    bits : int
        Mantissa bits kept (20: a relative resolution of about 1e-6).

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)`` float64, uniformly distributed for distinct points.
    """
    mantissa, exponent = np.frexp(np.asarray(kinematics, dtype=np.float64))
    key = np.concatenate([np.round(mantissa * 2.0**bits).astype(np.int64), exponent.astype(np.int64)], axis=1)
    return point_hash(key)


class MockOracle(Oracle):
    """Amplitude-like mock squared matrix element for any registered process.

    The value is built from Lorentz invariants of the all-outgoing momenta,

    ``A = norm · s^(4−n) · [Σ_{i<j} w_ij · s/|s_ij|] · [1 + ½ Σ_{γ} (s_{1γ} − s_{2γ})²/s²]``,

    where ``n`` is the number of particles and the pair weights ``w_ij`` depend only on the kinds of
    the two particles. It carries the dimension of the real process (dimensionless for 2→2, GeV⁻²
    for 2→3, GeV⁻⁴ for 2→4), spans orders of magnitude over phase space, grows like ``1/s_ij`` in
    soft and collinear regions, and is symmetric under exchange of identical particles (the
    incoming gluons, the photons, the outgoing gluons).

    Parameters
    ----------
    process : str
        Process name (see :mod:`activeamp.physics.process`).
    norm : float
        Overall normalisation.
    latency : float
        Simulated cost in seconds per point (e.g. 0.005 for NJet-class, 0.3 for slow oracles).
    fail_call_rate : float
        Probability that a call raises :class:`OracleError` (a recoverable library failure).
    nan_rate : float
        Fraction of points (chosen by a hash of the point, so the same points every time) that
        return NaN.
    crash_rate : float
        Probability that a call kills its own process with ``os._exit(1)`` (simulates a segfault).
    poison_rate : float
        Fraction of points (chosen by a hash of the point) that kill the process whenever they are
        evaluated: a poison point crashes the oracle every time.
    seed : int or None
        Seed of the stream behind ``fail_call_rate`` and ``crash_rate``; it is combined with the
        process id so that a restarted worker does not repeat the same failure forever.
    """

    name = "mock"

    def __init__(
        self,
        process: str = "gg_yyg",
        *,
        norm: float = 1.0,
        latency: float = 0.0,
        fail_call_rate: float = 0.0,
        nan_rate: float = 0.0,
        crash_rate: float = 0.0,
        poison_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(get_process(process) if isinstance(process, str) else process)
        if not self.process.massless:
            raise ValueError(
                f"mock oracle: process {self.process.name} has massive particles; use the vector mock 'mock_vv' "
                "(MockVectorOracle) for q q̄′ → V1 V2"
            )
        for field, value in (
            ("fail_call_rate", fail_call_rate),
            ("nan_rate", nan_rate),
            ("crash_rate", crash_rate),
            ("poison_rate", poison_rate),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"mock oracle: {field} must lie in [0, 1], got {value!r}")
        if latency < 0:
            raise ValueError(f"mock oracle: latency must be >= 0 seconds per point, got {latency!r}")
        if norm <= 0:
            raise ValueError(f"mock oracle: norm must be > 0, got {norm!r}")
        self.norm = float(norm)
        self.latency = float(latency)
        self.fail_call_rate = float(fail_call_rate)
        self.nan_rate = float(nan_rate)
        self.crash_rate = float(crash_rate)
        self.poison_rate = float(poison_rate)
        self.seed = seed
        self.cost_hint = max(self.latency, 2e-6)
        self._rng = np.random.default_rng(None if seed is None else [seed, os.getpid()])
        self._weights = self._pair_weights(self.process)

    @staticmethod
    def _pair_weights(process: Process) -> np.ndarray:
        n = process.n_particles
        w = np.zeros((n, n))
        for i in range(n):
            for j in range(i + 1, n):
                w[i, j] = _PAIR_WEIGHT.get(frozenset({process.kinds[i], process.kinds[j]}), 0.5)
        return w

    def options(self) -> dict[str, Any]:
        return {
            "process": self.process.name,
            "norm": self.norm,
            "latency": self.latency,
            "fail_call_rate": self.fail_call_rate,
            "nan_rate": self.nan_rate,
            "crash_rate": self.crash_rate,
            "poison_rate": self.poison_rate,
            "seed": self.seed,
        }

    def amplitude(self, momenta: np.ndarray) -> np.ndarray:
        """The noiseless mock value ``(N,)`` for momenta ``(N, n, 4)`` [GeV] (no validation, no failures)."""
        k = momenta.copy()
        k[:, :2] *= -1.0  # all-outgoing
        metric = np.array([1.0, -1.0, -1.0, -1.0])
        s_ij = 2.0 * np.einsum("nia,nja,a->nij", k, k, metric)
        s = s_ij[:, 0, 1]
        iu = np.triu_indices(self.process.n_particles, k=1)
        w = self._weights[iu]
        ratios = s[:, None] / np.abs(s_ij[:, iu[0], iu[1]])
        core = (ratios * w).sum(axis=1) / w.sum()
        photons = self.process.outgoing_indices("photon")
        shape = np.ones_like(s)
        for a in photons:
            shape += 0.5 * ((s_ij[:, 0, a] - s_ij[:, 1, a]) / s) ** 2
        dim = 4 - self.process.n_particles
        return self.norm * s**dim * core * shape

    def _evaluate(self, momenta: np.ndarray) -> np.ndarray:
        n = momenta.shape[0]
        if self.crash_rate and self._rng.random() < self.crash_rate:
            logger.warning("mock oracle: injected crash (pid %d)", os.getpid())
            os._exit(1)
        if self.fail_call_rate and self._rng.random() < self.fail_call_rate:
            raise OracleError(f"mock oracle: injected failure for a batch of {n} points")
        h = point_hash(momenta) if (self.poison_rate or self.nan_rate) else None
        if self.poison_rate and h is not None and (h < self.poison_rate).any():
            logger.warning("mock oracle: poison point in batch, killing process %d", os.getpid())
            os._exit(1)
        if self.latency:
            time.sleep(self.latency * n)
        values = self.amplitude(momenta)
        if self.nan_rate and h is not None:
            # the NaN points are chosen by the upper end of the hash so they never coincide with poison points
            values[h > 1.0 - self.nan_rate] = np.nan
        return values


# --------------------------------------------------------------------------------------------------------------
# The vector mock


def _rebuild_vector(cls: type, options: dict[str, Any]) -> Oracle:
    return cls(**options)


class MockVectorOracle(Oracle):
    """Form-factor-like mock of :class:`oracles.vvamp.VVAmpOracle`: ``K`` signed, smooth functions of (s, t, ma2, mb2).

    With ``x = t/s``, ``w = u/s`` (``u = ma2 + mb2 − s − t``; ``x, w < 0`` everywhere above threshold),
    ``ya = ma2/s``, ``yb = mb2/s`` and ``L = log(s/√(ma2 mb2))``, component ``k`` (0-based) is
    ``c_k = ±10^(−3k/(K−1)) · a_k · L^⌊k/4⌋ · f_{k mod 4}`` with

    * ``f_0 = (x² + w² + 2(ya + yb)) / (x w)``: positive, peaked forward and backward (a tree-like term);
    * ``f_1 = (x − w)(1 + L/2 + b_k) / (x w)``: odd under ``t ↔ u``, changes sign at ``cos θ* ≈ 0``;
    * ``f_2 = (log²(−x) − (π²/3)(1 + b_k)) (1 + ya − yb)``: changes sign across ``t``, double logarithm;
    * ``f_3 = (s/(ma2 + mb2))^(3/4) (ya + yb − 0.4 + b_k + 10 (ya − yb))``: grows like a power of ``s/m²``,
      changes sign between threshold and high ``s`` and between ``ma2 > mb2`` and ``ma2 < mb2``.

    The magnitudes span three decades over the components; ``a_k ∈ [0.5, 1.5]``, ``b_k ∈ [−0.2, 0.2]`` and the
    sign of component ``k ≥ 4`` come from ``seed``. Everything is deterministic: the same options and inputs give
    the same outputs, in any batching.

    Parameters
    ----------
    process : str
        A :data:`activeamp.physics.process.VV_PROCESSES` name (provenance and the process of the points,
        ``oracle.process``; the functions do not depend on it).
    n_outputs : int
        Number of components ``K`` (named ``"c1"``, ..., ``"cK"``).
    latency : float
        Simulated cost in seconds per point.
    nan_rate : float
        Fraction of points returned as NaN (status failed, reason ``"nan"``), chosen by a hash of the rounded
        invariants (:func:`invariant_hash`), so the same points fail on every run and for momenta or invariants.
    seed : int
        Chooses the parameters ``a_k``, ``b_k`` and signs.

    Notes
    -----
    Inputs are invariants ``(N, 4)`` [GeV²] or momenta ``(N, 4, 4)`` [GeV] of q, q̄′, V1, V2, as for
    :class:`~oracles.vvamp.VVAmpOracle` (:func:`oracles.base.validate_vv_kinematics`).
    """

    name = "mock_vv"
    input_names = ("s", "t", "ma2", "mb2")

    def __init__(
        self,
        process: str = "uu_ZZ",
        *,
        n_outputs: int = 4,
        latency: float = 0.0,
        nan_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__(get_vv_process(process))
        if isinstance(n_outputs, bool) or not isinstance(n_outputs, (int, np.integer)) or n_outputs < 1:
            raise ValueError(f"mock_vv oracle: n_outputs must be an integer >= 1, got {n_outputs!r}")
        if not 0.0 <= nan_rate <= 1.0:
            raise ValueError(f"mock_vv oracle: nan_rate must lie in [0, 1], got {nan_rate!r}")
        if latency < 0:
            raise ValueError(f"mock_vv oracle: latency must be >= 0 seconds per point, got {latency!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"mock_vv oracle: seed must be an integer >= 0, got {seed!r}")
        self.n_outputs_option = int(n_outputs)
        self.latency = float(latency)
        self.nan_rate = float(nan_rate)
        self.seed = int(seed)
        self.cost_hint = max(self.latency, 2e-6)
        k = np.arange(self.n_outputs_option)
        params = np.random.default_rng([0x5F0F, self.seed])
        self._scale = 10.0 ** (-3.0 * k / max(self.n_outputs_option - 1, 1))
        self._a = params.uniform(0.5, 1.5, self.n_outputs_option)
        self._b = params.uniform(-0.2, 0.2, self.n_outputs_option)
        self._sign = np.where(k < 4, 1.0, params.choice([-1.0, 1.0], self.n_outputs_option))
        self.outputs = tuple(f"c{i + 1}" for i in k)

    def validate(self, x: Any) -> np.ndarray:
        """Invariants ``(N, 4)`` [GeV²] of invariants or momenta (:func:`oracles.base.validate_vv_kinematics`)."""
        return validate_vv_kinematics(x, self.process)

    def values(self, kinematics: np.ndarray) -> np.ndarray:
        """The noiseless outputs ``(N, K)`` for validated invariants ``(N, 4)`` [GeV²] (no failures, no latency)."""
        s, t, ma2, mb2 = np.asarray(kinematics, dtype=np.float64).T
        u = ma2 + mb2 - s - t
        x, w, ya, yb = t / s, u / s, ma2 / s, mb2 / s
        big_l = np.log(s / np.sqrt(ma2 * mb2))
        out = np.empty((s.shape[0], self.n_outputs_option))
        for k in range(self.n_outputs_option):
            b = self._b[k]
            kind = k % 4
            if kind == 0:
                f = (x * x + w * w + 2.0 * (ya + yb)) / (x * w)
            elif kind == 1:
                f = (x - w) * (1.0 + 0.5 * big_l + b) / (x * w)
            elif kind == 2:
                f = (np.log(-x) ** 2 - math.pi**2 / 3.0 * (1.0 + b)) * (1.0 + ya - yb)
            else:
                f = (s / (ma2 + mb2)) ** 0.75 * (ya + yb - 0.4 + b + 10.0 * (ya - yb))
            out[:, k] = self._sign[k] * self._scale[k] * self._a[k] * big_l ** (k // 4) * f
        return out

    def _evaluate(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        if self.latency:
            time.sleep(self.latency * n)
        out = self.values(x)
        if self.nan_rate and n:
            out[invariant_hash(x) > 1.0 - self.nan_rate] = np.nan
        return out

    def options(self) -> dict[str, Any]:
        return {
            "process": self.process.name,
            "n_outputs": self.n_outputs_option,
            "latency": self.latency,
            "nan_rate": self.nan_rate,
            "seed": self.seed,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_vector, (type(self), self.options()))
