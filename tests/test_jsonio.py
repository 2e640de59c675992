"""Tests of the project's JSON helper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from activeamp.jsonio import dumps, plain, write_json


def test_plain_converts_numpy_paths_and_non_finite_numbers() -> None:
    doc = {1: np.float32(0.5), "a": np.arange(3), "b": (np.int64(2), float("nan")), "c": Path("x/y"), "d": np.inf}
    assert plain(doc) == {"1": 0.5, "a": [0, 1, 2], "b": [2, None], "c": "x/y", "d": None}
    assert isinstance(plain(np.int64(3)), int) and isinstance(plain(np.bool_(True)), bool)


def test_write_json_is_strict_and_round_trips(tmp_path: Path) -> None:
    path = write_json(tmp_path / "sub" / "doc.json", {"σ": np.array([1.0, np.nan])})
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "σ" in text and "NaN" not in text
    assert json.loads(text) == {"σ": [1.0, None]}
    assert dumps({"a": 1}, indent=None) == '{"a": 1}'
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left behind
