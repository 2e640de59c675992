"""Tests of the Ray Tune search: search space and config validation, a tiny search, export, interrupt and resume."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from activeamp.config import ConfigError, from_dict
from activeamp.data.dataset import DatasetConfig, build_dataset
from activeamp.data.store import ShardStore
from activeamp.loop.active import ActiveConfig
from activeamp.loop.tuning import (
    BEST_MODEL,
    BEST_RUN,
    DEFAULT_SPACE,
    SAVED_CONFIG,
    TRIALS_CSV,
    TRIALS_TABLE,
    SearchConfig,
    SearchOutcome,
    SearchSpace,
    TrialRow,
    format_trial_table,
    load_search_config,
    run_search,
)
from activeamp.surrogate.surrogate import Surrogate, SurrogateConfig
from activeamp.surrogate.training import load_train_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tune" / "search.py"

#: Tiny networks and data: a trial epoch takes milliseconds, so the searches are dominated by Ray's overhead.
TINY_BASE = {"sigma_a": "median", "n_members": 2, "n_weight_samples": 8, "batch_size": 256, "seed": 1}
TINY_SPACE = {
    "family": {"choice": ["bnn", "deterministic", "ensemble"]},
    "prior_width": {"loguniform": [1e-3, 10.0]},
    "n_layers": {"randint": [2, 6]},
    "width": {"choice": [8, 16, 32]},
    "lr": {"loguniform": [1e-3, 1e-2]},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ShardStore:
    """g g → γ γ g labelled by the mock oracle: 600 train, 150 validation, 100 test points."""
    data = {"oracle": {"name": "mock"}, "n_train": 600, "n_validation": 150, "n_test": 100, "seed": 11}
    s, report = build_dataset(from_dict(DatasetConfig, data), tmp_path_factory.mktemp("data") / "store", progress=False)
    assert report.n_ok == 850
    return s


def _config(store_path: str | Path, storage: Path, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "store": str(store_path),
        "storage_path": str(storage),
        "name": "tiny",
        "num_samples": 4,
        "max_concurrent": 2,
        "epochs": 4,
        "eval_every": 2,
        "verbose": 0,
        "seed": 3,
        "scheduler": {"grace_period": 1, "reduction_factor": 2},
        "base": TINY_BASE,
        "space": TINY_SPACE,
    }
    data.update(overrides)
    return data


def _sample(space: SearchSpace, rng: np.random.Generator) -> dict[str, object]:
    """One configuration drawn from the Tune domains (what Tune's random search does per trial)."""
    return {k: (v.sample(random_state=rng) if hasattr(v, "sample") else v) for k, v in space.param_space().items()}


# ---------------------------------------------------------------------------- search space and configuration
def test_layer_list_is_conditional_on_the_sampled_layer_count() -> None:
    space = SearchSpace.parse(DEFAULT_SPACE, SurrogateConfig())
    assert space.max_layers == 6
    assert {f"width_{i}" for i in range(6)} <= set(space.param_space())
    rng = np.random.default_rng(0)
    configs = [SurrogateConfig.from_dict(space.surrogate_values(_sample(space, rng))) for _ in range(300)]
    assert {len(c.hidden) for c in configs} == set(range(3, 7))  # randint [3, 7): 3..6 layers
    assert {w for c in configs for w in c.hidden} == {64, 128, 256}
    assert any(len(set(c.hidden)) > 1 for c in configs)  # per-layer widths, not one shared width
    assert {c.family for c in configs} == {"laplace", "bnn", "ensemble"}
    assert {c.activation for c in configs} == {"silu", "gelu"}
    prior = np.array([c.prior_width for c in configs])
    assert prior.min() >= 1e-2 and prior.max() <= 10 and np.median(np.log10(prior)) == pytest.approx(-0.5, abs=0.3)
    assert {c.batch_size for c in configs} == {512, 1024, 2048}


def test_grid_constants_and_hidden_choice() -> None:
    base = SurrogateConfig()
    space = SearchSpace.parse({"lr": {"grid": [1e-3, 1e-2]}, "activation": "relu"}, base)
    assert space.n_trials(3) == 6 and space.max_layers == 0
    values = space.surrogate_values({"lr": 1e-2, "activation": "relu"})
    assert values == {"lr": 1e-2, "activation": "relu"}
    space = SearchSpace.parse({"hidden": {"choice": [[8, 8], [16, 8, 4]]}}, base)
    assert space.surrogate_values({"hidden": [16, 8, 4]}) == {"hidden": [16, 8, 4]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"space": {"lr": {"loguniform": [1e-2, 1e-4]}}}, "space.lr.loguniform: need low < high"),
        ({"space": {"prior_width": {"loguniform": [0, 1]}}}, "space.prior_width.loguniform: a log distribution"),
        ({"space": {"lr": {"logunifrom": [1e-4, 1e-2]}}}, "space.lr: unknown distribution 'logunifrom'"),
        ({"space": {"lr": {"uniform": [1e-4]}}}, "space.lr.uniform: expected [low, high]"),
        ({"space": {"lr": {"uniform": [0, 1e-2]}}}, "space.lr: lr: must be > 0"),
        ({"space": {"family": {"choice": ["bnn", "cnn"]}}}, "space.family: family: 'cnn' is not one of"),
        ({"space": {"depth": {"randint": [2, 4]}}}, "space.depth: not a surrogate setting"),
        ({"space": {"max_epochs": {"randint": [2, 4]}}}, "space.max_epochs: set by the search"),
        ({"space": {"n_layers": {"randint": [2, 4]}}}, "space.width: n_layers and width go together"),
        ({"space": {"n_layers": {"uniform": [2, 4]}, "width": 8}}, "space.n_layers: needs integers"),
        ({"space": {"n_layers": {"randint": [0, 3]}, "width": 8}}, "space.n_layers: layer counts must be"),
        ({"space": {"n_layers": 2, "width": {"choice": [8, 0]}}}, "space.width:"),
        ({"space": {"n_layers": 2, "width": {"grid": [8, 16]}}}, "space.width: grid is not supported"),
        ({"base": {"lr": -1}}, "base.lr: must be > 0"),
        ({"base": {"lrate": 1}}, "base.lrate"),
        ({"metric": "val_loss"}, "metric: 'val_loss' is not one of"),
        ({"store": ""}, "store: required"),
        ({"epochs": 3, "scheduler": {"grace_period": 5}}, "scheduler.grace_period: 5 exceeds epochs (3)"),
        ({"scheduler": {"reduction_factor": 1}}, "scheduler.reduction_factor: must be > 1"),
        ({"trial_gpus": "some"}, "trial_gpus: expected a number or 'auto'"),
        ({"trial_resources": {"CPU": 1}}, "trial_resources.CPU: use trial_cpus"),
        ({"name": "a/b"}, "name: expected a folder name"),
        ({"validation_split": "train"}, "validation_split: must differ"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, change: dict[str, object], message: str) -> None:
    data = _config(tmp_path / "store", tmp_path / "out")
    data.update(change)
    with pytest.raises(ConfigError) as err:
        SearchConfig.from_dict(data)
    assert message in str(err.value)


def test_yaml_file_overrides_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(_config("data/store", Path("results"))))
    config = load_search_config(path, ["num_samples=9", "space.lr={loguniform: [1e-5, 1e-3]}", "base.lr=1e-3"])
    assert config.num_samples == 9 and config.space["lr"] == {"loguniform": [1e-5, 1e-3]}
    assert config.store == str(tmp_path / "data" / "store")
    assert config.storage_path == str(tmp_path / "results")
    assert SearchConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match=r"search.yaml: space.lr.loguniform\[0\]: expected a number"):
        load_search_config(path, ["space.lr={loguniform: [abc, 1e-3]}"])
    assert SearchConfig.from_dict({"store": "s3://bucket/store", "storage_path": "s3://b/tune"}).storage_path == (
        "s3://b/tune"
    )


def test_default_search_yaml_is_valid() -> None:
    config = load_search_config(ROOT / "tune" / "search.yaml")
    assert config.metric == "val_delta68" and config.scheduler.kind == "asha"
    space = config.search_space()
    assert space.max_layers == 6 and space.n_trials(config.num_samples) == config.num_samples
    assert set(config.space) == set(DEFAULT_SPACE)


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


def test_search_data_is_the_train_and_validation_split(store: ShardStore, tmp_path: Path) -> None:
    from activeamp.data.store import StoreError
    from activeamp.loop.tuning import TuningError, load_search_data

    data = load_search_data(SearchConfig.from_dict(_config(store.path, tmp_path)))
    assert data.x.shape == (600, 5, 4) and data.x_val.shape == (150, 5, 4) and data.a_val.shape == (150,)
    assert data.fingerprint["n_train"] == 600 and len(data.fingerprint["sha256"]) == 64
    with pytest.raises(TuningError, match="no labelled points in split 'candidate' \\(validation_split\\)"):
        load_search_data(SearchConfig.from_dict(_config(store.path, tmp_path, validation_split="candidate")))
    with pytest.raises(StoreError):
        load_search_data(SearchConfig.from_dict(_config(tmp_path / "nothing", tmp_path)))
    with pytest.raises(TuningError, match="metric 'val_top1' .* has 150 labelled points \\(1 in its top 1 %\\)"):
        load_search_data(SearchConfig.from_dict(_config(store.path, tmp_path, metric="val_top1")))


class _FakeResult:
    """The parts of a Tune ``Result`` the export reads."""

    def __init__(self, trial_id: str, objective: list[float], folder: Path, error: Exception | None = None) -> None:
        import pandas as pd
        from ray import tune

        self.config = {"family": "bnn", "prior_width": 0.5, "lr": 2e-3, "n_layers": 2}
        self.config.update({f"width_{i}": 8 * (i + 1) for i in range(5)})
        self.metrics = {"trial_id": trial_id, "training_iteration": len(objective), "val_nll": objective[-1]}
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
    import activeamp.loop.tuning as tuning

    config = SearchConfig.from_dict(_config(tmp_path / "store", tmp_path, epochs=3))
    results = _FakeGrid(
        [
            _FakeResult("a", [0.5, 0.3, 0.35], tmp_path),
            _FakeResult("b", [0.4, 0.1], tmp_path, error=RuntimeError("training diverged")),
            _FakeResult("c", [0.6], tmp_path),
        ]
    )
    statuses = {"a": "TERMINATED", "b": "ERROR", "c": "TERMINATED"}
    monkeypatch.setattr(tuning, "_trial_statuses", lambda path: statuses)
    outcome = tuning._export(results, config, expected=3)
    assert outcome.complete and [r.trial_id for r in outcome.rows] == ["b", "a", "c"]
    assert [r.status for r in outcome.rows] == ["error", "complete", "stopped"]
    assert outcome.best is not None and outcome.best.trial_id == "a" and outcome.best.objective == 0.3
    assert outcome.best.hidden == "8-16"  # n_layers = 2 of the 5 sampled widths
    assert Path(outcome.best_model).read_bytes() == b"a"
    assert "*  a" in outcome.table

    statuses["c"] = "PENDING"  # interrupted: the table only
    (tmp_path / "tiny" / BEST_RUN).unlink()
    outcome = tuning._export(results, config, expected=3)
    assert not outcome.complete and outcome.best is None and not (tmp_path / "tiny" / BEST_RUN).exists()
    assert [r.status for r in outcome.rows][-1] == "unfinished"

    statuses.update(a="ERROR", c="ERROR")
    for r in results:
        r.error = RuntimeError("training diverged")
    with pytest.raises(tuning.TuningError, match="no trial of .* finished with a finite val_nll"):
        tuning._export(results, config, expected=3)


# ---------------------------------------------------------------------------- the entry script
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
    assert "bad.yaml: space.lr.loguniform: need low < high" in out.stderr


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
    config.write_text(yaml.safe_dump(_config(store.path, storage, epochs=EPOCHS)))
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
    assert "search interrupted; continue it with: --resume" in search.output
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
    again = run_search(config, resume=True)
    assert again.best == search.outcome.best and again.rows == search.outcome.rows
    assert {p: p.read_text() for p in exp.glob("trial_*/progress.csv")} == progress  # no epoch trained again


# ---------------------------------------------------------------------------- vector stores
VECTOR_BASE = {**TINY_BASE, "target_transform": "signed", "hidden": [8, 8]}


@pytest.fixture(scope="module")
def vector_store(tmp_path_factory: pytest.TempPathFactory) -> ShardStore:
    """q q̄ → Z Z with 2 signed outputs per point (the analytic VV mock): 300 train, 80 validation points."""
    data = {
        "phasespace": {"process": "uu_ZZ"},
        "oracle": {"name": "mock_vv", "options": {"n_outputs": 2}},
        "n_train": 300,
        "n_validation": 80,
        "n_test": 10,
        "seed": 4,
    }
    s, _ = build_dataset(from_dict(DatasetConfig, data), tmp_path_factory.mktemp("vv") / "store", progress=False)
    return s


def _digest(store: ShardStore, vector: bool) -> str:
    digest = hashlib.sha256()
    for split in ("train", "validation"):
        arrays = store.arrays(split)
        digest.update("\n".join(arrays.ids.tolist()).encode())
        digest.update(np.ascontiguousarray(arrays.values if vector else arrays.amplitude).tobytes())
    return digest.hexdigest()


def test_search_data_fingerprint_hashes_amplitudes_or_values(
    store: ShardStore, vector_store: ShardStore, tmp_path: Path
) -> None:
    from activeamp.loop.tuning import load_search_data

    scalar = load_search_data(SearchConfig.from_dict(_config(store.path, tmp_path)))
    assert scalar.outputs is None and "outputs" not in scalar.fingerprint
    assert scalar.fingerprint["sha256"] == _digest(store, vector=False)  # unchanged: resumes of old searches work
    vector = load_search_data(SearchConfig.from_dict(_config(vector_store.path, tmp_path, base=VECTOR_BASE)))
    assert vector.outputs == ("c1", "c2") and vector.fingerprint["outputs"] == ["c1", "c2"]
    assert vector.fingerprint["sha256"] == _digest(vector_store, vector=True)
    assert vector.amplitude.shape == (300, 2) and vector.a_val.shape == (80, 2) and vector.x_val.shape == (80, 4, 4)
    np.testing.assert_array_equal(vector.a_val, vector_store.arrays("validation").values)


def test_vector_search_needs_the_signed_target_map(vector_store: ShardStore, tmp_path: Path) -> None:
    from activeamp.loop.tuning import load_search_data

    with pytest.raises(ConfigError, match=r"^base\.target_transform: .* holds 2 signed outputs per point \(c1, c2\)"):
        load_search_data(SearchConfig.from_dict(_config(vector_store.path, tmp_path)))
    space = {**TINY_SPACE, "target_transform": {"choice": ["signed", "log"]}}
    with pytest.raises(ConfigError, match=r"^space\.target_transform: .* which the 'log' map cannot learn"):
        load_search_data(SearchConfig.from_dict(_config(vector_store.path, tmp_path, base=VECTOR_BASE, space=space)))
    space = {**TINY_SPACE, "target_transform": "signed"}  # a constant signed map in the space is enough
    load_search_data(SearchConfig.from_dict(_config(vector_store.path, tmp_path, space=space)))


def test_vector_trial_reports_the_worst_output(
    vector_store: ShardStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One trial through the trainable without Tune: the Δ objectives are those of the worst output."""
    import activeamp.loop.tuning as tuning
    from activeamp.surrogate.metrics import evaluate_vector_prediction

    config = SearchConfig.from_dict(_config(vector_store.path, tmp_path, base=VECTOR_BASE, eval_every=1))
    data = tuning.load_search_data(config)
    reports: list[dict[str, object]] = []
    checked: list[int] = []

    def report(result: dict[str, object], checkpoint: object = None) -> None:
        reports.append(result)
        if checkpoint is not None:  # the objective is recomputed from the checkpointed surrogate
            model = Surrogate.load(Path(checkpoint.path) / "model.pt")
            metrics = evaluate_vector_prediction(model.predict(data.x_val), data.a_val, data.outputs)
            top1 = max(m.delta_top1.abs_68 for m in metrics.per_output.values())
            assert model.n_outputs == 2
            assert result["val_delta68"] == pytest.approx(metrics.precision, rel=1e-12)
            assert result["val_top1"] == pytest.approx(top1, rel=1e-12, abs=1e-15)
            checked.append(int(result["epoch"]))

    monkeypatch.setattr(tuning.tune, "get_checkpoint", lambda: None)
    monkeypatch.setattr(tuning.tune, "report", report)
    settings = {
        "base": config.base.to_dict(),
        "space": config.space,
        "epochs": 3,
        "eval_every": 1,
        "checkpoint_every": 3,
        "trial_cpus": 1,
        "outputs": list(data.outputs),
    }
    tuning.train_trial(
        {"family": "bnn", "prior_width": 1.0, "lr": 3e-3, "n_layers": 1, "width_0": 8}, settings, data.arrays()
    )
    assert [r["epoch"] for r in reports] == [1, 2, 3] and checked == [3]
    assert all(np.isfinite(r["val_delta68"]) and np.isfinite(r["val_nll"]) for r in reports)


def test_tiny_search_on_a_vector_store(ray_local: object, vector_store: ShardStore, tmp_path: Path) -> None:
    config = SearchConfig.from_dict(
        _config(
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
