"""Tests for activeamp.surrogate.stages: stage limits, plateau rule, learning-rate schedules, progress lines."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.stages import (
    format_progress_line,
    lr_function,
    start_stage,
    step_schedule,
    steps_per_epoch,
    update_stage,
    validate_now,
)
from activeamp.surrogate.surrogate import Surrogate
from tests.surrogate.toys import TINY, smooth_data

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return smooth_data()


def test_plateau_rule_stops_and_callback_sees_every_epoch(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    seen: list[tuple[int, dict]] = []
    s = Surrogate({**TINY, "lr": 1e-9, "max_epochs": 100, "patience": 3, "tol": 0.1, "lr_schedule": "none"})
    s.fit(x, a, callback=lambda epoch, metrics: seen.append((epoch, metrics)), progress=False)
    assert s.epoch == 4 and s.stage["converged"]  # epoch 1 sets the best, 3 epochs without improvement
    assert [e for e, _ in seen] == [1, 2, 3, 4] and seen[-1][1]["converged"] is True
    assert {"train_loss", "train_nll", "penalty", "lr", "epoch_time_s"} <= set(seen[0][1])


def test_exponential_lr_schedule(data: tuple[np.ndarray, np.ndarray]) -> None:
    s = Surrogate({**TINY, "lr_schedule": "exponential", "lr_decay": 0.5})
    s.fit(*data, progress=False)
    assert [h["lr"] for h in s.history] == pytest.approx([1.5e-3, 7.5e-4, 3.75e-4])


def test_cosine_stage_runs_over_steps_and_logs_progress(
    data: tuple[np.ndarray, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    x, a = data  # 200 points, batch 64: 4 steps per epoch
    s = Surrogate({**TINY, "max_epochs": 1000, "max_steps": 20, "lr": 1e-2, "warmup": 0.25})
    with caplog.at_level("INFO", logger="activeamp.surrogate.surrogate"):
        s.fit(x, a, x_val=x[:50], a_val=a[:50], progress=False)
    assert s.epoch == 5 and s.stage["done"] and not s.stage["converged"]  # ceil(20 / 4) epochs, no plateau stop
    lrs = [h["lr"] for h in s.history]
    assert lrs[-1] < 2e-4 and max(lrs) > 0.5e-2  # per-step warm-up and cosine decay (the last step of 20 recorded)
    assert any("stage 0: epoch 5/5" in r.getMessage() for r in caplog.records)
    timed = Surrogate({**TINY, "max_epochs": 10_000, "max_steps": 0, "max_seconds": 0.3})
    timed.fit(x, a, progress=False)
    assert timed.stage["done"] and 0.3 <= timed.stage["seconds"] < 5 and timed.epoch < 10_000


def test_progress_line_reports_the_latest_epoch(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    s = Surrogate({**TINY, "max_epochs": 2})
    assert s.progress_line() is None
    s.fit(x, a, x_val=x[:50], a_val=a[:50], progress=False)
    line = s.progress_line()
    assert line.startswith("stage 0: epoch 2/2, loss ") and "val loss" in line and "lr " in line


def _config(**changes: object) -> SurrogateConfig:
    return SurrogateConfig.from_dict({"batch_size": 64, "max_epochs": 10, "max_steps": 0, **changes})


def test_a_new_stage_takes_the_tightest_limit_and_follows_the_previous_one() -> None:
    assert steps_per_epoch(200, 64) == 4 and steps_per_epoch(0, 64) == 1
    first = start_stage(_config(), None, 0, 200)
    assert first == {
        "index": 0, "start": 0, "target": 10, "best": math.inf, "bad": 0, "done": False, "converged": False,
        "seconds": 0.0, "max_seconds": 0.0, "calibrated": False,
    }
    second = start_stage(_config(max_steps=20), first, 10, 200, max_seconds=5.0)
    assert (second["index"], second["start"], second["target"], second["max_seconds"]) == (1, 10, 15, 5.0)
    assert start_stage(_config(max_steps=20), None, 0, 200, max_epochs=3)["target"] == 3
    with pytest.raises(ValueError, match="max_epochs: must be >= 1, got 0"):
        start_stage(_config(), None, 0, 200, max_epochs=0)


def test_plateau_rule_and_limits_end_a_stage() -> None:
    config = _config(patience=2, tol=0.1, lr_schedule="none")
    stage = start_stage(config, None, 0, 200)
    update_stage(config, stage, 1, 1.0)
    assert stage["best"] == 1.0 and stage["bad"] == 0
    update_stage(config, stage, 2, 0.95)  # less than tol · max(|best|, 1) better: no improvement
    assert stage["best"] == 1.0 and stage["bad"] == 1 and not stage["done"]
    update_stage(config, stage, 3, 0.99)
    assert stage["converged"] and stage["done"]
    cosine = _config(patience=1, lr_schedule="cosine")
    stage = start_stage(cosine, None, 0, 200, max_epochs=3)
    for epoch, loss in enumerate((1.0, 2.0, 3.0), start=1):  # no plateau stop in a cosine stage
        assert not stage["done"]
        update_stage(cosine, stage, epoch, loss)
    assert stage["done"] and not stage["converged"]
    timed = start_stage(config, None, 0, 200, max_seconds=1.0)
    timed["seconds"] = 1.5
    update_stage(config, timed, 1, 1.0)
    assert timed["done"] and not timed["converged"]


def test_cosine_stages_validate_every_500_steps_and_at_their_end() -> None:
    plateau = _config(lr_schedule="plateau")
    assert validate_now(plateau, start_stage(plateau, None, 0, 64), 5, 64, 0.0)
    cosine = _config(lr_schedule="cosine")
    stage = start_stage(cosine, None, 0, 6400, max_epochs=12)  # 100 steps per epoch: every 5th epoch
    assert [e for e in range(12) if validate_now(cosine, stage, e, 6400, 0.0)] == [4, 9, 11]
    stage["max_seconds"], stage["seconds"] = 10.0, 9.5
    assert validate_now(cosine, stage, 0, 6400, 1.0)  # the time limit is reached in this epoch


def test_cosine_learning_rate_per_step_and_per_epoch_schedules() -> None:
    assert lr_function(_config(lr_schedule="plateau"), start_stage(_config(), None, 0, 64), 0, 64, 0.0) is None
    config = _config(lr_schedule="cosine", lr=1e-2, lr_min=1e-6, warmup=0.0)
    stage = start_stage(config, None, 0, 128, max_epochs=2)  # 2 steps per epoch, 4 in all
    first, second = lr_function(config, stage, 0, 128, time.perf_counter()), lr_function(config, stage, 1, 128, 0.0)
    assert first(0) == pytest.approx(1e-2) and first(1) > second(0) > second(1) > 1e-6
    net = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    decay = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    optimizer.step()  # no gradients: nothing moves, but the schedulers see a step first
    step_schedule(decay, 3.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=0)
    for loss in (1.0, 2.0):
        step_schedule(plateau, loss)
    step_schedule(None, 1.0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_progress_line_formats_the_last_epoch() -> None:
    assert format_progress_line(None, []) is None
    stage = {"index": 1, "start": 4, "target": 8, "seconds": 12.3}
    assert format_progress_line(stage, []) is None
    history = [{"epoch": 6, "train_loss": 0.123456, "val_loss": 0.2, "val_delta68": 0.0123, "lr": 1e-3}]
    line = format_progress_line(stage, history)
    assert line == "stage 1: epoch 2/4, loss 0.1235, val loss 0.2, val |Δ| 68% 0.0123, lr 0.001, 12 s"
