"""Tests of the trainer (without Ray): warm rounds limited in steps, progress lines, config checks."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from activeamp.config import ConfigError
from activeamp.loop.trainer import SurrogateTrainer, TrainerConfig, _log_progress_to_stderr

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
