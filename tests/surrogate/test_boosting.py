"""Tests of loss-based and performance boosting: multiplicity updates, schedules and the driver."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from activeamp.config import to_dict
from activeamp.surrogate.boosting import (
    BoostingSchedule,
    LossBoosting,
    PerformanceBoosting,
    loss_boost,
    performance_boost,
    pull_statistic,
    ranking_statistic,
    run_boosting,
)
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import Surrogate


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    """Tiny networks train fastest on one thread; spinning OpenMP threads stall on a shared 2-core runner."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_pull_statistic_reductions() -> None:
    pulls = np.array([[1.0, -3.0, 0.0], [-1.0, 1.0, 4.0]])
    np.testing.assert_allclose(pull_statistic(pulls, "rms"), [1.0, np.sqrt(5.0), np.sqrt(8.0)])
    np.testing.assert_allclose(pull_statistic(pulls, "mean_abs"), [1.0, 2.0, 2.0])
    np.testing.assert_allclose(pull_statistic(pulls, "max_abs"), [1.0, 3.0, 4.0])
    np.testing.assert_allclose(pull_statistic(np.array([-2.5, 0.5])), [2.5, 0.5])
    with pytest.raises(ValueError, match="reduce: 'median'"):
        pull_statistic(pulls, "median")


def test_loss_boost_raises_points_with_large_pulls() -> None:
    n = np.array([1, 1, 6, 1, 1])
    pulls = np.array([0.0, 2.5, -3.0, 2.0, -1.9])  # |t| > 2 (strictly) for points 1 and 2
    new = loss_boost(n, pulls)
    np.testing.assert_array_equal(new, [1, 6, 11, 1, 1])
    np.testing.assert_array_equal(n, [1, 1, 6, 1, 1])  # pure: input untouched
    per_weight = np.array([[0.0, 3.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 5.0, 0.0]])
    np.testing.assert_array_equal(loss_boost(n, per_weight, reduce="rms"), [1, 6, 6, 6, 1])
    np.testing.assert_array_equal(loss_boost(n, per_weight, threshold=1.0, increment=2), [1, 3, 6, 3, 1])
    with pytest.raises(ValueError, match="pulls describe 2 points, multiplicities 5"):
        loss_boost(n, np.zeros(2))


def test_performance_boost_copies_the_k_largest_sigma_tot() -> None:
    n = np.ones(6, dtype=int)
    sigma = np.array([0.1, 5.0, 0.3, 5.0, 2.0, 0.0])
    np.testing.assert_array_equal(performance_boost(n, sigma, k=3, copies=3), [1, 4, 1, 4, 4, 1])
    np.testing.assert_array_equal(performance_boost(n, sigma, k=1), [1, 4, 1, 1, 1, 1])  # ties: lower index first
    np.testing.assert_array_equal(performance_boost(n, sigma, k=100, copies=2), np.full(6, 3))
    np.testing.assert_array_equal(n, 1)


def test_schedule_from_dict_expands_and_validates() -> None:
    sched = BoostingSchedule.from_dict(
        {"steps": ["loss*2", "performance", "loss"], "loss": {"threshold": 3}, "performance": {"k": 10}}
    )
    assert sched.steps == ("loss", "loss", "performance", "loss")
    assert sched.loss == LossBoosting(threshold=3.0) and sched.performance == PerformanceBoosting(k=10)
    assert BoostingSchedule.from_dict(to_dict(sched)) == sched
    assert BoostingSchedule.paper("loss").steps == ("loss",) * 4
    assert BoostingSchedule.paper("performance").steps == ("performance",) * 20
    with pytest.raises(ValueError, match="unknown key rounds; allowed: loss, max_epochs, performance, seed, steps"):
        BoostingSchedule.from_dict({"rounds": 3})
    with pytest.raises(ValueError, match=r"steps\[1\]: 'gradient' is not one of loss, performance"):
        BoostingSchedule.from_dict({"steps": ["loss", "gradient"]})
    with pytest.raises(ValueError, match="loss.reduce: 'median' is not one of"):
        BoostingSchedule.from_dict({"loss": {"reduce": "median"}})
    with pytest.raises(ValueError, match="performance.k: must be >= 1"):
        BoostingSchedule.from_dict({"performance": {"k": 0}})


def test_driver_alternates_rounds_and_records_history() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 1.0, (150, 2))
    a = 1.0 + x[:, 0] ** 2 + 0.2 * np.sin(5 * x[:, 1])
    s = Surrogate({"hidden": [8], "batch_size": 50, "max_epochs": 2, "lr": 3e-3, "seed": 2})
    rounds: list[dict] = []
    sched = {"steps": ["loss", "performance"], "loss": {"threshold": 0.5}, "performance": {"k": 7}, "max_epochs": 2}
    result = run_boosting(s, x, a, sched, round_callback=rounds.append, progress=False)
    assert [h["kind"] for h in result.history] == ["initial", "loss", "performance"]
    assert rounds == list(result.history)
    assert [h["epochs"] for h in result.history] == [2, 2, 2] and s.epoch == 6 and s.stage["index"] == 2
    n = result.multiplicities
    assert n.shape == (150,) and n.min() >= 1
    perf, loss = result.history[2], result.history[1]
    assert perf["n_boosted"] == 7 and perf["n_eff"] == float(n.sum())
    assert loss["n_eff"] == 150 + 5 * loss["n_boosted"] and loss["n_boosted"] > 0
    assert perf["n_eff"] == loss["n_eff"] + 7 * 3
    assert all(np.isfinite(h["train_loss"]) for h in result.history)
    # boosting continues an already trained surrogate without an initial round
    more = run_boosting(s, x, a, {"steps": ["performance"], "max_epochs": 1}, multiplicities=n, progress=False)
    assert [h["kind"] for h in more.history] == ["performance"]
    assert more.multiplicities.sum() == n.sum() + 150 * 3  # default k = 200 exceeds N: every point boosted


# ---------------------------------------------------------------------------- vector models
def test_vector_pulls_count_the_worst_output() -> None:
    pulls = np.zeros((2, 4, 3))  # M = 2 weight samples, N = 4 points, K = 3 outputs
    pulls[:, 1, 2] = [3.0, -3.0]  # point 1 is off in output 2 only
    pulls[:, 3, 0] = [1.0, 1.0]
    stat = pull_statistic(pulls, "rms")
    np.testing.assert_allclose(stat, [0.0, 3.0, 0.0, 1.0])
    per_output = np.stack([pull_statistic(pulls[..., k], "max_abs") for k in range(3)], axis=1)
    np.testing.assert_array_equal(pull_statistic(pulls, "max_abs"), per_output.max(axis=1))
    np.testing.assert_array_equal(loss_boost(np.ones(4, dtype=int), pulls), [1, 6, 1, 1])


def test_vector_ranking_uses_the_output_scales() -> None:
    sigma_model = np.array([[1.0, 100.0], [5.0, 10.0], [0.5, 900.0]])
    pred = Prediction(np.array([[1.0, 1e4], [-2.0, 2e4], [4.0, -1e4]]), sigma_model, np.zeros((3, 2)))
    # without scales the large output dominates; in units of the scales point 1 (5/1 > 900/1000) ranks first
    np.testing.assert_array_equal(ranking_statistic(pred), [100.0, 10.0, 900.0])
    np.testing.assert_allclose(ranking_statistic(pred, "amplitude", np.array([1.0, 1000.0])), [1.0, 5.0, 0.9])
    np.testing.assert_allclose(ranking_statistic(pred, "relative", np.array([1.0, 1000.0])), [1.0, 2.5, 0.125])
    np.testing.assert_array_equal(performance_boost(np.ones(3, dtype=int), [1.0, 5.0, 0.9], k=1), [1, 4, 1])
    scalar = Prediction(np.array([2.0, -4.0]), np.array([1.0, 1.0]), np.array([0.0, 3.0]))
    np.testing.assert_array_equal(ranking_statistic(scalar, "relative", np.array([7.0])), [0.5, np.sqrt(10) / 4])


def test_driver_boosts_the_point_with_an_outlier_in_one_output() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 1.0, (200, 2))
    targets = np.stack([np.sin(3 * x[:, 0]) + 0.3 * x[:, 1], 50.0 * (x[:, 1] - 0.3 * x[:, 0])], axis=1)
    targets[17, 1] += 300.0  # an outlier in the second output only
    s = Surrogate(
        {"hidden": [16, 16], "batch_size": 50, "max_epochs": 20, "lr": 5e-3, "seed": 2, "target_transform": "signed"}
    )
    s.fit(x, targets, progress=False)
    stat = pull_statistic(s.weight_pulls(x, targets, 8))
    assert np.argmax(stat) == 17 and stat[17] > 5.0
    sched = {"steps": ["loss", "performance"], "loss": {"threshold": 5.0}, "performance": {"k": 5}, "max_epochs": 2}
    result = run_boosting(s, x, targets, sched, progress=False)
    assert [h["kind"] for h in result.history] == ["loss", "performance"]
    n = result.multiplicities
    assert n.shape == (200,) and n[17] >= 6 and result.history[0]["n_boosted"] >= 1
    assert result.history[1]["n_boosted"] == 5 and n.sum() == 200 + 5 * result.history[0]["n_boosted"] + 15
    assert s.n_outputs == 2 and s.epoch == 24
