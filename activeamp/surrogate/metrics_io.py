"""Metrics files: the metrics of several sets in one JSON file (schema ``activeamp.metrics/1``), written and read."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from activeamp.atomic import write_atomic
from activeamp.jsonio import dumps
from activeamp.surrogate.metrics_records import Metrics

__all__ = ["METRICS_SCHEMA", "read_metrics_json", "write_metrics_json"]

logger = logging.getLogger(__name__)

#: Identifier written into metrics JSON files; bumped when the layout changes.
METRICS_SCHEMA: str = "activeamp.metrics/1"


def write_metrics_json(
    path: str | os.PathLike[str], metrics_by_set: Mapping[str, Metrics], extra: Mapping[str, Any] | None = None
) -> Path:
    """Write metrics of several sets to a JSON file, atomically.

    Layout: ``{"schema": METRICS_SCHEMA, "sets": {name: Metrics.to_dict()}, "extra": extra}``; NaN and ±inf
    are written as ``null``. A vector record is recognised on reading by its ``per_output`` key.

    Parameters
    ----------
    path : path-like
        Destination; parent folders are created.
    metrics_by_set : mapping
        Set name (e.g. ``"train"``, ``"test"``) → :class:`Metrics` (scalar or vector).
    extra : mapping, optional
        JSON-serialisable provenance (config, oracle calls, code version...); numpy scalars and arrays allowed.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    for name, m in metrics_by_set.items():
        if not isinstance(m, Metrics):
            raise TypeError(f"metrics_by_set[{name!r}] is a {type(m).__name__}, not Metrics")
    doc = {
        "schema": METRICS_SCHEMA,
        "sets": {str(name): m.to_dict() for name, m in metrics_by_set.items()},
        "extra": dict(extra or {}),
    }
    try:
        text = dumps(doc)
    except TypeError as exc:
        raise TypeError(f"{path}: extra is not JSON-serialisable: {exc}") from None
    write_atomic(path, text + "\n")
    logger.info("wrote metrics of %d set(s) to %s", len(metrics_by_set), path)
    return path


def read_metrics_json(path: str | os.PathLike[str]) -> tuple[dict[str, Metrics], dict[str, Any]]:
    """Read a file written by :func:`write_metrics_json`.

    Returns
    -------
    (dict, dict)
        Set name → :class:`Metrics`, scalar or vector (``null`` read back as NaN), and the ``extra``
        mapping.

    Raises
    ------
    ValueError
        If the file is not valid JSON, has another schema, or a field is missing/unknown (named in the message).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != METRICS_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{path}: schema {found!r}, expected {METRICS_SCHEMA!r}")
    sets = doc.get("sets")
    if not isinstance(sets, dict):
        raise ValueError(f"{path}: field 'sets' missing or not a mapping")
    metrics = {name: Metrics.from_dict(m, f"{path}: sets.{name}") for name, m in sets.items()}
    extra = doc.get("extra") or {}
    return metrics, extra
