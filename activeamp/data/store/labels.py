"""Labels handed to a store as plain arrays: shape checks, per-point status and failure reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from activeamp.data.store.errors import StoreInputError
from activeamp.physics.checks import value_failures

__all__ = ["classify_amplitudes", "scalar_labels", "vector_labels"]


def classify_amplitudes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Status of raw squared matrix elements: NaN, ±inf and negative values fail.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(N,)`` float64.

    Returns
    -------
    ok : numpy.ndarray
        Shape ``(N,)`` bool, True where the value is finite and non-negative.
    reasons : numpy.ndarray
        Shape ``(N,)`` object array: ``""`` for good points, else ``"nan"``, ``"negative"`` (also −inf) or ``"inf"``.
    """
    reasons = value_failures(values)
    return reasons == "", reasons


def _as_float(values: Any, where: str, expected: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StoreInputError(f"{where}: values: expected {expected}, got {exc}") from None


def _check_ok(ok: Any, n: int, where: str) -> np.ndarray:
    arr = np.asarray(ok)
    if arr.shape != (n,) or arr.dtype != np.bool_:
        raise StoreInputError(
            f"{where}: ok: expected a bool array of shape ({n},), got {arr.dtype} of shape {arr.shape}"
        )
    return arr


def _reason_column(ok: np.ndarray, reasons: Sequence[str] | None, derived: np.ndarray | None, where: str) -> np.ndarray:
    """Per-point reason: ``""`` for ok points, else the given reason, the derived one, or ``"failed"``."""
    n = ok.shape[0]
    if reasons is not None and len(reasons) and len(reasons) != n:
        raise StoreInputError(f"{where}: reasons: expected {n} reasons, got {len(reasons)}")
    given = list(reasons) if reasons is not None and len(reasons) else [""] * n
    fallback = derived.tolist() if derived is not None else [""] * n
    out = np.array([r or d or "failed" for r, d in zip(given, fallback, strict=True)], dtype=object)
    out[ok] = ""
    return out


def scalar_labels(
    ids: np.ndarray, values: Any, ok: Any | None, reasons: Sequence[str] | None, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the labels of a scalar store (one non-negative amplitude per point).

    Parameters
    ----------
    ids : numpy.ndarray
        ``(N,)`` point ids (for messages).
    values : array_like
        ``(N,)`` amplitudes in the units of the process; entries of failed points are ignored.
    ok : array_like of bool, optional
        ``(N,)`` status; None: derived from the values (NaN, ±inf and negative values fail).
    reasons : sequence of str, optional
        ``N`` failure reasons (``""`` for ok points) or empty; missing reasons become the derived one or ``"failed"``.
    where : str
        The store, named in messages.

    Returns
    -------
    values, ok, reasons : numpy.ndarray
        ``(N,)`` float64, ``(N,)`` bool and ``(N,)`` object array of reasons (``""`` where ok).

    Raises
    ------
    StoreInputError
        If a shape is wrong (a ``(N, K)`` array names vector stores) or a point marked ok has no valid value.
    """
    n = ids.shape[0]
    arr = _as_float(values, where, f"{n} values of shape ({n},)")
    if arr.shape != (n,):
        hint = "; vector labels need a store created with outputs=[...]" if arr.ndim == 2 else ""
        raise StoreInputError(
            f"{where}: values: this scalar store expects {n} values of shape ({n},), got shape {arr.shape}{hint}"
        )
    derived = None
    if ok is None:
        ok, derived = classify_amplitudes(arr)
    else:
        ok = _check_ok(ok, n, where)
        bad = ok & ~(np.isfinite(arr) & (arr >= 0))
        if bad.any():
            k = int(np.argmax(bad))
            raise StoreInputError(f"{where}: values: point {k} ({ids[k]!r}) marked ok but value is {float(arr[k])!r}")
    return arr, ok, _reason_column(ok, reasons, derived, where)


def vector_labels(
    ids: np.ndarray, values: Any, ok: Any | None, reasons: Sequence[str] | None, outputs: tuple[str, ...], where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the labels of a vector store (``K`` signed numbers per point).

    Parameters
    ----------
    ids, reasons, where
        As for :func:`scalar_labels`.
    values : array_like
        ``(N, K)`` in the order of ``outputs``; rows of failed points are ignored. With ``ok`` all False, values
        of shape ``(N,)`` are accepted too (a batch that failed as a whole carries no vector values).
    ok : array_like of bool, optional
        ``(N,)`` status; None: a row is ok when all its entries are finite (else it fails with reason ``"nan"``).
    outputs : tuple of str
        The store's output names (``K = len(outputs)``).

    Returns
    -------
    values, ok, reasons : numpy.ndarray
        ``(N, K)`` float64 with NaN rows where failed, ``(N,)`` bool and ``(N,)`` object array of reasons.

    Raises
    ------
    StoreInputError
        If a shape is wrong or a point marked ok has a non-finite entry.
    """
    n, k = ids.shape[0], len(outputs)
    expected = f"values of shape ({n}, {k}) for the outputs {list(outputs)}"
    arr = _as_float(values, where, expected)
    if ok is not None:
        ok = _check_ok(ok, n, where)
        if not ok.any() and arr.shape == (n,):
            return np.full((n, k), np.nan), ok, _reason_column(ok, reasons, None, where)
    if arr.shape != (n, k):
        raise StoreInputError(f"{where}: values: this vector store expects {expected}, got shape {arr.shape}")
    derived = None
    if ok is None:
        ok = np.isfinite(arr).all(axis=1)
        derived = np.where(ok, "", "nan").astype(object)
    else:
        bad = ok & ~np.isfinite(arr).all(axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            raise StoreInputError(f"{where}: values: point {i} ({ids[i]!r}) marked ok but values are {arr[i].tolist()}")
    return np.where(ok[:, None], arr, np.nan), ok, _reason_column(ok, reasons, derived, where)
