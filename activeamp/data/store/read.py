"""Reading a store: scans over the validated shards and the resolution of each point id's records to one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from activeamp.data.store.errors import (
    BadShardPolicy,
    DuplicateLabelError,
    DuplicatePolicy,
    StoreError,
    StoreInputError,
    check_bad_shard_policy,
)
from activeamp.data.store.files import is_missing_file
from activeamp.data.store.records import LabelledArrays, PointSet
from activeamp.data.store.schema import RANK, SPLITS, STATUSES, as_choice, momenta_from_arrow, values_from_arrow
from activeamp.data.store.shards import ShardFiles

__all__ = ["StoreReader", "resolution_order"]

logger = logging.getLogger(__name__)


def resolution_order(raw: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """Order raw records for resolution: by point id, then best record first.

    Within a point id, records are sorted by rank (ok > failed > unlabelled), then ``created`` and
    shard index, latest first.

    Parameters
    ----------
    raw : pyarrow.Table
        Records with at least the columns ``point_id``, ``status``, ``created`` and ``_shard``.

    Returns
    -------
    order : numpy.ndarray
        ``(R,)`` row indices of ``raw`` in resolution order.
    same : numpy.ndarray
        ``(R,)`` bool, in sorted order: the record has the same point id as the previous one (so
        ``~same`` marks the winning record of each point id).
    copy : numpy.ndarray
        ``(R,)`` bool, in sorted order: an exact copy of the previous record (same id, status, created).
    rank : numpy.ndarray
        ``(R,)`` int8 rank in sorted order.
    ids : pyarrow.Array
        Point ids in sorted order.
    """
    rank = np.zeros(raw.num_rows, dtype=np.int8)
    rank[pc.equal(raw["status"], "failed").to_numpy(zero_copy_only=False)] = RANK["failed"]
    rank[pc.equal(raw["status"], "ok").to_numpy(zero_copy_only=False)] = RANK["ok"]
    created = raw["created"].cast(pa.int64()).to_numpy()
    keys = pa.table({"id": raw["point_id"], "rank": rank, "created": created, "shard": raw["_shard"]})
    order = pc.sort_indices(
        keys,
        sort_keys=[("id", "ascending"), ("rank", "descending"), ("created", "descending"), ("shard", "descending")],
    ).to_numpy()
    ids = keys["id"].take(order).combine_chunks()
    rank, created = rank[order], created[order]
    same = np.zeros(order.shape[0], dtype=bool)
    if order.shape[0] > 1:
        same[1:] = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(zero_copy_only=False)
    copy = np.zeros_like(same)
    copy[1:] = same[1:] & (rank[1:] == rank[:-1]) & (created[1:] == created[:-1])
    return order, same, copy, rank, ids


class StoreReader(ShardFiles):
    """The reading part of :class:`~activeamp.data.store.ShardStore` (see its docstring for the resolution rules)."""

    # -- scans ----------------------------------------------------------------------------------------------

    def _scan(
        self, columns: list[str], filter: pc.Expression | None, policy: BadShardPolicy
    ) -> tuple[pa.Table, list[tuple[str, str]], list[str]]:
        """Raw records with an extra ``_shard`` column (index of the shard in name order).

        Returns (table, ``(path, message)`` of skipped files, names of the shards read).
        """
        for _ in range(3):
            names, bad = self._shards(policy)
            try:
                return self._scan_names(names, columns, filter), bad, names
            except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
                if is_missing_file(exc):
                    continue
                culprits = self._find_corrupt(names)
                if not culprits:
                    raise StoreError(f"{self.path}: reading shards failed: {exc}") from exc
                if policy == "raise":
                    raise culprits[0] from exc
                for c in culprits:
                    logger.warning("skipping bad shard: %s", c)
                bad += [(c.path, str(c)) for c in culprits]
                names = [nm for nm in names if self._dir.path(nm) not in {c.path for c in culprits}]
                try:
                    return self._scan_names(names, columns, filter), bad, names
                except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc2:
                    if not is_missing_file(exc2):
                        raise StoreError(f"{self.path}: reading shards failed: {exc2}") from exc2
        raise StoreError(f"{self.path}: shards keep disappearing while reading (concurrent compactions?)")

    def _scan_names(self, names: list[str], columns: list[str], filter: pc.Expression | None) -> pa.Table:
        """The ``columns`` (plus ``_shard``) of the records in the shards ``names`` that pass ``filter``."""
        schema = self.schema.with_metadata({})
        out_schema = pa.schema([schema.field(c) for c in columns] + [pa.field("_shard", pa.int32())])
        if not names:
            return out_schema.empty_table()
        paths = [self._dir.path(n) for n in names]
        position = {p: i for i, p in enumerate(paths)}
        dataset = ds.dataset(paths, schema=schema, format="ipc", filesystem=self._dir.fs)
        batches = []
        for tagged in dataset.scanner(columns=columns, filter=filter).scan_batches():
            rb = tagged.record_batch
            if rb.num_rows == 0:
                continue
            idx = pa.array(np.full(rb.num_rows, position[tagged.fragment.path], dtype=np.int32))
            batches.append(pa.RecordBatch.from_arrays([*rb.columns, idx], schema=out_schema))
        return pa.Table.from_batches(batches, schema=out_schema)

    def _resolved(
        self,
        columns: list[str],
        filter: pc.Expression | None,
        policy: BadShardPolicy,
        on_duplicate: DuplicatePolicy,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Resolve raw records to one per point id (see the class docstring), sorted by point id."""
        needed = list(dict.fromkeys(["point_id", "status", "created", *columns]))
        raw, bad, names = self._scan(needed, filter, policy)
        info: dict[str, Any] = {"bad": bad, "n_shards": len(names), "n_records": raw.num_rows, "duplicates": []}
        if raw.num_rows == 0:
            return raw.select(columns), info
        order, same, copy, rank, ids = resolution_order(raw)
        first = ~same
        extra_ok = same & ~copy & (rank == RANK["ok"])
        if extra_ok.any():
            dup_ids = np.unique(np.asarray(ids.filter(pa.array(extra_ok)).to_pylist(), dtype=object))
            info["duplicates"] = dup_ids.tolist()
            msg = (
                f"{self.path}: {len(dup_ids)} point id(s) have more than one ok label (e.g. {dup_ids[0]!r}); "
                "the latest is used, see ShardStore.duplicates()"
            )
            if on_duplicate == "raise":
                raise DuplicateLabelError(msg)
            if on_duplicate == "warn":
                logger.warning(msg)
        table = raw.select(columns).take(pa.array(order[first]))
        return table, info

    def _filter_expr(self, split: str | Sequence[str] | None) -> pc.Expression | None:
        """Scan filter keeping the given splits (None: everything)."""
        splits = as_choice(split, SPLITS, "split")
        return None if splits is None else pc.field("split").isin(splits)

    def _columns(self, columns: Sequence[str] | None) -> list[str]:
        """``columns`` as a list (None: all of the schema); unknown names raise :class:`StoreInputError`."""
        cols = list(self.schema.names) if columns is None else list(columns)
        unknown = [c for c in cols if c not in self.schema.names]
        if unknown:
            raise StoreInputError(f"unknown column(s) {unknown}; columns: {', '.join(self.schema.names)}")
        return cols

    def _to_momenta(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """A ``momenta`` column as ``(N, n_particles, 4)`` float64 [GeV]."""
        return momenta_from_arrow(column, self.process)

    # -- public reads ---------------------------------------------------------------------------------------

    def read(
        self,
        split: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        *,
        on_bad_shard: BadShardPolicy | None = None,
        on_duplicate: DuplicatePolicy = "warn",
    ) -> pa.Table:
        """The resolved view: one record per point id, sorted by point id.

        Parameters
        ----------
        split : str or sequence of str, optional
            Keep only these splits (default: all).
        status : str or sequence of str, optional
            Keep only points whose *resolved* status is one of these (default: all).
        columns : sequence of str, optional
            Columns to return (default: all of :func:`store_schema`); ``momenta`` is a fixed-size list
            column of ``n_particles * 4`` float64 (use :meth:`arrays` for numpy).
        on_bad_shard : {"raise", "skip"}, optional
            Override the store's policy for unreadable files.
        on_duplicate : {"raise", "warn", "ignore"}
            Reaction to point ids with more than one ok label (the latest is used unless raising).

        Returns
        -------
        pyarrow.Table
        """
        cols = self._columns(columns)
        statuses = as_choice(status, STATUSES, "status")
        policy = check_bad_shard_policy(on_bad_shard or self.on_bad_shard)
        needed = list(dict.fromkeys([*cols, "status"]))
        table, _ = self._resolved(needed, self._filter_expr(split), policy, on_duplicate)
        if statuses is not None:
            table = table.filter(pc.field("status").isin(statuses))
        return table.select(cols)

    def records(
        self,
        split: str | Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        *,
        on_bad_shard: BadShardPolicy | None = None,
    ) -> pa.Table:
        """All raw records (unresolved, every append of every point), oldest shard first."""
        cols = self._columns(columns)
        table, _, _ = self._scan(
            cols, self._filter_expr(split), check_bad_shard_policy(on_bad_shard or self.on_bad_shard)
        )
        table = table.sort_by([("_shard", "ascending")])
        return table.select(cols)

    def arrays(
        self,
        split: str | Sequence[str] | None = None,
        *,
        on_bad_shard: BadShardPolicy | None = None,
        on_duplicate: DuplicatePolicy = "warn",
    ) -> LabelledArrays:
        """Momenta ``(N, n_particles, 4)`` [GeV] and labels of the ``ok`` points, for training.

        Scalar store: amplitudes ``(N,)``. Vector store: ``values`` ``(N, K)`` (columns as :attr:`outputs`) and
        ``amplitude`` all NaN; :attr:`LabelledArrays.targets` is the label either way. Failed and unlabelled
        points are excluded. Rows are sorted by point id (deterministic).
        """
        columns = ["point_id", "momenta", "amplitude", *(["values"] if self._outputs is not None else [])]
        table = self.read(split, "ok", columns, on_bad_shard=on_bad_shard, on_duplicate=on_duplicate)
        values = None
        if self._outputs is not None:
            values = values_from_arrow(table["values"], len(self._outputs))
        return LabelledArrays(
            ids=np.asarray(table["point_id"].to_pylist(), dtype=object),
            momenta=self._to_momenta(table["momenta"]),
            amplitude=table["amplitude"].to_numpy(zero_copy_only=False).astype(np.float64, copy=False),
            values=values,
        )

    def unlabelled(
        self,
        split: str | Sequence[str] | None = None,
        *,
        include_failed: bool = False,
        limit: int | None = None,
        on_bad_shard: BadShardPolicy | None = None,
    ) -> PointSet:
        """Points that still need an oracle call (resolved status ``unlabelled``; ``failed`` too if asked).

        Parameters
        ----------
        split : str or sequence of str, optional
            Restrict to these splits.
        include_failed : bool
            Also return points whose labelling failed (to retry them).
        limit : int, optional
            At most this many points (the first in point-id order).
        """
        status = ["unlabelled", "failed"] if include_failed else ["unlabelled"]
        table = self.read(
            split,
            status,
            ["point_id", "momenta", "split", "round", "batch"],
            on_bad_shard=on_bad_shard,
            on_duplicate="ignore",
        )
        if limit is not None:
            table = table.slice(0, max(0, int(limit)))
        return PointSet(
            ids=np.asarray(table["point_id"].to_pylist(), dtype=object),
            momenta=self._to_momenta(table["momenta"]),
            split=np.asarray(table["split"].to_pylist(), dtype=object),
            round=table["round"].to_numpy().astype(np.int64),
            batch=table["batch"].to_numpy().astype(np.int64),
        )

    def labelled_ids(self, split: str | Sequence[str] | None = None, *, include_failed: bool = True) -> frozenset[str]:
        """Ids of points with a label (resolved status ``ok``, and ``failed`` unless ``include_failed=False``)."""
        status = ["ok", "failed"] if include_failed else ["ok"]
        table = self.read(split, status, ["point_id"], on_duplicate="ignore")
        return frozenset(table["point_id"].to_pylist())
