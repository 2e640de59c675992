"""Tests of the oracle protocol: input validation, per-point output reports, scalar and vector values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import oracles
from activeamp.physics.kinematics import boost
from activeamp.physics.process import get_process
from activeamp.physics.vv_phasespace import VVPhaseSpace
from oracles.base import (
    Oracle,
    OracleInputError,
    OracleOutputError,
    OracleResult,
    classify_values,
    validate_momenta,
    validate_vv_kinematics,
)
from tests.conftest import two_body_points


class _Fixed(Oracle):
    """An oracle that returns preset values, to test the base-class machinery."""

    name = "fixed"

    def __init__(self, values: np.ndarray) -> None:
        super().__init__(get_process("gg_yy"))
        self.values = values

    def _evaluate(self, momenta: np.ndarray) -> np.ndarray:
        return self.values[: len(momenta)]


class _Half(Oracle):
    """A vector oracle of one input column: (−x, x) where x > 0, NaN in the second component otherwise."""

    name = "half"
    input_names = ("x",)
    outputs = ("y", "z")

    def __init__(self) -> None:
        super().__init__(get_process("uu_ZZ"))

    def validate(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    def _evaluate(self, x: np.ndarray) -> tuple[np.ndarray, list[str]]:
        y = np.stack([-x[:, 0], np.where(x[:, 0] > 0, x[:, 0], np.nan)], axis=1)
        return y, ["library says no" if v == 3.0 else "" for v in x[:, 0]]


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
def test_input_validation_names_problem(
    rng: np.random.Generator, mutate: Callable[[np.ndarray], object], message: str
) -> None:
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


def test_massive_bosons_are_not_checked_for_masslessness() -> None:
    p = VVPhaseSpace("uu_WW").sample(20, np.random.default_rng(3)).momenta
    np.testing.assert_array_equal(validate_momenta(p, get_process("uu_WW")), p)
    quark = p.copy()
    quark[4, 0, 0] *= 1.01
    quark[4, 2, 0] += quark[4, 0, 0] - p[4, 0, 0]  # conserves momentum, gives the quark a mass
    with pytest.raises(OracleInputError, match=r"point 4, particle 0 \(quark\) is off-shell"):
        validate_momenta(quark, get_process("uu_WW"))


def test_bad_values_are_reported_per_point(rng: np.random.Generator) -> None:
    values = np.array([1.0, np.nan, -2.0, np.inf, 0.0])
    result = classify_values(values)
    assert result.ok.tolist() == [True, False, False, False, True]
    assert result.reasons == ("", "nan", "negative", "inf", "")
    assert np.isnan(result.values[1:4]).all() and result.n_failed == 3 and result.n_outputs is None

    oracle = _Fixed(values)
    p = two_body_points(5, rng)
    assert oracle.evaluate(p).n_failed == 3
    with pytest.raises(OracleOutputError, match="3 of 5 points failed \\(1: nan, 2: negative, 3: inf\\)") as info:
        oracle(p)
    assert info.value.result.ok[0]
    np.testing.assert_array_equal(_Fixed(np.array([1.0, 2.0]))(p[:2]), [1.0, 2.0])


def test_vector_values_are_signed_and_fail_by_row() -> None:
    values = np.array([[1.0, -2.0], [np.nan, 1.0], [np.inf, 0.0], [-0.5, -0.5]])
    result = classify_values(values, ["", "", "", "shim error"])
    assert result.ok.tolist() == [True, False, False, False] and result.n_outputs == 2
    assert result.reasons == ("", "nan", "inf", "shim error")  # reported failures take precedence
    assert np.isnan(result.values[1:]).all() and result.values[0].tolist() == [1.0, -2.0]
    with pytest.raises(ValueError, match=r"oracle reasons: expected 4"):
        classify_values(values, ["", ""])
    with pytest.raises(ValueError, match=r"expected shape \(N,\) or \(N, K\)"):
        classify_values(np.zeros((2, 2, 2)))
    assert classify_values(np.zeros((0, 3))).values.shape == (0, 3)


def test_one_protocol_for_vector_oracles() -> None:
    oracle = _Half()
    assert oracle.n_outputs == 2 and _Fixed(np.ones(1)).n_outputs is None and _Fixed(np.ones(1)).outputs is None
    x = np.array([[1.0], [-1.0], [2.0], [3.0]])
    result = oracle.evaluate(x)
    assert isinstance(result, OracleResult) and result.values.shape == (4, 2)
    assert result.ok.tolist() == [True, False, True, False] and result.reasons == ("", "nan", "", "library says no")
    assert np.isnan(result.values[1]).all() and result.values[0, 0] == -1.0  # negative values are valid
    with pytest.raises(OracleOutputError, match=r"2 of 4 points failed \(1: nan, 3: library says no\)") as info:
        oracle(x)
    assert info.value.result.n_failed == 2
    np.testing.assert_array_equal(oracle(x[[0, 2]]), [[-1.0, 1.0], [-2.0, 2.0]])
    prov = oracle.provenance()
    assert prov["outputs"] == ["y", "z"] and prov["inputs"] == ["x"] and prov["process"] == "uu_ZZ"
    scalar = _Fixed(np.ones(3)).provenance()
    assert "outputs" not in scalar and "inputs" not in scalar


def test_wrong_output_shape_is_an_error(rng: np.random.Generator) -> None:
    with pytest.raises(oracles.OracleError, match=r"returned shape \(2,\), expected \(3,\)"):
        _Fixed(np.ones(2)).evaluate(two_body_points(3, rng))
    with pytest.raises(oracles.OracleError, match=r"returned shape \(3, 2\), expected \(3,\)"):
        _Fixed(np.ones((3, 2))).evaluate(two_body_points(3, rng))


def test_vv_kinematics_from_invariants() -> None:
    points = VVPhaseSpace("uu_ZZ").sample(10, np.random.default_rng(5)).kinematics
    np.testing.assert_array_equal(validate_vv_kinematics(points, "uu_ZZ"), points)
    below = points[:3].copy()
    below[1, 0] = (np.sqrt(below[1, 2]) + np.sqrt(below[1, 3])) ** 2 * 0.99
    wrong_t = points[:3].copy()
    wrong_t[2, 1] = 10.0  # t > 0 is outside the physical range
    negative = points[:3].copy()
    negative[0, 3] = -1.0
    for bad, message in (
        (points[:, :3], r"expected shape \(N, 4\)"),
        (points.astype(np.float32), "expected dtype float64"),
        (points.tolist(), "expected a numpy array"),
        (np.where(np.arange(4) == 2, np.nan, points), "non-finite entries at point 0"),
        (below, "point 1 is below threshold"),
        (wrong_t, "point 2 has t = 10 GeV² outside its physical range"),
        (negative, "point 0 has mb2 = -1 GeV², must be > 0"),
    ):
        with pytest.raises(OracleInputError, match=message):
            validate_vv_kinematics(bad, "uu_ZZ")
    with pytest.raises(KeyError, match="process 'gg_yy' is not a q q̄′ → V1 V2 process"):
        validate_vv_kinematics(points, "gg_yy")


def test_vv_kinematics_from_momenta() -> None:
    sample = VVPhaseSpace("ud_WZ").sample(50, np.random.default_rng(4))
    k = validate_vv_kinematics(boost(sample.momenta, [0.0, 0.0, -0.3]), get_process("ud_WZ"))
    assert k.shape == (50, 4) and k.flags.c_contiguous
    np.testing.assert_allclose(k, sample.kinematics, rtol=1e-11)
    assert validate_vv_kinematics(np.empty((0, 4, 4)), "ud_WZ").shape == (0, 4)
    p = sample.momenta[:4]
    not_conserved = p.copy()
    not_conserved[2, 3, 1] += 0.5
    massive_quark = p.copy()
    massive_quark[1, 0, 0] *= 1.01
    massive_quark[1, 2, 0] += massive_quark[1, 0, 0] - p[1, 0, 0]
    zero_energy = p.copy()
    zero_energy[0, 1] = 0.0
    spacelike = p.copy()
    shift = spacelike[3, 2, 0] - 0.5 * np.linalg.norm(spacelike[3, 2, 1:])
    spacelike[3, 2, 0] -= shift  # V1 spacelike, V2 takes the energy: momentum still conserved
    spacelike[3, 3, 0] += shift
    nan = p.copy()
    nan[0, 2, 2] = np.nan
    for bad, message in (
        (not_conserved, "momentum not conserved at point 2"),
        (massive_quark, r"point 1, particle 0 \(quark\) is off-shell"),
        (zero_energy, "point 0, particle 1 has non-positive energy 0 GeV"),
        (nan, "non-finite entries at point 0"),
        (p[:, :, :3], r"expected shape \(N, 4\) .* or \(N, 4, 4\)"),
        (p.astype(np.float32), "expected dtype float64"),
    ):
        with pytest.raises(OracleInputError, match=message):
            validate_vv_kinematics(bad, "ud_WZ", what="momenta")
    with pytest.raises(OracleInputError, match="momenta: point 3 has ma2 = -.* GeV², must be > 0"):
        validate_vv_kinematics(spacelike, "ud_WZ", what="momenta")
