"""JSON documents: one converter to plain JSON values and one atomic writer for the whole project."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.atomic import write_atomic

__all__ = ["dumps", "plain", "write_json"]


def plain(obj: Any) -> Any:
    """JSON-ready copy of ``obj``.

    Mappings (keys as str), lists and tuples recurse; NumPy arrays become lists and NumPy scalars Python
    numbers; NaN and ±inf become None (JSON has no such numbers); paths become str; anything else is kept.
    """
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def dumps(doc: Any, *, indent: int | None = 2) -> str:
    """``doc`` as strict JSON text (:func:`plain` first; UTF-8 characters kept; no trailing newline)."""
    return json.dumps(plain(doc), indent=indent, allow_nan=False, ensure_ascii=False)


def write_json(path: str | os.PathLike[str], doc: Any, *, indent: int | None = 2) -> Path:
    """Write ``doc`` to ``path`` atomically as JSON text with a final newline; returns the path."""
    return write_atomic(path, dumps(doc, indent=indent) + "\n")
