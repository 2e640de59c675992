"""Tests of the mock oracle: amplitude-like shape, symmetries, determinism and failure injection."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

import oracles
from oracles.base import OracleError
from oracles.mock import MockOracle, point_hash
from tests.conftest import physical_points


@pytest.mark.parametrize("process", ["gg_yy", "gg_yyg", "gg_yygg"])
def test_positive_finite_and_spans_orders_of_magnitude(process: str) -> None:
    values = oracles.get("mock", process=process)(physical_points(process, 2000))
    assert np.all(np.isfinite(values)) and np.all(values > 0)
    if process != "gg_yy":
        assert values.max() / values.min() > 30


@pytest.mark.parametrize("process", ["gg_yyg", "gg_yygg"])
def test_symmetric_under_identical_particle_exchange(process: str) -> None:
    oracle = MockOracle(process)
    p = physical_points(process, 200)
    ref = oracle(p)
    for group in oracle.process.identical_groups():
        swapped = p.copy()
        swapped[:, [group[0], group[1]]] = p[:, [group[1], group[0]]]
        np.testing.assert_allclose(oracle(swapped), ref, rtol=1e-12)


@pytest.mark.parametrize(("process", "power"), [("gg_yy", 0), ("gg_yyg", -2), ("gg_yygg", -4)])
def test_mass_dimension_matches_process(process: str, power: int) -> None:
    oracle = MockOracle(process)
    p = physical_points(process, 50)
    np.testing.assert_allclose(oracle(2.0 * p), 2.0**power * oracle(p), rtol=1e-12)


def test_collinear_enhancement() -> None:
    """Moving the gluon towards the beam raises the value (a 1/s_1g-like singularity)."""
    oracle = MockOracle("gg_yyg")
    p = physical_points("gg_yyg", 2000, cuts=False)
    from activeamp.kinematics import pt

    soft = pt(p[:, 4]) < 20
    values = oracle(p)
    assert np.median(values[soft]) > 3 * np.median(values[~soft])


def test_deterministic_and_batch_independent() -> None:
    p = physical_points("gg_yyg", 300)
    oracle = MockOracle("gg_yyg", nan_rate=0.1)
    whole = oracle.evaluate(p)
    parts = [oracle.evaluate(p[i : i + 37]) for i in range(0, 300, 37)]
    np.testing.assert_array_equal(whole.ok, np.concatenate([r.ok for r in parts]))
    np.testing.assert_array_equal(whole.values, np.concatenate([r.values for r in parts]))
    assert 10 < whole.n_failed < 60
    assert set(whole.reasons) == {"", "nan"}
    h = point_hash(p)
    np.testing.assert_array_equal(~whole.ok, h > 0.9)


def test_injected_call_failures_and_latency() -> None:
    p = physical_points("gg_yy", 10)
    always = MockOracle("gg_yy", fail_call_rate=1.0, seed=1)
    with pytest.raises(OracleError, match="injected failure for a batch of 10 points"):
        always.evaluate(p)
    import time

    slow = MockOracle("gg_yy", latency=0.01)
    t0 = time.perf_counter()
    slow(p)
    assert time.perf_counter() - t0 >= 0.1
    assert slow.cost_hint == 0.01


def _evaluate_in_child(options: dict, momenta: np.ndarray) -> None:
    MockOracle(**options).evaluate(momenta)


@pytest.mark.parametrize("options", [{"crash_rate": 1.0, "seed": 3}, {"poison_rate": 1.0}])
def test_crash_injection_kills_the_process(options: dict) -> None:
    p = physical_points("gg_yy", 5)
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_evaluate_in_child, args=({"process": "gg_yy", **options}, p))
    child.start()
    child.join(60)
    assert child.exitcode == 1


def test_poison_points_are_a_stable_subset() -> None:
    p = physical_points("gg_yyg", 1000)
    h = point_hash(p)
    poison = h < 0.01
    assert 0 < poison.sum() < 30
    clean = p[~poison]
    oracle = MockOracle("gg_yyg", poison_rate=0.01)
    assert oracle.evaluate(clean).n_failed == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nan_rate": 1.5}, r"nan_rate must lie in \[0, 1\], got 1.5"),
        ({"latency": -1}, "latency must be >= 0"),
        ({"process": "qq"}, "unknown process 'qq'"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises((ValueError, KeyError), match=message):
        MockOracle(**options)
