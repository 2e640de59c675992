"""Tests of a run's configuration and the resume check (activeamp.loop.settings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from activeamp.config import ConfigError, to_dict
from activeamp.data.store import ShardStore
from activeamp.loop.active import ActiveConfig, ActiveLearner


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="unknown key acquisition.n_candidate"):
        ActiveConfig.from_dict({"acquisition": {"n_candidate": 5}})
    with pytest.raises(ConfigError, match="acquisition.n_candidates: must be >= acquisition.batch_size"):
        ActiveConfig.from_dict({"acquisition": {"n_candidates": 10, "batch_size": 20}})
    with pytest.raises(ConfigError, match="budget.max_rounds: must be >= 0"):
        ActiveConfig.from_dict({"budget": {"max_rounds": -1}})
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        ActiveLearner.resume("/nonexistent/run")


def _written_run(tmp_path: Path) -> Path:
    """A run folder as `activeamp run` leaves it after round 0: config.yaml and a g g → γ γ g store."""
    import yaml

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(ActiveConfig()), sort_keys=False))
    ShardStore.create(run_dir / "store", "gg_yyg")
    return run_dir


def test_a_refused_resume_leaves_the_run_folder_as_it_was(tmp_path: Path) -> None:
    run_dir = _written_run(tmp_path)
    before = (run_dir / "config.yaml").read_bytes()
    with pytest.raises(ConfigError, match=r"phasespace.process: a resumed run keeps 'gg_yyg' .*asked for 'gg_yy'"):
        ActiveLearner.resume(run_dir, overrides=["phasespace.process=gg_yy"])
    with pytest.raises(ConfigError, match=r"surrogate.lr: a resumed run keeps"):
        ActiveLearner.resume(run_dir, overrides=["surrogate.lr=1e-3"])
    assert (run_dir / "config.yaml").read_bytes() == before
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.yaml", "store"]


def test_a_resume_that_extends_the_budget_keeps_the_previous_config(tmp_path: Path) -> None:
    run_dir = _written_run(tmp_path)
    before = (run_dir / "config.yaml").read_bytes()
    learner = ActiveLearner.resume(run_dir, overrides=["budget.max_rounds=7", "pool.n_actors=1"])
    assert learner.config.budget.max_rounds == 7
    learner._prepare_folder()  # what run() does first
    assert (run_dir / "config.previous.yaml").read_bytes() == before
    assert ActiveConfig.from_yaml(run_dir / "config.yaml").budget.max_rounds == 7
    ActiveLearner.resume(run_dir)._prepare_folder()  # unchanged: nothing rewritten
    assert (run_dir / "config.previous.yaml").read_bytes() == before


def test_a_store_that_disagrees_with_the_config_is_refused(tmp_path: Path) -> None:
    run_dir = _written_run(tmp_path)
    import shutil

    shutil.rmtree(run_dir / "store")
    ShardStore.create(run_dir / "store", "gg_yy")
    with pytest.raises(ConfigError, match=r"store holds process 'gg_yy', the run config says 'gg_yyg'"):
        ActiveLearner.resume(run_dir)


def test_cli_resume_with_another_process_exits_2_without_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from activeamp.cli import main

    run_dir = _written_run(tmp_path)
    before = (run_dir / "config.yaml").read_bytes()
    assert main(["run", "--resume", str(run_dir), "--set", "phasespace.process=gg_yy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "phasespace.process: a resumed run keeps 'gg_yyg'" in err[0]
    assert (run_dir / "config.yaml").read_bytes() == before
