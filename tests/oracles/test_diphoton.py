"""Tests of the exact one-loop g g → γ γ (g) oracles: registry, options, validation, chunking, precision check."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import oracles
from oracles.base import OracleInputError, OracleOutputError
from oracles.diphoton import GGYYGOracle, GGYYOracle
from oracles.diphoton_2to3 import HELICITY_LABELS_2TO3
from tests.conftest import two_body_points
from tests.oracles.diphoton_points import soft_point


def test_registry_builds_both_oracles() -> None:
    assert {"gg_yy", "gg_yyg"} <= set(oracles.available())
    yyg = oracles.get("gg_yyg")
    assert isinstance(yyg, GGYYGOracle) and yyg.process.name == "gg_yyg" and yyg.name == "gg_yyg"
    assert isinstance(oracles.get("gg_yy"), GGYYOracle)
    assert yyg.helicity_labels == HELICITY_LABELS_2TO3
    prov = yyg.provenance()
    assert prov["options"]["alpha_s"] == 0.118 and prov["options"]["n_f"] == 5


# ------------------------------------------------------------------------------------------------
# Options, validation, precision check
# ------------------------------------------------------------------------------------------------


def test_couplings_and_charges_scale(points3: np.ndarray) -> None:
    base = GGYYGOracle()(points3)
    np.testing.assert_allclose(GGYYGOracle(alpha_s=0.236)(points3), 8 * base, rtol=1e-14)
    np.testing.assert_allclose(GGYYGOracle(alpha=2 * GGYYGOracle().alpha)(points3), 4 * base, rtol=1e-14)
    np.testing.assert_allclose(GGYYGOracle(n_f=4)(points3), base * (10 / 11) ** 2, rtol=1e-14)
    np.testing.assert_allclose(GGYYGOracle(sum_q2=1.0)(points3), base * (9 / 11) ** 2, rtol=1e-14)
    assert GGYYGOracle(sum_q2=1.0).options()["sum_q2"] == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"alpha": -1.0}, "alpha: expected a positive finite number"),
        ({"alpha_s": float("nan")}, "alpha_s: expected a positive finite number"),
        ({"n_f": 7}, "n_f: expected an integer between 1 and 6"),
        ({"check_precision": 0.0}, "check_precision: expected a positive finite number"),
        ({"chunk_size": 0}, "chunk_size: expected a positive integer"),
        ({"mu2": -4.0}, "mu2: expected a positive finite number"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        oracles.get("gg_yyg", **options)


def test_input_validation(yyg: GGYYGOracle, yy: GGYYOracle, points3: np.ndarray, rng: np.random.Generator) -> None:
    with pytest.raises(OracleInputError, match=r"expected shape \(N, 5, 4\) for process gg_yyg"):
        yyg(two_body_points(3, rng))
    with pytest.raises(OracleInputError, match=r"expected shape \(N, 4, 4\) for process gg_yy"):
        yy(points3)
    bad = points3[:4].copy()
    bad[2, 3] *= 1.01
    with pytest.raises(OracleInputError, match="momentum not conserved at point 2"):
        yyg(bad)
    for method in (yyg.evaluate, yyg.helicity_resolved, yyg.precision_estimate):
        with pytest.raises(OracleInputError, match="expected dtype float64"):
            method(points3.astype(np.float32))
    assert yyg(points3[:0]).shape == (0,)


def test_chunking_does_not_change_results(points3: np.ndarray) -> None:
    ref = GGYYGOracle()(points3)
    np.testing.assert_allclose(GGYYGOracle(chunk_size=7)(points3), ref, rtol=1e-15)
    p2 = two_body_points(25, np.random.default_rng(2))
    np.testing.assert_allclose(GGYYOracle(chunk_size=4)(p2), GGYYOracle()(p2), rtol=1e-15)


def test_precision_check_flags_broken_points(points3: np.ndarray, rng: np.random.Generator) -> None:
    """Regular points estimate ~1e-15; a photon of 1e-6 GeV next to hard partons breaks double precision."""
    yyg = GGYYGOracle(check_precision=1e-9)
    estimate = yyg.precision_estimate(points3)
    assert estimate.shape == (len(points3),) and estimate.max() < 1e-12
    p22 = two_body_points(1, rng)[0]
    broken = soft_point(p22, 2e-9, np.array([0.0, 0.6, 0.8]), soft=3)[None]
    assert yyg.precision_estimate(broken)[0] > 1e-9
    batch = np.concatenate([points3[:3], broken])
    result = yyg.evaluate(batch)
    assert result.ok.tolist() == [True, True, True, False] and result.reasons[3] == "nan"
    with pytest.raises(OracleOutputError):
        yyg(batch)
    assert yyg.cost_hint == 2 * GGYYGOracle.cost_hint
    assert GGYYOracle(check_precision=1e-12).evaluate(two_body_points(5, rng)).ok.all()
