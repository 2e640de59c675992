"""Append-only store of phase-space points and oracle labels in Arrow IPC shards, with atomic, versioned writes.

A store holds scalar labels (squared matrix elements, column ``amplitude``) or, when created with ``outputs``,
vector labels (several signed numbers per point, e.g. form-factor coefficients, column ``values``). Labels come
in as plain arrays (values, ok, reasons); the store imports nothing from ``oracles``.

Modules, one concept each: :mod:`~activeamp.data.store.errors` (errors and policies),
:mod:`~activeamp.data.store.records` (what reads return, point ids), :mod:`~activeamp.data.store.schema` (columns,
metadata, Arrow ↔ numpy), :mod:`~activeamp.data.store.files` (the directory, atomic writes),
:mod:`~activeamp.data.store.shards` (shard names, checks, writing), :mod:`~activeamp.data.store.read` (scans and
resolution), :mod:`~activeamp.data.store.labels` (label arrays), :mod:`~activeamp.data.store.append` (appends),
:mod:`~activeamp.data.store.maintenance` (duplicates, summary, validate, cleanup, compact) and
:mod:`~activeamp.data.store.shard_store` (:class:`ShardStore`: create, open, manifest).
"""

from __future__ import annotations

from activeamp.data.store.errors import (
    BadShardError,
    DuplicateLabelError,
    ManifestError,
    ShardSchemaError,
    StoreError,
    StoreInputError,
    StoreNotFoundError,
    StoreValidationError,
)
from activeamp.data.store.files import MANIFEST_NAME
from activeamp.data.store.records import LabelledArrays, PointSet, StoreSummary, ValidationReport, make_point_ids
from activeamp.data.store.schema import (
    SCHEMA_VERSION,
    SPLITS,
    STATUSES,
    momenta_from_arrow,
    store_schema,
    values_from_arrow,
)
from activeamp.data.store.shard_store import ShardStore

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
