"""Looking after a store: duplicate labels, summary, in-depth validation, cleanup and compaction."""

from __future__ import annotations

import logging
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from activeamp.data.store.errors import BadShardError, BadShardPolicy, StoreValidationError, check_bad_shard_policy
from activeamp.data.store.files import is_missing_file
from activeamp.data.store.read import StoreReader, resolution_order
from activeamp.data.store.records import StoreSummary, ValidationReport
from activeamp.data.store.schema import RANK, SPLITS, STATUSES, values_from_arrow
from activeamp.data.store.shards import DEFAULT_MAX_ROWS

__all__ = ["StoreMaintenance"]

logger = logging.getLogger(__name__)


class StoreMaintenance(StoreReader):
    """The maintenance part of :class:`~activeamp.data.store.ShardStore`: reports, checks and rewriting of shards."""

    def duplicates(self, *, on_bad_shard: BadShardPolicy | None = None) -> pa.Table:
        """Point ids with more than one ``ok`` label.

        Returns
        -------
        pyarrow.Table
            Columns ``point_id``, ``n_ok`` (number of distinct ok records), ``amplitude_min``,
            ``amplitude_max`` (null in a vector store) and ``oracles`` (list of oracle names, one per record),
            sorted by point id.
        """
        policy = check_bad_shard_policy(on_bad_shard or self.on_bad_shard)
        raw, _, _ = self._scan(["point_id", "amplitude", "oracle", "created"], pc.field("status") == "ok", policy)
        distinct = (
            raw.group_by(["point_id", "created"])
            .aggregate([("amplitude", "min"), ("oracle", "min")])
            .rename_columns(["point_id", "created", "amplitude", "oracle"])
        )
        grouped = distinct.group_by("point_id").aggregate(
            [("point_id", "count"), ("amplitude", "min"), ("amplitude", "max"), ("oracle", "list")]
        )
        grouped = grouped.rename_columns(
            {
                "point_id_count": "n_ok",
                "amplitude_min": "amplitude_min",
                "amplitude_max": "amplitude_max",
                "oracle_list": "oracles",
            }
        )
        grouped = grouped.filter(pc.field("n_ok") > 1).sort_by("point_id")
        return grouped.select(["point_id", "n_ok", "amplitude_min", "amplitude_max", "oracles"])

    def summary(self, *, on_bad_shard: BadShardPolicy | None = None) -> StoreSummary:
        """Counts by split and status, the label range of ok points, shard and duplicate counts.

        Scalar stores report the amplitude minimum, maximum and median; vector stores the minimum and maximum of
        each output (``values_min``, ``values_max``).
        """
        policy = check_bad_shard_policy(on_bad_shard or self.on_bad_shard)
        label = "amplitude" if self._outputs is None else "values"
        table, info = self._resolved(["split", "status", label], None, policy, "ignore")
        counts: dict[str, dict[str, int]] = {}
        if table.num_rows:
            for row in table.group_by(["split", "status"]).aggregate([("status", "count")]).to_pylist():
                counts.setdefault(row["split"], {})[row["status"]] = int(row["status_count"])
        ok_rows = table.filter(pc.field("status") == "ok") if table.num_rows else table
        values_min = values_max = None
        if self._outputs is not None:
            amp = np.empty(0)
            vec = values_from_arrow(ok_rows["values"], len(self._outputs))
            if vec.shape[0]:
                values_min = tuple(float(v) for v in np.nanmin(vec, axis=0))
                values_max = tuple(float(v) for v in np.nanmax(vec, axis=0))
        else:
            amp = ok_rows["amplitude"].to_numpy(zero_copy_only=False) if table.num_rows else np.empty(0)
        return StoreSummary(
            process=self.process.name,
            n_shards=info["n_shards"],
            n_records=info["n_records"],
            n_points=table.num_rows,
            counts=counts,
            amplitude_min=float(amp.min()) if amp.size else None,
            amplitude_max=float(amp.max()) if amp.size else None,
            amplitude_median=float(np.median(amp)) if amp.size else None,
            n_duplicates=len(info["duplicates"]),
            bad_shards=tuple(p for p, _ in info["bad"]),
            outputs=self._outputs,
            values_min=values_min,
            values_max=values_max,
        )

    def validate(self, *, raise_on_error: bool = False) -> ValidationReport:
        """Check every file and record in depth.

        Reads each shard completely (Arrow-level validation), checks schema version, process, outputs and
        fields, the values of every column (status/split vocabulary, ok points with finite
        non-negative amplitudes, null amplitudes otherwise; in a vector store ok points with ``K`` finite
        values, null values otherwise and null amplitudes everywhere; finite momenta), and across shards
        that each point id has one set of momenta and one split and at most one ok label.

        Parameters
        ----------
        raise_on_error : bool
            Raise :class:`StoreValidationError` listing the problems instead of returning them.
        """
        infos, tmps = self._list()
        bad: list[tuple[str, str]] = []
        issues: list[str] = []
        tables = []
        for index, info in enumerate(infos):
            try:
                self._check_shard(info)
                with self._dir.fs.open_input_file(info.path) as f:
                    table = pa.ipc.open_file(f).read_all()
                table.validate(full=True)
            except BadShardError as exc:
                bad.append((exc.path, str(exc)))
                continue
            except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
                if is_missing_file(exc):
                    continue
                bad.append((info.path, f"{info.path}: corrupt Arrow IPC data: {exc}"))
                continue
            issues += self._check_values(info.path, table)
            tables.append(table.append_column("_shard", pa.array(np.full(table.num_rows, index, np.int32))))
        raw = pa.concat_tables(tables) if tables else None
        n_points = 0
        if raw is not None and raw.num_rows:
            issues += self._check_consistency(raw)
            n_points = len(pc.unique(raw["point_id"]))
        report = ValidationReport(
            n_shards=len(tables),
            n_records=0 if raw is None else raw.num_rows,
            n_points=n_points,
            bad_shards=tuple(bad),
            issues=tuple(issues),
            tmp_files=tuple(i.path for i in tmps),
        )
        if raise_on_error and not report.ok:
            raise StoreValidationError(f"{self.path}: store is invalid:\n{report.message()}")
        return report

    def _check_values(self, path: str, table: pa.Table) -> list[str]:
        """Problems with the values of the records of one shard, one line each."""
        issues = []

        def report(mask: np.ndarray, field: str, what: str) -> None:
            if mask.any():
                k = int(np.argmax(mask))
                issues.append(
                    f"{path}: field {field!r}: {int(mask.sum())} record(s) {what} "
                    f"(first: row {k}, point {table['point_id'][k].as_py()!r})"
                )

        def values(name: str) -> np.ndarray:
            return np.asarray(table[name].to_pylist(), dtype=object)

        status, split = values("status"), values("split")
        report(values("process") != self.process.name, "process", f"differ from {self.process.name!r}")
        report(~np.isin(status, STATUSES), "status", f"not in {STATUSES}")
        report(~np.isin(split, SPLITS), "split", f"not in {SPLITS}")
        ids = values("point_id")
        report(np.array([not v for v in ids], dtype=bool), "point_id", "are null or empty")
        amp = table["amplitude"].to_numpy(zero_copy_only=False).astype(np.float64)
        is_null = table["amplitude"].is_null().to_numpy(zero_copy_only=False)
        ok = status == "ok"
        if self._outputs is None:
            report(ok & (is_null | ~np.isfinite(amp) | (amp < 0)), "amplitude", "are ok but not finite and >= 0")
            report(~ok & ~is_null, "amplitude", "are not ok but carry a value")
        else:
            report(~is_null, "amplitude", "carry a value in a vector store (labels belong in 'values')")
            vec_null = table["values"].is_null().to_numpy(zero_copy_only=False)
            vec = values_from_arrow(table["values"], len(self._outputs))
            report(
                ok & (vec_null | ~np.isfinite(vec).all(axis=1)),
                "values",
                f"are ok but not {len(self._outputs)} finite numbers",
            )
            report(~ok & ~vec_null, "values", "are not ok but carry values")
        report(ok & table["oracle"].is_null().to_numpy(zero_copy_only=False), "oracle", "are ok without an oracle")
        p = self._to_momenta(table["momenta"])
        report(~np.isfinite(p).all(axis=(1, 2)), "momenta", "have non-finite entries")
        rounds = table["round"].to_numpy()
        batches = table["batch"].to_numpy()
        report((rounds < 0) | (batches < 0), "round/batch", "are negative")
        return issues

    def _check_consistency(self, raw: pa.Table) -> list[str]:
        """Problems across shards: a point id with other momenta, another split or a second ok label."""
        issues = []
        order = pc.sort_indices(raw, sort_keys=[("point_id", "ascending"), ("_shard", "ascending")]).to_numpy()
        ids = np.asarray(raw["point_id"].take(order).to_pylist(), dtype=object)
        same = np.zeros(len(ids), dtype=bool)
        same[1:] = ids[1:] == ids[:-1]
        p = self._to_momenta(raw["momenta"].take(pa.array(order)))
        split = np.asarray(raw["split"].take(order).to_pylist(), dtype=object)
        bad_p = same.copy()
        bad_p[1:] &= ~(p[1:] == p[:-1]).all(axis=(1, 2))
        if bad_p.any():
            issues.append(
                f"{self.path}: {int(bad_p.sum())} record(s) give a point id different momenta "
                f"(e.g. {ids[np.argmax(bad_p)]!r})"
            )
        bad_s = same.copy()
        bad_s[1:] &= split[1:] != split[:-1]
        if bad_s.any():
            issues.append(
                f"{self.path}: {int(bad_s.sum())} record(s) put a point id in different splits "
                f"(e.g. {ids[np.argmax(bad_s)]!r})"
            )
        dups = self.duplicates(on_bad_shard="skip")
        if dups.num_rows:
            issues.append(
                f"{self.path}: {dups.num_rows} point id(s) have more than one ok label "
                f"(e.g. {dups['point_id'][0].as_py()!r}); see ShardStore.duplicates()"
            )
        return issues

    def cleanup(self, *, older_than: float = 3600.0) -> list[str]:
        """Remove ``.tmp-`` files left by interrupted writes.

        Parameters
        ----------
        older_than : float
            Only files last modified at least this many seconds ago (so that writes in progress in
            other processes are left alone); 0 removes all.

        Returns
        -------
        list of str
            Paths of the removed files.
        """
        now = time.time()
        removed = []
        for info in self._list()[1]:
            mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
            if now - mtime >= older_than and self._dir.remove(info.base_name):
                removed.append(info.path)
                logger.info("removed leftover temporary file %s", info.path)
        if removed:
            self._dir.fsync_dir()
        return removed

    def compact(self, *, max_rows: int = DEFAULT_MAX_ROWS, drop_superseded: bool = False) -> list[str]:
        """Rewrite the current shards into fewer ones (at most ``max_rows`` records each).

        Records keep their ``created`` times, so the resolved view is unchanged; exact copies are
        written once. With ``drop_superseded``, records that can never win again (unlabelled or
        failed records of points with a newer or better record) are dropped; all ok records are kept
        so that duplicates stay visible. The new shards are written atomically before the old ones
        are deleted; a crash in between leaves exact copies, which reading counts once. Bad shards
        raise (``on_bad_shard="raise"``) or are left in place (``"skip"``).

        Returns
        -------
        list of str
            Names of the new shards.
        """
        if len(self._shards(self.on_bad_shard)[0]) <= 1 and not drop_superseded:
            return self.shard_names()
        cols = [c for c in self.schema.names if c != "process"]
        raw, _, names = self._scan(cols, None, self.on_bad_shard)
        if raw.num_rows:
            order, same, copy, rank, _ = resolution_order(raw)
            keep = ~copy
            if drop_superseded:
                keep &= ~same | (rank == RANK["ok"])
            kept = order[keep]
            created = raw["created"].cast(pa.int64()).to_numpy()
            kept = kept[np.lexsort((raw["_shard"].to_numpy()[kept], created[kept]))]
            raw = raw.take(pa.array(kept))
        new: list[str] = []
        for lo in range(0, raw.num_rows, max_rows):
            part = raw.slice(lo, max_rows)
            ts = self._now_ns()
            n = part.num_rows
            data = {f.name: part[f.name] for f in self.schema if f.name in part.column_names}
            data["process"] = pa.array(np.full(n, self.process.name, dtype=object), pa.string())
            table = pa.table({f.name: data[f.name] for f in self.schema}, schema=self._write_schema())
            new.append(self._write_shard(table, ts))
        for name in names:
            self._dir.remove(name)
            self._checked.pop(name, None)
        self._dir.fsync_dir()
        logger.info("compacted %d shards into %d (%d records)", len(names), len(new), raw.num_rows)
        return new
