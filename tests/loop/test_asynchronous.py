"""Tests of the asynchronous loop: budgets, status records, every point labelled once, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

from activeamp.data.store import ShardStore
from activeamp.loop.asynchronous import AsyncLearner
from activeamp.surrogate.committee import SurrogateCommittee, load_model
from tests.loop.test_active import _assert_labelled_once, _config, _ok_labels, kill_driver_when, resume_driver


def _async_config(**changes: object) -> object:
    base = {"loop.mode": "async", "loop.status_seconds": 1.0, "oracle.options": {"latency": 0.002}, **changes}
    return _config(**base)


def test_async_run_labels_the_budget_once_and_records_the_loop(ray_local: object, tmp_path: Path) -> None:
    config = _async_config(**{"budget.max_rounds": 3, "budget.max_oracle_calls": 700, "acquisition.batch_size": 40})
    learner = AsyncLearner(config, tmp_path / "run", progress=False)
    statuses = learner.run()
    store = ShardStore.open(tmp_path / "run" / "store")
    summary = store.summary()
    calls = sum(summary.count(split, s) for split in ("train", "validation") for s in ("ok", "failed"))
    assert summary.count(status="unlabelled") == 0 and calls <= 700
    _assert_labelled_once(store)
    assert store.validate().ok
    assert 1 <= len(statuses) <= 4 and [s.round for s in statuses] == list(range(len(statuses)))
    for status in statuses[1:]:
        assert set(status.loop) >= {"queue_depth", "oracle_utilisation", "trainer_utilisation", "surrogate_age_s"}
        assert 0 < status.loop["oracle_utilisation"] <= 1 and 0 < status.loop["trainer_utilisation"] <= 1
    records = [json.loads(line) for line in (tmp_path / "run" / "rounds.jsonl").read_text().splitlines()]
    assert len(records) == len(statuses) and "loop" in records[-1]
    assert records[-1]["event_weighted"]["count"] == 200  # the A-weighted figures of the test set
    selected = store.read(split="train", columns=["round", "batch"])
    pairs = set(zip(selected["round"].to_pylist(), selected["batch"].to_pylist(), strict=True))
    assert {(0, 3), (0, 4)} <= pairs  # uniform points labelled while the first surrogate trained


def test_async_with_two_trainer_actors_publishes_their_committee(ray_local: object, tmp_path: Path) -> None:
    changes = {"budget.max_rounds": 2, "budget.max_oracle_calls": 600, "acquisition.batch_size": 40,
               "trainer.n_actors": 2, "trainer.num_cpus": 0.5}  # fmt: skip
    statuses = AsyncLearner(_async_config(**changes), tmp_path / "run", progress=False).run()
    assert len(statuses) >= 2 and all(s.train.device == "2×cpu" for s in statuses)
    model = load_model(tmp_path / "run" / "model.pt")  # what scored the selections after round 0
    assert isinstance(model, SurrogateCommittee) and len(model) == 2
    store = ShardStore.open(tmp_path / "run" / "store")
    _assert_labelled_once(store)
    assert store.summary().count(status="unlabelled") == 0


def _labelling_a_selection(run: Path) -> bool:
    return "unlabelled" in ShardStore.open(run / "store").read(split="train", columns=["status"])["status"].to_pylist()


def test_async_resume_after_sigkill_loses_and_repeats_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = _async_config(**{"oracle.options": {"latency": 0.01}, "pool.batch_size": 10,
                              "acquisition.batch_size": 60, "budget.max_rounds": 3, "budget.max_oracle_calls": 2000})
    # killed after update 0, while selected points are being labelled
    kill_driver_when("AsyncLearner", config, run, _labelling_a_selection, "labelling a selection")
    before = ShardStore.open(run / "store")
    ok_before = _ok_labels(before)
    assert before.summary().count(status="unlabelled") > 0, "the kill should interrupt labelling"
    resume_driver("AsyncLearner", run)
    after = ShardStore.open(run / "store")
    assert after.summary().count(status="unlabelled") == 0 and after.validate().ok
    _assert_labelled_once(after)
    labels = _ok_labels(after)
    assert all(labels[pid] == amp for pid, amp in ok_before.items())
    summary = after.summary()
    assert sum(summary.count(split, s) for split in ("train", "validation") for s in ("ok", "failed")) <= 2000


def test_async_survives_killed_oracle_actors(ray_local: object, tmp_path: Path) -> None:
    config = _async_config(**{"oracle.options": {"latency": 0.005}, "pool.batch_size": 10,
                              "acquisition.batch_size": 40, "budget.max_rounds": 2, "budget.max_oracle_calls": 2000})
    killed: list[int] = []

    def kill_actors(status: object) -> None:
        if not killed:  # after update 0, while the first selections are being labelled
            pids = learner._pool.actor_pids()
            threading.Timer(0.2, lambda: [os.kill(pid, signal.SIGKILL) for pid in pids]).start()
            killed.extend(pids)

    learner = AsyncLearner(config, tmp_path / "run", callback=kill_actors, progress=False)
    statuses = learner.run()
    assert killed and statuses[-1].pool.n_crashes >= 1  # calls were in flight when the actors died
    store = ShardStore.open(tmp_path / "run" / "store")
    assert store.summary().count(status="unlabelled") == 0 and store.validate().ok
    _assert_labelled_once(store)
