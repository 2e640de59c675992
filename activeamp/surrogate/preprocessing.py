"""Input and target preprocessing for the surrogate: standardised features, the log map of Eq. (15), a signed map."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from activeamp.physics.kinematics import invariants

__all__ = [
    "INPUT_MODES",
    "TARGET_KINDS",
    "AnyTargetTransform",
    "InputTransform",
    "LogTargetTransform",
    "PerOutputTransform",
    "SignedTargetTransform",
    "TargetTransform",
    "VectorLogTargetTransform",
    "as_features",
    "check_amplitudes",
    "check_targets",
    "fit_target_transform",
    "target_transform_from_state",
]

logger = logging.getLogger(__name__)

#: Input representations understood by :class:`InputTransform`.
INPUT_MODES: tuple[str, ...] = ("momenta", "invariants")

#: Target maps understood by :func:`fit_target_transform` (``SurrogateConfig.target_transform``).
TARGET_KINDS: tuple[str, ...] = ("pure_log", "log", "signed")

#: Statistics that may define the scale σ_A / c_k of a target map.
_SCALE_STATS = {"std": np.std, "mean": np.mean, "median": np.median}

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
        return self.standardise(feats)

    def standardise(self, feats: np.ndarray) -> np.ndarray:
        """Standardised inputs ``(N, dim)`` from raw features ``(N, raw_dim)`` (:func:`as_features` of ``mode``)."""
        if feats.shape[-1] != self.raw_dim:
            raise ValueError(f"inputs have {feats.shape[-1]} raw columns, the transform was fitted on {self.raw_dim}")
        return (feats[..., self.keep] - self.mean) / self.std

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


@dataclass(frozen=True)
class LogTargetTransform:
    """Standardised logarithm: ``y = (log A − μ) / s``, for amplitudes > 0 (the default target map).

    Relative errors of A are absolute errors of y (times ``1/s``), uniformly over the decades that A spans, so
    a regression loss on y weights the largest and the smallest amplitudes alike (arXiv:2412.12069).

    Attributes
    ----------
    mu, scale : float
        Mean and standard deviation of ``log A`` on the training amplitudes (A in amplitude units).
    """

    mu: float
    scale: float
    kind: ClassVar[str] = "pure_log"

    @classmethod
    def fit(cls, amplitudes: np.ndarray) -> LogTargetTransform:
        """Fit on training amplitudes ``(N,)``, all > 0 (amplitude units)."""
        a = check_amplitudes(amplitudes)
        if a.size < 2:
            raise ValueError(f"need at least 2 training amplitudes, got {a.size}")
        if np.any(a <= 0):
            raise ValueError(
                f"target_transform 'pure_log': {int(np.sum(a <= 0))} of {a.size} training amplitudes are 0; "
                "use target_transform: log (log(1 + A/σ_A)) for targets that vanish"
            )
        z = np.log(a)
        scale = float(z.std())
        if scale <= 0:
            raise ValueError("all training amplitudes are equal; the target standardisation is undefined")
        return cls(float(z.mean()), scale)

    def __call__(self, amplitudes: np.ndarray) -> np.ndarray:
        """Preprocessed targets ``y``, same shape as ``amplitudes``, float64 (−inf for A = 0)."""
        with np.errstate(divide="ignore"):
            return (np.log(np.asarray(amplitudes, dtype=np.float64)) - self.mu) / self.scale

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Amplitudes ``exp(s·y + μ)`` for preprocessed values ``y`` (any shape, float64)."""
        return np.exp(np.asarray(y, dtype=np.float64) * self.scale + self.mu)

    def state(self) -> dict[str, Any]:
        """Plain state for checkpoints (with ``kind``); inverse of :meth:`from_state`."""
        return {"kind": self.kind, "mu": self.mu, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LogTargetTransform:
        """Rebuild from :meth:`state`."""
        return cls(float(state["mu"]), float(state["scale"]))


def check_amplitudes(amplitudes: np.ndarray, name: str = "amplitudes") -> np.ndarray:
    """Return ``amplitudes`` as a float64 ``(N,)`` array, or raise naming the first bad entry."""
    a = np.asarray(amplitudes, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected shape (N,), got {a.shape}")
    bad = np.flatnonzero(~np.isfinite(a) | (a < 0))
    if bad.size:
        first = f"index {bad[0]}, value {a[bad[0]]!r}"
        raise ValueError(f"{name}: {bad.size} entries are negative or not finite (first: {first}){_negative_hint(a)}")
    return a


def _negative_hint(values: np.ndarray) -> str:
    """Hint appended to target errors when finite negative entries are present (the log map needs A ≥ 0)."""
    if np.any(values < 0):
        return "; the log target map (Eq. 15) needs targets >= 0: use target_transform='signed' for signed targets"
    return ""


def check_targets(values: np.ndarray, name: str = "targets", *, signed: bool = False) -> np.ndarray:
    """Return training targets as float64 ``(N,)`` or ``(N, K)``, or raise naming the first bad entry.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(N,)`` (one output) or ``(N, K)`` with ``K >= 1`` (K outputs per point), target units.
    name : str
        Name used in error messages.
    signed : bool
        Allow negative entries (``target_transform="signed"``); otherwise they are an error.

    Raises
    ------
    ValueError
        For another shape, non-finite entries, or (unless ``signed``) negative entries; the message gives
        the count, the first offending index and value.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1 and not signed:
        return check_amplitudes(v, name)
    if v.ndim not in (1, 2) or (v.ndim == 2 and v.shape[1] < 1):
        raise ValueError(f"{name}: expected shape (N,) or (N, K) with K >= 1, got {v.shape}")
    bad = ~np.isfinite(v) if signed else ~np.isfinite(v) | (v < 0)
    if bad.any():
        where = np.argwhere(bad)[0]
        index = int(where[0]) if v.ndim == 1 else tuple(int(i) for i in where)
        what = "not finite" if signed else "negative or not finite"
        first = f"index {index}, value {float(v[tuple(where)])!r}"
        hint = "" if signed else _negative_hint(v)
        raise ValueError(f"{name}: {int(bad.sum())} entries are {what} (first: {first}){hint}")
    return v


def _column_scales(magnitudes: np.ndarray, sigma_a: str | float) -> np.ndarray:
    """Per-output scales ``c_k`` ``(K,)``: a statistic of ``magnitudes`` ``(N, K)`` over N, or a fixed value."""
    if isinstance(sigma_a, str):
        if sigma_a not in _SCALE_STATS:
            raise ValueError(f"sigma_a: {sigma_a!r} is not one of {', '.join(_SCALE_STATS)} or a positive number")
        c = np.asarray(_SCALE_STATS[sigma_a](magnitudes, axis=0), dtype=np.float64)
    else:
        c = np.full(magnitudes.shape[1], float(sigma_a))
    bad = np.flatnonzero(~(np.isfinite(c) & (c > 0)))
    if bad.size:
        k = int(bad[0])
        raise ValueError(
            f"sigma_a: the scale of output {k} must be positive and finite, got {float(c[k])!r} (from {sigma_a!r}); "
            "choose another statistic or a fixed positive value"
        )
    return c


@dataclass(frozen=True, eq=False)
class PerOutputTransform:
    """Base of the per-output target maps ``y_k = (f(v_k / c_k) − μ_k) / s_k``, exactly invertible.

    Vectorised over a trailing axis of K outputs: every parameter has shape ``(K,)`` and broadcasts against
    targets ``(..., K)``. With ``K = 1`` it also applies elementwise to arrays of any shape (a scalar model).
    Subclasses fix the strictly increasing map ``f`` (:meth:`_f`) and its inverse (:meth:`_f_inv`).

    Attributes
    ----------
    c : numpy.ndarray
        Shape ``(K,)``: per-output scales in target units; where ``f`` turns from linear to logarithmic.
    mu, scale : numpy.ndarray
        Shape ``(K,)``: mean and standard deviation of ``f(v_k / c_k)`` on the training targets.

    Notes
    -----
    The round trip ``inverse(T(v))`` is exact to float64 rounding of ``y``: relative ~1e-15 for
    ``|v_k| ≳ 10⁻³ c_k`` and absolute ~1e-16 ``c_k`` far below ``c_k`` (where the standardisation shift
    dominates ``y``), as for :class:`TargetTransform`.
    """

    #: Name of the map in checkpoints and in ``SurrogateConfig.target_transform``.
    kind: ClassVar[str] = ""
    #: Whether negative targets are allowed.
    signed: ClassVar[bool] = False

    c: np.ndarray
    mu: np.ndarray
    scale: np.ndarray

    @staticmethod
    def _f(z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _f_inv(u: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def fit(cls, values: np.ndarray, sigma_a: str | float = "std") -> PerOutputTransform:
        """Fit on training targets ``(N,)`` (one output) or ``(N, K)``.

        Parameters
        ----------
        values : numpy.ndarray
            Training targets in target units (signed for :class:`SignedTargetTransform`, ≥ 0 otherwise).
        sigma_a : {"std", "mean", "median"} or float
            ``c_k`` as a statistic of ``|v_k|`` over the training points, or one fixed positive value.
        """
        v = check_targets(values, "targets", signed=cls.signed)
        v = v.reshape(v.shape[0], -1)
        if v.shape[0] < 2:
            raise ValueError(f"need at least 2 training targets, got {v.shape[0]}")
        c = _column_scales(np.abs(v), sigma_a)
        z = cls._f(v / c)
        mu, scale = z.mean(axis=0), z.std(axis=0)
        flat = np.flatnonzero(~(scale > _CONSTANT_RTOL * np.maximum(np.abs(mu), 1.0)))  # constant up to rounding
        if flat.size:
            raise ValueError(
                f"output {int(flat[0])}: all training targets are equal; the target standardisation is undefined"
            )
        return cls(c, mu, scale)

    @property
    def n_outputs(self) -> int:
        """Number of outputs K."""
        return int(self.c.size)

    def _check_width(self, values: np.ndarray) -> None:
        if self.n_outputs > 1 and (values.ndim == 0 or values.shape[-1] != self.n_outputs):
            raise ValueError(f"targets: expected a trailing axis of {self.n_outputs} outputs, got shape {values.shape}")

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Preprocessed targets ``y``, same shape as ``values`` (``(..., K)``, or any shape for K = 1), float64."""
        v = np.asarray(values, dtype=np.float64)
        self._check_width(v)
        return (self._f(v / self.c) - self.mu) / self.scale

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Targets ``c · f⁻¹(s·y + μ)`` for preprocessed values ``y`` (same shape rules as :meth:`__call__`)."""
        y = np.asarray(y, dtype=np.float64)
        self._check_width(y)
        return self.c * self._f_inv(y * self.scale + self.mu)

    def state(self) -> dict[str, Any]:
        """Plain state (str and lists of floats) for checkpoints; inverse of :func:`target_transform_from_state`."""
        return {"kind": self.kind, "c": self.c.tolist(), "mu": self.mu.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PerOutputTransform:
        """Rebuild from :meth:`state`."""
        if state.get("kind") != cls.kind:
            raise ValueError(f"target transform state of kind {state.get('kind')!r}, expected {cls.kind!r}")
        arrays = (np.asarray(state[key], dtype=np.float64).reshape(-1) for key in ("c", "mu", "scale"))
        return cls(*arrays)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(np.array_equal(getattr(self, n), getattr(other, n)) for n in ("c", "mu", "scale"))

    __hash__ = None  # type: ignore[assignment]  # mutable array fields


@dataclass(frozen=True, eq=False)
class SignedTargetTransform(PerOutputTransform):
    """Signed target map ``y_k = (asinh(v_k / c_k) − μ_k) / s_k``; inverse ``v_k = c_k sinh(s_k y_k + μ_k)``.

    Linear near zero (``|v| ≪ c``) and logarithmic, with the sign kept, for ``|v| ≫ c``: suited to signed
    outputs (e.g. form-factor coefficients) that cross zero and span decades. ``c_k`` is a statistic of
    ``|v_k|`` on the training targets (see :meth:`PerOutputTransform.fit`).
    """

    kind: ClassVar[str] = "signed"
    signed: ClassVar[bool] = True

    @staticmethod
    def _f(z: np.ndarray) -> np.ndarray:
        return np.arcsinh(z)

    @staticmethod
    def _f_inv(u: np.ndarray) -> np.ndarray:
        return np.sinh(u)


@dataclass(frozen=True, eq=False)
class VectorLogTargetTransform(PerOutputTransform):
    """Eq. (15) per output for non-negative vector targets: ``y_k = (log(1 + v_k / c_k) − μ_k) / s_k``.

    The K-output counterpart of :class:`TargetTransform` (``c_k`` plays σ_A of output k).
    """

    kind: ClassVar[str] = "log"
    signed: ClassVar[bool] = False

    @staticmethod
    def _f(z: np.ndarray) -> np.ndarray:
        return np.log1p(z)

    @staticmethod
    def _f_inv(u: np.ndarray) -> np.ndarray:
        return np.expm1(u)


#: Any fitted target map: the scalar Eq. (15) map or a per-output one.
AnyTargetTransform = TargetTransform | LogTargetTransform | PerOutputTransform


def fit_target_transform(
    values: np.ndarray, kind: Literal["pure_log", "log", "signed"] = "log", sigma_a: str | float = "std"
) -> AnyTargetTransform:
    """Fit the target map ``kind`` on training targets.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(N,)`` or ``(N, K)``, target units.
    kind : {"pure_log", "log", "signed"}
        ``"pure_log"``: :class:`LogTargetTransform`, standardised ``log A`` for ``(N,)`` targets > 0 (σ_A unused).
        ``"log"``: Eq. (15), :class:`TargetTransform` for ``(N,)`` targets (the scalar surrogate) and
        :class:`VectorLogTargetTransform` for ``(N, K)``; needs targets ≥ 0. ``"signed"``:
        :class:`SignedTargetTransform` (K = 1 for ``(N,)`` targets).
    sigma_a : {"std", "mean", "median"} or float
        The scale σ_A / ``c_k`` (see the classes).
    """
    if kind not in TARGET_KINDS:
        raise ValueError(f"target_transform: {kind!r} is not one of {', '.join(TARGET_KINDS)}")
    if kind == "pure_log":
        if np.ndim(values) != 1:
            raise ValueError(
                "target_transform 'pure_log' is for scalar amplitudes (N,); use 'signed' for (N, K) outputs"
            )
        return LogTargetTransform.fit(values)
    if kind == "log" and np.ndim(values) == 1:
        return TargetTransform.fit(values, sigma_a)
    cls = SignedTargetTransform if kind == "signed" else VectorLogTargetTransform
    return cls.fit(values, sigma_a)


def target_transform_from_state(state: dict[str, Any]) -> AnyTargetTransform:
    """Rebuild any target map from its ``state()``; a state without ``"kind"`` is a scalar :class:`TargetTransform`."""
    kind = state.get("kind")
    if kind is None:
        return TargetTransform.from_state(state)
    if kind == LogTargetTransform.kind:
        return LogTargetTransform.from_state(state)
    classes: dict[str, type[PerOutputTransform]] = {"signed": SignedTargetTransform, "log": VectorLogTargetTransform}
    if kind not in classes:
        raise ValueError(f"target transform state: kind {kind!r} is not one of {', '.join(classes)}")
    return classes[kind].from_state(state)
