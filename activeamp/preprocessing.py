"""Input and target preprocessing for the surrogate: standardised features and the log target map of Eq. (15)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from activeamp.kinematics import invariants

__all__ = ["INPUT_MODES", "InputTransform", "TargetTransform", "as_features", "check_amplitudes"]

logger = logging.getLogger(__name__)

#: Input representations understood by :class:`InputTransform`.
INPUT_MODES: tuple[str, ...] = ("momenta", "invariants")

#: A column is constant (and dropped) when its std is at most this fraction of its scale.
_CONSTANT_RTOL = 1e-10

_COMPONENTS = ("E", "px", "py", "pz")


def as_features(x: np.ndarray, mode: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Raw (unstandardised) float64 features of ``x`` and their names.

    Parameters
    ----------
    x : numpy.ndarray
        Either momenta of shape ``(N, n, 4)`` (GeV) or plain features of shape ``(N, d)``.
    mode : str
        ``"momenta"``: momenta are flattened to ``(N, 4 n)`` (components in GeV); plain features pass
        through. ``"invariants"``: the ``n(n−1)/2`` invariants ``s_ij = 2 p_i·p_j`` (GeV², ``i < j``)
        as ``log(s_ij / GeV²)``; needs momenta.

    Returns
    -------
    (numpy.ndarray, tuple of str)
        Features of shape ``(N, d)`` float64 and one name per column.
    """
    x = np.asarray(x, dtype=np.float64)
    if mode not in INPUT_MODES:
        raise ValueError(f"inputs: {mode!r} is not one of {', '.join(INPUT_MODES)}")
    if x.ndim == 2:
        if mode == "invariants":
            raise ValueError(f"inputs='invariants' needs momenta of shape (N, n, 4), got shape {x.shape}")
        return x, tuple(f"x{i}" for i in range(x.shape[1]))
    if x.ndim != 3 or x.shape[-1] != 4:
        raise ValueError(f"expected momenta (N, n, 4) or features (N, d), got shape {x.shape}")
    n = x.shape[1]
    if mode == "momenta":
        names = tuple(f"p{i}_{c}" for i in range(n) for c in _COMPONENTS)
        return x.reshape(x.shape[0], 4 * n), names
    s = invariants(x)
    names = tuple(f"log_s{i}{j}" for i in range(n) for j in range(i + 1, n))
    return np.log(np.maximum(s, np.finfo(np.float64).tiny)), names


@dataclass(frozen=True)
class InputTransform:
    """Standardisation of network inputs with constant columns dropped.

    Attributes
    ----------
    mode : str
        One of :data:`INPUT_MODES` (see :func:`as_features`).
    keep : numpy.ndarray
        Int indices of the raw feature columns that are kept (non-constant on the training data).
    mean, std : numpy.ndarray
        Shape ``(len(keep),)``: training mean and std of the kept columns (raw feature units).
    names : tuple of str
        Names of all raw columns; ``dropped`` lists the ones excluded.
    raw_dim : int
        Number of raw feature columns before dropping.
    """

    mode: str
    keep: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    names: tuple[str, ...]
    raw_dim: int

    @classmethod
    def fit(cls, x: np.ndarray, mode: str = "momenta") -> InputTransform:
        """Fit on training inputs ``x`` (``(N, n, 4)`` momenta or ``(N, d)`` features).

        A column is dropped when ``std <= 1e-10 · max(|mean|, 1)`` (exactly constant columns such as
        the incoming momenta of a fixed-energy process, up to rounding); the dropped names are logged.
        """
        feats, names = as_features(x, mode)
        if feats.shape[0] < 2:
            raise ValueError(f"need at least 2 training points to fit the input standardisation, got {feats.shape[0]}")
        if not np.all(np.isfinite(feats)):
            raise ValueError("training inputs contain NaN or infinite values")
        mean = feats.mean(axis=0)
        std = feats.std(axis=0)
        keep = np.flatnonzero(std > _CONSTANT_RTOL * np.maximum(np.abs(mean), 1.0))
        if keep.size == 0:
            raise ValueError("all input columns are constant on the training data")
        transform = cls(mode, keep, mean[keep], std[keep], names, feats.shape[1])
        if transform.dropped:
            logger.info("dropping %d constant input columns: %s", len(transform.dropped), ", ".join(transform.dropped))
        return transform

    @property
    def dim(self) -> int:
        """Number of network inputs."""
        return int(self.keep.size)

    @property
    def dropped(self) -> tuple[str, ...]:
        """Names of the raw columns excluded because they are constant."""
        kept = set(self.keep.tolist())
        return tuple(name for i, name in enumerate(self.names) if i not in kept)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Standardised inputs, shape ``(N, dim)`` float64."""
        feats, _ = as_features(x, self.mode)
        if feats.shape[1] != self.raw_dim:
            raise ValueError(f"inputs have {feats.shape[1]} raw columns, the transform was fitted on {self.raw_dim}")
        return (feats[:, self.keep] - self.mean) / self.std

    def state(self) -> dict[str, Any]:
        """Plain state (numpy arrays, str, int, list) for checkpoints; inverse of :meth:`from_state`."""
        return {
            "mode": self.mode,
            "keep": self.keep.astype(np.int64),
            "mean": self.mean.copy(),
            "std": self.std.copy(),
            "names": list(self.names),
            "raw_dim": int(self.raw_dim),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> InputTransform:
        """Rebuild from :meth:`state`."""
        return cls(
            str(state["mode"]),
            np.asarray(state["keep"], dtype=np.int64),
            np.asarray(state["mean"], dtype=np.float64),
            np.asarray(state["std"], dtype=np.float64),
            tuple(state["names"]),
            int(state["raw_dim"]),
        )


@dataclass(frozen=True)
class TargetTransform:
    """Target map of Eq. (15): ``y = (log(1 + A/σ_A) − μ) / s``, exactly invertible.

    Attributes
    ----------
    sigma_a : float
        Scale σ_A in amplitude units. By default the standard deviation of the training amplitudes
        (see :meth:`fit`); it only sets where the map turns from linear (``A ≪ σ_A``) to logarithmic.
    mu, scale : float
        Mean and standard deviation of ``log(1 + A/σ_A)`` on the training amplitudes.

    Notes
    -----
    The round trip ``inverse(T(A))`` is exact to float64 rounding of ``y``: relative ~1e-15 for
    ``A ≳ 10⁻³ σ_A``, and absolute ~1e-16 σ_A far below σ_A (where the map is linear and the shift μ
    dominates ``y``); both far beyond the float32 network's resolution.
    """

    sigma_a: float
    mu: float
    scale: float

    @classmethod
    def fit(cls, amplitudes: np.ndarray, sigma_a: str | float = "std") -> TargetTransform:
        """Fit on training amplitudes ``(N,)`` (≥ 0, amplitude units).

        Parameters
        ----------
        sigma_a : {"std", "mean", "median"} or float
            σ_A as a statistic of the training amplitudes or a fixed positive value.
        """
        a = check_amplitudes(amplitudes)
        if a.size < 2:
            raise ValueError(f"need at least 2 training amplitudes, got {a.size}")
        if isinstance(sigma_a, str):
            stats = {"std": np.std, "mean": np.mean, "median": np.median}
            if sigma_a not in stats:
                raise ValueError(f"sigma_a: {sigma_a!r} is not one of {', '.join(stats)} or a positive number")
            value = float(stats[sigma_a](a))
        else:
            value = float(sigma_a)
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"sigma_a: must be positive and finite, got {value!r} (from {sigma_a!r})")
        z = np.log1p(a / value)
        scale = float(z.std())
        if scale <= 0:
            raise ValueError("all training amplitudes are equal; the target standardisation is undefined")
        return cls(value, float(z.mean()), scale)

    def __call__(self, amplitudes: np.ndarray) -> np.ndarray:
        """Preprocessed targets ``y``, same shape as ``amplitudes``, float64."""
        a = np.asarray(amplitudes, dtype=np.float64)
        return (np.log1p(a / self.sigma_a) - self.mu) / self.scale

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Amplitudes ``σ_A · expm1(s·y + μ)`` for preprocessed values ``y`` (any shape, float64)."""
        y = np.asarray(y, dtype=np.float64)
        return self.sigma_a * np.expm1(y * self.scale + self.mu)

    def state(self) -> dict[str, Any]:
        """Plain state for checkpoints; inverse of :meth:`from_state`."""
        return {"sigma_a": self.sigma_a, "mu": self.mu, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TargetTransform:
        """Rebuild from :meth:`state`."""
        return cls(float(state["sigma_a"]), float(state["mu"]), float(state["scale"]))


def check_amplitudes(amplitudes: np.ndarray, name: str = "amplitudes") -> np.ndarray:
    """Return ``amplitudes`` as a float64 ``(N,)`` array, or raise naming the first bad entry."""
    a = np.asarray(amplitudes, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected shape (N,), got {a.shape}")
    bad = np.flatnonzero(~np.isfinite(a) | (a < 0))
    if bad.size:
        first = f"index {bad[0]}, value {a[bad[0]]!r}"
        raise ValueError(f"{name}: {bad.size} entries are negative or not finite (first: {first})")
    return a
