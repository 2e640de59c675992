"""The oracle protocol: one interface for every squared-matrix-element provider, with shared validation."""

from __future__ import annotations

import abc
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activeamp.physics.process import Process

__all__ = [
    "Oracle",
    "OracleError",
    "OracleInputError",
    "OracleOutputError",
    "OracleResult",
    "validate_momenta",
    "classify_values",
    "code_versions",
]


class OracleError(RuntimeError):
    """An oracle could not evaluate a batch (library failure, injected failure, ...)."""


class OracleInputError(ValueError):
    """Momenta handed to an oracle are malformed or unphysical; the message names the problem."""


class OracleOutputError(OracleError):
    """Some points of a batch came back NaN, infinite or negative.

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
    """Per-point outcome of an oracle call.

    Attributes
    ----------
    values : numpy.ndarray
        Shape ``(N,)`` float64: the squared matrix element, spin/colour averaged (units depend on
        the process: dimensionless for 2→2, GeV⁻² for 2→3, GeV⁻⁴ for 2→4). Invalid entries are NaN.
    ok : numpy.ndarray
        Shape ``(N,)`` bool: True where ``values`` is finite and non-negative.
    reasons : tuple of str
        Length ``N``: ``""`` for good points, otherwise why the point failed (``"nan"``, ``"inf"``,
        ``"negative"``).
    """

    values: np.ndarray
    ok: np.ndarray
    reasons: tuple[str, ...] = field(default=())

    @property
    def n_failed(self) -> int:
        """Number of points that did not give a usable value."""
        return int((~self.ok).sum())


def validate_momenta(
    momenta: np.ndarray,
    process: Process,
    *,
    rtol_conservation: float = 1e-8,
    rtol_mass: float = 1e-6,
    what: str = "momenta",
) -> np.ndarray:
    """Check that ``momenta`` are physical phase-space points of ``process``.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` as (E, px, py, pz) in GeV, incoming particles first.
    process : Process
        The process the momenta belong to.
    rtol_conservation : float
        Allowed ``|Σ p_in − Σ p_out|`` relative to the total energy.
    rtol_mass : float
        Allowed ``|p²|`` relative to ``E²`` of each (massless) particle.
    what : str
        Name used for the array in error messages.

    Returns
    -------
    numpy.ndarray
        The momenta as a C-contiguous float64 array (no copy if already so).

    Raises
    ------
    OracleInputError
        On wrong type, shape or dtype, non-finite entries, non-positive energies, violated momentum
        conservation or off-shell particles; the message gives the first offending point index.
    """
    if not isinstance(momenta, np.ndarray):
        raise OracleInputError(f"{what}: expected a numpy array, got {type(momenta).__name__}")
    if momenta.dtype != np.float64:
        raise OracleInputError(f"{what}: expected dtype float64, got {momenta.dtype}")
    expected = process.momentum_shape
    if momenta.ndim != 3 or momenta.shape[1:] != expected:
        raise OracleInputError(
            f"{what}: expected shape (N, {expected[0]}, {expected[1]}) for process {process.name} "
            f"({process.description}), got {momenta.shape}"
        )
    p = np.ascontiguousarray(momenta)
    if p.shape[0] == 0:
        return p
    finite = np.isfinite(p).all(axis=(1, 2))
    if not finite.all():
        raise OracleInputError(f"{what}: non-finite entries at point {int(np.argmin(finite))}")
    energy = p[..., 0]
    if (energy <= 0).any():
        i, j = np.argwhere(energy <= 0)[0]
        raise OracleInputError(f"{what}: point {i}, particle {j} has non-positive energy {energy[i, j]:g} GeV")
    total = p[:, :2].sum(axis=1) - p[:, 2:].sum(axis=1)
    scale = p[:, :2, 0].sum(axis=1)
    violation = np.abs(total).max(axis=1) / scale
    if (violation > rtol_conservation).any():
        i = int(np.argmax(violation))
        raise OracleInputError(
            f"{what}: momentum not conserved at point {i} "
            f"(relative violation {violation[i]:.3g} > {rtol_conservation:g})"
        )
    mass2 = energy**2 - (p[..., 1:] ** 2).sum(axis=-1)
    offshell = np.abs(mass2) / energy**2
    if (offshell > rtol_mass).any():
        i, j = np.argwhere(offshell > rtol_mass)[0]
        raise OracleInputError(
            f"{what}: point {i}, particle {j} ({process.kinds[j]}) is off-shell: "
            f"|p²|/E² = {offshell[i, j]:.3g} > {rtol_mass:g}"
        )
    return p


def classify_values(values: np.ndarray) -> OracleResult:
    """Turn raw oracle output into an :class:`OracleResult` with a reason for every bad point.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(N,)``, raw values as returned by an oracle implementation.
    """
    values = np.asarray(values, dtype=np.float64)
    reasons = np.full(values.shape, "", dtype=object)
    reasons[np.isnan(values)] = "nan"
    reasons[np.isinf(values)] = "inf"
    reasons[values < 0] = "negative"
    ok = reasons == ""
    clean = np.where(ok, values, np.nan)
    return OracleResult(values=clean, ok=ok, reasons=tuple(reasons.tolist()))


def code_versions() -> dict[str, str]:
    """Versions of activeamp, numpy and Python (the common part of every oracle's provenance)."""
    from activeamp import __version__

    return {"activeamp": __version__, "numpy": np.__version__, "python": platform.python_version()}


class Oracle(abc.ABC):
    """Base class of every amplitude oracle.

    Subclasses set :attr:`name`, :attr:`process` and implement :meth:`_evaluate`; they describe
    themselves through :meth:`options` and may override :attr:`cost_hint`.

    The public entry points validate the input momenta and the output values:

    * :meth:`evaluate` returns an :class:`OracleResult` with per-point status (used by the
      labelling machinery, which stores failed points with their reason);
    * ``oracle(momenta)`` returns the values and raises :class:`OracleOutputError` if any point
      failed, so bad values are never silently used as data.
    """

    #: Registry name of the oracle.
    name: str = "oracle"
    #: Estimated cost per point in seconds (used to size batches and for progress estimates).
    cost_hint: float = 1e-5

    def __init__(self, process: Process) -> None:
        self.process = process

    @abc.abstractmethod
    def _evaluate(self, momenta: np.ndarray) -> np.ndarray:
        """Compute raw squared matrix elements, shape ``(N,)``, for validated momenta ``(N, n, 4)``."""

    def options(self) -> dict[str, Any]:
        """The options this oracle was constructed with (JSON-serialisable)."""
        return {}

    def versions(self) -> dict[str, str]:
        """Versions of the code and libraries behind this oracle."""
        return code_versions()

    def provenance(self) -> dict[str, Any]:
        """What this oracle is: name, process, options and versions (JSON-serialisable)."""
        return {
            "name": self.name,
            "process": self.process.name,
            "options": self.options(),
            "versions": self.versions(),
            "cost_hint_s": self.cost_hint,
        }

    def evaluate(self, momenta: np.ndarray) -> OracleResult:
        """Validate ``momenta`` ``(N, n, 4)`` [GeV], evaluate, and report every point's status."""
        p = validate_momenta(momenta, self.process)
        raw = np.asarray(self._evaluate(p))
        if raw.shape != (p.shape[0],):
            raise OracleError(f"oracle {self.name}: returned shape {raw.shape}, expected ({p.shape[0]},)")
        return classify_values(raw)

    def __call__(self, momenta: np.ndarray) -> np.ndarray:
        """Squared matrix elements ``(N,)`` float64 for momenta ``(N, n, 4)`` [GeV].

        Raises
        ------
        OracleInputError
            If the momenta are malformed or unphysical.
        OracleOutputError
            If any point evaluated to NaN, inf or a negative value (``err.result`` holds all points).
        """
        result = self.evaluate(momenta)
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
