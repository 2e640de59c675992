"""The record schema of a store: columns, vocabularies, shard metadata keys, Arrow ↔ numpy and shard schema checks."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from activeamp.data.store.errors import ShardSchemaError, StoreInputError
from activeamp.physics.process import Process

__all__ = [
    "SCHEMA_VERSION",
    "SPLITS",
    "STATUSES",
    "RANK",
    "META_VERSION",
    "META_PROCESS",
    "META_WRITER",
    "META_OUTPUTS",
    "as_choice",
    "check_outputs",
    "check_shard_schema",
    "momenta_from_arrow",
    "momenta_to_arrow",
    "store_schema",
    "values_from_arrow",
]

#: Version of the record schema; stored in ``store.json`` and in every shard's schema metadata.
SCHEMA_VERSION: int = 1
#: Allowed values of the ``split`` column.
SPLITS: tuple[str, ...] = ("train", "test", "validation", "candidate")
#: Allowed values of the ``status`` column.
STATUSES: tuple[str, ...] = ("unlabelled", "ok", "failed")
#: Rank of a status when the records of one point id are resolved: ok beats failed beats unlabelled.
RANK: dict[str, int] = {"unlabelled": 0, "failed": 1, "ok": 2}

#: Shard schema metadata keys: schema version, process name, writer (JSON), output names (JSON list, vector stores).
META_VERSION = b"activeamp.schema_version"
META_PROCESS = b"activeamp.process"
META_WRITER = b"activeamp.writer"
META_OUTPUTS = b"activeamp.outputs"


def as_choice(value: str | Sequence[str] | None, allowed: tuple[str, ...], what: str) -> list[str] | None:
    """``value`` (one name or several) as a list, each checked against ``allowed``; None stays None."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    for v in values:
        if v not in allowed:
            raise StoreInputError(f"unknown {what} {v!r}; allowed: {', '.join(allowed)}")
    return values


def check_outputs(outputs: Sequence[str] | None, where: str) -> tuple[str, ...] | None:
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
    names = check_outputs(outputs, "store_schema")
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
    meta = {META_VERSION: str(SCHEMA_VERSION).encode(), META_PROCESS: process.name.encode()}
    if names is not None:
        meta[META_OUTPUTS] = json.dumps(list(names)).encode()
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


def momenta_to_arrow(p: np.ndarray) -> pa.FixedSizeListArray:
    """Turn momenta ``(N, n_particles, 4)`` float64 into a ``momenta`` column (the inverse of momenta_from_arrow)."""
    return pa.FixedSizeListArray.from_arrays(pa.array(p.reshape(-1), pa.float64()), p.shape[1] * p.shape[2])


def check_shard_schema(
    path: str, schema: pa.Schema, expected: pa.Schema, process: str, outputs: tuple[str, ...] | None
) -> None:
    """Raise :class:`ShardSchemaError` naming ``path`` unless ``schema`` is that of a shard of the store.

    Parameters
    ----------
    path : str
        The shard (for the message).
    schema : pyarrow.Schema
        The shard's schema, with its metadata.
    expected : pyarrow.Schema
        The store's :func:`store_schema`.
    process : str
        The store's process name.
    outputs : tuple of str or None
        The store's output names (None: a scalar store).
    """
    meta = schema.metadata or {}
    version = meta.get(META_VERSION)
    if version is None:
        raise ShardSchemaError(path, f"schema metadata lacks {META_VERSION.decode()!r}; not written by activeamp")
    if version != str(SCHEMA_VERSION).encode():
        raise ShardSchemaError(
            path, f"{META_VERSION.decode()} is {version.decode(errors='replace')!r}, store uses {SCHEMA_VERSION}"
        )
    got_process = meta.get(META_PROCESS, b"").decode(errors="replace")
    if got_process != process:
        raise ShardSchemaError(path, f"{META_PROCESS.decode()} is {got_process!r}, store process is {process!r}")
    raw_outputs = meta.get(META_OUTPUTS)
    try:
        got = json.loads(raw_outputs) if raw_outputs is not None else None
    except (ValueError, UnicodeDecodeError):
        got = raw_outputs.decode(errors="replace") if raw_outputs is not None else None
    if got != (None if outputs is None else list(outputs)):
        raise ShardSchemaError(
            path,
            f"{META_OUTPUTS.decode()} is {got!r}, store outputs are "
            f"{list(outputs) if outputs is not None else None!r} "
            f"({'vector' if outputs is not None else 'scalar'} store)",
        )
    for field in expected:
        if field.name not in schema.names:
            raise ShardSchemaError(path, f"field {field.name!r} missing")
        have = schema.field(field.name)
        if not have.type.equals(field.type):
            raise ShardSchemaError(path, f"field {field.name!r} has type {have.type}, expected {field.type}")
        if have.nullable != field.nullable:
            raise ShardSchemaError(
                path, f"field {field.name!r} is {'' if have.nullable else 'not '}nullable, expected the opposite"
            )
    extra = [n for n in schema.names if n not in expected.names]
    if extra:
        raise ShardSchemaError(path, f"unexpected field(s) {', '.join(map(repr, extra))}")
