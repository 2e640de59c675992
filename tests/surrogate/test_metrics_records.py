"""Tests for activeamp.surrogate.metrics_records: one Metrics type for scalar and vector sets, dict round trips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from activeamp.surrogate.metrics import evaluate_prediction
from activeamp.surrogate.metrics_io import read_metrics_json
from activeamp.surrogate.metrics_records import (
    CoverageStats,
    DeltaStats,
    Metrics,
    OutputMetrics,
    PullStats,
    RelativeUncertaintyStats,
)
from activeamp.surrogate.prediction import Prediction
from tests.surrogate.toys import gaussian_case, signed_truth


def test_one_metrics_type_keeps_the_file_layouts(tmp_path: Path) -> None:
    scalar_pred, a = gaussian_case(200, 2)
    scalar = evaluate_prediction(scalar_pred, a)
    truth = signed_truth(300)
    vector = evaluate_prediction(Prediction(truth, np.abs(truth) + 1, np.abs(truth)), truth, ["a", "b", "c"])
    assert type(scalar) is type(vector) is Metrics
    assert scalar.outputs is None and scalar.per_output == {} and scalar.scalar is scalar.records[0]
    assert scalar.delta_all is scalar.records[0].delta_all and scalar.precision == scalar.records[0].precision
    assert vector.per_output["b"] is vector.records[1] and vector.count == 300
    with pytest.raises(ValueError, match=r"Metrics of the outputs \['a', 'b', 'c'\]: take a record from per_output"):
        _ = vector.delta_all
    # the layouts of "activeamp.metrics/1": flat for a scalar set, names / scale / per_output for a vector set
    assert list(scalar.to_dict()) == [
        "count",
        *("delta_all", "delta_top1", "delta_top01", "pull_model", "pull_pred", "pull_tot"),
        *("rel_sigma_model", "rel_sigma_pred", "rel_sigma_tot", "pull_model_weights", "coverage"),
        "event_weighted",
    ]
    assert list(vector.to_dict()) == ["names", "scale", "per_output"] and vector.to_dict()["names"] == ["a", "b", "c"]
    old = tmp_path / "old.json"  # a vector set as written before, with per_output in another order than names
    doc = {"a": vector.per_output["a"].to_dict(), "c": vector.per_output["c"].to_dict()}
    doc["b"] = vector.per_output["b"].to_dict()
    sets = {"test": {"names": ["a", "b", "c"], "scale": [None, 1.0, 2.0], "per_output": doc}, "s": scalar.to_dict()}
    old.write_text(json.dumps({"schema": "activeamp.metrics/1", "sets": sets, "extra": {}}))
    back, _ = read_metrics_json(old)
    assert back["test"].outputs == ("a", "b", "c") and back["test"].records == vector.records
    assert math.isnan(back["test"].scale[0]) and back["s"] == scalar
    before = {k: v for k, v in scalar.to_dict().items() if k != "event_weighted"}  # files from before issue 14
    assert OutputMetrics.from_dict(before).event_weighted is None
    with pytest.raises(ValueError, match="a scalar record .* has one record and no scale"):
        Metrics(vector.records)


def test_flat_records_round_trip_with_null_as_nan_and_name_bad_keys() -> None:
    stats = DeltaStats(3, 0.1, 0.2, 0.3, -0.1, 0.5, -0.2, 0.6, 0.0, 1.0, 0.4)
    assert DeltaStats.from_dict(stats.to_dict()) == stats
    nulls = {**stats.to_dict(), "median": None}
    back = DeltaStats.from_dict(nulls)
    assert math.isnan(back.median) and isinstance(back.count, int) and back.count == 3
    fields = {"count": 2.0, "n_invalid": 0, "mean": 0, "std": 1, "frac_within_1": 1, "frac_within_2": 1}
    pull = PullStats.from_dict(fields)
    assert pull.count == 2 and isinstance(pull.count, int) and pull.std == 1.0
    with pytest.raises(ValueError, match=r"where: missing keys \['abs_68'\], unknown keys \['extra'\]"):
        DeltaStats.from_dict({**{k: v for k, v in stats.to_dict().items() if k != "abs_68"}, "extra": 1}, "where")
    with pytest.raises(ValueError, match="CoverageStats: expected a mapping, got list"):
        CoverageStats.from_dict([1.0])  # type: ignore[arg-type]
    rel = RelativeUncertaintyStats(4, 0.01, 0.02, 0.005, 0.03)
    assert RelativeUncertaintyStats.from_dict(json.loads(json.dumps(rel.to_dict()))) == rel


def test_metrics_checks_its_outputs_records_and_scales() -> None:
    pred, a = gaussian_case(100, 2)
    record = evaluate_prediction(pred, a).scalar
    assert isinstance(record, OutputMetrics) and record.precision == record.delta_all.half_width_68
    assert OutputMetrics.from_dict(record.to_dict()) == record
    vector = Metrics((record, record), ["x", "y"], [1.0, np.float64(2.0)])
    assert vector.outputs == ("x", "y") and vector.scale == (1.0, 2.0) and vector.per_output["y"] is record
    assert vector.precision == record.precision and vector.count == 100
    with pytest.raises(ValueError, match=r"output names must be unique, got \['x', 'x'\]"):
        Metrics((record, record), ("x", "x"))
    with pytest.raises(ValueError, match=r"1 records for the outputs \['x', 'y'\]"):
        Metrics((record,), ("x", "y"))
    with pytest.raises(ValueError, match="3 scales for 2 outputs"):
        Metrics((record, record), ("x", "y"), (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match=r"per_output has outputs \['x'\], names are \['x', 'y'\]"):
        Metrics.from_dict({"names": ["x", "y"], "scale": [], "per_output": {"x": record.to_dict()}})


def test_top1_is_the_worst_output_and_ignores_missing_ones() -> None:
    import math

    from activeamp.surrogate.metrics import evaluate_prediction
    from activeamp.surrogate.prediction import Prediction

    rng = np.random.default_rng(4)
    truth = rng.lognormal(0.0, 1.0, (400, 2))
    mean = truth * (1.0 + np.array([0.01, 0.03]) * rng.standard_normal((400, 2)))
    pred = Prediction(mean, 0.01 * truth, 0.0 * truth)
    vector = evaluate_prediction(pred, truth, outputs=("a", "b"))
    half, quantile = vector.top1
    assert half == max(m.delta_top1.half_width_68 for m in vector.records)
    assert quantile == max(m.delta_top1.abs_68 for m in vector.records)
    scalar = evaluate_prediction(pred.output(0), truth[:, 0])
    assert scalar.top1 == (scalar.delta_top1.half_width_68, scalar.delta_top1.abs_68)
    assert not math.isnan(quantile)
