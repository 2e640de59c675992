"""Shared test fixtures: quiet loopback-only Ray settings and physical phase-space points."""

from __future__ import annotations

import os
from collections.abc import Iterator

# Ray (used by orchestration tests) must stay on loopback, without auth tokens or usage reporting.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def two_body_points(n: int, rng: np.random.Generator, sqrt_s: float = 1000.0) -> np.ndarray:
    """Physical 2 → 2 massless points ``(n, 4, 4)`` [GeV] with random scattering angles."""
    e = sqrt_s / 2
    cos_t = rng.uniform(-0.9, 0.9, n)
    sin_t = np.sqrt(1 - cos_t**2)
    phi = rng.uniform(0, 2 * np.pi, n)
    p = np.zeros((n, 4, 4))
    p[:, 0] = [e, 0, 0, e]
    p[:, 1] = [e, 0, 0, -e]
    p[:, 2] = np.stack([np.full(n, e), e * sin_t * np.cos(phi), e * sin_t * np.sin(phi), e * cos_t], axis=1)
    p[:, 3] = p[:, 0] + p[:, 1] - p[:, 2]
    return p


def unphysical(p: np.ndarray, kind: str, rows: tuple[int, ...] = (3, 5)) -> np.ndarray:
    """A copy of massless points ``p`` ``(N, n, 4)`` [GeV] whose ``rows`` break one check of
    :func:`activeamp.physics.checks.check_momenta`: ``"px"`` (+10 GeV in px of particle 2: momentum not conserved),
    ``"offshell"`` (1 GeV of energy moved from particle 3 to 2), ``"energy"`` (particle 0 with E = 0), ``"nan"`` or
    ``"inf"`` (an entry of particle 3)."""
    q = p.copy()
    for i in rows:
        if kind == "px":
            q[i, 2, 1] += 10.0
        elif kind == "offshell":
            q[i, 2, 0] += 1.0
            q[i, 3, 0] -= 1.0
        elif kind == "energy":
            q[i, 0, 0] = 0.0
        elif kind in ("nan", "inf"):
            q[i, 3, 3] = np.nan if kind == "nan" else np.inf
        else:
            raise ValueError(f"unknown kind {kind!r}")
    return q


#: For each kind of :func:`unphysical`, the start of the message naming its first row (3).
UNPHYSICAL_MESSAGES = {
    "px": r"momentum not conserved at point 3 \(relative violation 0.01 > 1e-08\)",
    "offshell": r"point 3, particle 2 \(photon\) is off-shell",
    "energy": "point 3, particle 0 has non-positive energy 0 GeV",
    "nan": "non-finite entries at point 3",
    "inf": "non-finite entries at point 3",
}


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed."""
    return np.random.default_rng(20261123)


def physical_points(process: str, n: int, seed: int = 7, *, cuts: bool = True) -> np.ndarray:
    """``n`` RAMBO points ``(n, n_particles, 4)`` [GeV] of ``process`` at √s = 1 TeV, inside the paper's cuts."""
    from activeamp.physics.cuts import paper_cuts
    from activeamp.physics.phasespace import PhaseSpaceSampler
    from activeamp.physics.process import get_process

    proc = get_process(process)
    sampler = PhaseSpaceSampler(proc, cuts=paper_cuts(proc) if cuts else None)
    return sampler.sample(n, np.random.default_rng(seed), only_accepted=cuts).momenta


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Torch on one thread for the test: tiny networks train fastest so, and spinning OpenMP threads stall on a
    shared 2-core runner. Modules opt in with ``pytestmark = pytest.mark.usefixtures("single_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def ray_local() -> object:
    """A local Ray instance (2 CPUs, loopback, quiet), started once per test session."""
    import logging

    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            object_store_memory=256 * 2**20,
        )
    yield ray
    ray.shutdown()
