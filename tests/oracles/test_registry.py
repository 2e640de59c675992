"""Tests of the oracle protocol: registry, input validation and per-point output reports."""

from __future__ import annotations

import numpy as np
import pytest

import oracles
from activeamp.physics.process import get_process
from oracles.base import Oracle, OracleInputError, OracleOutputError, classify_values, validate_momenta
from tests.conftest import two_body_points


class _Fixed(Oracle):
    """An oracle that returns preset values, to test the base-class machinery."""

    name = "fixed"

    def __init__(self, values: np.ndarray) -> None:
        super().__init__(get_process("gg_yy"))
        self.values = values

    def _evaluate(self, momenta: np.ndarray) -> np.ndarray:
        return self.values[: len(momenta)]


def test_registry_lists_available_on_unknown_name() -> None:
    assert "mock" in oracles.available()
    with pytest.raises(KeyError, match="unknown oracle 'njet9'; available oracles: .*mock"):
        oracles.get("njet9")
    oracle = oracles.get("mock", process="gg_yy")
    assert oracle.process.name == "gg_yy"


def test_provenance_is_complete() -> None:
    prov = oracles.get("mock", process="gg_yyg", latency=0.0).provenance()
    assert prov["name"] == "mock" and prov["process"] == "gg_yyg"
    assert prov["options"]["latency"] == 0.0
    assert {"activeamp", "numpy", "python"} <= set(prov["versions"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.astype(np.float32), "expected dtype float64, got float32"),
        (lambda p: p[:, :3], r"expected shape \(N, 4, 4\) for process gg_yy .* got \(5, 3, 4\)"),
        (lambda p: np.where(np.arange(4) == 1, np.nan, p), "non-finite entries at point 0"),
        (lambda p: p * np.where(np.arange(4)[:, None] == 2, 1.01, 1.0), "momentum not conserved at point 0"),
        (lambda p: p.tolist(), "expected a numpy array, got list"),
    ],
)
def test_input_validation_names_problem(rng: np.random.Generator, mutate, message: str) -> None:
    p = two_body_points(5, rng)
    with pytest.raises(OracleInputError, match=message):
        validate_momenta(mutate(p), get_process("gg_yy"))


def test_offshell_and_negative_energy_detected(rng: np.random.Generator) -> None:
    p = two_body_points(3, rng)
    off = p.copy()
    off[1, 2, 0] += 1.0
    off[1, 3, 0] -= 1.0  # conserves momentum, breaks masslessness
    with pytest.raises(OracleInputError, match=r"point 1, particle 2 \(photon\) is off-shell"):
        validate_momenta(off, get_process("gg_yy"))
    neg = p.copy()
    neg[2, 0, 0] = -neg[2, 0, 0]
    with pytest.raises(OracleInputError, match="point 2, particle 0 has non-positive energy"):
        validate_momenta(neg, get_process("gg_yy"))


def test_bad_values_are_reported_per_point(rng: np.random.Generator) -> None:
    values = np.array([1.0, np.nan, -2.0, np.inf, 0.0])
    result = classify_values(values)
    assert result.ok.tolist() == [True, False, False, False, True]
    assert result.reasons == ("", "nan", "negative", "inf", "")
    assert np.isnan(result.values[1:4]).all() and result.n_failed == 3

    oracle = _Fixed(values)
    p = two_body_points(5, rng)
    assert oracle.evaluate(p).n_failed == 3
    with pytest.raises(OracleOutputError, match="3 of 5 points failed \\(1: nan, 2: negative, 3: inf\\)") as info:
        oracle(p)
    assert info.value.result.ok[0]
    np.testing.assert_array_equal(_Fixed(np.array([1.0, 2.0]))(p[:2]), [1.0, 2.0])


def test_wrong_output_shape_is_an_error(rng: np.random.Generator) -> None:
    with pytest.raises(oracles.OracleError, match=r"returned shape \(2,\), expected \(3,\)"):
        _Fixed(np.ones(2)).evaluate(two_body_points(3, rng))


def test_registry_builds_the_vector_mock() -> None:
    from oracles.mock import MockVectorOracle

    assert {"mock_vv", "vvamp"} <= set(oracles.available())
    oracle = oracles.get("mock_vv", n_outputs=3)
    assert isinstance(oracle, MockVectorOracle) and oracle.n_outputs == 3
    assert oracle.process.name == "uu_ZZ" and oracle.output_names == ("c1", "c2", "c3")
    assert oracles.get("mock_vv", process="ud_WZ").process.as_process() is get_process("ud_WZ")
