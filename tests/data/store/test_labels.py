"""Tests of label arrays: status derived from values, given status and reasons, shapes named; no oracle types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from activeamp.data.store import StoreInputError
from activeamp.data.store.labels import classify_amplitudes, scalar_labels, vector_labels

IDS = np.array(["a", "b", "c", "d"], dtype=object)
OUTPUTS = ("x", "y")


def test_amplitudes_are_classified() -> None:
    ok, reasons = classify_amplitudes(np.array([1.0, np.nan, np.inf, -np.inf, -2.0, 0.0]))
    assert ok.tolist() == [True, False, False, False, False, True]
    assert reasons.tolist() == ["", "nan", "inf", "negative", "negative", ""]
    assert classify_amplitudes(np.empty(0))[0].shape == (0,)


def test_scalar_labels() -> None:
    values, ok, reasons = scalar_labels(IDS, [1.0, np.nan, -1.0, 2.0], None, None, "s")
    assert ok.tolist() == [True, False, False, True] and reasons.tolist() == ["", "nan", "negative", ""]
    assert values.dtype == np.float64
    # a given status wins; missing reasons become "failed", given ones are kept, ok points have none
    given = np.array([True, False, False, True])
    _, ok, reasons = scalar_labels(IDS, [1.0, 5.0, np.nan, 2.0], given, ("x", "", "timeout", ""), "s")
    assert ok is not None and reasons.tolist() == ["", "failed", "timeout", ""]
    _, _, reasons = scalar_labels(IDS, [1.0, np.nan, -3.0, 2.0], None, ("", "", "", "late"), "s")
    assert reasons.tolist() == ["", "nan", "negative", ""]
    for values, ok, reasons, match in (
        (np.ones((4, 2)), None, None, r"s: values: this scalar store expects 4 values of shape \(4,\), got shape "
         r"\(4, 2\); vector labels need a store created with outputs="),
        (np.ones(3), None, None, r"got shape \(3,\)$"),
        ([1.0, np.nan, 1.0, 1.0], np.ones(4, bool), None, r"point 1 \('b'\) marked ok but value is nan"),
        ([1.0, -1.0, 1.0, 1.0], np.ones(4, bool), None, "marked ok but value is -1.0"),
        (np.ones(4), np.ones(4), None, r"ok: expected a bool array of shape \(4,\), got float64"),
        (np.ones(4), np.ones(3, bool), None, r"got bool of shape \(3,\)"),
        (np.ones(4), None, ("",) * 3, "reasons: expected 4 reasons, got 3"),
        (["1", "x", "2", "3"], None, None, "values: expected 4 values"),
    ):  # fmt: skip
        with pytest.raises(StoreInputError, match=match):
            scalar_labels(IDS, values, ok, reasons, "s")


def test_vector_labels() -> None:
    raw = np.array([[1.0, -2.0], [np.nan, 1.0], [3.0, np.inf], [-4.0, 0.0]])
    values, ok, reasons = vector_labels(IDS, raw, None, None, OUTPUTS, "v")
    assert ok.tolist() == [True, False, False, True] and reasons.tolist() == ["", "nan", "nan", ""]
    assert np.isnan(values[1:3]).all() and values[3].tolist() == [-4.0, 0.0]
    # a batch that failed as a whole may carry (N,) values
    values, ok, reasons = vector_labels(IDS, np.full(4, np.nan), np.zeros(4, bool), ("boom",) * 4, OUTPUTS, "v")
    assert values.shape == (4, 2) and np.isnan(values).all() and reasons.tolist() == ["boom"] * 4
    values, _, reasons = vector_labels(IDS, np.ones((4, 2)), np.array([True, False, True, True]), None, OUTPUTS, "v")
    assert np.isnan(values[1]).all() and reasons.tolist() == ["", "failed", "", ""]
    expected = r"expects values of shape \(4, 2\) for the outputs \['x', 'y'\], got shape"
    for values, ok, match in (
        (np.ones(4), None, expected + r" \(4,\)"),
        (np.ones(4), np.ones(4, bool), expected + r" \(4,\)"),
        (np.ones((4, 3)), None, expected + r" \(4, 3\)"),
        (raw, np.ones(4, bool), r"point 1 \('b'\) marked ok but values are \[nan, 1.0\]"),
    ):
        with pytest.raises(StoreInputError, match=match):
            vector_labels(IDS, values, ok, None, OUTPUTS, "v")


def test_the_store_imports_nothing_from_oracles() -> None:
    code = "import sys, activeamp.data.store; print([m for m in sys.modules if m.split('.')[0] == 'oracles'])"
    root = Path(__file__).resolve().parents[3]
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
