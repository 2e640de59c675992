"""Tests of the trainable without Tune: per-epoch reports, checkpoints, resuming from one, the Δ objectives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import activeamp.loop.tuning.trainable as trainable
from activeamp.data.store import ShardStore
from activeamp.loop.tuning.config import SearchConfig
from activeamp.loop.tuning.data import load_search_data
from activeamp.surrogate.surrogate import Surrogate
from tests.loop.tuning.conftest import VECTOR_BASE, search_dict

pytestmark = pytest.mark.usefixtures("single_thread")


def _settings(config: SearchConfig, **changes: object) -> dict[str, object]:
    settings: dict[str, object] = {
        "base": config.base,
        "space": config.space,
        "epochs": 3,
        "eval_every": 1,
        "checkpoint_every": 3,
        "trial_cpus": 1,
    }
    settings.update(changes)
    return settings


def test_vector_trial_reports_the_worst_output(
    vector_store: ShardStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One trial through the trainable without Tune: the Δ objectives are those of the worst output."""
    from activeamp.surrogate.metrics import evaluate_prediction

    config = SearchConfig.from_dict(search_dict(vector_store.path, tmp_path, base=VECTOR_BASE, eval_every=1))
    data = load_search_data(config)
    reports: list[dict[str, object]] = []
    checked: list[int] = []

    def report(result: dict[str, object], checkpoint: object = None) -> None:
        reports.append(result)
        if checkpoint is not None:  # the objective is recomputed from the checkpointed surrogate
            model = Surrogate.load(Path(checkpoint.path) / "model.pt")
            metrics = evaluate_prediction(model.predict(data.x_val), data.a_val, data.outputs)
            top1 = max(m.delta_top1.abs_68 for m in metrics.per_output.values())
            assert model.n_outputs == 2
            assert result["val_delta68"] == pytest.approx(metrics.precision, rel=1e-12)
            assert result["val_top1"] == pytest.approx(top1, rel=1e-12, abs=1e-15)
            checked.append(int(result["epoch"]))

    monkeypatch.setattr(trainable.tune, "get_checkpoint", lambda: None)
    monkeypatch.setattr(trainable.tune, "report", report)
    trainable.train_trial(
        {"family": "bnn", "prior_width": 1.0, "lr": 3e-3, "n_layers": 1, "width_0": 8},
        _settings(config, outputs=list(data.outputs)),
        data.arrays(),
    )
    assert [r["epoch"] for r in reports] == [1, 2, 3] and checked == [3]
    assert all(np.isfinite(r["val_delta68"]) and np.isfinite(r["val_nll"]) for r in reports)


def test_trial_resumes_from_its_checkpoint_with_its_last_metrics(
    store: ShardStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint holds the surrogate and strict-JSON metrics; a restored trial continues after its epoch and
    reports the carried Δ metrics until the next evaluation."""
    from ray import tune

    config = SearchConfig.from_dict(search_dict(store.path, tmp_path))
    data = load_search_data(config)
    trial = {"family": "deterministic", "prior_width": 1.0, "lr": 3e-3, "n_layers": 2, "width_0": 8, "width_1": 8}
    reports: list[dict[str, object]] = []
    saved = tmp_path / "saved"

    def report(result: dict[str, object], checkpoint: object = None) -> None:
        reports.append(result)
        if checkpoint is not None:  # Tune's copy: the trainable's folder is temporary
            shutil.copytree(checkpoint.path, saved / str(result["epoch"]), dirs_exist_ok=True)

    monkeypatch.setattr(trainable.tune, "report", report)
    monkeypatch.setattr(trainable.tune, "get_checkpoint", lambda: None)
    settings = _settings(config, epochs=4, eval_every=3, checkpoint_every=2, process=data.process)
    trainable.train_trial(trial, settings, data.arrays())
    first = list(reports)
    assert [r["epoch"] for r in first] == [1, 2, 3, 4] and sorted(p.name for p in saved.iterdir()) == ["2", "4"]
    assert first[1]["val_delta68"] == first[0]["val_delta68"]  # epoch 2 carries epoch 1's evaluation
    assert first[2]["val_delta68"] != first[1]["val_delta68"]  # evaluated at epoch 3
    assert first[0]["hidden"] == "8-8" and first[0]["n_layers"] == 2
    state = json.loads((saved / "4" / "trial_state.json").read_text())
    assert state == {
        "epoch": 4,
        "last_eval": {"val_delta68": first[3]["val_delta68"], "val_top1": first[3]["val_top1"]},
    }
    assert Surrogate.load(saved / "4" / trainable.MODEL_FILE).epoch == 4

    # restored from the epoch-2 checkpoint, the trial goes on with epochs 3 and 4, carrying the saved metrics
    # (a JSON null, as the state file writes a NaN, is read back as NaN) until it evaluates at its last epoch
    carried = first[1]["val_delta68"]
    state_file = saved / "2" / "trial_state.json"
    state_file.write_text(json.dumps({"epoch": 2, "last_eval": {"val_delta68": carried, "val_top1": None}}))
    monkeypatch.setattr(trainable.tune, "get_checkpoint", lambda: tune.Checkpoint.from_directory(str(saved / "2")))
    reports.clear()
    settings = _settings(config, epochs=4, eval_every=4, checkpoint_every=10, process=data.process)
    trainable.train_trial(trial, settings, data.arrays())
    assert [r["epoch"] for r in reports] == [3, 4]
    assert reports[0]["val_delta68"] == carried and np.isnan(reports[0]["val_top1"])
    assert reports[1]["val_delta68"] != carried and np.isfinite(reports[1]["val_top1"])
    assert [r["train_loss"] for r in reports] == pytest.approx([r["train_loss"] for r in first[2:]], rel=1e-6)


def test_trial_folders_are_named_by_the_trial_id() -> None:
    class _Trial:
        trial_id = "ab12_00003"

    assert trainable.trial_dirname(_Trial()) == "trial_ab12_00003"
