"""Tests of the loop commands (activeamp.cli.loop): run (tune: tests/loop/tuning)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.commands import run

TINY_RUN = """
seed: 3
n_initial: 200
n_validation: 50
n_test: 100
pool: {n_actors: 1, num_cpus: 0.5, batch_size: 100}
surrogate: {max_epochs: 20, patience: 5, batch_size: 64, hidden: [8, 8], n_weight_samples: 5}
trainer: {round_epochs: 5, num_cpus: 0.5}
acquisition: {n_candidates: 500, batch_size: 40, n_weight_samples: 5}
budget: {max_rounds: 1}
plots: false
"""



def test_run_and_resume_extend_a_run(ray_local: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(TINY_RUN)
    out_dir = tmp_path / "run"
    code, out, _ = run(capsys, "run", "--config", str(config), "--out", str(out_dir), "--no-progress")
    assert code == 0, out
    assert "round 0: 250 oracle calls" in out and "round 1: 290 oracle calls" in out
    assert "run folder" in out and (out_dir / "model.pt").exists()
    code, _, err = run(capsys, "run", "--config", str(config), "--out", str(out_dir))
    assert code == 2 and "holds a run already; continue it with --resume" in err
    code, out, _ = run(capsys, "run", "--resume", str(out_dir), "--set", "budget.max_rounds=2", "--no-progress")
    assert code == 0 and "round 2: 330 oracle calls" in out and "round 1:" not in out


def test_async_run_and_a_resume_with_its_budget_used(
    ray_local: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(TINY_RUN)
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "run", "--config", str(config), "--out", str(out_dir), "--set", "loop.mode=async",
                         "--set", "budget.max_oracle_calls=400", "--no-progress")
    assert code == 0, err
    assert "round 0:" in out and "run folder" in out
    rounds = (out_dir / "rounds.jsonl").read_text().splitlines()
    code, out, err = run(capsys, "run", "--resume", str(out_dir), "--no-progress")
    assert code == 0, err
    assert (out_dir / "rounds.jsonl").read_text().splitlines() == rounds  # the budget was used: no new update
