"""Tests of the exchange groups of identical particles."""

from __future__ import annotations

import numpy as np
import pytest

import oracles
from activeamp.physics.process import get_process
from activeamp.physics.symmetry import SymmetryGroup
from activeamp.surrogate.preprocessing import as_features
from tests.conftest import physical_points


@pytest.fixture(scope="module")
def momenta() -> np.ndarray:
    return physical_points("gg_yyg", 200, seed=3)


def test_group_of_gg_yyg_swaps_gluons_and_photons() -> None:
    group = SymmetryGroup.of(get_process("gg_yyg"))
    assert group.order == 4 and group.permutations[0] == (0, 1, 2, 3, 4)
    assert set(group.permutations) == {(0, 1, 2, 3, 4), (1, 0, 2, 3, 4), (0, 1, 3, 2, 4), (1, 0, 3, 2, 4)}


def test_images_keep_the_beam_convention_and_momentum_conservation(momenta: np.ndarray) -> None:
    images = SymmetryGroup.of(get_process("gg_yyg")).images(momenta)
    assert images.shape == (4, *momenta.shape)
    np.testing.assert_array_equal(images[0], momenta)
    assert np.all(images[:, :, 0, 3] > 0) and np.all(images[:, :, 1, 3] < 0)  # p1 along +z, p2 along −z
    total = images[:, :, :2].sum(axis=2) - images[:, :, 2:].sum(axis=2)
    np.testing.assert_allclose(total, 0.0, atol=1e-9)


def test_exact_amplitude_is_invariant_under_the_group(momenta: np.ndarray) -> None:
    oracle = oracles.get("gg_yyg")
    images = SymmetryGroup.of(get_process("gg_yyg")).images(momenta[:20])
    values = np.stack([oracle.evaluate(img).values for img in images])
    np.testing.assert_allclose(values, values[0][None].repeat(4, axis=0), rtol=1e-10)


def test_invariant_columns_permute_the_invariants_of_the_images(momenta: np.ndarray) -> None:
    group = SymmetryGroup.of(get_process("gg_yyg"))
    raw = as_features(momenta, "invariants")[0]
    for image, cols in zip(group.images(momenta), group.invariant_columns(), strict=True):
        np.testing.assert_allclose(as_features(image, "invariants")[0], raw[:, cols], atol=1e-12)


def test_state_round_trip_and_bad_groups() -> None:
    group = SymmetryGroup.of(get_process("gg_yyg"))
    assert SymmetryGroup.from_state(group.state()) == group
    assert SymmetryGroup.trivial(5).order == 1
    with pytest.raises(ValueError, match="identity"):
        SymmetryGroup(((1, 0, 2),))
    with pytest.raises(ValueError, match="not a permutation"):
        SymmetryGroup(((0, 1, 2), (0, 0, 2)))
    with pytest.raises(ValueError, match=r"expected momenta \(N, 5, 4\)"):
        group.images(np.zeros((3, 4, 4)))
