"""Toys of the surrogate tests: predictions for the metrics, smooth and signed test functions, tiny surrogates.

Plain functions (no fixtures): each test module wraps the ones it needs in its own fixtures.
"""

from __future__ import annotations

import numpy as np
import torch

from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import Surrogate

#: A surrogate small enough to train in a fraction of a second.
TINY = {"hidden": [8, 8], "batch_size": 64, "max_epochs": 3, "lr": 3e-3, "n_members": 3, "seed": 7}

#: A vector surrogate that learns the three outputs of :func:`coefficients`.
VECTOR = {"hidden": [32, 32], "lr": 5e-3, "batch_size": 64, "max_epochs": 30, "patience": 1000, "seed": 1}


def gaussian_case(n: int, m: int, seed: int = 1) -> tuple[Prediction, np.ndarray]:
    """A calibrated toy: ⟨A⟩ − A_true ~ N(0, σ_tot²) with σ_model = 1 %, σ_pred = 0.5 % of A_true."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 1.0, n)
    sm, sp = 0.01 * a, 0.005 * a
    mean = a + np.hypot(sm, sp) * rng.standard_normal(n)
    samples = mean + sp * rng.standard_normal((m, n))
    sms = np.tile(sm, (m, 1))
    return Prediction(mean, sm, sp, samples, sms), a


def signed_truth(n: int = 2000) -> np.ndarray:
    """Three outputs ``(n, 3)``: crossing zero (an exact zero too), negative and large, positive and small."""
    s = np.linspace(-1.0, 1.0, n)
    s[n // 2] = 0.0
    return np.stack([s, -1e4 * (2.0 + s), 1e-3 * (1.5 + np.cos(3 * s))], axis=1)


def smooth(x: np.ndarray) -> np.ndarray:
    """A smooth positive 2-D test function ``(N, 2) → (N,)``."""
    return 1.0 + 0.5 * np.sin(3.0 * x[:, 0]) + x[:, 0] ** 2 + 0.3 * x[:, 1]


def coefficients(x: np.ndarray) -> np.ndarray:
    """Three signed outputs ``(N, 3)`` of a 3-D input: oscillating, large and positive, crossing zero linearly."""
    return np.stack(
        [
            np.sin(3.0 * x[:, 0]) + 0.5 * x[:, 1],
            1e4 * np.exp(2.0 * x[:, 0] + x[:, 2]),
            100.0 * (x[:, 1] - 0.2 * x[:, 2]),
        ],
        axis=1,
    )


def smooth_data() -> tuple[np.ndarray, np.ndarray]:
    """200 points ``(200, 2)`` uniform in [−1, 1]² and :func:`smooth` of them."""
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (200, 2))
    return x, smooth(x)


def tiny_surrogate(data: tuple[np.ndarray, np.ndarray]) -> Surrogate:
    """A :data:`TINY` surrogate trained on ``data``."""
    s = Surrogate(TINY)
    s.fit(*data, progress=False)
    return s


def coefficient_data() -> tuple[np.ndarray, np.ndarray]:
    """600 points ``(600, 3)`` uniform in [−1, 1]³ and their :func:`coefficients`."""
    x = np.random.default_rng(2).uniform(-1.0, 1.0, (600, 3))
    return x, coefficients(x)


def vector_surrogate(data: tuple[np.ndarray, np.ndarray]) -> Surrogate:
    """A :data:`VECTOR` surrogate with the signed target map, trained on ``data`` on one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped fixtures are set up before the function-scoped single_thread one
    try:
        s = Surrogate({**VECTOR, "target_transform": "signed"})
        s.fit(*data, progress=False)
    finally:
        torch.set_num_threads(threads)
    return s
