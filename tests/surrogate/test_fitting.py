"""Tests of fit-and-boost, the one training procedure, and of the surrogate state bytes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from activeamp.surrogate.boosting import BoostingSchedule, LossBoosting, run_boosting
from activeamp.surrogate.fitting import FitOutcome, FitTask, fit_and_boost, state_from_bytes, state_to_bytes
from activeamp.surrogate.surrogate import DataParallel, Surrogate

pytestmark = pytest.mark.usefixtures("single_thread")

SURROGATE = {"family": "bnn", "hidden": [8, 8], "batch_size": 50, "lr": 1e-2, "patience": 1000, "seed": 6}
LOSS_BOOST = BoostingSchedule(steps=("loss*2",), max_epochs=2, loss=LossBoosting(threshold=0.5, increment=2))


def _data(n: int = 200, seed: int = 9) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, 2))
    return x, 1.0 + 0.5 * np.sin(3.0 * x[:, 0]) + x[:, 0] ** 2 + 0.3 * x[:, 1]


def _params(surrogate: Surrogate) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in surrogate.net.state_dict().items()}


def test_fit_and_boost_runs_a_loss_boosting_schedule_and_returns_the_multiplicities() -> None:
    x, a = _data()
    start = np.ones(len(a), dtype=np.int64)
    start[:10] = 3  # points boosted in an earlier round keep their multiplicity
    surrogate = Surrogate(SURROGATE)
    outcome = fit_and_boost(surrogate, x, a, multiplicities=start, boosting=LOSS_BOOST, max_epochs=3, progress=False)

    assert isinstance(outcome, FitOutcome)
    assert [r["kind"] for r in outcome.boosting] == ["loss", "loss"] and [r["round"] for r in outcome.boosting] == [
        1,
        2,
    ]
    assert outcome.epochs == surrogate.epoch == 3 + 2 + 2  # the stage, then two boosting stages of 2 epochs
    n = outcome.multiplicities
    assert n.shape == (200,) and np.all(n >= start) and np.all((n - start) % 2 == 0)  # raised in steps of 2
    assert outcome.boosting[-1]["n_eff"] == outcome.n_eff == float(n.sum()) > float(start.sum())
    assert outcome.device == str(surrogate.device) and outcome.seconds > 0
    np.testing.assert_array_equal(start[:10], 3)  # the caller's array is not modified

    # the same numbers as the two steps written out: a weighted stage, then run_boosting
    reference = Surrogate(SURROGATE)
    reference.fit(x, a, weights=start, new_stage=True, max_epochs=3, progress=False)
    result = run_boosting(reference, x, a, LOSS_BOOST, multiplicities=start, progress=False)
    np.testing.assert_array_equal(n, result.multiplicities)
    assert outcome.boosting == result.history
    for key, value in _params(reference).items():
        assert torch.equal(_params(surrogate)[key], value), key


def test_without_boosting_one_stage_with_the_starting_multiplicities_and_a_warm_stage_after() -> None:
    x, a = _data()
    surrogate = Surrogate({**SURROGATE, "max_epochs": 4})
    first = fit_and_boost(surrogate, x, a, boosting=BoostingSchedule(steps=()), progress=False)
    assert first.boosting == () and first.epochs == 4  # the config's max_epochs
    np.testing.assert_array_equal(first.multiplicities, np.ones(200))
    # a trained surrogate gets a new (warm-start) stage with the call's limits: 8 steps of 50 points = 2 epochs
    second = FitTask(x, a, max_steps=8).run(surrogate, progress=False)  # a task: the arguments of one call
    assert second.epochs == 2 and surrogate.stage["index"] == 1 and surrogate.epoch == 6


def test_data_parallel_is_set_while_fitting_and_refuses_a_wall_time_limit() -> None:
    x, a = _data(100)
    surrogate = Surrogate(SURROGATE)
    seen: list[Any] = []
    single = DataParallel(0, 1, lambda tensor: None)  # a group of one worker: all-reduce is the identity
    fit_and_boost(
        surrogate,
        x,
        a,
        max_epochs=2,
        callback=lambda epoch, metrics: seen.append(surrogate.data_parallel),
        progress=False,
        data_parallel=single,
    )
    assert seen == [single, single] and surrogate.data_parallel is None
    with pytest.raises(ValueError, match="max_seconds: data-parallel workers cannot share"):
        fit_and_boost(surrogate, x, a, max_seconds=5.0, data_parallel=single)
    with pytest.raises(ValueError, match="max_seconds"):
        fit_and_boost(Surrogate({**SURROGATE, "max_seconds": 5.0}), x, a, data_parallel=single)


def test_state_bytes_round_trip_the_trained_surrogate() -> None:
    x, a = _data(100)
    surrogate = Surrogate(SURROGATE)
    fit_and_boost(surrogate, x, a, max_epochs=2, progress=False)
    blob = state_to_bytes(surrogate)
    rebuilt = state_from_bytes(blob)
    assert rebuilt.epoch == surrogate.epoch and rebuilt.config == surrogate.config
    assert state_from_bytes(blob, device="cpu").config.device == "cpu"  # the device can be chosen
    np.testing.assert_array_equal(rebuilt.predict(x[:20], seed=1).mean, surrogate.predict(x[:20], seed=1).mean)
