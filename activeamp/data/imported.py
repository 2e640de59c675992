"""What an imported file must hold: the checks of momenta, labels, ids, process and cuts, and the checked record.

Every check names the file, the dataset or field and the rows concerned (:class:`InterchangeError`, one line).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activeamp.physics.checks import check_momenta, cuts_report
from activeamp.physics.cuts import default_cuts
from activeamp.physics.process import Process, get_process

__all__ = [
    "ImportedData",
    "InterchangeError",
    "attr_str",
    "check_amplitude",
    "check_cuts",
    "check_ids",
    "check_file_momenta",
    "check_values",
    "parse_outputs",
    "resolve_process",
]

logger = logging.getLogger(__name__)


class InterchangeError(ValueError):
    """A file to import or export is unusable; the message names the file, dataset and problem."""


@dataclass(frozen=True)
class ImportedData:
    """Labelled points read from a file, validated against a process.

    Attributes
    ----------
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` float64, (E, px, py, pz) in GeV.
    amplitude : numpy.ndarray
        Shape ``(N,)`` float64, finite and non-negative, in the units of the process (all NaN for vector labels).
    process : str
        Process name.
    point_ids : numpy.ndarray or None
        Shape ``(N,)`` object array of unique id strings, if the file has them.
    provenance : dict
        What the file says about its origin (HDF5 attribute ``provenance``), plus the source.
    source : str
        The file(s) read.
    values : numpy.ndarray or None
        Vector labels: shape ``(N, K)`` float64, finite (signed), columns named by ``outputs``; None for
        scalar labels.
    outputs : tuple of str or None
        Names of the ``K`` components of vector labels; None for scalar labels.
    """

    momenta: np.ndarray
    amplitude: np.ndarray
    process: str
    point_ids: np.ndarray | None
    provenance: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    values: np.ndarray | None = None
    outputs: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return int(self.amplitude.shape[0])

    def digest(self) -> str:
        """Short content hash of momenta and labels (16 hex digits), stable across files and formats."""
        h = hashlib.blake2b(digest_size=8)
        h.update(np.ascontiguousarray(self.momenta).tobytes())
        if self.values is None:
            h.update(np.ascontiguousarray(self.amplitude).tobytes())
        else:
            h.update(np.ascontiguousarray(self.values).tobytes())
            h.update(json.dumps(list(self.outputs or ())).encode())
        return h.hexdigest()


def check_file_momenta(raw: np.ndarray, process: Process, where: str) -> np.ndarray:
    """Validate momenta ``(N, n, 4)`` or flattened ``(N, n*4)`` of ``process``; return ``(N, n, 4)`` float64.

    The points must be physical (:func:`activeamp.physics.checks.check_momenta`: finite, positive energies,
    momentum conserved, massless particles on-shell), with the tolerances of the oracles whatever the file's
    precision; the message names ``where`` (file and dataset) and the rows.
    """
    n = process.n_particles
    if raw.dtype.kind not in "fiu":
        raise InterchangeError(f"{where}: expected real numbers, got dtype {raw.dtype}")
    if raw.ndim == 3 and raw.shape[1:] == (n, 4):
        p = raw
    elif raw.ndim == 2 and raw.shape[1] == n * 4:
        p = raw.reshape(raw.shape[0], n, 4)
    else:
        raise InterchangeError(
            f"{where}: shape {raw.shape} does not fit process {process.name} ({process.description}); "
            f"expected (N, {n}, 4) or (N, {n * 4})"
        )
    p = np.ascontiguousarray(p, dtype=np.float64)
    try:
        return check_momenta(p, process, what=where, error=InterchangeError)
    except InterchangeError as exc:
        if raw.dtype.kind == "f" and raw.dtype.itemsize < 8:
            raise InterchangeError(
                f"{exc}; the file holds {raw.dtype} momenta, whose rounding alone can break momentum conservation "
                "(1e-8) and masslessness (1e-6): write them as float64"
            ) from None
        raise


def check_amplitude(raw: np.ndarray, n_points: int, where: str, momenta_where: str) -> np.ndarray:
    """Validate amplitudes ``(N,)`` (or ``(N, 1)``): finite, non-negative, N matching the momenta."""
    if raw.dtype.kind not in "fiu":
        raise InterchangeError(f"{where}: expected real numbers, got dtype {raw.dtype}")
    a = raw.reshape(-1) if raw.ndim == 2 and raw.shape[1] == 1 else raw
    if a.ndim != 1:
        raise InterchangeError(f"{where}: expected shape (N,), got {raw.shape}")
    if a.shape[0] != n_points:
        raise InterchangeError(f"{where}: {a.shape[0]} amplitudes but {n_points} points in {momenta_where}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        raise InterchangeError(
            f"{where}: non-finite amplitude at point {int(np.argmax(bad))} ({int(bad.sum())} points)"
        )
    if (a < 0).any():
        k = int(np.argmax(a < 0))
        raise InterchangeError(f"{where}: negative amplitude {a[k]:g} at point {k}")
    return a


def check_values(raw: np.ndarray, n_points: int, outputs: Sequence[str], where: str, momenta_where: str) -> np.ndarray:
    """Validate vector labels ``(N, K)`` (``(N,)`` when ``K == 1``): finite, N matching the momenta, K the outputs."""
    k = len(outputs)
    if raw.dtype.kind not in "fiu":
        raise InterchangeError(f"{where}: expected real numbers, got dtype {raw.dtype}")
    v = raw.reshape(-1, 1) if raw.ndim == 1 and k == 1 else raw
    if v.ndim != 2 or v.shape[1] != k:
        raise InterchangeError(f"{where}: expected shape (N, {k}) for the outputs {list(outputs)}, got {raw.shape}")
    if v.shape[0] != n_points:
        raise InterchangeError(f"{where}: {v.shape[0]} rows of values but {n_points} points in {momenta_where}")
    v = np.ascontiguousarray(v, dtype=np.float64)
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        raise InterchangeError(f"{where}: non-finite values at point {int(np.argmax(bad))} ({int(bad.sum())} points)")
    return v


def parse_outputs(value: Any, where: str) -> tuple[str, ...]:
    """Output names from an HDF5 attribute: a JSON list string or an array of strings."""
    if isinstance(value, (str, bytes)) or (isinstance(value, np.ndarray) and value.shape == ()):
        text = attr_str(value)
        try:
            parsed = json.loads(text)
        except ValueError:
            raise InterchangeError(f"{where}: attribute 'outputs' is {text!r}, expected a JSON list of names") from None
    else:
        parsed = [attr_str(v) for v in np.asarray(value).reshape(-1).tolist()]
    if not isinstance(parsed, list) or not parsed or not all(isinstance(v, str) and v for v in parsed):
        raise InterchangeError(f"{where}: attribute 'outputs' is {parsed!r}, expected a non-empty list of names")
    return tuple(parsed)


def check_ids(raw: np.ndarray, n_points: int, where: str) -> np.ndarray:
    if raw.ndim != 1 or raw.shape[0] != n_points:
        raise InterchangeError(f"{where}: expected shape ({n_points},), got {raw.shape}")
    ids = np.array([v.decode() if isinstance(v, bytes) else v for v in raw.tolist()], dtype=object)
    for i, v in enumerate(ids):
        if not isinstance(v, str) or not v:
            raise InterchangeError(f"{where}: entry {i} is {v!r}, expected a non-empty string")
    if len(set(ids.tolist())) != n_points:
        uniq, counts = np.unique(ids.astype(str), return_counts=True)
        raise InterchangeError(f"{where}: repeated point id {str(uniq[counts > 1][0])!r}")
    return ids


def resolve_process(process: str | Process | None, from_file: str | None, where: str) -> Process:
    if from_file is not None:
        try:
            file_proc = get_process(from_file)
        except KeyError as exc:
            raise InterchangeError(f"{where}: attribute 'process': {exc.args[0]}") from None
        if process is not None:
            wanted = get_process(process) if isinstance(process, str) else process
            if wanted.name != file_proc.name:
                raise InterchangeError(f"{where}: attribute 'process' is {file_proc.name!r}, expected {wanted.name!r}")
        return file_proc
    if process is None:
        raise InterchangeError(f"{where}: no attribute 'process'; pass process= to say what the momenta are")
    return get_process(process) if isinstance(process, str) else process


def attr_str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.shape == ():
        return attr_str(value.item())
    return str(value)


def check_cuts(data: ImportedData, process: Process, where: str, allow_outside_cuts: bool) -> None:
    """Refuse points outside the default cuts of ``process`` (:func:`activeamp.physics.cuts.default_cuts`), naming
    ``where`` (file and dataset), the rows and the cuts; with ``allow_outside_cuts`` only warn how many."""
    outside, message = cuts_report(data.momenta, process, default_cuts(process), what=where)
    if not outside.any():
        return
    if not allow_outside_cuts:
        raise InterchangeError(
            f"{message}; a store's points lie inside the process's default cuts "
            "(pass allow_outside_cuts=True, or --allow-outside-cuts, to import them anyway)"
        )
    logger.warning(
        "%d of %d points lie outside the cuts of %s; importing them as asked (allow_outside_cuts): %s",
        int(outside.sum()),
        outside.shape[0],
        process.name,
        message,
    )
