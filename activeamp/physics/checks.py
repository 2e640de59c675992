"""Checks that momenta are physical points of a process (and inside cuts), with messages that name the rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from activeamp.physics.cuts import Cuts
from activeamp.physics.process import MASSIVE_KINDS, Process, get_process

__all__ = ["check_momenta", "cuts_report", "check_cuts", "format_rows", "value_failures"]

#: How many offending row indices a message lists before it elides the rest.
MAX_ROWS_SHOWN = 5


def format_rows(bad: np.ndarray, what: str = "point") -> str:
    """``"3 of 100 points fail this check, at rows 3, 5, 9"``-style summary of the True entries of ``bad``.

    Parameters
    ----------
    bad : numpy.ndarray
        Shape ``(N,)`` bool: True for an offending row.
    what : str
        Singular noun for one row in the message.

    Returns
    -------
    str
        The count and the first :data:`MAX_ROWS_SHOWN` row indices (``…`` when there are more).
    """
    rows = np.flatnonzero(bad)
    k, n = rows.shape[0], bad.shape[0]
    shown = ", ".join(str(int(r)) for r in rows[:MAX_ROWS_SHOWN]) + (", …" if k > MAX_ROWS_SHOWN else "")
    return f"{k} of {n} {what}s {'fails' if k == 1 else 'fail'} this check, at row{'' if k == 1 else 's'} {shown}"


def check_momenta(
    momenta: Any,
    process: Process | str,
    *,
    rtol_conservation: float = 1e-8,
    rtol_mass: float = 1e-6,
    what: str = "momenta",
    error: type[Exception] = ValueError,
) -> np.ndarray:
    """Check that ``momenta`` are physical phase-space points of ``process``, or raise ``error`` naming the rows.

    The checks, in order: a float64 numpy array of shape ``(N, n_particles, 4)``; finite entries; positive
    energies; momentum conservation ``|Σ p_in − Σ p_out|`` (largest component) relative to the incoming
    energy; masslessness ``|p²|/E²`` of every particle except the off-shell bosons of the q q̄′ → V1 V2
    processes (:data:`activeamp.physics.process.MASSIVE_KINDS`). The message of a failed check names the first
    offending point (row), how many rows fail the check and the first few of them.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` float64, (E, px, py, pz) in GeV, incoming particles first.
    process : Process or str
        The process the momenta belong to.
    rtol_conservation : float
        Allowed ``|Σ p_in − Σ p_out|`` relative to the total incoming energy.
    rtol_mass : float
        Allowed ``|p²|`` relative to ``E²`` of each massless particle.
    what : str
        Name of the array at the start of error messages (e.g. ``"file.h5:/momenta"``).
    error : type of Exception
        Exception raised on a failed check (called with the message).

    Returns
    -------
    numpy.ndarray
        The momenta as a C-contiguous float64 array (no copy if already so).

    Raises
    ------
    Exception
        ``error``: on wrong type, shape or dtype, non-finite entries, non-positive energies, violated momentum
        conservation or off-shell massless particles.
    """
    proc = get_process(process) if isinstance(process, str) else process
    if not isinstance(momenta, np.ndarray):
        raise error(f"{what}: expected a numpy array, got {type(momenta).__name__}")
    if momenta.dtype != np.float64:
        raise error(f"{what}: expected dtype float64, got {momenta.dtype}")
    expected = proc.momentum_shape
    if momenta.ndim != 3 or momenta.shape[1:] != expected:
        raise error(
            f"{what}: expected shape (N, {expected[0]}, {expected[1]}) for process {proc.name} "
            f"({proc.description}), got {momenta.shape}"
        )
    p = np.ascontiguousarray(momenta)
    if p.shape[0] == 0:
        return p
    finite = np.isfinite(p).all(axis=(1, 2))
    if not finite.all():
        raise error(f"{what}: non-finite entries at point {int(np.argmin(finite))}; {format_rows(~finite)}")
    energy = p[..., 0]
    nonpositive = energy <= 0
    if nonpositive.any():
        i, j = np.argwhere(nonpositive)[0]
        raise error(
            f"{what}: point {i}, particle {j} has non-positive energy {energy[i, j]:g} GeV; "
            f"{format_rows(nonpositive.any(axis=1))}"
        )
    total = p[:, :2].sum(axis=1) - p[:, 2:].sum(axis=1)
    scale = p[:, :2, 0].sum(axis=1)
    violation = np.abs(total).max(axis=1) / scale
    unbalanced = violation > rtol_conservation
    if unbalanced.any():
        i = int(np.argmax(unbalanced))
        raise error(
            f"{what}: momentum not conserved at point {i} "
            f"(relative violation {violation[i]:.3g} > {rtol_conservation:g}); {format_rows(unbalanced)}"
        )
    mass2 = energy**2 - (p[..., 1:] ** 2).sum(axis=-1)
    massless = np.array([kind not in MASSIVE_KINDS for kind in proc.kinds])
    offshell = np.where(massless, np.abs(mass2) / energy**2, 0.0)
    bad = offshell > rtol_mass
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise error(
            f"{what}: point {i}, particle {j} ({proc.kinds[j]}) is off-shell: "
            f"|p²|/E² = {offshell[i, j]:.3g} > {rtol_mass:g}; {format_rows(bad.any(axis=1))}"
        )
    return p


def cuts_report(
    momenta: np.ndarray, process: Process | str, cuts: Cuts, *, what: str = "momenta"
) -> tuple[np.ndarray, str]:
    """Which points lie outside ``cuts``, and a message naming them and the cuts they fail.

    Parameters
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` float64 [GeV], physical (see :func:`check_momenta`).
    process : Process or str
        The process of the momenta.
    cuts : Cuts
        The cuts (e.g. :func:`activeamp.physics.cuts.default_cuts`).
    what : str
        Name of the array at the start of the message.

    Returns
    -------
    outside : numpy.ndarray
        Shape ``(N,)`` bool: True for points outside the cuts.
    message : str
        ``""`` when every point passes; otherwise the count, the first offending point and the cut it fails,
        the first few rows, and how many points fail each cut.
    """
    proc = get_process(process) if isinstance(process, str) else process
    n = momenta.shape[0]
    failing: list[tuple[str, np.ndarray]] = []
    for cut in (*cuts.particles, *cuts.delta_r):
        fails = ~cut.mask(momenta, proc, check=False)
        if fails.any():
            failing.append((cut.describe(), fails))
    outside = np.zeros(n, dtype=bool)
    for _, fails in failing:
        outside |= fails
    if not outside.any():
        return outside, ""
    i = int(np.argmax(outside))
    first = next(name for name, fails in failing if fails[i])
    per_cut = "; ".join(f"'{name}': {int(fails.sum())}" for name, fails in failing)
    message = (
        f"{what}: point {i} is outside the cuts of {proc.name} (fails '{first}'); "
        f"{format_rows(outside)}; points failing each cut: {per_cut}"
    )
    return outside, message


def check_cuts(
    momenta: np.ndarray,
    process: Process | str,
    cuts: Cuts,
    *,
    what: str = "momenta",
    error: type[Exception] = ValueError,
) -> None:
    """Raise ``error`` with the message of :func:`cuts_report` if any point lies outside ``cuts``."""
    outside, message = cuts_report(momenta, process, cuts, what=what)
    if outside.any():
        raise error(message)


def value_failures(values: np.ndarray) -> np.ndarray:
    """Why each raw oracle value is not a usable label (``""`` where it is).

    Scalar squared matrix elements ``(N,)``: ``"nan"``, ``"inf"``, or ``"negative"`` (−inf too). Signed vector
    values ``(N, K)``: a row with a NaN gives ``"nan"``, else one with ±inf gives ``"inf"``.

    Returns
    -------
    numpy.ndarray
        Shape ``(N,)``, dtype object.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape[0], "", dtype=object)
    if values.ndim == 1:
        out[np.isnan(values)] = "nan"
        out[np.isinf(values)] = "inf"
        out[values < 0] = "negative"
    elif values.shape[0]:
        out[np.isinf(values).any(axis=1)] = "inf"
        out[np.isnan(values).any(axis=1)] = "nan"
    return out
