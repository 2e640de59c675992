"""Amplitude oracles: exact or external providers of |M|² ``(N,)`` or of vector values ``(N, K)``, one protocol."""

from oracles.base import (
    Oracle,
    OracleError,
    OracleInputError,
    OracleOutputError,
    OracleResult,
    classify_values,
    validate_momenta,
    validate_vv_kinematics,
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
    "validate_vv_kinematics",
]
