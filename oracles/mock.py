"""A deterministic, amplitude-like mock oracle with simulated cost and failure injection, for tests and demos."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import Any

import numpy as np

from activeamp.process import Process, get_process
from oracles.base import Oracle, OracleError

__all__ = ["MockOracle", "point_hash"]

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
        Process name (see :mod:`activeamp.process`).
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
