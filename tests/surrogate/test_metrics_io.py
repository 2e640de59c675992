"""Tests for activeamp.surrogate.metrics_io: the metrics JSON file round trip and its errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from activeamp.surrogate.metrics import evaluate_prediction
from activeamp.surrogate.metrics_io import METRICS_SCHEMA, read_metrics_json, write_metrics_json
from activeamp.surrogate.metrics_records import DeltaStats, Metrics
from activeamp.surrogate.prediction import Prediction
from tests.surrogate.toys import gaussian_case


def test_json_round_trip(tmp_path: Path) -> None:
    pred, a = gaussian_case(1000, 3)
    empty = np.zeros(0)
    sets = {
        "test": evaluate_prediction(pred, a),
        "train": evaluate_prediction(Prediction(pred.mean, pred.sigma_model, pred.sigma_pred), a),
        "empty": evaluate_prediction(Prediction(empty, empty, empty), empty),
    }
    extra = {"process": "gg_yyg", "oracle_calls": np.int64(1234), "seed": 7, "curve": np.array([0.1, 0.2])}
    path = write_metrics_json(tmp_path / "sub" / "metrics.json", sets, extra)
    raw = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert raw["schema"] == METRICS_SCHEMA
    assert raw["sets"]["empty"]["delta_all"]["median"] is None
    back, extra_back = read_metrics_json(path)
    assert set(back) == set(sets)
    assert back["test"] == sets["test"]
    assert back["train"] == sets["train"] and back["train"].pull_model_weights is None
    assert back["empty"].count == 0 and math.isnan(back["empty"].delta_all.median)
    assert extra_back == {"process": "gg_yyg", "oracle_calls": 1234, "seed": 7, "curve": [0.1, 0.2]}
    assert isinstance(back["test"].delta_all, DeltaStats)
    assert Metrics.from_dict(sets["test"].to_dict()) == sets["test"]


def test_json_errors(tmp_path: Path) -> None:
    bad_schema = tmp_path / "a.json"
    bad_schema.write_text('{"schema": "other/9", "sets": {}}')
    with pytest.raises(ValueError, match=r"a\.json: schema 'other/9'"):
        read_metrics_json(bad_schema)
    pred, a = gaussian_case(100, 2)
    d = evaluate_prediction(pred, a).to_dict()
    del d["delta_top1"]["median"]
    d["pull_tot"]["bogus"] = 1
    broken = tmp_path / "b.json"
    broken.write_text(json.dumps({"schema": METRICS_SCHEMA, "sets": {"test": d}, "extra": {}}))
    with pytest.raises(ValueError, match=r"sets\.test\.delta_top1: missing keys \['median'\]"):
        read_metrics_json(broken)
    not_json = tmp_path / "c.json"
    not_json.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_metrics_json(not_json)
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        write_metrics_json(tmp_path / "d.json", {"test": evaluate_prediction(pred, a)}, {"f": object()})
    assert not (tmp_path / "d.json").exists()
