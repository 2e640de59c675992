"""Tests of running a search: the entry script (delegating to ``activeamp tune``), a tiny search on local Ray,
interrupt and resume, the exported files, vector stores."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml

from activeamp.config import ConfigError
from activeamp.data.store import ShardStore
from activeamp.loop.active import ActiveConfig
from activeamp.loop.tuning.config import SearchConfig, load_search_config
from activeamp.loop.tuning.results import BEST_MODEL, BEST_RUN, TRIALS_CSV, TRIALS_TABLE, SearchOutcome
from activeamp.loop.tuning.search import SAVED_CONFIG, run_search
from activeamp.surrogate.surrogate import Surrogate, SurrogateConfig
from activeamp.surrogate.training import load_train_config
from tests.loop.tuning.conftest import ROOT, VECTOR_BASE, search_dict

SCRIPT = ROOT / "tune" / "search.py"


# ---------------------------------------------------------------------------- the entry script
def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tune_search_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_delegates_to_the_tune_command(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script()
    calls: list[list[str]] = []
    monkeypatch.setattr(script, "cli_main", lambda argv: calls.append(list(argv)) or 7)
    monkeypatch.setenv("HOME", "/home/someone")
    argv = ["--config", "~/activeamp/tune/search.yaml", "-vv", "--set", "store=~/x", "--resume", "--traceback"]
    assert script.main(argv) == 7
    assert calls == [
        ["-vv", "--traceback", "tune", "--config", "/home/someone/activeamp/tune/search.yaml"]
        + ["--set", "store=~/x", "--resume"]  # the store path is expanded by the search config itself
    ]


def test_script_runs_as_a_lone_copy_and_reports_config_errors(tmp_path: Path) -> None:
    lone = tmp_path / "elsewhere" / "search.py"  # what `ray submit` does: the script alone, in another folder
    lone.parent.mkdir()
    shutil.copy(SCRIPT, lone)
    out = subprocess.run([sys.executable, str(lone), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and "--resume" in out.stdout and "--set" in out.stdout
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"store": "x", "space": {"lr": {"loguniform": [1, 0.1]}}}))
    out = subprocess.run(
        [sys.executable, str(lone), "--config", str(config)], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 2
    assert "activeamp tune: error: " in out.stderr and "bad.yaml: space.lr.loguniform: need low < high" in out.stderr


# ---------------------------------------------------------------------------- a tiny search on local Ray
EPOCHS = 30


@dataclass(frozen=True)
class Interrupted:
    """A search started with the entry script, stopped with Ctrl-C, then resumed in-process."""

    returncode: int
    output: str
    best_run_before_resume: bool
    progress_before: dict[str, list[int]]  # trial folder → epochs reported before the interrupt
    outcome: SearchOutcome
    config: Path


@pytest.fixture(scope="module")
def search(ray_local: object, store: ShardStore, tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    """`python tune/search.py` on its own local Ray (as on a fresh machine), SIGINT once a trial has reported
    a few epochs, then `run_search(..., resume=True)` on the test session's Ray: 4 trials, ASHA, ≤ 30 epochs."""
    storage = tmp_path_factory.mktemp("tune")
    config = storage / "search.yaml"
    config.write_text(yaml.safe_dump(search_dict(store.path, storage, epochs=EPOCHS)))
    exp = storage / "tiny"
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--config", str(config)],
        env={**os.environ, "RAY_ADDRESS": "local"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if any(len(p.read_text().splitlines()) > 4 for p in exp.glob("trial_*/progress.csv")):
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {p.parent.name: _epochs(p) for p in exp.glob("trial_*/progress.csv")}
    best_run_before = (exp / BEST_RUN).exists()
    outcome = run_search(load_search_config(config), resume=True)
    return Interrupted(proc.returncode, output, best_run_before, before, outcome, config)


def _epochs(progress: Path) -> list[int]:
    return [int(r["epoch"]) for r in csv.DictReader(progress.open())]


def _tensorboard_tags(path: Path) -> set[str]:
    """Scalar tags of a TensorBoard event file (TFRecord framing, Event protos)."""
    from tensorboardX.proto import event_pb2

    tags = set()
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        (length,) = struct.unpack("<Q", data[pos : pos + 8])
        event = event_pb2.Event.FromString(data[pos + 12 : pos + 12 + length])
        tags.update(v.tag for v in event.summary.value)
        pos += 12 + length + 4
    return tags


def test_interrupted_script_prints_its_table_and_leaves_a_resumable_experiment(search: Interrupted) -> None:
    assert search.returncode == 130, search.output
    assert "search interrupted; continue it with --resume" in search.output
    assert "trial" in search.output and "prior_width" in search.output  # the table of the trials so far
    assert not search.best_run_before_resume  # nothing exported from an unfinished search
    assert search.progress_before and min(len(e) for e in search.progress_before.values()) < EPOCHS


def test_resume_continues_trials_from_their_checkpoints(search: Interrupted) -> None:
    exp = Path(search.outcome.experiment_path)
    assert search.outcome.complete and len(search.outcome.rows) == 4
    resumed = 0
    for name, before in search.progress_before.items():
        after = _epochs(exp / name / "progress.csv")
        assert after[: len(before)] == before
        # continued from a checkpoint, not from scratch: epoch 1 once, at most the epoch after the checkpoint twice
        assert (
            after.count(1) == 1
            and len(after) - len(set(after)) <= 1
            and sorted(set(after)) == list(range(1, max(after) + 1))
        )
        resumed += len(after) > len(before)
    assert resumed >= 1


def test_search_writes_tune_logs_tensorboard_events_and_checkpoints(search: Interrupted) -> None:
    exp = Path(search.outcome.experiment_path)
    trials = sorted(exp.glob("trial_*"))
    assert len(trials) == 4
    for folder in trials:
        assert (folder / "result.json").exists() and (folder / "params.json").exists()
        rows = list(csv.DictReader((folder / "progress.csv").open()))
        assert 1 <= len(rows) <= EPOCHS + 1
        assert all(r["epoch"] == r["training_iteration"] for r in rows)
        for r in rows:  # every report carries all three objectives (Δ ones carried between evaluations)
            assert all(np.isfinite(float(r[m])) for m in ("val_nll", "val_delta68", "val_top1"))
        tags = set().union(*(_tensorboard_tags(e) for e in folder.glob("events.out.tfevents.*")))
        assert {"ray/tune/val_nll", "ray/tune/val_delta68", "ray/tune/val_top1", "ray/tune/train_loss"} <= tags
        assert list(folder.glob("checkpoint_*/model.pt"))
    saved = yaml.safe_load((exp / SAVED_CONFIG).read_text())
    assert saved["data"]["n_train"] == 600 and saved["data"]["n_validation"] == 150  # never the test split
    assert SearchConfig.from_dict(saved["config"]) == load_search_config(search.config)  # the canonical definition


def test_trials_have_their_own_layer_lists(search: Interrupted) -> None:
    rows = search.outcome.rows
    assert len({r.hidden for r in rows}) > 1
    assert len({len(r.hidden.split("-")) for r in rows}) > 1  # varying depth
    # ASHA promotes at least one trial past its first rung; a trial may also end earlier by the plateau rule
    assert max(r.epochs for r in rows) > 1 and all(1 <= r.epochs <= EPOCHS for r in rows)
    assert {r.status for r in rows} <= {"complete", "stopped"}


def test_best_configuration_is_a_run_config_and_the_model_loads(search: Interrupted, store: ShardStore) -> None:
    outcome = search.outcome
    exp = Path(outcome.experiment_path)
    assert outcome.best is not None and outcome.best_config is not None
    assert outcome.best.objective == min(r.objective for r in outcome.rows)
    run = ActiveConfig.from_yaml(exp / BEST_RUN)
    assert run.surrogate == outcome.best_config
    assert load_train_config(exp / BEST_RUN).surrogate == outcome.best_config
    assert "-".join(map(str, run.surrogate.hidden)) == outcome.best.hidden
    assert run.surrogate.max_epochs == SurrogateConfig().max_epochs  # from base, not the search's epoch limit
    model = Surrogate.load(exp / BEST_MODEL)
    assert model.config.hidden == run.surrogate.hidden and model.config.family == run.surrogate.family
    assert np.all(np.isfinite(model.predict(store.arrays("validation").momenta[:20]).mean))
    rows = list(csv.DictReader((exp / TRIALS_CSV).open()))
    assert [r["trial_id"] for r in rows] == [r.trial_id for r in outcome.rows]
    assert rows[0]["metric"] == "val_nll" and float(rows[0]["objective"]) == pytest.approx(outcome.best.objective)
    table = (exp / TRIALS_TABLE).read_text()
    assert table == outcome.table + "\n" and f"*  {outcome.best.trial_id}" in table


def test_restore_of_a_finished_search_retrains_nothing(search: Interrupted) -> None:
    exp = Path(search.outcome.experiment_path)
    config = load_search_config(search.config)
    progress = {p: p.read_text() for p in exp.glob("trial_*/progress.csv")}
    with pytest.raises(ConfigError, match="exists already; continue it with --resume"):
        run_search(config)
    with pytest.raises(ConfigError, match=r"different search definition \(epochs changed\)"):
        run_search(load_search_config(search.config, ["epochs=5"]), resume=True)
    with pytest.raises(ConfigError, match=r"different search definition \(space.lr.loguniform changed\)"):
        run_search(load_search_config(search.config, ["space.lr={loguniform: [1e-3, 2e-2]}"]), resume=True)
    again = run_search(config, resume=True)
    assert again.best == search.outcome.best and again.rows == search.outcome.rows
    assert {p: p.read_text() for p in exp.glob("trial_*/progress.csv")} == progress  # no epoch trained again


# ---------------------------------------------------------------------------- vector stores
def test_tiny_search_on_a_vector_store(ray_local: object, vector_store: ShardStore, tmp_path: Path) -> None:
    config = SearchConfig.from_dict(
        search_dict(
            vector_store.path,
            tmp_path,
            base=VECTOR_BASE,
            space={"family": "bnn", "lr": {"loguniform": [1e-3, 1e-2]}},
            num_samples=1,
            epochs=2,
            metric="val_delta68",
            scheduler={"kind": "fifo"},
        )
    )
    outcome = run_search(config)
    assert outcome.complete and outcome.best is not None and np.isfinite(outcome.best.objective)
    assert outcome.best_config is not None and outcome.best_config.target_transform == "signed"
    assert Surrogate.load(Path(outcome.experiment_path) / BEST_MODEL).n_outputs == 2
    saved = yaml.safe_load((Path(outcome.experiment_path) / SAVED_CONFIG).read_text())
    assert saved["data"]["outputs"] == ["c1", "c2"]
