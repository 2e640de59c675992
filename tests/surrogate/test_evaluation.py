"""Tests of evaluating a surrogate on a store (activeamp.surrogate.evaluation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from activeamp.config import from_dict
from activeamp.data.dataset import DatasetConfig, build_dataset
from activeamp.data.store import ShardStore
from activeamp.surrogate.evaluation import evaluate_model, format_delta_table
from activeamp.surrogate.metrics import TOP_FRACTIONS, Metrics, read_metrics_json
from activeamp.surrogate.surrogate import Surrogate
from tests.surrogate.conftest import TINY

pytestmark = pytest.mark.usefixtures("single_thread")


def test_evaluate_model_writes_metrics_plots_and_summary(trained: tuple, store: ShardStore, tmp_path: Path) -> None:
    result, _ = trained
    metrics = evaluate_model(result.model_path, store.path, tmp_path, n_samples=8)
    assert list(metrics) == ["train", "test"] and all(isinstance(m, Metrics) for m in metrics.values())
    assert metrics["train"].count == 1500 and metrics["test"].count == 300
    test = metrics["test"]
    assert test.delta_top1.count == int(np.ceil(TOP_FRACTIONS[0] * 300)) and test.delta_top01.count == 1
    assert test.pull_model_weights is not None and test.pull_model_weights.count == 8 * 300
    assert np.isfinite(test.delta_all.half_width_68) and test.pull_tot.count == 300
    from_file, extra = read_metrics_json(tmp_path / "metrics.json")
    assert from_file["test"].delta_all == test.delta_all
    assert extra["n_samples"] == 8 and extra["sizes"]["test"]["n_points"] == 300
    for name in ("delta.png", "delta_log.png", "pulls.png", "loss.png", "kin_pT_a1.png", "kin_dR_a1g1.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    summary = (tmp_path / "summary.txt").read_text()
    assert "top 0.1%" in summary and f"{test.delta_all.half_width_68:.3e}" in summary


def test_evaluate_subsets_and_in_memory_model_agree_with_the_checkpoint(
    trained: tuple, store: ShardStore, tmp_path: Path
) -> None:
    result, _ = trained
    kw = {"splits": ["test"], "n_samples": 5, "max_points": 100, "seed": 9, "plots": False}
    from_disk = evaluate_model(result.model_path, store, tmp_path / "a", **kw)
    in_memory = evaluate_model(result.surrogate, store, tmp_path / "b", **kw)
    assert from_disk["test"].count == 100
    assert from_disk["test"] == in_memory["test"]
    assert not (tmp_path / "a" / "delta.png").exists() and (tmp_path / "a" / "summary.txt").exists()
    with pytest.raises(ValueError, match="split 'validation' has no labelled"):
        evaluate_model(result.surrogate, store, tmp_path / "c", splits=["validation"])
    with pytest.raises(ValueError, match="report_split: 'train' is not among"):
        evaluate_model(result.surrogate, store, tmp_path / "c", splits=["test"], report_split="train")


def test_model_of_another_process_is_refused(trained: tuple, tmp_path: Path) -> None:
    result, _ = trained
    data = {"phasespace": {"process": "gg_yy"}, "oracle": {"name": "mock"}, "n_train": 0, "n_test": 20}
    config = from_dict(DatasetConfig, data)
    other, _ = build_dataset(config, tmp_path / "yy", progress=False)
    with pytest.raises(ValueError, match="does not fit process gg_yy"):
        evaluate_model(result.model_path, other, tmp_path / "out", splits=["test"])


def test_format_delta_table_lists_every_set(trained: tuple, store: ShardStore, tmp_path: Path) -> None:
    result, _ = trained
    metrics = evaluate_model(result.surrogate, store, tmp_path, n_samples=4, max_points=50, plots=False)
    table = format_delta_table(metrics)
    lines = table.splitlines()
    assert lines[1].split()[:3] == ["set", "N", "all"] and lines[2].startswith("train") and lines[3].startswith("test")
    assert f"{metrics['test'].delta_all.half_width_68:.3e}" in lines[3]
    assert f"{metrics['test'].delta_top01.abs_68:.3e}" in lines[3]  # top sets: a quantile of |Δ|, with the median


def test_vector_evaluation_writes_per_output_metrics_plots_and_summary(
    vector_trained: tuple, vector_store: ShardStore, tmp_path: Path
) -> None:
    result, _ = vector_trained
    metrics = evaluate_model(result.model_path, vector_store.path, tmp_path, splits=["train", "test"], n_samples=6)
    assert list(metrics) == ["train", "test"] and all(m.outputs == ("c1", "c2", "c3") for m in metrics.values())
    test = metrics["test"]
    assert test.outputs == ("c1", "c2", "c3") and test.count == 100 and len(test.scale) == 3
    assert test.precision == max(m.precision for m in test.per_output.values()) and np.isfinite(test.precision)
    assert test.per_output["c2"].pull_model_weights is not None  # samples kept: the Eq. 17 pull per output
    from_file, extra = read_metrics_json(tmp_path / "metrics.json")
    assert from_file["test"].outputs is not None and from_file["test"].per_output["c1"] == test.per_output["c1"]
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert set(doc["sets"]["train"]["per_output"]) == {"c1", "c2", "c3"}
    assert extra["outputs"] == ["c1", "c2", "c3"] and extra["sizes"]["test"]["n_points"] == 100
    for name in ("residuals.png", "pulls_c1.png", "pulls_c3.png", "kin_sqrt_s_c2.png", "kin_m34_c1.png", "loss.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not (tmp_path / "delta.png").exists()
    summary = (tmp_path / "summary.txt").read_text()
    assert "Delta_k = (A_NN,k - A_k)/(|A_k| + m_k)" in summary and "  test/c3: t_model std" in summary
    assert f"{test.per_output['c2'].delta_all.half_width_68:.3e}" in summary


def test_format_delta_table_has_a_row_per_set_and_output(
    vector_trained: tuple, vector_store: ShardStore, tmp_path: Path
) -> None:
    result, _ = vector_trained
    metrics = evaluate_model(
        result.surrogate, vector_store, tmp_path, splits=["validation", "test"], n_samples=4, plots=False
    )
    lines = format_delta_table(metrics).splitlines()
    assert lines[1].split()[:4] == ["set", "output", "N", "all"] and len(lines) == 2 + 6 + 1
    assert lines[2].split()[:3] == ["validation", "c1", "60"] and lines[7].split()[:3] == ["test", "c3", "100"]
    assert f"{metrics['test'].per_output['c3'].delta_all.half_width_68:.3e}" in lines[7]
    worst = max(metrics["test"].outputs, key=lambda n: metrics["test"].per_output[n].precision)
    assert (
        lines[-1].startswith("worst output: validation ")
        and f"test {metrics['test'].precision:.3e} ({worst})" in lines[-1]
    )


def test_model_and_store_outputs_must_agree(vector_trained: tuple, vector_store: ShardStore, tmp_path: Path) -> None:
    result, _ = vector_trained
    two = {"phasespace": {"process": "uu_ZZ"}, "oracle": {"name": "mock_vv", "options": {"n_outputs": 2}}}
    other, _ = build_dataset(
        from_dict(DatasetConfig, {**two, "n_train": 0, "n_test": 20}), tmp_path / "two", progress=False
    )
    with pytest.raises(ValueError, match=r"the model has 3 outputs but the store holds 2 outputs per point \(c1, c2\)"):
        evaluate_model(result.model_path, other, tmp_path / "a", splits=["test"])
    scalar = {"phasespace": {"process": "gg_yy"}, "oracle": {"name": "mock"}, "n_train": 0, "n_test": 20}
    yy, _ = build_dataset(from_dict(DatasetConfig, scalar), tmp_path / "yy", progress=False)
    with pytest.raises(ValueError, match="the model has 3 outputs but the store holds scalar amplitudes"):
        evaluate_model(result.surrogate, yy, tmp_path / "b", splits=["test"])
    test = yy.arrays("test")  # a scalar model with the input shape of uu_ZZ (both 2 → 2)
    scalar_model = Surrogate({**TINY, "max_epochs": 1})
    scalar_model.fit(test.momenta, test.amplitude, progress=False)
    with pytest.raises(ValueError, match=r"the model has one output \(a scalar model\) but the store holds 3 outputs"):
        evaluate_model(scalar_model, vector_store, tmp_path / "c", splits=["test"])
    assert not (tmp_path / "a" / "metrics.json").exists()
