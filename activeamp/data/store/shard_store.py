"""The shard store: creating and opening a store directory and its manifest; reading, appending and maintenance
come from the parts it is composed of."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from activeamp.data.store.append import StoreAppender
from activeamp.data.store.errors import (
    BadShardPolicy,
    ManifestError,
    StoreError,
    StoreInputError,
    StoreNotFoundError,
    check_bad_shard_policy,
)
from activeamp.data.store.files import MANIFEST_NAME, StoreDir
from activeamp.data.store.maintenance import StoreMaintenance
from activeamp.data.store.schema import SCHEMA_VERSION, check_outputs, store_schema
from activeamp.data.store.shards import SHARD_FORMAT, writer_info
from activeamp.jsonio import plain
from activeamp.physics.process import Process, get_process

__all__ = ["ShardStore"]

logger = logging.getLogger(__name__)

_FORMAT = "activeamp.shard-store"


def _utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class ShardStore(StoreAppender, StoreMaintenance):
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
    in :meth:`arrays`), e.g. the form-factor coefficients of an oracle with ``outputs``
    (:class:`oracles.base.Oracle`); its ``amplitude`` is always null. Everything else is the same.

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
        self._dir = StoreDir(path, filesystem)
        self.on_bad_shard: BadShardPolicy = check_bad_shard_policy(on_bad_shard)
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
            ``outputs``: the store is then a vector store (recorded as ``"outputs"`` in ``store.json``).
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
        d = StoreDir(path, filesystem)
        names = check_outputs(outputs, f"{d.root}: ShardStore.create")
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
            "shard_format": SHARD_FORMAT,
            "created": _utc_now_iso(),
            "created_by": writer_info(),
            "metadata": dict(metadata or {}),
        }
        if names is not None:
            manifest["outputs"] = list(names)
        try:
            data = (json.dumps(plain(manifest), indent=2, sort_keys=True) + "\n").encode()
        except (TypeError, ValueError) as exc:
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

    def _read_manifest(self) -> dict[str, Any]:
        """``store.json``, checked: format, schema version, process, particle count and outputs."""
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
                check_outputs(outputs, "field 'outputs'")
            except StoreInputError as exc:
                raise ManifestError(f"{where}: {exc}") from None
        return manifest

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
