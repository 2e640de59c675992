"""Append-only store of phase-space points and oracle labels in Arrow IPC shards, with atomic, versioned writes.

A store holds scalar labels (squared matrix elements, column ``amplitude``) or, when created with ``outputs``,
vector labels (several signed numbers per point, e.g. form-factor coefficients, column ``values``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from activeamp.physics.process import Process, get_process
from oracles.base import OracleResult, classify_values
from oracles.vvamp import VectorOracleResult

__all__ = [
    "SCHEMA_VERSION",
    "SPLITS",
    "STATUSES",
    "MANIFEST_NAME",
    "StoreError",
    "StoreNotFoundError",
    "ManifestError",
    "StoreInputError",
    "BadShardError",
    "ShardSchemaError",
    "DuplicateLabelError",
    "StoreValidationError",
    "PointSet",
    "LabelledArrays",
    "StoreSummary",
    "ValidationReport",
    "ShardStore",
    "make_point_ids",
    "momenta_from_arrow",
    "store_schema",
    "values_from_arrow",
]

logger = logging.getLogger(__name__)

#: Version of the record schema; stored in ``store.json`` and in every shard's schema metadata.
SCHEMA_VERSION: int = 1
#: Allowed values of the ``split`` column.
SPLITS: tuple[str, ...] = ("train", "test", "validation", "candidate")
#: Allowed values of the ``status`` column.
STATUSES: tuple[str, ...] = ("unlabelled", "ok", "failed")
#: Name of the manifest at the store root.
MANIFEST_NAME: str = "store.json"

_FORMAT = "activeamp.shard-store"
_SHARD_FORMAT = "arrow-ipc-file"
_SHARD_PREFIX = "shard-"
_SHARD_SUFFIX = ".arrow"
#: ``shard-<time_ns, 20 digits>-<blake2b-64 of the file content, 16 hex>.arrow``
_SHARD_RE = re.compile(r"^shard-(\d{20})-([0-9a-f]{16})\.arrow$")
_HASH_CHUNK = 1 << 23
_TMP_PREFIX = ".tmp-"
_META_VERSION = b"activeamp.schema_version"
_META_PROCESS = b"activeamp.process"
_META_WRITER = b"activeamp.writer"
_META_OUTPUTS = b"activeamp.outputs"
_RANK = {"unlabelled": 0, "failed": 1, "ok": 2}
_ID_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_DEFAULT_MAX_ROWS = 1_000_000

BadShardPolicy = Literal["raise", "skip"]
DuplicatePolicy = Literal["raise", "warn", "ignore"]


# ----------------------------------------------------------------------------------------------------- errors


class StoreError(RuntimeError):
    """Base class of shard-store errors; messages name the file, field and value concerned."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """The directory is not a shard store (no ``store.json``)."""


class ManifestError(StoreError):
    """``store.json`` is unreadable or inconsistent."""


class StoreInputError(StoreError, ValueError):
    """Data handed to the store is malformed (shape, dtype, unknown split, conflicting ids, ...)."""


class BadShardError(StoreError):
    """A file in the store directory is not a readable shard of this store.

    Attributes
    ----------
    path : str
        The offending file.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class ShardSchemaError(BadShardError):
    """A shard is readable but its schema version, process or fields do not match the store."""


class DuplicateLabelError(StoreError):
    """Some point ids carry more than one ``ok`` label."""


class StoreValidationError(StoreError):
    """:meth:`ShardStore.validate` found problems (the message lists them)."""


# ---------------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class PointSet:
    """Phase-space points without a usable label, as returned by :meth:`ShardStore.unlabelled`.

    Attributes
    ----------
    ids : numpy.ndarray
        Shape ``(N,)`` object array of point-id strings.
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` float64, (E, px, py, pz) in GeV.
    split : numpy.ndarray
        Shape ``(N,)`` object array of split names.
    round : numpy.ndarray
        Shape ``(N,)`` int64, active-learning round in which the point was generated.
    batch : numpy.ndarray
        Shape ``(N,)`` int64, batch within the round.
    """

    ids: np.ndarray
    momenta: np.ndarray
    split: np.ndarray
    round: np.ndarray
    batch: np.ndarray

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class LabelledArrays:
    """Training arrays of labelled points, as returned by :meth:`ShardStore.arrays`, sorted by point id.

    Attributes
    ----------
    ids : numpy.ndarray
        Shape ``(N,)`` object array of point-id strings.
    momenta : numpy.ndarray
        Shape ``(N, n_particles, 4)`` float64, (E, px, py, pz) in GeV.
    amplitude : numpy.ndarray
        Shape ``(N,)`` float64, squared matrix elements in the units of the process (all NaN for a vector store).
    values : numpy.ndarray or None
        Shape ``(N, K)`` float64, the vector labels (columns in the order of :attr:`ShardStore.outputs`) of a
        vector store; None for a scalar store.
    """

    ids: np.ndarray
    momenta: np.ndarray
    amplitude: np.ndarray
    values: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def targets(self) -> np.ndarray:
        """The labels: :attr:`values` ``(N, K)`` for a vector store, else :attr:`amplitude` ``(N,)``."""
        return self.values if self.values is not None else self.amplitude


@dataclass(frozen=True)
class StoreSummary:
    """Counts and amplitude range of a store (resolved view: one entry per point id).

    Attributes
    ----------
    process : str
        Process name of the store.
    n_shards : int
        Readable shards.
    n_records : int
        Records over all readable shards (a point has one record per append that touched it).
    n_points : int
        Distinct point ids.
    counts : dict
        ``counts[split][status]`` = number of points.
    amplitude_min, amplitude_max, amplitude_median : float or None
        Over ``ok`` points, in the units of the process; None without ok points and for vector stores.
    n_duplicates : int
        Point ids with more than one ``ok`` label.
    bad_shards : tuple of str
        Files skipped as unreadable (only with ``on_bad_shard="skip"``).
    outputs : tuple of str or None
        Names of the ``K`` outputs of a vector store; None for a scalar store.
    values_min, values_max : tuple of float or None
        Vector stores: per output (length ``K``), the smallest and largest value over ``ok`` points; None
        without ok points and for scalar stores.
    """

    process: str
    n_shards: int
    n_records: int
    n_points: int
    counts: dict[str, dict[str, int]]
    amplitude_min: float | None
    amplitude_max: float | None
    amplitude_median: float | None
    n_duplicates: int
    bad_shards: tuple[str, ...] = ()
    outputs: tuple[str, ...] | None = None
    values_min: tuple[float, ...] | None = None
    values_max: tuple[float, ...] | None = None

    def count(self, split: str | None = None, status: str | None = None) -> int:
        """Number of points with the given split and/or status (None: any)."""
        return sum(
            n
            for sp, by_status in self.counts.items()
            if split is None or sp == split
            for st, n in by_status.items()
            if status is None or st == status
        )


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of :meth:`ShardStore.validate`.

    Attributes
    ----------
    n_shards : int
        Shards that could be read.
    n_records : int
        Records in those shards.
    n_points : int
        Distinct point ids.
    bad_shards : tuple of (str, str)
        ``(file, message)`` for every unreadable or mismatching file.
    issues : tuple of str
        Content problems (duplicate labels, conflicting momenta, invalid values), one line each.
    tmp_files : tuple of str
        Leftover ``.tmp-`` files of interrupted writes (harmless; removed by :meth:`ShardStore.cleanup`).
    """

    n_shards: int
    n_records: int
    n_points: int
    bad_shards: tuple[tuple[str, str], ...]
    issues: tuple[str, ...]
    tmp_files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there are neither bad shards nor issues."""
        return not self.bad_shards and not self.issues

    def message(self) -> str:
        """All problems, one per line."""
        lines = [m for _, m in self.bad_shards] + list(self.issues)
        return "\n".join(lines) if lines else "store is valid"


# ----------------------------------------------------------------------------------------------- id helpers


def make_point_ids(prefix: str | int, round: int, batch: int, n: int, start: int = 0) -> np.ndarray:
    """Deterministic, unique and sortable point ids for one batch of generated points.

    Parameters
    ----------
    prefix : str or int
        Run identifier. An int is taken as the run seed and becomes ``"s<seed>"``; a string must
        consist of letters, digits, ``_``, ``.`` and ``-``.
    round : int
        Active-learning round (>= 0).
    batch : int
        Batch within the round (>= 0).
    n : int
        Number of ids.
    start : int
        Index of the first point within the batch.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)`` object array of strings ``"<prefix>/r<round:05>/b<batch:06>/<index:08>"``; the same
        arguments always give the same ids, and ids of different (prefix, round, batch, index) never coincide.
    """
    if isinstance(prefix, (int, np.integer)) and not isinstance(prefix, bool):
        if prefix < 0:
            raise StoreInputError(f"make_point_ids: seed must be >= 0, got {prefix}")
        prefix = f"s{int(prefix)}"
    if not isinstance(prefix, str) or not _ID_PREFIX_RE.match(prefix):
        raise StoreInputError(f"make_point_ids: prefix must match [A-Za-z0-9_.-]+, got {prefix!r}")
    for name, value in (("round", round), ("batch", batch), ("n", n), ("start", start)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise StoreInputError(f"make_point_ids: {name} must be an int >= 0, got {value!r}")
    head = f"{prefix}/r{int(round):05d}/b{int(batch):06d}/"
    return np.array([f"{head}{i:08d}" for i in range(int(start), int(start) + int(n))], dtype=object)


def _check_outputs(outputs: Sequence[str] | None, where: str) -> tuple[str, ...] | None:
    """``outputs`` as a tuple of unique non-empty names (None stays None); raise StoreInputError naming ``where``."""
    if outputs is None:
        return None
    if isinstance(outputs, str):
        raise StoreInputError(f"{where}: outputs must be a sequence of names, got the string {outputs!r}")
    names = tuple(outputs)
    if not names:
        raise StoreInputError(f"{where}: outputs must name at least one output (or be None for a scalar store)")
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise StoreInputError(f"{where}: outputs[{i}] is {name!r}, expected a non-empty string")
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise StoreInputError(f"{where}: outputs has the name {repeated!r} more than once")
    return names


def store_schema(process: Process, outputs: Sequence[str] | None = None) -> pa.Schema:
    """The Arrow schema of the records of a store for ``process`` (including version metadata).

    Columns: ``point_id`` (string), ``process`` (string), ``momenta`` (fixed-size list of
    ``n_particles * 4`` float64, GeV), ``amplitude`` (float64, null unless ``status == "ok"`` in a scalar
    store), ``status`` (``unlabelled|ok|failed``), ``reason`` (string, why a point failed), ``oracle``
    (string, null until labelled), ``provenance`` (JSON string), ``round`` and ``batch`` (int32),
    ``split`` (``train|test|validation|candidate``), ``created`` (timestamp ns, UTC).

    With ``outputs`` (a vector store) there is one more column, ``values`` (fixed-size list of ``K =
    len(outputs)`` float64, null unless ``status == "ok"``; ``amplitude`` is then always null), and the
    metadata key ``activeamp.outputs`` holds the output names as a JSON list. Scalar stores have neither.
    """
    names = _check_outputs(outputs, "store_schema")
    fields = [
        pa.field("point_id", pa.string(), nullable=False),
        pa.field("process", pa.string(), nullable=False),
        pa.field("momenta", pa.list_(pa.float64(), process.n_particles * 4), nullable=False),
        pa.field("amplitude", pa.float64()),
        *([pa.field("values", pa.list_(pa.float64(), len(names)))] if names is not None else []),
        pa.field("status", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("oracle", pa.string()),
        pa.field("provenance", pa.string()),
        pa.field("round", pa.int32(), nullable=False),
        pa.field("batch", pa.int32(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("created", pa.timestamp("ns", tz="UTC"), nullable=False),
    ]
    meta = {_META_VERSION: str(SCHEMA_VERSION).encode(), _META_PROCESS: process.name.encode()}
    if names is not None:
        meta[_META_OUTPUTS] = json.dumps(list(names)).encode()
    return pa.schema(fields, metadata=meta)


def values_from_arrow(column: pa.ChunkedArray | pa.Array, n_outputs: int) -> np.ndarray:
    """Turn a ``values`` column (fixed-size lists of ``K`` float64, nullable) into ``(N, K)``; null rows are NaN."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    out = np.full((len(arr), n_outputs), np.nan)
    if len(arr) == 0:
        return out
    valid = ~arr.is_null().to_numpy(zero_copy_only=False)
    if valid.any():
        flat = arr.filter(pa.array(valid)).flatten().to_numpy(zero_copy_only=False).astype(np.float64)
        out[valid] = flat.reshape(-1, n_outputs)
    return out


def momenta_from_arrow(column: pa.ChunkedArray | pa.Array, process: Process) -> np.ndarray:
    """Turn a ``momenta`` column (fixed-size lists of ``n_particles * 4`` float64) into ``(N, n_particles, 4)``."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return np.empty((0, *process.momentum_shape))
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    return flat.reshape(len(arr), *process.momentum_shape)


# -------------------------------------------------------------------------------------------- file access


class _Dir:
    """File operations on the store directory through ``pyarrow.fs`` (local paths get fsync'd atomic writes)."""

    def __init__(self, path: str | os.PathLike[str], filesystem: pafs.FileSystem | None = None) -> None:
        path = os.fspath(path)
        if filesystem is None:
            if "://" in path:
                filesystem, path = pafs.FileSystem.from_uri(path)
            else:
                filesystem, path = pafs.LocalFileSystem(), os.path.abspath(path)
        self.fs = filesystem
        self.root = path.rstrip("/") or "/"
        self.local = isinstance(filesystem, pafs.LocalFileSystem)

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def exists(self, name: str | None = None) -> bool:
        target = self.root if name is None else self.path(name)
        return self.fs.get_file_info(target).type != pafs.FileType.NotFound

    def listdir(self) -> list[pafs.FileInfo]:
        return sorted(self.fs.get_file_info(pafs.FileSelector(self.root, recursive=False)), key=lambda i: i.base_name)

    def read_bytes(self, name: str) -> bytes:
        with self.fs.open_input_stream(self.path(name)) as f:
            return f.read()

    def remove(self, name: str) -> bool:
        try:
            self.fs.delete_file(self.path(name))
        except FileNotFoundError:
            return False
        return True

    def fsync_dir(self) -> None:
        if not self.local or not hasattr(os, "O_DIRECTORY"):
            return
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def write_atomic(self, name: str, data: bytes | pa.Buffer, *, exclusive: bool = False) -> None:
        """Write ``data`` to ``name`` so that readers see either nothing or the whole file.

        The bytes go to a ``.tmp-`` file in the same directory, are flushed and fsync'd, and the file
        is then renamed into place (``exclusive``: hard-linked, failing if ``name`` exists); finally
        the directory is fsync'd.
        """
        tmp = f"{_TMP_PREFIX}{name}.{secrets.token_hex(4)}"
        if not self.local:
            if exclusive and self.exists(name):
                raise FileExistsError(self.path(name))
            with self.fs.open_output_stream(self.path(tmp)) as out:
                out.write(data)
            self.fs.move(self.path(tmp), self.path(name))
            return
        tmp_path, final = self.path(tmp), self.path(name)
        try:
            with open(tmp_path, "xb") as f:
                f.write(memoryview(data))
                f.flush()
                os.fsync(f.fileno())
            if exclusive:
                os.link(tmp_path, final)
                os.unlink(tmp_path)
            else:
                os.replace(tmp_path, final)
        except BaseException:
            try:
                os.unlink(tmp_path)
            except FileNotFoundError:
                pass
            raise
        self.fsync_dir()


# ----------------------------------------------------------------------------------------------- the store


def _utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _writer_info() -> dict[str, Any]:
    from activeamp import __version__

    return {
        "activeamp": __version__,
        "pyarrow": pa.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "pid": os.getpid(),
    }


def _as_choice(value: str | Sequence[str] | None, allowed: tuple[str, ...], what: str) -> list[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    for v in values:
        if v not in allowed:
            raise StoreInputError(f"unknown {what} {v!r}; allowed: {', '.join(allowed)}")
    return values


def _is_missing_file(exc: BaseException) -> bool:
    return isinstance(exc, FileNotFoundError) or "No such file" in str(exc)


def _resolution_order(raw: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """Order raw records for resolution: by point id, then best record first.

    Within a point id, records are sorted by rank (ok > failed > unlabelled), then ``created`` and
    shard index, latest first.

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
    rank[pc.equal(raw["status"], "failed").to_numpy(zero_copy_only=False)] = _RANK["failed"]
    rank[pc.equal(raw["status"], "ok").to_numpy(zero_copy_only=False)] = _RANK["ok"]
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


class ShardStore:
    """An append-only dataset of Arrow IPC shards holding phase-space points and their oracle labels.

    Every append writes new, immutable shards ``shard-<time_ns>-<content hash>.arrow`` atomically; shards
    are never modified (only :meth:`compact` replaces them). Reading goes through
    :mod:`pyarrow.dataset` over the validated shards and *resolves* the records of each point id:

    * labelled records beat unlabelled ones, and ``ok`` beats ``failed`` (rank ok > failed > unlabelled);
    * among records of equal rank the latest (``created``, then shard name) wins;
    * exact copies of a record (same point id, status and ``created``, e.g. left by an interrupted
      compaction) count once;
    * two or more ``ok`` records of one point id are *duplicates*: the latest wins, and they are
      reported by :meth:`duplicates`, :meth:`validate` and (per ``on_duplicate``) by :meth:`read`.

    A *scalar* store labels each point with one non-negative number (column ``amplitude``). A *vector* store
    (created with ``outputs``) labels each point with ``K`` signed numbers (column ``values``, shape ``(N, K)``
    in :meth:`arrays`), e.g. the form-factor coefficients of :class:`oracles.vvamp.VectorOracle`; its
    ``amplitude`` is always null. Everything else is the same.

    Parameters
    ----------
    path : str or os.PathLike
        Store directory (or a ``pyarrow.fs`` URI).
    on_bad_shard : {"raise", "skip"}
        Default policy for unreadable or mismatching files: raise :class:`BadShardError` naming the
        file, or skip it with a logged warning.
    filesystem : pyarrow.fs.FileSystem, optional
        Filesystem holding ``path`` (default: local, or derived from a URI).

    Use :meth:`create` or :meth:`open` rather than the constructor.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        on_bad_shard: BadShardPolicy = "raise",
        filesystem: pafs.FileSystem | None = None,
    ) -> None:
        self._dir = _Dir(path, filesystem)
        self.on_bad_shard: BadShardPolicy = self._check_policy(on_bad_shard)
        self.manifest: dict[str, Any] = self._read_manifest()
        self.process: Process = get_process(self.manifest["process"])
        self._outputs: tuple[str, ...] | None = (
            tuple(self.manifest["outputs"]) if self.manifest.get("outputs") is not None else None
        )
        self.schema: pa.Schema = store_schema(self.process, self._outputs)
        self._checked: dict[str, int] = {}
        self._last_ns = 0

    # -- construction ---------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        process: str | Process,
        *,
        outputs: Sequence[str] | None = None,
        exist_ok: bool = False,
        metadata: Mapping[str, Any] | None = None,
        on_bad_shard: BadShardPolicy = "raise",
        filesystem: pafs.FileSystem | None = None,
    ) -> ShardStore:
        """Create an empty store for ``process`` in ``path`` (created if missing) and open it.

        Parameters
        ----------
        path : str or os.PathLike
            Directory; it must be missing, empty, or (with ``exist_ok``) a store of the same process and outputs.
        process : str or Process
            The scattering process of all points in the store.
        outputs : sequence of str, optional
            Names of the ``K`` components of vector labels (non-empty, unique), e.g. a vector oracle's
            ``output_names``: the store is then a vector store (recorded as ``"outputs"`` in ``store.json``).
            None (default): a scalar store of amplitudes.
        exist_ok : bool
            Open an existing store of the same process and outputs instead of failing.
        metadata : mapping, optional
            Extra JSON-serialisable information recorded in ``store.json`` (run config, ...).

        Raises
        ------
        StoreError
            If the directory holds another store (or, with ``exist_ok``, a store of another process or other
            outputs) or unrelated files.
        StoreInputError
            If ``outputs`` is empty or has repeated or empty names.
        """
        proc = get_process(process) if isinstance(process, str) else process
        d = _Dir(path, filesystem)
        names = _check_outputs(outputs, f"{d.root}: ShardStore.create")
        d.fs.create_dir(d.root, recursive=True)
        if d.exists(MANIFEST_NAME):
            if not exist_ok:
                raise StoreError(f"{d.path(MANIFEST_NAME)}: a store already exists (pass exist_ok=True to open it)")
            store = cls(d.root, on_bad_shard=on_bad_shard, filesystem=d.fs)
            if store.process.name != proc.name:
                raise StoreError(
                    f"{d.path(MANIFEST_NAME)}: existing store has process {store.process.name!r}, "
                    f"requested {proc.name!r}"
                )
            if store.outputs != names:
                raise StoreError(
                    f"{d.path(MANIFEST_NAME)}: existing store has outputs "
                    f"{list(store.outputs) if store.outputs is not None else None} "
                    f"({'vector' if store.outputs is not None else 'scalar'} store), requested "
                    f"{list(names) if names is not None else None}"
                )
            return store
        foreign = [i.base_name for i in d.listdir() if not i.base_name.startswith((".", "_"))]
        if foreign:
            raise StoreError(f"{d.root}: directory is not empty and not a store (contains {', '.join(foreign[:5])})")
        manifest = {
            "format": _FORMAT,
            "schema_version": SCHEMA_VERSION,
            "process": proc.name,
            "n_particles": proc.n_particles,
            "shard_format": _SHARD_FORMAT,
            "created": _utc_now_iso(),
            "created_by": _writer_info(),
            "metadata": dict(metadata or {}),
        }
        if names is not None:
            manifest["outputs"] = list(names)
        try:
            data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        except TypeError as exc:
            raise StoreInputError(f"store metadata is not JSON-serialisable: {exc}") from None
        try:
            d.write_atomic(MANIFEST_NAME, data, exclusive=True)
        except FileExistsError:
            if not exist_ok:
                raise StoreError(f"{d.path(MANIFEST_NAME)}: a store was created here concurrently") from None
            return cls.create(d.root, proc, outputs=names, exist_ok=True, on_bad_shard=on_bad_shard, filesystem=d.fs)
        logger.info(
            "created shard store %s for process %s%s",
            d.root,
            proc.name,
            "" if names is None else f" with outputs {', '.join(names)}",
        )
        return cls(d.root, on_bad_shard=on_bad_shard, filesystem=d.fs)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        on_bad_shard: BadShardPolicy = "raise",
        filesystem: pafs.FileSystem | None = None,
    ) -> ShardStore:
        """Open the existing store in ``path``.

        Raises
        ------
        StoreNotFoundError
            If ``path`` has no ``store.json``.
        ManifestError
            If ``store.json`` is unreadable, of another format or schema version, or names an unknown process.
        """
        return cls(path, on_bad_shard=on_bad_shard, filesystem=filesystem)

    @staticmethod
    def _check_policy(policy: str) -> BadShardPolicy:
        if policy not in ("raise", "skip"):
            raise StoreInputError(f"on_bad_shard must be 'raise' or 'skip', got {policy!r}")
        return policy  # type: ignore[return-value]

    def _read_manifest(self) -> dict[str, Any]:
        where = self._dir.path(MANIFEST_NAME)
        try:
            raw = self._dir.read_bytes(MANIFEST_NAME)
        except FileNotFoundError:
            raise StoreNotFoundError(f"{self._dir.root}: not a shard store ({MANIFEST_NAME} missing)") from None
        try:
            manifest = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(manifest, dict):
            raise ManifestError(f"{where}: expected a JSON object, got {type(manifest).__name__}")
        if manifest.get("format") != _FORMAT:
            raise ManifestError(f"{where}: field 'format' is {manifest.get('format')!r}, expected {_FORMAT!r}")
        version = manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ManifestError(
                f"{where}: field 'schema_version' is {version!r}; this activeamp reads version {SCHEMA_VERSION}"
            )
        try:
            process = get_process(manifest.get("process"))
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"{where}: field 'process': {exc}") from None
        if manifest.get("n_particles", process.n_particles) != process.n_particles:
            raise ManifestError(
                f"{where}: field 'n_particles' is {manifest['n_particles']!r}, process {process.name} has "
                f"{process.n_particles}"
            )
        outputs = manifest.get("outputs")
        if outputs is not None:
            if not isinstance(outputs, list):
                raise ManifestError(f"{where}: field 'outputs' is {outputs!r}, expected a list of names")
            try:
                _check_outputs(outputs, "field 'outputs'")
            except StoreInputError as exc:
                raise ManifestError(f"{where}: {exc}") from None
        return manifest

    @property
    def path(self) -> str:
        """Root directory of the store."""
        return self._dir.root

    @property
    def outputs(self) -> tuple[str, ...] | None:
        """Names of the ``K`` components of a vector store's labels; None for a scalar store."""
        return self._outputs

    @property
    def n_outputs(self) -> int | None:
        """Number ``K`` of components of a vector store's labels; None for a scalar store."""
        return None if self._outputs is None else len(self._outputs)

    def __repr__(self) -> str:
        if self._outputs is not None:
            return f"ShardStore({self.path!r}, process={self.process.name!r}, outputs={list(self._outputs)!r})"
        return f"ShardStore({self.path!r}, process={self.process.name!r})"

    # -- shards ---------------------------------------------------------------------------------------------

    def _check_shard(self, info: pafs.FileInfo) -> None:
        """Raise :class:`BadShardError` unless ``info`` is an intact shard of this store.

        The file name carries a hash of the content, so truncated or corrupt files are recognised
        before any Arrow parsing; then schema version, process and fields are compared with the
        store. Intact shards are remembered (shards are immutable).
        """
        path = info.path
        if info.type != pafs.FileType.File:
            raise BadShardError(path, "not a regular file; a store directory holds only shards and store.json")
        name = info.base_name
        match = _SHARD_RE.match(name)
        if match is None:
            raise BadShardError(
                path, "foreign file in store directory (shards are named shard-<20 digits>-<16 hex digits>.arrow)"
            )
        if self._checked.get(name) == info.size:
            return
        digest = hashlib.blake2b(digest_size=8)
        with self._dir.fs.open_input_stream(path) as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != match.group(2):
            raise BadShardError(
                path,
                f"content hash {digest.hexdigest()} does not match the name ({match.group(2)}): "
                f"truncated or corrupt ({info.size} bytes)",
            )
        try:
            with self._dir.fs.open_input_file(path) as f:
                schema = pa.ipc.open_file(f).schema
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError, ValueError) as exc:
            if _is_missing_file(exc):
                raise
            raise BadShardError(path, f"not a readable Arrow IPC file: {exc}") from None
        self._check_schema(path, schema)
        self._checked[name] = info.size

    def _check_schema(self, path: str, schema: pa.Schema) -> None:
        meta = schema.metadata or {}
        version = meta.get(_META_VERSION)
        if version is None:
            raise ShardSchemaError(path, f"schema metadata lacks {_META_VERSION.decode()!r}; not written by activeamp")
        if version != str(SCHEMA_VERSION).encode():
            raise ShardSchemaError(
                path, f"{_META_VERSION.decode()} is {version.decode(errors='replace')!r}, store uses {SCHEMA_VERSION}"
            )
        process = meta.get(_META_PROCESS, b"").decode(errors="replace")
        if process != self.process.name:
            raise ShardSchemaError(
                path, f"{_META_PROCESS.decode()} is {process!r}, store process is {self.process.name!r}"
            )
        raw_outputs = meta.get(_META_OUTPUTS)
        try:
            got = json.loads(raw_outputs) if raw_outputs is not None else None
        except (ValueError, UnicodeDecodeError):
            got = raw_outputs.decode(errors="replace") if raw_outputs is not None else None
        if got != (None if self._outputs is None else list(self._outputs)):
            raise ShardSchemaError(
                path,
                f"{_META_OUTPUTS.decode()} is {got!r}, store outputs are "
                f"{list(self._outputs) if self._outputs is not None else None!r} "
                f"({'vector' if self._outputs is not None else 'scalar'} store)",
            )
        for expected in self.schema:
            if expected.name not in schema.names:
                raise ShardSchemaError(path, f"field {expected.name!r} missing")
            got = schema.field(expected.name)
            if not got.type.equals(expected.type):
                raise ShardSchemaError(path, f"field {expected.name!r} has type {got.type}, expected {expected.type}")
            if got.nullable != expected.nullable:
                raise ShardSchemaError(
                    path, f"field {expected.name!r} is {'' if got.nullable else 'not '}nullable, expected the opposite"
                )
        extra = [n for n in schema.names if n not in self.schema.names]
        if extra:
            raise ShardSchemaError(path, f"unexpected field(s) {', '.join(map(repr, extra))}")

    def _list(self) -> tuple[list[pafs.FileInfo], list[pafs.FileInfo]]:
        """(candidate shard entries, tmp entries) in name order; store.json and other hidden files excluded."""
        shards, tmps = [], []
        for info in self._dir.listdir():
            name = info.base_name
            if name.startswith(_TMP_PREFIX):
                tmps.append(info)
            elif name == MANIFEST_NAME or name.startswith((".", "_")):
                continue
            else:
                shards.append(info)
        return shards, tmps

    def _shards(self, policy: BadShardPolicy) -> tuple[list[str], list[tuple[str, str]]]:
        """Names of readable shards and ``(path, message)`` of bad ones (raises under ``"raise"``)."""
        for _ in range(3):
            good, bad = [], []
            try:
                for info in self._list()[0]:
                    try:
                        self._check_shard(info)
                        good.append(info.base_name)
                    except BadShardError as exc:
                        if policy == "raise":
                            raise
                        logger.warning("skipping bad shard: %s", exc)
                        bad.append((exc.path, str(exc)))
                return good, bad
            except (FileNotFoundError, OSError) as exc:  # a shard vanished (concurrent compaction): list again
                if not _is_missing_file(exc):
                    raise
        raise StoreError(f"{self.path}: shards keep disappearing while reading (concurrent compactions?)")

    def shard_names(self) -> list[str]:
        """Names of the readable shards, oldest first (bad files are skipped here, never raised)."""
        return self._shards("skip")[0]

    # -- writing --------------------------------------------------------------------------------------------

    def _now_ns(self) -> int:
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        return self._last_ns

    def _write_table(self, columns: dict[str, Any], max_rows: int = _DEFAULT_MAX_ROWS) -> list[str]:
        """Write records (columns without ``process`` and ``created``) as shards of at most ``max_rows``."""
        n = len(columns["point_id"])
        names = []
        for lo in range(0, n, max_rows):
            ts = self._now_ns()
            hi = min(n, lo + max_rows)
            part = {k: v[lo:hi] for k, v in columns.items()}
            part["process"] = pa.array(np.full(hi - lo, self.process.name, dtype=object), pa.string())
            part["created"] = pa.array(np.full(hi - lo, ts, dtype="datetime64[ns]"), pa.timestamp("ns", tz="UTC"))
            table = pa.table({f.name: part[f.name] for f in self.schema}, schema=self._write_schema())
            names.append(self._write_shard(table, ts))
        return names

    def _write_schema(self) -> pa.Schema:
        meta = dict(self.schema.metadata)
        meta[_META_WRITER] = json.dumps(_writer_info(), sort_keys=True).encode()
        return self.schema.with_metadata(meta)

    def _write_shard(self, table: pa.Table, ts: int) -> str:
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with pa.ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(table, max_chunksize=65536)
        data = sink.getvalue()
        name = f"{_SHARD_PREFIX}{ts:020d}-{hashlib.blake2b(memoryview(data), digest_size=8).hexdigest()}{_SHARD_SUFFIX}"
        self._dir.write_atomic(name, data)
        logger.debug("wrote shard %s (%d records)", name, table.num_rows)
        return name

    def _check_ids(self, ids: Any) -> np.ndarray:
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

    def _check_momenta(self, momenta: Any, n: int) -> np.ndarray:
        p = np.asarray(momenta)
        expected = (n, *self.process.momentum_shape)
        if p.shape != expected:
            raise StoreInputError(
                f"momenta: expected shape {expected} for {n} ids of process {self.process.name}, got {p.shape}"
            )
        if not np.issubdtype(p.dtype, np.floating) and not np.issubdtype(p.dtype, np.integer):
            raise StoreInputError(f"momenta: expected float64 values, got dtype {p.dtype}")
        p = np.ascontiguousarray(p, dtype=np.float64)
        finite = np.isfinite(p).all(axis=(1, 2))
        if not finite.all():
            raise StoreInputError(f"momenta: non-finite entries at point {int(np.argmin(finite))}")
        return p

    @staticmethod
    def _broadcast(value: Any, n: int, what: str, kind: Literal["split", "int"]) -> np.ndarray:
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

    @staticmethod
    def _momenta_array(p: np.ndarray) -> pa.FixedSizeListArray:
        return pa.FixedSizeListArray.from_arrays(pa.array(p.reshape(-1), pa.float64()), p.shape[1] * p.shape[2])

    def _existing(self, ids: np.ndarray) -> pa.Table:
        """Resolved records of those ``ids`` already in the store (point_id, status, momenta, split, round, batch)."""
        cols = ["point_id", "status", "momenta", "split", "round", "batch", "created"]
        return self._resolved(
            cols, pc.field("point_id").isin(pa.array(ids.tolist(), pa.string())), self.on_bad_shard, "ignore"
        )[0]

    def _conflicts(self, ids: np.ndarray, momenta: np.ndarray, split: np.ndarray | None, existing: pa.Table) -> None:
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
            Shape ``(N, n_particles, 4)``, (E, px, py, pz) in GeV, finite.
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
            On malformed input or ids that conflict with stored points.
        """
        ids = self._check_ids(ids)
        n = ids.shape[0]
        p = self._check_momenta(momenta, n)
        splits = self._broadcast(split, n, "split", "split")
        rounds = self._broadcast(round, n, "round", "int")
        batches = self._broadcast(batch, n, "batch", "int")
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
            "momenta": self._momenta_array(p),
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

    def _scalar_result(self, result: Any, n: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """(values (N,), ok (N,), reasons) of a result handed to a scalar store."""
        if isinstance(result, VectorOracleResult):
            shape = np.shape(result.values)
            raise StoreInputError(
                f"{self.path}: oracle result: this scalar store expects {n} values of shape ({n},), got a vector "
                f"result of shape {shape}; vector labels need a store created with outputs=[...]"
            )
        if isinstance(result, OracleResult):
            return np.asarray(result.values, np.float64), np.asarray(result.ok, bool), result.reasons
        raw = np.asarray(result, dtype=np.float64)
        if raw.ndim == 2:
            raise StoreInputError(
                f"{self.path}: oracle result: this scalar store expects {n} values of shape ({n},), got shape "
                f"{raw.shape}; vector labels need a store created with outputs=[...]"
            )
        res = classify_values(raw)
        return res.values, res.ok, res.reasons

    def _vector_result(self, result: Any, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """(values (N, K), ok (N,), reasons) of a result handed to a vector store; failed rows are NaN."""
        assert self._outputs is not None
        n, k = ids.shape[0], len(self._outputs)
        expected = f"values of shape ({n}, {k}) for the outputs {list(self._outputs)}"
        if isinstance(result, OracleResult):
            shape, ok = np.shape(result.values), np.asarray(result.ok, bool)
            # a result without any ok point carries no values (e.g. a batch that failed as a whole): its rows
            # are stored as failed whatever the container; (N, K) values in an OracleResult are a vector result
            if ok.shape == (n,) and not ok.any() and shape == (n,):
                return np.full((n, k), np.nan), ok, tuple(result.reasons)
            if shape != (n, k):
                raise StoreInputError(
                    f"{self.path}: oracle result: this vector store expects {expected}, got a scalar result of "
                    f"shape {shape}"
                )
        if isinstance(result, (VectorOracleResult, OracleResult)):
            values, ok, reasons = np.asarray(result.values, np.float64), np.asarray(result.ok, bool), result.reasons
            if values.shape != (n, k) or ok.shape != (n,):
                raise StoreInputError(
                    f"{self.path}: oracle result: this vector store expects {expected}, got a vector result with "
                    f"values of shape {values.shape} and ok of shape {ok.shape}"
                )
            bad = ok & ~np.isfinite(values).all(axis=1)
            if bad.any():
                i = int(np.argmax(bad))
                raise StoreInputError(
                    f"{self.path}: oracle result: point {i} ({ids[i]!r}) marked ok but values are {values[i].tolist()}"
                )
        else:
            try:
                values = np.asarray(result, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise StoreInputError(f"{self.path}: oracle result: expected {expected}, got {exc}") from None
            if values.shape != (n, k):
                raise StoreInputError(
                    f"{self.path}: oracle result: this vector store expects {expected}, got shape {values.shape}"
                )
            ok = np.isfinite(values).all(axis=1) if n else np.ones(0, dtype=bool)
            reasons = tuple("" if good else "nan" for good in ok.tolist())
        return np.where(ok[:, None], values, np.nan), ok, reasons

    def append_labels(
        self,
        ids: Sequence[str] | np.ndarray,
        momenta: np.ndarray | None,
        result: OracleResult | VectorOracleResult | np.ndarray | Sequence[float],
        *,
        oracle: str,
        provenance: Mapping[str, Any] | str | None = None,
        split: str | Sequence[str] | np.ndarray | None = None,
        round: int | Sequence[int] | np.ndarray | None = None,
        batch: int | Sequence[int] | np.ndarray | None = None,
        on_duplicate: DuplicatePolicy = "raise",
        check_existing: bool = True,
    ) -> list[str]:
        """Append oracle results: one ``ok`` or ``failed`` record per point.

        Points already in the store keep their split, round and batch (looked up when not given;
        a different split raises). Points not yet stored need ``momenta``, ``split``, ``round`` and
        ``batch``.

        Parameters
        ----------
        ids : sequence of str
            Shape ``(N,)`` unique point ids.
        momenta : numpy.ndarray or None
            Shape ``(N, n_particles, 4)`` in GeV; None to take them from the stored points.
        result : OracleResult, VectorOracleResult or array_like
            Scalar store: per-point values ``(N,)`` (units of the process) with status and failure reasons; raw
            values are classified (NaN, inf and negative values fail). Vector store: a
            :class:`oracles.vvamp.VectorOracleResult` (or a result with the same fields and values ``(N, K)``) or
            values ``(N, K)`` in the order of :attr:`outputs`; rows with any non-finite entry fail (reason
            ``"nan"``), negative values are legitimate. A scalar :class:`~oracles.base.OracleResult` in which every
            point failed carries no values and is accepted by both (its points are stored as failed).
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
            On malformed input, e.g. a result of the wrong shape, a vector result for a scalar store or a scalar
            one for a vector store (the message names the store, the expected and the given shape).
        """
        ids = self._check_ids(ids)
        n = ids.shape[0]
        vector: np.ndarray | None = None
        if self._outputs is not None:
            vector, ok, reasons = self._vector_result(result, ids)
            values = np.full(n, np.nan)
        else:
            values, ok, reasons = self._scalar_result(result, n)
        if values.shape != (n,) or ok.shape != (n,):
            raise StoreInputError(f"oracle result: expected {n} values, got shape {values.shape}")
        if reasons and len(reasons) != n:
            raise StoreInputError(f"oracle result: expected {n} reasons, got {len(reasons)}")
        if vector is None:
            good = ok & np.isfinite(values) & (values >= 0)
            if (ok & ~good).any():
                k = int(np.argmax(ok & ~good))
                raise StoreInputError(f"oracle result: point {k} ({ids[k]!r}) marked ok but value is {values[k]!r}")
        if not isinstance(oracle, str) or not oracle:
            raise StoreInputError(f"oracle: expected a non-empty name, got {oracle!r}")
        prov = self._provenance_json(provenance)
        if on_duplicate not in ("raise", "warn", "ignore"):
            raise StoreInputError(f"on_duplicate must be 'raise', 'warn' or 'ignore', got {on_duplicate!r}")

        p = None if momenta is None else self._check_momenta(momenta, n)
        splits = None if split is None else self._broadcast(split, n, "split", "split")
        rounds = None if round is None else self._broadcast(round, n, "round", "int")
        batches = None if batch is None else self._broadcast(batch, n, "batch", "int")
        need_lookup = p is None or splits is None or rounds is None or batches is None
        if n and (check_existing or need_lookup):
            existing = self._existing(ids)
            if p is not None:
                self._conflicts(ids, p, splits, existing)
            p, splits, rounds, batches = self._fill_from_existing(ids, existing, p, splits, rounds, batches)
            n_dup = int(pc.sum(pc.equal(existing["status"], "ok")).as_py() or 0)
            if n_dup and ok.any():
                ok_ids = set(ids[ok].tolist())
                pairs = zip(existing["point_id"].to_pylist(), existing["status"].to_pylist(), strict=True)
                dup = [v for v, s in pairs if s == "ok" and v in ok_ids]
                if dup:
                    msg = f"{len(dup)} point(s) already have an ok label (e.g. {dup[0]!r}); appending would duplicate"
                    if on_duplicate == "raise":
                        raise DuplicateLabelError(f"{self.path}: {msg} (pass on_duplicate='warn' to relabel)")
                    if on_duplicate == "warn":
                        logger.warning("%s: %s", self.path, msg)
        if n == 0:
            return []
        assert p is not None and splits is not None and rounds is not None and batches is not None
        reason = np.array([r if r else "failed" for r in (reasons or ("",) * n)], dtype=object)
        reason[ok] = ""
        columns = {
            "point_id": pa.array(ids.tolist(), pa.string()),
            "momenta": self._momenta_array(p),
            "amplitude": pa.array(values, pa.float64(), mask=~ok) if vector is None else pa.nulls(n, pa.float64()),
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

    @staticmethod
    def _provenance_json(provenance: Mapping[str, Any] | str | None) -> str:
        if provenance is None:
            return "{}"
        if isinstance(provenance, str):
            try:
                json.loads(provenance)
            except ValueError as exc:
                raise StoreInputError(f"provenance: not a valid JSON string ({exc})") from None
            return provenance
        try:
            return json.dumps(dict(provenance), sort_keys=True, default=str)
        except (TypeError, ValueError) as exc:
            raise StoreInputError(f"provenance: not JSON-serialisable ({exc})") from None

    def _fill_from_existing(
        self,
        ids: np.ndarray,
        existing: pa.Table,
        p: np.ndarray | None,
        splits: np.ndarray | None,
        rounds: np.ndarray | None,
        batches: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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

    # -- reading --------------------------------------------------------------------------------------------

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
                if _is_missing_file(exc):
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
                    if not _is_missing_file(exc2):
                        raise StoreError(f"{self.path}: reading shards failed: {exc2}") from exc2
        raise StoreError(f"{self.path}: shards keep disappearing while reading (concurrent compactions?)")

    def _scan_names(self, names: list[str], columns: list[str], filter: pc.Expression | None) -> pa.Table:
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

    def _find_corrupt(self, names: list[str]) -> list[BadShardError]:
        """Read every shard completely and return an error for each that fails."""
        errors = []
        for name in names:
            path = self._dir.path(name)
            try:
                with self._dir.fs.open_input_file(path) as f:
                    pa.ipc.open_file(f).read_all().validate(full=True)
            except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
                if _is_missing_file(exc):
                    continue
                self._checked.pop(name, None)
                errors.append(BadShardError(path, f"corrupt Arrow IPC data: {exc}"))
        return errors

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
        order, same, copy, rank, ids = _resolution_order(raw)
        first = ~same
        extra_ok = same & ~copy & (rank == _RANK["ok"])
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
        splits = _as_choice(split, SPLITS, "split")
        return None if splits is None else pc.field("split").isin(splits)

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
        cols = list(self.schema.names) if columns is None else list(columns)
        unknown = [c for c in cols if c not in self.schema.names]
        if unknown:
            raise StoreInputError(f"unknown column(s) {unknown}; columns: {', '.join(self.schema.names)}")
        statuses = _as_choice(status, STATUSES, "status")
        policy = self._check_policy(on_bad_shard or self.on_bad_shard)
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
        cols = list(self.schema.names) if columns is None else list(columns)
        unknown = [c for c in cols if c not in self.schema.names]
        if unknown:
            raise StoreInputError(f"unknown column(s) {unknown}; columns: {', '.join(self.schema.names)}")
        table, _, _ = self._scan(cols, self._filter_expr(split), self._check_policy(on_bad_shard or self.on_bad_shard))
        table = table.sort_by([("_shard", "ascending")])
        return table.select(cols)

    def _to_momenta(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        return momenta_from_arrow(column, self.process)

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

    def duplicates(self, *, on_bad_shard: BadShardPolicy | None = None) -> pa.Table:
        """Point ids with more than one ``ok`` label.

        Returns
        -------
        pyarrow.Table
            Columns ``point_id``, ``n_ok`` (number of distinct ok records), ``amplitude_min``,
            ``amplitude_max`` (null in a vector store) and ``oracles`` (list of oracle names, one per record),
            sorted by point id.
        """
        policy = self._check_policy(on_bad_shard or self.on_bad_shard)
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
        policy = self._check_policy(on_bad_shard or self.on_bad_shard)
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

    # -- maintenance ----------------------------------------------------------------------------------------

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
                if _is_missing_file(exc):
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

    def compact(self, *, max_rows: int = _DEFAULT_MAX_ROWS, drop_superseded: bool = False) -> list[str]:
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
            order, same, copy, rank, _ = _resolution_order(raw)
            keep = ~copy
            if drop_superseded:
                keep &= ~same | (rank == _RANK["ok"])
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
