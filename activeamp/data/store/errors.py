"""Errors of the shard store (every message names the file, field and value concerned) and the policies for them."""

from __future__ import annotations

from typing import Literal

__all__ = [
    "BadShardPolicy",
    "DuplicatePolicy",
    "check_bad_shard_policy",
    "check_duplicate_policy",
    "StoreError",
    "StoreNotFoundError",
    "ManifestError",
    "StoreInputError",
    "BadShardError",
    "ShardSchemaError",
    "DuplicateLabelError",
    "StoreValidationError",
]


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


#: What to do with an unreadable or mismatching file: raise :class:`BadShardError`, or skip it with a warning.
BadShardPolicy = Literal["raise", "skip"]
#: What to do with a second ``ok`` label of a point: raise :class:`DuplicateLabelError`, warn, or go on silently.
DuplicatePolicy = Literal["raise", "warn", "ignore"]


def check_bad_shard_policy(policy: str) -> BadShardPolicy:
    """``policy`` if it is a :data:`BadShardPolicy`; else raise :class:`StoreInputError`."""
    if policy not in ("raise", "skip"):
        raise StoreInputError(f"on_bad_shard must be 'raise' or 'skip', got {policy!r}")
    return policy  # type: ignore[return-value]


def check_duplicate_policy(policy: str) -> DuplicatePolicy:
    """``policy`` if it is a :data:`DuplicatePolicy`; else raise :class:`StoreInputError`."""
    if policy not in ("raise", "warn", "ignore"):
        raise StoreInputError(f"on_duplicate must be 'raise', 'warn' or 'ignore', got {policy!r}")
    return policy  # type: ignore[return-value]
