"""Helpers of the report tests: PNG checks, toy predictions and momenta."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from activeamp.physics.process import get_process
from activeamp.surrogate.prediction import Prediction

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC


def toy(n: int = 2000, m: int = 8, seed: int = 0) -> tuple[Prediction, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 1.0, n)
    sm, sp = 0.01 * a, 0.005 * a
    samples = a + sm * rng.standard_normal(n) + sp * rng.standard_normal((m, n))
    return Prediction(samples.mean(0), sm, samples.std(0), samples, np.tile(sm, (m, 1))), a


def momenta(n: int, process_name: str, seed: int = 0) -> np.ndarray:
    """Massless momenta of the right shape (not momentum-conserving; enough for pT/η/ΔR)."""
    proc = get_process(process_name)
    rng = np.random.default_rng(seed)
    p = rng.normal(0.0, 100.0, (n, proc.n_particles, 4))
    p[..., 0] = np.linalg.norm(p[..., 1:], axis=-1)
    return p
