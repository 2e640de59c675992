"""The oracle protocol: one interface for every amplitude provider, scalar |M|² ``(N,)`` or vector ``(N, K)``."""

from __future__ import annotations

import abc
import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activeamp.physics.checks import check_momenta, value_failures
from activeamp.physics.kinematics import kallen, vv_invariants
from activeamp.physics.process import Process, get_vv_process

__all__ = [
    "Oracle",
    "OracleError",
    "OracleInputError",
    "OracleOutputError",
    "OracleResult",
    "validate_momenta",
    "validate_vv_kinematics",
    "classify_values",
    "code_versions",
]


class OracleError(RuntimeError):
    """An oracle could not evaluate a batch (library failure, injected failure, ...)."""


class OracleInputError(ValueError):
    """Momenta handed to an oracle are malformed or unphysical; the message names the problem."""


class OracleOutputError(OracleError):
    """Some points of a batch failed: NaN, infinite or (scalar oracles) negative, or reported failed by the library.

    Attributes
    ----------
    result : OracleResult
        The full per-point result, so callers can keep the good points.
    """

    def __init__(self, message: str, result: OracleResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class OracleResult:
    """Per-point outcome of an oracle call, scalar or vector.

    Attributes
    ----------
    values : numpy.ndarray
        Float64, shape ``(N,)`` for a scalar oracle: the squared matrix element, spin/colour averaged (units
        depend on the process: dimensionless for 2→2, GeV⁻² for 2→3, GeV⁻⁴ for 2→4); shape ``(N, K)`` for a
        vector oracle: signed components in the order of the oracle's :attr:`Oracle.outputs`. Values (rows) of
        failed points are NaN.
    ok : numpy.ndarray
        Shape ``(N,)`` bool: True where the point's value is usable (finite; non-negative for a scalar oracle).
    reasons : tuple of str
        Length ``N``: ``""`` for good points, otherwise why the point failed (``"nan"``, ``"inf"``,
        ``"negative"``, or the library's message).
    """

    values: np.ndarray
    ok: np.ndarray
    reasons: tuple[str, ...] = field(default=())

    @property
    def n_failed(self) -> int:
        """Number of points that did not give a usable value."""
        return int((~self.ok).sum())

    @property
    def n_outputs(self) -> int | None:
        """``K`` for vector values ``(N, K)``, None for scalar values ``(N,)``."""
        return None if np.ndim(self.values) == 1 else int(np.shape(self.values)[1])


def validate_momenta(
    momenta: np.ndarray,
    process: Process,
    *,
    rtol_conservation: float = 1e-8,
    rtol_mass: float = 1e-6,
    what: str = "momenta",
) -> np.ndarray:
    """Check that ``momenta`` are physical phase-space points of ``process``, raising :class:`OracleInputError`.

    The checks, parameters and return value are those of :func:`activeamp.physics.checks.check_momenta`: momenta
    ``(N, n_particles, 4)`` float64 [GeV] with finite entries, positive energies, momentum conserved to
    ``rtol_conservation`` and massless particles on-shell to ``rtol_mass`` (the off-shell bosons of the
    q q̄′ → V1 V2 processes, :data:`activeamp.physics.process.MASSIVE_KINDS`, are not checked); ``what`` names the
    array in messages. Returns the momenta C-contiguous (no copy if already so).

    Raises
    ------
    OracleInputError
        On wrong type, shape or dtype, non-finite entries, non-positive energies, violated momentum
        conservation or off-shell massless particles; the message gives the first offending point index, how
        many points fail and their first rows.
    """
    return check_momenta(
        momenta,
        process,
        rtol_conservation=rtol_conservation,
        rtol_mass=rtol_mass,
        what=what,
        error=OracleInputError,
    )


def validate_vv_kinematics(
    kinematics: Any,
    process: Process | str,
    *,
    what: str = "kinematics",
    rtol: float = 1e-9,
    rtol_conservation: float = 1e-8,
    rtol_mass: float = 1e-6,
) -> np.ndarray:
    """Check that ``kinematics`` are physical q q̄′ → V1 V2 points, given as invariants or as momenta.

    Parameters
    ----------
    kinematics : numpy.ndarray
        Shape ``(N, 4)`` float64: s, t, ma2, mb2 [GeV²]; or shape ``(N, 4, 4)`` float64: momenta of q, q̄′, V1,
        V2 [GeV] in any frame (as from :class:`activeamp.physics.vv_phasespace.VVPhaseSpace` or the store), checked by
        :func:`validate_momenta` and converted with :func:`activeamp.physics.kinematics.vv_invariants`.
    process : Process or str
        A q q̄′ → V1 V2 process (:data:`activeamp.physics.process.VV_PROCESSES`).
    what : str
        Name of the array in error messages.
    rtol : float
        Allowed excess of ``|cos θ*|`` over 1.
    rtol_conservation, rtol_mass : float
        Momenta only: see :func:`validate_momenta`.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, 4)``: the invariants as a C-contiguous float64 array.

    Raises
    ------
    OracleInputError
        On wrong type, shape or dtype, non-finite values, unphysical momenta, non-positive ``s``, ``ma2``,
        ``mb2``, points below threshold (``√s ≤ √ma2 + √mb2``) or ``t`` outside its physical range; the first
        offending point is named.
    """
    process = get_vv_process(process)
    if not isinstance(kinematics, np.ndarray):
        raise OracleInputError(f"{what}: expected a numpy array, got {type(kinematics).__name__}")
    if kinematics.dtype != np.float64:
        raise OracleInputError(f"{what}: expected dtype float64, got {kinematics.dtype}")
    if kinematics.ndim == 3 and kinematics.shape[1:] == process.momentum_shape:
        p = validate_momenta(
            kinematics, process, rtol_conservation=rtol_conservation, rtol_mass=rtol_mass, what=what
        )
        k = vv_invariants(p) if p.shape[0] else np.empty((0, 4))
    elif kinematics.ndim == 2 and kinematics.shape[1] == 4:
        k = np.ascontiguousarray(kinematics)
    else:
        raise OracleInputError(
            f"{what}: expected shape (N, 4) as (s, t, ma2, mb2) in GeV² or (N, 4, 4) as momenta of q, q̄′, V1, V2 "
            f"in GeV, got {kinematics.shape}"
        )
    if k.shape[0] == 0:
        return k
    finite = np.isfinite(k).all(axis=1)
    if not finite.all():
        raise OracleInputError(f"{what}: non-finite entries at point {int(np.argmin(finite))}")
    for col, name in ((0, "s"), (2, "ma2"), (3, "mb2")):
        bad = k[:, col] <= 0
        if bad.any():
            i = int(np.argmax(bad))
            raise OracleInputError(f"{what}: point {i} has {name} = {k[i, col]:g} GeV², must be > 0")
    s, t, ma2, mb2 = k.T
    below = np.sqrt(s) <= np.sqrt(ma2) + np.sqrt(mb2)
    if below.any():
        i = int(np.argmax(below))
        raise OracleInputError(
            f"{what}: point {i} is below threshold: √s = {math.sqrt(s[i]):g} GeV <= √ma2 + √mb2 = "
            f"{math.sqrt(ma2[i]) + math.sqrt(mb2[i]):g} GeV"
        )
    cos = (2 * t + s - ma2 - mb2) / np.sqrt(kallen(s, ma2, mb2))
    out = np.abs(cos) > 1 + rtol
    if out.any():
        i = int(np.argmax(out))
        raise OracleInputError(
            f"{what}: point {i} has t = {t[i]:g} GeV² outside its physical range (cos θ* = {cos[i]:.6g})"
        )
    return k


def classify_values(values: np.ndarray, reasons: Sequence[str] | None = None) -> OracleResult:
    """Turn raw oracle output into an :class:`OracleResult` with a reason for every bad point.

    Scalar values ``(N,)`` are squared matrix elements: NaN, infinite and negative values fail. Vector values
    ``(N, K)`` are signed: a row fails if any component is NaN (reason ``"nan"``) or infinite (``"inf"``).

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(N,)`` or ``(N, K)``, raw values as returned by an oracle implementation.
    reasons : sequence of str, optional
        Length ``N``: failures the implementation reported itself (``""`` for points it computed); they take
        precedence over the value checks.

    Raises
    ------
    ValueError
        If ``values`` is not 1- or 2-dimensional or ``reasons`` has the wrong length.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim not in (1, 2):
        raise ValueError(f"oracle values: expected shape (N,) or (N, K), got {values.shape}")
    n = values.shape[0]
    out = value_failures(values)
    if reasons is not None:
        given = np.asarray(list(reasons), dtype=object)
        if given.shape != (n,):
            raise ValueError(f"oracle reasons: expected {n}, got {given.shape[0] if given.ndim else given}")
        out = np.where(given != "", given, out)
    ok = out == ""
    clean = np.where(ok if values.ndim == 1 else ok[:, None], values, np.nan)
    return OracleResult(values=clean, ok=ok, reasons=tuple(str(r) for r in out.tolist()))


def code_versions() -> dict[str, str]:
    """Versions of activeamp, numpy and Python (the common part of every oracle's provenance)."""
    from activeamp import __version__

    return {"activeamp": __version__, "numpy": np.__version__, "python": platform.python_version()}


class Oracle(abc.ABC):
    """Base class of every amplitude oracle, scalar (|M|² ``(N,)``) or vector (``K`` signed components ``(N, K)``).

    Subclasses set :attr:`name` and ``process`` (through ``__init__``), implement :meth:`_evaluate`, describe
    themselves through :meth:`options` and may override :attr:`cost_hint`. Vector oracles also set
    :attr:`outputs` (the names of their ``K`` components) and, if they take other inputs than momenta,
    :attr:`input_names` and :meth:`validate`.

    The public entry points validate the inputs and the output values:

    * :meth:`evaluate` returns an :class:`OracleResult` with per-point status (used by the
      labelling machinery, which stores failed points with their reason);
    * ``oracle(x)`` returns the values and raises :class:`OracleOutputError` if any point
      failed, so bad values are never silently used as data.
    """

    #: Registry name of the oracle.
    name: str = "oracle"
    #: Estimated cost per point in seconds (used to size batches and for progress estimates).
    cost_hint: float = 1e-5
    #: Names of the ``K`` components of a vector oracle, in column order; None for a scalar |M|² oracle.
    outputs: tuple[str, ...] | None = None
    #: Names of the columns of non-momentum inputs ``(N, d)`` a vector oracle also takes (e.g. invariants);
    #: None when the inputs are momenta ``(N, n_particles, 4)`` only.
    input_names: tuple[str, ...] | None = None

    def __init__(self, process: Process) -> None:
        self.process = process

    @property
    def n_outputs(self) -> int | None:
        """``K`` for a vector oracle, None for a scalar one."""
        return None if self.outputs is None else len(self.outputs)

    def validate(self, x: Any) -> np.ndarray:
        """Check inputs and return them C-contiguous, or raise :class:`OracleInputError`.

        The default checks momenta ``(N, n_particles, 4)`` [GeV] of :attr:`process` (:func:`validate_momenta`).
        """
        return validate_momenta(x, self.process)

    @abc.abstractmethod
    def _evaluate(self, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, Sequence[str]]:
        """Raw values for validated inputs: ``(N,)`` (scalar) or ``(N, K)`` (vector).

        An implementation whose library reports failures per point may return ``(values, reasons)`` with
        ``reasons[i]`` the message of a failed point and ``""`` for the others.
        """

    def options(self) -> dict[str, Any]:
        """The options this oracle was constructed with (JSON-serialisable)."""
        return {}

    def versions(self) -> dict[str, str]:
        """Versions of the code and libraries behind this oracle."""
        return code_versions()

    def provenance(self) -> dict[str, Any]:
        """What this oracle is: name, process, options, versions, and for a vector oracle inputs and outputs."""
        out: dict[str, Any] = {
            "name": self.name,
            "process": self.process.name,
            "options": self.options(),
            "versions": self.versions(),
            "cost_hint_s": self.cost_hint,
        }
        if self.input_names is not None:
            out["inputs"] = list(self.input_names)
        if self.outputs is not None:
            out["outputs"] = list(self.outputs)
        return out

    def evaluate(self, x: Any) -> OracleResult:
        """Validate the inputs (momenta ``(N, n, 4)`` [GeV], or what :meth:`validate` accepts), evaluate, and
        report every point's status; values ``(N,)`` or ``(N, K)``."""
        checked = self.validate(x)
        raw = self._evaluate(checked)
        reasons = None
        if isinstance(raw, tuple):
            raw, reasons = raw
        values = np.asarray(raw)
        n = checked.shape[0]
        expected = (n,) if self.outputs is None else (n, len(self.outputs))
        if values.shape != expected:
            raise OracleError(f"oracle {self.name}: returned shape {values.shape}, expected {expected}")
        return classify_values(values, reasons)

    def __call__(self, x: Any) -> np.ndarray:
        """Values ``(N,)`` (scalar) or ``(N, K)`` (vector) float64 for momenta ``(N, n, 4)`` [GeV] or other inputs.

        Raises
        ------
        OracleInputError
            If the inputs are malformed or unphysical.
        OracleOutputError
            If any point failed (``err.result`` holds all points).
        """
        result = self.evaluate(x)
        if result.n_failed:
            bad = np.flatnonzero(~result.ok)
            detail = ", ".join(f"{i}: {result.reasons[i]}" for i in bad[:5])
            raise OracleOutputError(
                f"oracle {self.name}: {result.n_failed} of {len(result.ok)} points failed ({detail}"
                f"{', ...' if len(bad) > 5 else ''})",
                result,
            )
        return result.values

    def __repr__(self) -> str:
        return f"{type(self).__name__}(process={self.process.name!r}, options={self.options()!r})"
