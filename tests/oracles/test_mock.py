"""Tests of the mock oracle: amplitude-like shape, symmetries, determinism and failure injection."""

from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest

import oracles
from activeamp.physics.vv_phasespace import VVPhaseSpace, VVSample
from oracles.base import OracleError, OracleOutputError
from oracles.mock import MockOracle, MockVectorOracle, invariant_hash, point_hash
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
    from activeamp.physics.kinematics import pt

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
        ({"process": "uu_ZZ"}, "process uu_ZZ has massive particles; use the vector mock 'mock_vv'"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises((ValueError, KeyError), match=message):
        MockOracle(**options)


# ------------------------------------------------------------------------------------------- vector mock


@pytest.fixture(scope="module")
def vv_sample() -> VVSample:
    return VVPhaseSpace("uu_ZZ").sample(2000, np.random.default_rng(11))


def test_vector_mock_shapes_signs_and_magnitudes(vv_sample: VVSample) -> None:
    oracle = MockVectorOracle("uu_ZZ", n_outputs=6)
    values = oracle(vv_sample.kinematics)
    assert values.shape == (2000, 6) and values.dtype == np.float64 and np.isfinite(values).all()
    assert oracle.outputs == ("c1", "c2", "c3", "c4", "c5", "c6") and oracle.input_names == (
        "s",
        "t",
        "ma2",
        "mb2",
    )
    # signed: components 2, 3 and 4 change sign across phase space, component 1 does not
    changes = [(values[:, k] > 0).any() and (values[:, k] < 0).any() for k in range(6)]
    assert changes[1] and changes[2] and changes[3] and not changes[0]
    # magnitudes span decades across components, and component 1 spans decades across phase space
    median = np.median(np.abs(values), axis=0)
    assert median.max() / median.min() > 100
    assert np.abs(values[:, 0]).max() / np.abs(values[:, 0]).min() > 100
    # the power-like component grows with s
    s = vv_sample.kinematics[:, 0]
    assert np.median(np.abs(values[s > 0.6e6, 3])) > 3 * np.median(np.abs(values[s < 0.1e6, 3]))


def test_vector_mock_is_deterministic_and_batch_independent(vv_sample: VVSample) -> None:
    k = vv_sample.kinematics
    oracle = MockVectorOracle(seed=4, n_outputs=5)
    whole = oracle(k)
    np.testing.assert_array_equal(whole, np.concatenate([oracle(k[i : i + 333]) for i in range(0, len(k), 333)]))
    np.testing.assert_array_equal(whole, MockVectorOracle(seed=4, n_outputs=5)(k))
    assert not np.allclose(whole, MockVectorOracle(seed=5, n_outputs=5)(k))


def test_vector_mock_momenta_and_invariants_agree(vv_sample: VVSample) -> None:
    oracle = MockVectorOracle("uu_ZZ", n_outputs=4, nan_rate=0.2)
    from_invariants = oracle.evaluate(vv_sample.kinematics)
    from_momenta = oracle.evaluate(vv_sample.momenta)
    np.testing.assert_array_equal(from_momenta.ok, from_invariants.ok)
    np.testing.assert_allclose(from_momenta.values, from_invariants.values, rtol=1e-9, equal_nan=True)
    # any frame: a boost along z changes nothing
    p = vv_sample.momenta.copy()
    gamma, beta = 1.25, 0.6
    p[..., 0], p[..., 3] = gamma * (p[..., 0] + beta * p[..., 3]), gamma * (p[..., 3] + beta * p[..., 0])
    np.testing.assert_allclose(oracle.evaluate(p).values, from_invariants.values, rtol=1e-8, equal_nan=True)


def test_vector_mock_nan_injection(vv_sample: VVSample) -> None:
    k = vv_sample.kinematics
    oracle = MockVectorOracle(nan_rate=0.1)
    result = oracle.evaluate(k)
    assert 150 < result.n_failed < 250 and set(result.reasons) == {"", "nan"}
    np.testing.assert_array_equal(~result.ok, invariant_hash(k) > 0.9)
    assert np.isnan(result.values[~result.ok]).all() and np.isfinite(result.values[result.ok]).all()
    again = MockVectorOracle(nan_rate=0.1).evaluate(k[::-1])
    np.testing.assert_array_equal(again.ok, result.ok[::-1])
    with pytest.raises(OracleOutputError, match=f"{result.n_failed} of 2000 points failed"):
        oracle(k)
    assert MockVectorOracle().evaluate(k).n_failed == 0


def test_vector_mock_latency_and_options() -> None:
    import time

    k = VVPhaseSpace("ud_WZ").sample(10, 1).kinematics
    slow = MockVectorOracle("ud_WZ", latency=0.01)
    t0 = time.perf_counter()
    slow(k)
    assert time.perf_counter() - t0 >= 0.1 and slow.cost_hint == 0.01
    prov = slow.provenance()
    assert prov["name"] == "mock_vv" and prov["process"] == "ud_WZ" and prov["outputs"] == ["c1", "c2", "c3", "c4"]
    assert prov["options"] == {"process": "ud_WZ", "n_outputs": 4, "latency": 0.01, "nan_rate": 0.0, "seed": 0}


def test_vector_mock_pickles_and_comes_from_the_registry(vv_sample: VVSample) -> None:
    oracle = oracles.get("mock_vv", n_outputs=3, nan_rate=0.05, seed=2)
    assert isinstance(oracle, MockVectorOracle) and oracle.n_outputs == 3 and oracle.process.name == "uu_ZZ"
    clone = pickle.loads(pickle.dumps(oracle))
    assert type(clone) is MockVectorOracle and clone.options() == oracle.options()
    a, b = oracle.evaluate(vv_sample.kinematics[:300]), clone.evaluate(vv_sample.kinematics[:300])
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.ok, b.ok)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_outputs": 0}, "n_outputs must be an integer >= 1, got 0"),
        ({"nan_rate": -0.1}, r"nan_rate must lie in \[0, 1\]"),
        ({"latency": -1.0}, "latency must be >= 0"),
        ({"seed": -3}, "seed must be an integer >= 0"),
        ({"process": "gg_yy"}, "process 'gg_yy' is not a q q̄′ → V1 V2 process"),
        ({"process": "qq_ZZ"}, "unknown VV process 'qq_ZZ'"),
    ],
)
def test_vector_mock_bad_options(options: dict, message: str) -> None:
    with pytest.raises((ValueError, KeyError), match=message):
        MockVectorOracle(**options)


def test_vector_mock_validates_inputs(vv_sample: VVSample) -> None:
    from oracles.base import OracleInputError

    oracle = MockVectorOracle()
    with pytest.raises(OracleInputError, match=r"expected shape \(N, 4\) .* or \(N, 4, 4\)"):
        oracle(vv_sample.kinematics[:, :3])
    p = vv_sample.momenta[:5].copy()
    p[3, 2, 1] += 1.0
    with pytest.raises(OracleInputError, match="momentum not conserved at point 3"):
        oracle(p)
