"""The shards of a store: naming by content hash, listing, integrity and schema checks, atomic writing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from activeamp.data.store.errors import BadShardError, BadShardPolicy, StoreError
from activeamp.data.store.files import MANIFEST_NAME, TMP_PREFIX, StoreDir, is_missing_file
from activeamp.data.store.schema import META_WRITER, check_shard_schema
from activeamp.physics.process import Process

__all__ = ["DEFAULT_MAX_ROWS", "SHARD_FORMAT", "ShardFiles", "shard_name", "writer_info"]

logger = logging.getLogger(__name__)

#: Format of every shard, as recorded in ``store.json``.
SHARD_FORMAT = "arrow-ipc-file"
#: Most records per shard written by one append or compaction.
DEFAULT_MAX_ROWS = 1_000_000
#: ``shard-<time_ns, 20 digits>-<blake2b-64 of the file content, 16 hex>.arrow``
_SHARD_RE = re.compile(r"^shard-(\d{20})-([0-9a-f]{16})\.arrow$")
_HASH_CHUNK = 1 << 23


def shard_name(ts: int, data: bytes | pa.Buffer) -> str:
    """File name of a shard written at ``ts`` (ns since the epoch) with content ``data``."""
    return f"shard-{ts:020d}-{hashlib.blake2b(memoryview(data), digest_size=8).hexdigest()}.arrow"


def writer_info() -> dict[str, Any]:
    """Who writes: activeamp, pyarrow and Python versions, host and process id (recorded in manifest and shards)."""
    from activeamp import __version__

    return {
        "activeamp": __version__,
        "pyarrow": pa.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "pid": os.getpid(),
    }


class ShardFiles:
    """The shard layer of :class:`~activeamp.data.store.ShardStore`, and the state all its parts share.

    Shards are immutable Arrow IPC files named by their creation time and a hash of their content, so truncated
    or corrupt files are recognised before any parsing; every write is atomic.
    """

    _dir: StoreDir
    on_bad_shard: BadShardPolicy
    process: Process
    schema: pa.Schema
    _outputs: tuple[str, ...] | None
    #: name → size of the shards already found intact (shards are immutable)
    _checked: dict[str, int]
    _last_ns: int

    @property
    def path(self) -> str:
        """Root directory of the store."""
        return self._dir.root

    # -- listing and checking -------------------------------------------------------------------------------

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
            if is_missing_file(exc):
                raise
            raise BadShardError(path, f"not a readable Arrow IPC file: {exc}") from None
        check_shard_schema(path, schema, self.schema, self.process.name, self._outputs)
        self._checked[name] = info.size

    def _list(self) -> tuple[list[pafs.FileInfo], list[pafs.FileInfo]]:
        """(candidate shard entries, tmp entries) in name order; store.json and other hidden files excluded."""
        shards, tmps = [], []
        for info in self._dir.listdir():
            name = info.base_name
            if name.startswith(TMP_PREFIX):
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
                if not is_missing_file(exc):
                    raise
        raise StoreError(f"{self.path}: shards keep disappearing while reading (concurrent compactions?)")

    def _find_corrupt(self, names: list[str]) -> list[BadShardError]:
        """Read every shard completely and return an error for each that fails."""
        errors = []
        for name in names:
            path = self._dir.path(name)
            try:
                with self._dir.fs.open_input_file(path) as f:
                    pa.ipc.open_file(f).read_all().validate(full=True)
            except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
                if is_missing_file(exc):
                    continue
                self._checked.pop(name, None)
                errors.append(BadShardError(path, f"corrupt Arrow IPC data: {exc}"))
        return errors

    def shard_names(self) -> list[str]:
        """Names of the readable shards, oldest first (bad files are skipped here, never raised)."""
        return self._shards("skip")[0]

    # -- writing --------------------------------------------------------------------------------------------

    def _now_ns(self) -> int:
        """A creation time (ns since the epoch), strictly increasing within this handle."""
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        return self._last_ns

    def _write_table(self, columns: dict[str, Any], max_rows: int = DEFAULT_MAX_ROWS) -> list[str]:
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
        """The store schema with the writer recorded in its metadata."""
        meta = dict(self.schema.metadata)
        meta[META_WRITER] = json.dumps(writer_info(), sort_keys=True).encode()
        return self.schema.with_metadata(meta)

    def _write_shard(self, table: pa.Table, ts: int) -> str:
        """Write ``table`` atomically as one LZ4-compressed shard created at ``ts``; returns its name."""
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        with pa.ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(table, max_chunksize=65536)
        data = sink.getvalue()
        name = shard_name(ts, data)
        self._dir.write_atomic(name, data)
        logger.debug("wrote shard %s (%d records)", name, table.num_rows)
        return name
