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
