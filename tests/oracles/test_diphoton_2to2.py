"""Tests of the exact one-loop g g → γ γ amplitudes: reference values, Bose symmetry, rotation invariance."""

from __future__ import annotations

import numpy as np
import pytest

from oracles.diphoton import GGYYOracle
from oracles.diphoton_2to2 import HELICITY_LABELS_2TO2
from tests.conftest import two_body_points
from tests.oracles.diphoton_points import (
    boost_z,
    random_rotation,
    reference_points,
    rotate,
    swap_labels,
)

# ------------------------------------------------------------------------------------------------
# Reference values (spec Sec. 0, 9)
# ------------------------------------------------------------------------------------------------


def test_reference_points_2to2(yy: GGYYOracle) -> None:
    momenta, msq, terms = reference_points("points_2to2")
    np.testing.assert_allclose(yy(momenta), msq, rtol=1e-13, atol=0)
    resolved = yy.helicity_resolved(momenta)
    assert resolved.shape == (4, 16)
    np.testing.assert_allclose(resolved, terms, rtol=1e-13, atol=0)


# ------------------------------------------------------------------------------------------------
# Symmetries
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("i", "j"), [(2, 3), (0, 1)], ids=["photons", "incoming gluons"])
def test_bose_symmetry_2to2(yy: GGYYOracle, rng: np.random.Generator, i: int, j: int) -> None:
    p = two_body_points(50, rng)
    order = list(range(4))
    order[i], order[j] = j, i
    np.testing.assert_allclose(yy(p[:, order]), yy(p), rtol=1e-14)
    perm = swap_labels(HELICITY_LABELS_2TO2, i, j)
    np.testing.assert_allclose(yy.helicity_resolved(p[:, order])[:, perm], yy.helicity_resolved(p), rtol=1e-13)


def test_rotation_invariance_2to2(yy: GGYYOracle, rng: np.random.Generator) -> None:
    p = two_body_points(30, rng)
    np.testing.assert_allclose(yy(rotate(p, random_rotation(rng))), yy(p), rtol=1e-13)
    np.testing.assert_allclose(yy(boost_z(p, -0.4)), yy(p), rtol=1e-13)
