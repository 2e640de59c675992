"""Tests of the trainer (without Ray): warm rounds limited in steps, progress lines, strategies, config checks."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from activeamp.config import ConfigError
from activeamp.loop.distributed import DataParallelTraining
from activeamp.loop.trainer import (
    LocalTraining,
    SurrogateTrainer,
    TrainerConfig,
    _log_progress_to_stderr,
    training_strategy,
)
from activeamp.surrogate.fitting import FitOutcome, FitTask
from activeamp.surrogate.surrogate import Surrogate

pytestmark = pytest.mark.usefixtures("single_thread")


def test_warm_rounds_are_cosine_stages_of_round_steps() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, 2))
    a = np.exp(x[:, 0])
    surrogate = {"hidden": [8, 8], "batch_size": 64, "max_steps": 40, "seed": 1}
    trainer = SurrogateTrainer(surrogate, None, TrainerConfig(round_epochs=1000, round_steps=12))
    first = trainer.train(np.arange(256).astype(str), x, a)
    assert first.epochs == 10  # round 0: max_steps 40 at 4 steps per epoch
    second = trainer.train(np.arange(256).astype(str), x, a)
    assert second.epochs == 3 and trainer.surrogate.stage["index"] == 1  # a new stage of 12 steps
    assert trainer.surrogate.history[-1]["lr"] < 0.05 * trainer.surrogate.config.lr  # its cosine ran to the end
    assert first.device == second.device == trainer.device() and second.n_eff == 256.0 and not trainer.multiplicity


def test_strategy_follows_data_parallel_workers() -> None:
    assert isinstance(training_strategy(TrainerConfig()), LocalTraining)
    dp = training_strategy(TrainerConfig(data_parallel_workers=3, num_gpus=0, torch_threads=2))
    assert isinstance(dp, DataParallelTraining) and not dp.live_progress
    assert (dp.n_workers, dp.use_gpu, dp.torch_threads) == (3, False, 2)
    assert training_strategy(TrainerConfig(data_parallel_workers=2)).use_gpu == "auto"  # num_gpus: auto
    trainer = SurrogateTrainer({"hidden": [8]}, None, TrainerConfig(data_parallel_workers=2))
    assert isinstance(trainer.strategy, DataParallelTraining) and trainer.progress() is None


def test_a_given_strategy_trains_the_rounds() -> None:
    class Recording(LocalTraining):
        def __init__(self) -> None:
            self.limits: list[tuple[Any, ...]] = []

        def train(self, surrogate: Surrogate, task: FitTask, *, progress: bool = False) -> tuple[Surrogate, FitOutcome]:
            self.limits.append((task.max_epochs, task.max_steps, task.max_seconds, task.multiplicities.tolist()))
            return super().train(surrogate, task, progress=progress)

    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (16, 2))
    strategy = Recording()
    config = TrainerConfig(round_epochs=2, round_steps=0, round_seconds=30.0)
    trainer = SurrogateTrainer(
        {"hidden": [8], "batch_size": 8, "max_epochs": 3, "seed": 2}, None, config, strategy=strategy
    )
    trainer.train(np.arange(16), x, np.exp(x[:, 0]))
    trainer.multiplicity = {"2": 5}  # as if boosted
    trainer.train(np.arange(16), x, np.exp(x[:, 0]))
    # round 0 with the surrogate's own limits, then a warm round with the trainer's; multiplicities by point id
    boosted = [5 if i == 2 else 1 for i in range(16)]
    assert strategy.limits == [(None, None, None, [1] * 16), (2, None, 30.0, boosted)]
    assert trainer.surrogate.epoch == 3 + 2 and trainer.multiplicity == {"2": 5}  # kept: no boosting schedule


def test_actor_progress_lines_go_to_stderr_once() -> None:
    log = logging.getLogger("activeamp.surrogate.surrogate")
    before = list(log.handlers)
    try:
        _log_progress_to_stderr()
        _log_progress_to_stderr()
        added = [h for h in log.handlers if h not in before]
        assert len(added) == 1 and log.level == logging.INFO and not log.propagate
    finally:
        log.handlers[:] = before
        log.setLevel(logging.NOTSET)
        log.propagate = True


def test_config_checks() -> None:
    with pytest.raises(ConfigError, match="round_steps"):
        TrainerConfig(round_steps=-1)
    assert TrainerConfig().round_steps == 0
    with pytest.raises(ConfigError, match=r"^trainer\.round_seconds: .* cannot share a wall-time limit"):
        TrainerConfig(data_parallel_workers=2, round_seconds=60.0)
