"""Tests of the results export: ranking of trials, statuses, the trial table, trials.csv, best run config and model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

import activeamp.loop.tuning.results as results
from activeamp.loop.tuning.config import SearchConfig, TuningError
from activeamp.loop.tuning.results import BEST_MODEL, BEST_RUN, TRIALS_CSV, TRIALS_TABLE, TrialRow, format_trial_table
from activeamp.surrogate.config import SurrogateConfig
from tests.loop.tuning.conftest import search_dict


def test_trial_table_marks_the_best_and_shows_missing_values() -> None:
    rows = [
        TrialRow("a_00001", "complete", "bnn", "64-32", 0.1, 1e-3, 512, 30, 0.25, 0.3, 0.01, 0.02, "/x"),
        TrialRow(
            "a_00000", "error", "ensemble", "16-16-16", 2.0, 3e-3, 256, 0, float("nan"), *[float("nan")] * 3, "/y"
        ),
    ]
    table = format_trial_table(rows, "val_nll", best_id="a_00001")
    lines = table.splitlines()
    assert lines[0].split() == [
        "trial",
        "status",
        "family",
        "layers",
        "prior_width",
        "lr",
        "batch",
        "val_nll",
        "epochs",
    ]
    assert lines[1].startswith("*") and "64-32" in lines[1] and "0.25" in lines[1]
    assert lines[2].split()[-2:] == ["-", "0"]


class _FakeResult:
    """The parts of a Tune ``Result`` the export reads."""

    def __init__(
        self, trial_id: str, objective: list[float], folder: Path, error: Exception | None = None, **metrics: object
    ) -> None:
        import pandas as pd
        from ray import tune

        self.config = {"family": "bnn", "prior_width": 0.5, "lr": 2e-3, "n_layers": 2}
        self.config.update({f"width_{i}": 8 * (i + 1) for i in range(5)})
        self.metrics = {"trial_id": trial_id, "training_iteration": len(objective), "val_nll": objective[-1], **metrics}
        self.metrics_dataframe = pd.DataFrame({"val_nll": objective})
        self.error = error
        self.path = str(folder / f"trial_{trial_id}")
        checkpoint = folder / f"ckpt_{trial_id}"
        checkpoint.mkdir()
        (checkpoint / "model.pt").write_bytes(trial_id.encode())
        self.checkpoint = tune.Checkpoint.from_directory(str(checkpoint))

    def get_best_checkpoint(self, metric: str, mode: str) -> object:
        return self.checkpoint


class _FakeGrid(list):
    num_terminated = 0
    num_errors = 0


def test_export_skips_errored_trials_and_unfinished_searches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = SearchConfig.from_dict(search_dict(tmp_path / "store", tmp_path, epochs=3))
    grid = _FakeGrid(
        [
            _FakeResult("a", [0.5, 0.3, 0.35], tmp_path),
            _FakeResult("b", [0.4, 0.1], tmp_path, error=RuntimeError("training diverged")),
            _FakeResult("c", [0.6], tmp_path),
        ]
    )
    statuses = {"a": "TERMINATED", "b": "ERROR", "c": "TERMINATED"}
    monkeypatch.setattr(results, "trial_statuses", lambda path: statuses)
    outcome = results.export_results(grid, config, expected=3)
    assert outcome.complete and [r.trial_id for r in outcome.rows] == ["b", "a", "c"]
    assert [r.status for r in outcome.rows] == ["error", "complete", "stopped"]
    assert outcome.best is not None and outcome.best.trial_id == "a" and outcome.best.objective == 0.3
    assert outcome.best.hidden == "8-16"  # n_layers = 2 of the 5 sampled widths
    assert Path(outcome.best_model).read_bytes() == b"a"
    assert "*  a" in outcome.table

    statuses["c"] = "PENDING"  # interrupted: the table only
    (tmp_path / "tiny" / BEST_RUN).unlink()
    outcome = results.export_results(grid, config, expected=3)
    assert not outcome.complete and outcome.best is None and not (tmp_path / "tiny" / BEST_RUN).exists()
    assert [r.status for r in outcome.rows][-1] == "unfinished"

    statuses.update(a="ERROR", c="ERROR")
    for r in grid:
        r.error = RuntimeError("training diverged")
    with pytest.raises(TuningError, match="no trial of .* finished with a finite val_nll"):
        results.export_results(grid, config, expected=3)


def test_export_writes_the_ranked_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """best_scope last ranks by the last epoch; a converged trial is marked; the files hold the ranking."""
    config = SearchConfig.from_dict(search_dict(tmp_path / "store", tmp_path, epochs=3, best_scope="last"))
    grid = _FakeGrid(
        [
            _FakeResult("a", [0.2, 0.5, 0.4], tmp_path),  # best epoch 0.2, last 0.4
            _FakeResult("b", [0.6, 0.3], tmp_path, converged=1),  # plateau rule after 2 epochs
        ]
    )
    grid.num_terminated = 2
    monkeypatch.setattr(results, "trial_statuses", lambda path: {})  # no saved state: the grid's counts decide
    outcome = results.export_results(grid, config, expected=2)
    assert outcome.complete and [(r.trial_id, r.status, r.objective) for r in outcome.rows] == [
        ("b", "converged", 0.3),
        ("a", "complete", 0.4),
    ]
    exp = tmp_path / "tiny"
    assert outcome.best_run == str(exp / BEST_RUN) and outcome.trials_csv == str(exp / TRIALS_CSV)
    surrogate = SurrogateConfig.from_dict(yaml.safe_load((exp / BEST_RUN).read_text())["surrogate"])
    assert surrogate == outcome.best_config and surrogate.hidden == (8, 16) and surrogate.lr == 2e-3
    assert surrogate.family == "bnn" and surrogate.batch_size == 256  # base's batch size, not searched
    header = (exp / BEST_RUN).read_text().splitlines()[1]
    assert "trial b, val_nll = 0.3 (its last epoch)" in header
    assert (exp / BEST_MODEL).read_bytes() == b"b"
    rows = list(csv.DictReader((exp / TRIALS_CSV).open()))
    assert [(r["trial_id"], r["status"], r["metric"], r["scope"]) for r in rows] == [
        ("b", "converged", "val_nll", "last"),
        ("a", "complete", "val_nll", "last"),
    ]
    assert (exp / TRIALS_TABLE).read_text() == outcome.table + "\n"
    assert not list(exp.glob(".*"))  # atomic writes leave no temporary files


def test_trial_statuses_of_a_missing_experiment_are_unknown(tmp_path: Path) -> None:
    assert results.trial_statuses(str(tmp_path / "nothing")) == {}
