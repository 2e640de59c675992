"""Appending to a store: unlabelled points, and labels given as plain arrays (values, ok, reasons)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from activeamp.data.store.errors import (
    DuplicateLabelError,
    DuplicatePolicy,
    StoreInputError,
    check_duplicate_policy,
)
from activeamp.data.store.labels import scalar_labels, vector_labels
from activeamp.data.store.read import StoreReader
from activeamp.data.store.schema import SPLITS, momenta_to_arrow
from activeamp.jsonio import plain
from activeamp.physics.checks import check_momenta

__all__ = ["StoreAppender", "provenance_json"]

logger = logging.getLogger(__name__)


def provenance_json(provenance: Mapping[str, Any] | str | None) -> str:
    """``provenance`` as the JSON text stored with each label (keys sorted; a string must already be JSON)."""
    if provenance is None:
        return "{}"
    if isinstance(provenance, str):
        try:
            json.loads(provenance)
        except ValueError as exc:
            raise StoreInputError(f"provenance: not a valid JSON string ({exc})") from None
        return provenance
    try:
        return json.dumps(plain(dict(provenance)), sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:
        raise StoreInputError(f"provenance: not JSON-serialisable ({exc})") from None


def _broadcast(value: Any, n: int, what: str, kind: Literal["split", "int"]) -> np.ndarray:
    """A scalar or ``(n,)`` sequence of splits or of ints in [0, 2^31) as an ``(n,)`` array."""
    arr = np.asarray(value, dtype=object)
    if arr.ndim == 0:
        arr = np.full(n, arr.item(), dtype=object)
    if arr.shape != (n,):
        raise StoreInputError(f"{what}: expected a scalar or shape ({n},), got shape {arr.shape}")
    if kind == "split":
        bad = [v for v in set(arr.tolist()) if v not in SPLITS]
        if bad:
            raise StoreInputError(f"{what}: unknown split {bad[0]!r}; allowed: {', '.join(SPLITS)}")
        return arr
    try:
        ints = arr.astype(np.int64)
    except (TypeError, ValueError):
        raise StoreInputError(f"{what}: expected integers, got {arr[:3].tolist()}") from None
    if not np.array_equal(ints, arr.astype(np.float64)) or (ints < 0).any() or (ints > 2**31 - 1).any():
        raise StoreInputError(f"{what}: expected integers in [0, 2^31), got {arr[:3].tolist()}")
    return ints


def _check_ids(ids: Any) -> np.ndarray:
    """``ids`` as an ``(N,)`` object array of unique non-empty strings."""
    arr = np.asarray(ids, dtype=object)
    if arr.ndim != 1:
        raise StoreInputError(f"ids: expected a 1-d sequence of strings, got shape {arr.shape}")
    for i, v in enumerate(arr):
        if not isinstance(v, str) or not v:
            raise StoreInputError(f"ids: entry {i} is {v!r}, expected a non-empty string")
    if len(set(arr.tolist())) != arr.shape[0]:
        uniq, counts = np.unique(arr.astype(str), return_counts=True)
        raise StoreInputError(f"ids: repeated id {str(uniq[counts > 1][0])!r} within one append")
    return arr


class StoreAppender(StoreReader):
    """The writing part of :class:`~activeamp.data.store.ShardStore`: every append writes new shards."""

    def _check_momenta(self, momenta: Any, n: int) -> np.ndarray:
        """``momenta`` as ``(n, n_particles, 4)`` float64 physical points of the store's process.

        The checks are :func:`activeamp.physics.checks.check_momenta`'s (finite, positive energies, momentum
        conservation, massless particles on-shell); a failure raises :class:`StoreInputError` naming the store,
        the field and the offending rows.
        """
        p = np.asarray(momenta)
        expected = (n, *self.process.momentum_shape)
        if p.shape != expected:
            raise StoreInputError(
                f"momenta: expected shape {expected} for {n} ids of process {self.process.name}, got {p.shape}"
            )
        if not np.issubdtype(p.dtype, np.floating) and not np.issubdtype(p.dtype, np.integer):
            raise StoreInputError(f"momenta: expected float64 values, got dtype {p.dtype}")
        p = np.ascontiguousarray(p, dtype=np.float64)
        return check_momenta(p, self.process, what=f"{self.path}: momenta", error=StoreInputError)

    def _existing(self, ids: np.ndarray) -> pa.Table:
        """Resolved records of those ``ids`` already in the store (point_id, status, momenta, split, round, batch)."""
        cols = ["point_id", "status", "momenta", "split", "round", "batch", "created"]
        return self._resolved(
            cols, pc.field("point_id").isin(pa.array(ids.tolist(), pa.string())), self.on_bad_shard, "ignore"
        )[0]

    def _conflicts(self, ids: np.ndarray, momenta: np.ndarray, split: np.ndarray | None, existing: pa.Table) -> None:
        """Raise :class:`StoreInputError` if stored points of ``ids`` have other momenta or (given) another split."""
        if existing.num_rows == 0:
            return
        index = {v: i for i, v in enumerate(ids.tolist())}
        rows = np.array([index[v] for v in existing["point_id"].to_pylist()], dtype=np.int64)
        stored = self._to_momenta(existing["momenta"])
        diff = ~(stored == momenta[rows]).all(axis=(1, 2))
        if diff.any():
            k = int(np.argmax(diff))
            raise StoreInputError(
                f"point id {ids[rows[k]]!r} is already stored with different momenta "
                f"({int(diff.sum())} conflicting ids); ids must identify a phase-space point"
            )
        if split is not None:
            stored_split = np.asarray(existing["split"].to_pylist(), dtype=object)
            diff = stored_split != split[rows]
            if diff.any():
                k = int(np.argmax(diff))
                raise StoreInputError(
                    f"point id {ids[rows[k]]!r} is stored in split {stored_split[k]!r}, not {split[rows[k]]!r}"
                )

    def append_points(
        self,
        ids: Sequence[str] | np.ndarray,
        momenta: np.ndarray,
        *,
        split: str | Sequence[str] | np.ndarray,
        round: int | Sequence[int] | np.ndarray,
        batch: int | Sequence[int] | np.ndarray,
        check_existing: bool = True,
    ) -> list[str]:
        """Append unlabelled phase-space points.

        Parameters
        ----------
        ids : sequence of str
            Shape ``(N,)`` unique point ids (see :func:`make_point_ids`).
        momenta : numpy.ndarray
            Shape ``(N, n_particles, 4)``, (E, px, py, pz) in GeV: physical points of the store's process (finite,
            positive energies, momentum conserved, massless particles on-shell; see
            :func:`activeamp.physics.checks.check_momenta`).
        split : str or sequence of str
            ``train``, ``test``, ``validation`` or ``candidate``; a scalar or one per point.
        round, batch : int or sequence of int
            Round and batch in which the points were generated (>= 0); scalars or one per point.
        check_existing : bool
            Look the ids up first: points already stored with the same momenta and split are skipped
            (so that a repeated append is harmless), different momenta or split raise.

        Returns
        -------
        list of str
            Names of the written shards (empty if nothing new was written).

        Raises
        ------
        StoreInputError
            On malformed input, unphysical momenta (the message names the store and the rows) or ids that conflict
            with stored points.
        """
        ids = _check_ids(ids)
        n = ids.shape[0]
        p = self._check_momenta(momenta, n)
        splits = _broadcast(split, n, "split", "split")
        rounds = _broadcast(round, n, "round", "int")
        batches = _broadcast(batch, n, "batch", "int")
        if n and check_existing:
            existing = self._existing(ids)
            self._conflicts(ids, p, splits, existing)
            if existing.num_rows:
                keep = ~np.isin(ids.astype(str), np.asarray(existing["point_id"].to_pylist(), dtype=str))
                logger.debug("append_points: %d of %d ids already stored, skipped", int((~keep).sum()), n)
                ids, p, splits, rounds, batches = ids[keep], p[keep], splits[keep], rounds[keep], batches[keep]
                n = ids.shape[0]
        if n == 0:
            return []
        columns = {
            "point_id": pa.array(ids.tolist(), pa.string()),
            "momenta": momenta_to_arrow(p),
            "amplitude": pa.nulls(n, pa.float64()),
            **self._values_column(None, np.zeros(n, dtype=bool)),
            "status": pa.array(np.full(n, "unlabelled", dtype=object), pa.string()),
            "reason": pa.array(np.full(n, "", dtype=object), pa.string()),
            "oracle": pa.nulls(n, pa.string()),
            "provenance": pa.nulls(n, pa.string()),
            "round": pa.array(rounds, pa.int32()),
            "batch": pa.array(batches, pa.int32()),
            "split": pa.array(splits.tolist(), pa.string()),
        }
        return self._write_table(columns)

    def _values_column(self, values: np.ndarray | None, ok: np.ndarray) -> dict[str, pa.Array]:
        """``{"values": ...}`` for a vector store (rows null where not ``ok``), ``{}`` for a scalar store."""
        if self._outputs is None:
            return {}
        k = len(self._outputs)
        n = ok.shape[0]
        if values is None or not ok.any():
            return {"values": pa.nulls(n, pa.list_(pa.float64(), k))}
        flat = np.where(ok[:, None], values, 0.0).reshape(-1)
        return {"values": pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float64()), k, mask=pa.array(~ok))}

    def append_labels(
        self,
        ids: Sequence[str] | np.ndarray,
        momenta: np.ndarray | None,
        values: np.ndarray | Sequence[float],
        *,
        ok: np.ndarray | Sequence[bool] | None = None,
        reasons: Sequence[str] | None = None,
        oracle: str,
        provenance: Mapping[str, Any] | str | None = None,
        split: str | Sequence[str] | np.ndarray | None = None,
        round: int | Sequence[int] | np.ndarray | None = None,
        batch: int | Sequence[int] | np.ndarray | None = None,
        on_duplicate: DuplicatePolicy = "raise",
        check_existing: bool = True,
    ) -> list[str]:
        """Append oracle labels: one ``ok`` or ``failed`` record per point.

        Points already in the store keep their split, round and batch (looked up when not given;
        a different split raises). Points not yet stored need ``momenta``, ``split``, ``round`` and
        ``batch``.

        Parameters
        ----------
        ids : sequence of str
            Shape ``(N,)`` unique point ids.
        momenta : numpy.ndarray or None
            Shape ``(N, n_particles, 4)`` in GeV, physical points (checked as in :meth:`append_points`); None to
            take them from the stored points.
        values : array_like
            Scalar store: ``(N,)`` float, the squared matrix elements in the units of the process. Vector store:
            ``(N, K)`` float in the order of :attr:`outputs` (signed). Entries of failed points are ignored (a
            vector store also takes ``(N,)`` values when every point failed).
        ok : array_like of bool, optional
            ``(N,)`` per-point status (e.g. an oracle result's ``ok``); points marked ok must have valid values.
            None: derived from ``values`` (scalar store: NaN, ±inf and negative values fail with reason ``"nan"``,
            ``"inf"`` or ``"negative"``; vector store: rows with a non-finite entry fail with reason ``"nan"``).
        reasons : sequence of str, optional
            ``N`` failure reasons (``""`` for good points), as in an oracle result's ``reasons``; failed points
            without one get the derived reason or ``"failed"``.
        oracle : str
            Oracle name, e.g. ``"mock"`` or ``"import:file.h5"``.
        provenance : mapping or JSON string, optional
            What produced the labels (oracle options, versions, config hash); stored as JSON per record.
        split, round, batch : optional
            Scalars or one per point; required for points not yet stored.
        on_duplicate : {"raise", "warn", "ignore"}
            What to do when a point with status ``ok`` in the store gets another ``ok`` label.
        check_existing : bool
            Look the ids up (needed when any of momenta/split/round/batch is None); stored momenta
            must agree bit for bit.

        Returns
        -------
        list of str
            Names of the written shards.

        Raises
        ------
        StoreInputError
            On malformed input, e.g. values of the wrong shape, ``(N, K)`` values for a scalar store or ``(N,)``
            ones for a vector store (the message names the store, the expected and the given shape), or unphysical
            momenta (the message names the store and the rows).
        DuplicateLabelError
            With ``on_duplicate="raise"``, if a point marked ok already has an ok label.
        """
        ids = _check_ids(ids)
        n = ids.shape[0]
        if self._outputs is not None:
            vector, ok, reason = vector_labels(ids, values, ok, reasons, self._outputs, self.path)
            amplitude = pa.nulls(n, pa.float64())
        else:
            scalar, ok, reason = scalar_labels(ids, values, ok, reasons, self.path)
            vector, amplitude = None, pa.array(scalar, pa.float64(), mask=~ok)
        if not isinstance(oracle, str) or not oracle:
            raise StoreInputError(f"oracle: expected a non-empty name, got {oracle!r}")
        prov = provenance_json(provenance)
        check_duplicate_policy(on_duplicate)

        p = None if momenta is None else self._check_momenta(momenta, n)
        splits = None if split is None else _broadcast(split, n, "split", "split")
        rounds = None if round is None else _broadcast(round, n, "round", "int")
        batches = None if batch is None else _broadcast(batch, n, "batch", "int")
        need_lookup = p is None or splits is None or rounds is None or batches is None
        if n and (check_existing or need_lookup):
            existing = self._existing(ids)
            if p is not None:
                self._conflicts(ids, p, splits, existing)
            p, splits, rounds, batches = self._fill_from_existing(ids, existing, p, splits, rounds, batches)
            self._check_duplicates(ids[ok], existing, on_duplicate)
        if n == 0:
            return []
        assert p is not None and splits is not None and rounds is not None and batches is not None
        columns = {
            "point_id": pa.array(ids.tolist(), pa.string()),
            "momenta": momenta_to_arrow(p),
            "amplitude": amplitude,
            **self._values_column(vector, ok),
            "status": pa.array(np.where(ok, "ok", "failed").astype(object), pa.string()),
            "reason": pa.array(reason, pa.string()),
            "oracle": pa.array(np.full(n, oracle, dtype=object), pa.string()),
            "provenance": pa.array(np.full(n, prov, dtype=object), pa.string()),
            "round": pa.array(rounds, pa.int32()),
            "batch": pa.array(batches, pa.int32()),
            "split": pa.array(np.asarray(splits).tolist(), pa.string()),
        }
        return self._write_table(columns)

    def _check_duplicates(self, ok_ids: np.ndarray, existing: pa.Table, on_duplicate: DuplicatePolicy) -> None:
        """Apply ``on_duplicate`` to the ids about to get an ok label that already have one in ``existing``."""
        n_dup = int(pc.sum(pc.equal(existing["status"], "ok")).as_py() or 0)
        if not n_dup or not ok_ids.shape[0]:
            return
        wanted = set(ok_ids.tolist())
        pairs = zip(existing["point_id"].to_pylist(), existing["status"].to_pylist(), strict=True)
        dup = [v for v, s in pairs if s == "ok" and v in wanted]
        if dup:
            msg = f"{len(dup)} point(s) already have an ok label (e.g. {dup[0]!r}); appending would duplicate"
            if on_duplicate == "raise":
                raise DuplicateLabelError(f"{self.path}: {msg} (pass on_duplicate='warn' to relabel)")
            if on_duplicate == "warn":
                logger.warning("%s: %s", self.path, msg)

    def _fill_from_existing(
        self,
        ids: np.ndarray,
        existing: pa.Table,
        p: np.ndarray | None,
        splits: np.ndarray | None,
        rounds: np.ndarray | None,
        batches: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Momenta, split, round and batch of every point: as given, else from its stored record."""
        n = ids.shape[0]
        index = {v: i for i, v in enumerate(existing["point_id"].to_pylist())}
        rows = np.array([index.get(v, -1) for v in ids.tolist()], dtype=np.int64)
        missing = rows < 0
        if missing.any():
            absent = [
                name
                for name, v in (("momenta", p), ("split", splits), ("round", rounds), ("batch", batches))
                if v is None
            ]
            if absent:
                raise StoreInputError(
                    f"{int(missing.sum())} id(s) are not in the store (e.g. {ids[np.argmax(missing)]!r}); "
                    f"give {', '.join(absent)} for new points"
                )
        have = ~missing
        src = rows[have]
        if p is None:
            p = np.empty((n, *self.process.momentum_shape))
            p[have] = self._to_momenta(existing["momenta"].take(pa.array(src)))
        if splits is None:
            splits = np.empty(n, dtype=object)
            splits[have] = np.asarray(existing["split"].take(pa.array(src)).to_pylist(), dtype=object)
        if rounds is None:
            rounds = np.zeros(n, dtype=np.int64)
            rounds[have] = existing["round"].take(pa.array(src)).to_numpy()
        if batches is None:
            batches = np.zeros(n, dtype=np.int64)
            batches[have] = existing["batch"].take(pa.array(src)).to_numpy()
        return p, splits, rounds, batches
