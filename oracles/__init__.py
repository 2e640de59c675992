"""Amplitude oracles: exact or external squared-matrix-element providers behind one protocol."""

from oracles.base import (
    Oracle,
    OracleError,
    OracleInputError,
    OracleOutputError,
    OracleResult,
    classify_values,
    validate_momenta,
)
from oracles.registry import available, get

__all__ = [
    "Oracle",
    "OracleError",
    "OracleInputError",
    "OracleOutputError",
    "OracleResult",
    "available",
    "classify_values",
    "get",
    "validate_momenta",
]
