"""Tests of the active-learning loop on local Ray: exact point counts, failures, resume after SIGKILL, determinism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from activeamp.config import ConfigError, to_dict
from activeamp.data.store import ShardStore
from activeamp.loop.active import ActiveConfig, ActiveLearner, RoundStatus
from activeamp.surrogate.committee import SurrogateCommittee, load_model
from activeamp.surrogate.metrics import evaluate_prediction
from activeamp.surrogate.prediction import Prediction
from oracles import get

TINY = {
    "seed": 7,
    "oracle": {"name": "mock"},
    "n_initial": 300,
    "n_validation": 100,
    "n_test": 200,
    "pool": {"n_actors": 2, "batch_size": 64, "num_cpus": 0.5},
    "surrogate": {"max_epochs": 40, "patience": 10, "batch_size": 128, "n_weight_samples": 8, "hidden": [16, 16]},
    "trainer": {"round_epochs": 10, "torch_threads": 1, "num_cpus": 1},
    "acquisition": {"n_candidates": 1000, "batch_size": 50, "n_weight_samples": 8},
    "budget": {"max_rounds": 2},
    "plots": False,
}


def _config(**changes: object) -> ActiveConfig:
    data = json.loads(json.dumps(TINY))
    for key, value in changes.items():
        node = data
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return ActiveConfig.from_dict(data)


def _records_per_point(store: ShardStore) -> dict[str, list[str]]:
    table = store.records(columns=["point_id", "status"])
    out: dict[str, list[str]] = {}
    for pid, status in zip(table["point_id"].to_pylist(), table["status"].to_pylist(), strict=True):
        out.setdefault(pid, []).append(status)
    return out


def _assert_labelled_once(store: ShardStore) -> None:
    for pid, statuses in _records_per_point(store).items():
        labels = [s for s in statuses if s != "unlabelled"]
        assert len(labels) == 1, f"{pid} has labels {statuses}"


def test_rounds_store_every_point_once_and_report(ray_local: object, tmp_path: Path) -> None:
    seen: list[RoundStatus] = []
    config = _config(plots=True, **{"oracle.options": {"nan_rate": 0.03}})
    statuses = ActiveLearner(config, tmp_path / "run", callback=seen.append, progress=False).run()
    assert [s.round for s in statuses] == [0, 1, 2] and seen == statuses
    store = ShardStore.open(tmp_path / "run" / "store")
    summary = store.summary()
    assert summary.n_points == 300 + 100 + 200 + 2 * 50
    assert summary.count("train") == 400 and summary.count("validation") == 100 and summary.count("test") == 200
    assert summary.count(status="unlabelled") == 0 and summary.count(status="failed") > 0
    _assert_labelled_once(store)
    assert [s.oracle_calls for s in statuses] == [400, 450, 500]
    assert statuses[-1].n_train == summary.count("train", "ok")
    assert all(np.isfinite(s.precision) and s.precision > 0 for s in statuses)
    run = tmp_path / "run"
    state = json.loads((run / "state.json").read_text())
    assert state["completed_round"] == 2 and len(state["curve"]) == 3
    assert sorted(p.name for p in (run / "metrics").iterdir()) == [f"round-000{i}.json" for i in range(3)]
    assert len((run / "rounds.jsonl").read_text().splitlines()) == 3
    assert (run / "model.pt").exists() and "oracle calls" in (run / "summary.txt").read_text()
    for name in ("delta.png", "pulls.png", "precision_vs_calls.png", "loss.png", "kin_pT_a1.png"):
        assert (run / "plots" / name).stat().st_size > 1000


def test_oracle_call_budget_caps_the_last_batch(ray_local: object, tmp_path: Path) -> None:
    config = _config(**{"budget.max_rounds": 0, "budget.max_oracle_calls": 470, "oracle.name": "exact"})
    statuses = ActiveLearner(config, tmp_path / "run", progress=False).run()
    assert [s.oracle_calls for s in statuses] == [400, 450, 470]


def test_several_trainer_actors_train_a_committee_saved_as_the_model(ray_local: object, tmp_path: Path) -> None:
    config = _config(**{"trainer.n_actors": 2, "trainer.num_cpus": 0.5, "budget.max_rounds": 1})
    statuses = ActiveLearner(config, tmp_path / "run", progress=False).run()
    assert [s.round for s in statuses] == [0, 1] and statuses[-1].train.device == "2×cpu"
    model = load_model(tmp_path / "run" / "model.pt")
    assert isinstance(model, SurrogateCommittee) and len(model) == 2
    assert model.members[1].config.seed == model.members[0].config.seed + 1
    test = ShardStore.open(tmp_path / "run" / "store").arrays("test")
    figure = evaluate_prediction(model.predict(test.momenta), test.targets).precision
    assert figure == pytest.approx(statuses[-1].precision, rel=1e-9)  # the run measured the committee
    with pytest.raises(ConfigError, match="holds a committee of 2 trained member.*trainer.n_actors=2"):
        ActiveLearner.resume(tmp_path / "run", progress=False, overrides=["trainer.n_actors=1"])
    assert not (tmp_path / "run" / "config.previous.yaml").exists()  # refused before anything was written


def test_vegas_candidates_follow_the_surrogate_mean_and_keep_unbiased_weights(tmp_path: Path) -> None:
    oracle = get("exact", process="gg_yyg")

    def predict(x: np.ndarray, n_samples: int | None) -> Prediction:  # a surrogate that knows |M|² exactly
        a = oracle(x)
        return Prediction(a, 0.01 * a, 0.01 * a)

    changes = {"acquisition.n_candidates": 20_000, "phasespace.vegas_points": 4000, "phasespace.vegas_iterations": 4}
    uniform = ActiveLearner(_config(**changes), tmp_path / "u", progress=False)
    vegas = ActiveLearner(
        _config(**changes, **{"acquisition.sampler": "vegas", "acquisition.vegas_target": "mean"}),
        tmp_path / "v",
        progress=False,
    )
    sampler = uniform.config.phasespace.build_sampler(None, None)
    x_u, w_u = uniform._candidates(1, sampler, predict)
    x_v, w_v = vegas._candidates(1, sampler, predict)
    a_u, a_v = oracle(x_u), oracle(x_v)
    assert a_v.mean() > 1.5 * a_u.mean()  # candidates where events land
    assert np.ptp(w_u) <= 1e-12 * w_u.max() and np.ptp(w_v) > 0  # RAMBO weights are flat, vegas' carry the map
    # the weights undo the map: weighted averages over vegas candidates are uniform averages (a bounded
    # observable, the first photon's pT, so that the uniform average itself is precise)
    pt_u, pt_v = np.hypot(x_u[:, 2, 1], x_u[:, 2, 2]), np.hypot(x_v[:, 2, 1], x_v[:, 2, 2])
    assert np.sum(w_v * pt_v) / np.sum(w_v) == pytest.approx(pt_u.mean(), rel=0.03)
    assert abs(pt_v.mean() / pt_u.mean() - 1) > 0.05  # unweighted, the vegas candidates are distributed otherwise
    with pytest.raises(ConfigError, match="acquisition.vegas_target: 'events' is not one of"):
        _config(**{"acquisition.vegas_target": "events"})


def test_selection_does_not_depend_on_the_number_of_workers(ray_local: object, tmp_path: Path) -> None:
    stores = []
    for n in (1, 2):
        config = _config(**{"pool.n_actors": n, "pool.batch_size": 37 * n, "budget.max_rounds": 1})
        ActiveLearner(config, tmp_path / f"w{n}", progress=False).run()
        stores.append(ShardStore.open(tmp_path / f"w{n}" / "store").arrays("train"))
    np.testing.assert_array_equal(stores[0].ids, stores[1].ids)
    np.testing.assert_array_equal(stores[0].momenta, stores[1].momenta)
    np.testing.assert_array_equal(stores[0].amplitude, stores[1].amplitude)


def _ok_labels(store: ShardStore) -> dict[str, float]:
    """Point id → amplitude of the store's ok labels."""
    columns = [store.read(columns=[c])[c].to_pylist() for c in ("point_id", "amplitude", "status")]
    return {pid: amp for pid, amp, status in zip(*columns, strict=True) if status == "ok"}


def _import(learner: str) -> str:
    module = "asynchronous" if learner == "AsyncLearner" else "active"
    return f"from activeamp.loop.{module} import {learner}\n"


def kill_driver_when(learner: str, config: ActiveConfig, run: Path, ready: Callable[[Path], bool], what: str) -> None:
    """Start ``learner`` (``ActiveLearner`` or ``AsyncLearner``) on ``config`` in ``run`` in a driver subprocess with a
    local Ray of its own, and SIGKILL the driver as soon as ``ready(run)`` holds (checked once ``state.json`` and the
    store exist). Fails the test when the driver ends first or ``what`` never happens (240 s)."""
    script = (
        f"import sys\nfrom activeamp.loop.active import ActiveConfig\n{_import(learner)}"
        f"{learner}(ActiveConfig.from_dict({to_dict(config)!r}), sys.argv[1], progress=False).run()\n"
    )
    env = {**os.environ, "RAY_ADDRESS": "local"}
    child = subprocess.Popen([sys.executable, "-c", script, str(run)], env=env)
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if (run / "state.json").exists() and (run / "store").exists() and ready(run):
                break
            if child.poll() is not None:
                pytest.fail(f"driver ended before it could be killed (exit {child.returncode})")
            time.sleep(0.02)
        else:
            pytest.fail(f"{what} never happened")
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()


def resume_driver(learner: str, run: Path) -> None:
    """Resume the run in ``run`` to its end in a driver subprocess (``learner`` as in :func:`kill_driver_when`)."""
    script = f"import sys\n{_import(learner)}{learner}.resume(sys.argv[1], progress=False).run()\n"
    env = {**os.environ, "RAY_ADDRESS": "local"}
    subprocess.run([sys.executable, "-c", script, str(run)], env=env, timeout=300, check=True)


def _labelling_round_1(run: Path) -> bool:
    table = ShardStore.open(run / "store").read(split="train", columns=["round", "status"])
    labelled = (table["round"].to_numpy() == 1) & (np.asarray(table["status"].to_pylist()) != "unlabelled")
    return bool(labelled.any() and ((table["round"].to_numpy() == 1) & ~labelled).any())


def test_resume_after_sigkill_loses_and_repeats_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    changes = {"oracle.options": {"latency": 0.01}, "pool.batch_size": 10, "acquisition.batch_size": 200,
               "budget.max_rounds": 2}  # fmt: skip
    kill_driver_when("ActiveLearner", _config(**changes), run, _labelling_round_1, "round 1 labelling")
    before = ShardStore.open(run / "store")
    labelled_before = _ok_labels(before)
    assert before.summary().count(status="unlabelled") > 0, "the kill should interrupt labelling"
    assert json.loads((run / "state.json").read_text())["completed_round"] == 0
    resume_driver("ActiveLearner", run)
    after = ShardStore.open(run / "store")
    summary = after.summary()
    assert summary.n_points == 300 + 100 + 200 + 2 * 200 and summary.count(status="unlabelled") == 0
    _assert_labelled_once(after)
    labels = _ok_labels(after)
    assert all(labels[pid] == amp for pid, amp in labelled_before.items())
    assert json.loads((run / "state.json").read_text())["completed_round"] == 2


def _vector_config(**changes: object) -> ActiveConfig:
    vv = {
        "phasespace.process": "uu_ZZ",
        "oracle.name": "mock_vv",
        "oracle.options": {"n_outputs": 3, "nan_rate": 0.03},
        "surrogate.target_transform": "signed",
        "surrogate.sigma_a": "median",
    }
    return _config(**{**vv, **changes})


def test_vector_oracle_run_learns_every_output(ray_local: object, tmp_path: Path) -> None:
    """q q̄ → Z Z coefficients (a VVAMP-like vector oracle): vector store, per-output metrics and plots."""
    run = tmp_path / "run"
    statuses = ActiveLearner(_vector_config(plots=True), run, progress=False).run()
    store = ShardStore.open(run / "store")
    assert store.outputs == ("c1", "c2", "c3") and store.process.name == "uu_ZZ"
    assert store.summary().n_points == 300 + 100 + 200 + 2 * 50 and store.summary().count(status="failed") > 0
    _assert_labelled_once(store)
    assert [s.oracle_calls for s in statuses] == [400, 450, 500]
    last = statuses[-1]
    assert set(last.metrics.per_output) == {"c1", "c2", "c3"}
    assert last.precision == max(m.precision for m in last.metrics.per_output.values())
    assert 0 < last.precision < 1.0  # the floored relative deviation: better than predicting zero
    doc = json.loads((run / "metrics" / "round-0002.json").read_text())
    assert set(doc["sets"]["test"]["per_output"]) == {"c1", "c2", "c3"}
    for name in ("residuals.png", "pulls_c1.png", "kin_sqrt_s_c3.png", "precision_vs_calls.png"):
        assert (run / "plots" / name).stat().st_size > 1000
    picked = store.arrays("train")
    assert picked.targets.shape == (picked.ids.size, 3)
    assert "outputs c1, c2, c3: Δ is the floored relative deviation" in (run / "summary.txt").read_text()


def test_vector_oracle_needs_the_signed_transform(ray_local: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="surrogate.target_transform: oracle 'mock_vv' returns 3 signed outputs"):
        ActiveLearner(_vector_config(**{"surrogate.target_transform": "log"}), tmp_path / "run", progress=False).run()
    with pytest.raises(ConfigError, match="acquisition.sampler: uu_ZZ candidates come from the VV map"):
        _vector_config(**{"acquisition.sampler": "vegas"})


