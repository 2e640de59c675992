"""Tests of the exact one-loop g g → γ γ g amplitudes: reference values, symmetries, limits, unphysical parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oracles.diphoton import GGYYGOracle, GGYYOracle
from oracles.diphoton_2to3 import HELICITY_LABELS_2TO3, amplitudes_2to3
from oracles.spinors import cross_to_outgoing
from tests.conftest import two_body_points
from tests.oracles.diphoton_points import (
    SQRT_S,
    boost_z,
    collinear_point,
    pair_in_frame,
    random_rotation,
    reference_points,
    rotate,
    soft_point,
    swap_labels,
)

# ------------------------------------------------------------------------------------------------
# Reference values (spec Sec. 0, 9)
# ------------------------------------------------------------------------------------------------


def test_reference_points_2to3(yyg: GGYYGOracle) -> None:
    momenta, msq, terms = reference_points("points_2to3")
    got = yyg(momenta)
    np.testing.assert_allclose(got, msq, rtol=1e-12, atol=0)
    resolved = yyg.helicity_resolved(momenta)
    assert resolved.shape == (8, 32)
    np.testing.assert_allclose(resolved, terms, rtol=1e-12, atol=0)
    np.testing.assert_allclose(yyg.prefactor * resolved.sum(axis=1), got, rtol=1e-15)


@pytest.mark.slow
def test_near_singular_points_against_40_digits(yyg: GGYYGOracle) -> None:
    """A soft-gluon point (E_g = 1 GeV) and a photon 50 mrad from the gluon, against 40 digits."""
    pytest.importorskip("mpmath")
    from oracles.diphoton_reference import helicity_terms_2to3

    rng = np.random.default_rng(7)
    p22 = two_body_points(2, rng)
    soft_gluon = soft_point(p22[0], 2e-3, np.array([0.6, 0.0, 0.8]), soft=4)
    points = np.array([soft_gluon, collinear_point(0.05, 150.0, np.array([0.48, 0.6, 0.64]))])
    exact = helicity_terms_2to3(points)
    got = yyg.helicity_resolved(points)
    np.testing.assert_allclose(got.sum(axis=1), exact.sum(axis=1), rtol=1e-11)
    # individual terms cancel between orderings near the collinear limit: compare on the scale of the sum
    assert (np.abs(got - exact) <= 1e-11 * exact.sum(axis=1, keepdims=True)).all()


# ------------------------------------------------------------------------------------------------
# Symmetries and independence of unphysical parameters (spec Sec. 7.3)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("i", "j"), [(2, 3), (0, 1)], ids=["photons", "incoming gluons"])
def test_bose_symmetry(yyg: GGYYGOracle, points3: np.ndarray, i: int, j: int) -> None:
    order = list(range(5))
    order[i], order[j] = j, i
    swapped = points3[:, order]
    np.testing.assert_allclose(yyg(swapped), yyg(points3), rtol=1e-12)
    terms, terms_swapped = yyg.helicity_resolved(points3), yyg.helicity_resolved(swapped)
    scale = terms.sum(axis=1, keepdims=True)
    assert (np.abs(terms_swapped[:, swap_labels(HELICITY_LABELS_2TO3, i, j)] - terms) <= 1e-12 * scale).all()


@pytest.mark.parametrize(("mu2", "inv_eps"), [(1e2, 0.0), (1e6, 1.0), (4e4, -3.7), (1.0, 5.0)])
def test_independent_of_scale_and_poles(points3: np.ndarray, mu2: float, inv_eps: float) -> None:
    """The ε poles and ln μ² multiply Σ_σ Â_tree(σ) = 0 (photon decoupling) and cancel."""
    base = GGYYGOracle().helicity_resolved(points3)
    varied = GGYYGOracle(mu2=mu2, inv_eps=inv_eps).helicity_resolved(points3)
    scale = base.sum(axis=1, keepdims=True)
    assert (np.abs(varied - base) <= 1e-12 * scale).all()
    np.testing.assert_allclose(varied.sum(axis=1), base.sum(axis=1), rtol=1e-12)


def test_tree_amplitudes_decouple(points3: np.ndarray) -> None:
    """Σ over the 12 orderings of the tree amplitudes vanishes: a direct check of the orderings (7.1)."""
    big = amplitudes_2to3(points3, inv_eps=1e6)
    ref = amplitudes_2to3(points3)
    rel = np.abs(big - ref) / np.sqrt((np.abs(ref) ** 2).sum(axis=1, keepdims=True))
    assert rel.max() < 1e-6  # 1e6 × (round-off of Σ Â_tree ≈ 1e-14 |Ŝ|)


def test_parity(yyg: GGYYGOracle, yy: GGYYOracle, points3: np.ndarray, rng: np.random.Generator) -> None:
    """Flipping all helicities equals mirroring y → −y (parity times a rotation by π about y)."""
    mirror = points3.copy()
    mirror[..., 2] *= -1.0
    terms = yyg.helicity_resolved(points3)
    flipped = yyg.helicity_resolved(mirror)[:, ::-1]  # column 31 − c is the flipped configuration
    assert (np.abs(flipped - terms) <= 1e-12 * terms.sum(axis=1, keepdims=True)).all()
    # 2 → 2 momenta lie in a plane: the flipped terms are equal at the same point
    t2 = yy.helicity_resolved(two_body_points(20, rng))
    np.testing.assert_allclose(t2[:, ::-1], t2, rtol=1e-14)


def test_rotation_and_boost_invariance(yyg: GGYYGOracle, points3: np.ndarray, rng: np.random.Generator) -> None:
    ref = yyg(points3)
    terms = yyg.helicity_resolved(points3)
    for _ in range(3):
        rotated = rotate(points3, random_rotation(rng))
        np.testing.assert_allclose(yyg(rotated), ref, rtol=1e-12)
        got = yyg.helicity_resolved(rotated)
        assert (np.abs(got - terms) <= 1e-12 * terms.sum(axis=1, keepdims=True)).all()
    np.testing.assert_allclose(yyg(boost_z(points3, 0.6)), ref, rtol=1e-12)


def test_momentum_along_light_cone_axis(yyg: GGYYGOracle) -> None:
    """A photon exactly along −x, the singular direction of the spinor convention (2.1)."""
    p3 = np.array([300.0, -300.0, 0.0, 0.0])
    total = np.array([SQRT_S, 0.0, 0.0, 0.0]) - p3
    p4, p5 = pair_in_frame(total, np.array([0.0, 0.6, 0.8]))
    point = np.array([[[500.0, 0, 0, 500.0], [500.0, 0, 0, -500.0], p3, p4, p5]])
    value = yyg(point)
    rotated = rotate(point, random_rotation(np.random.default_rng(3)))
    np.testing.assert_allclose(value, yyg(rotated), rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# Soft-gluon limit: relative normalisation of 2 → 3 and 2 → 2 (spec Eq. 7.5)
# ------------------------------------------------------------------------------------------------


def test_soft_gluon_limit(yyg: GGYYGOracle, yy: GGYYOracle, rng: np.random.Generator) -> None:
    p22 = two_body_points(3, rng)
    alpha_s = yyg.alpha_s
    errors = []
    for lam in (1e-3, 1e-4):
        for point, n_soft in zip(p22, random_rotation(rng), strict=True):
            p = soft_point(point, lam, n_soft, soft=4)[None]
            k = cross_to_outgoing(p)[0]
            s12 = 2 * (k[0, 0] * k[1, 0] - k[0, 1:] @ k[1, 1:])
            s15 = 2 * (k[0, 0] * k[4, 0] - k[0, 1:] @ k[4, 1:])
            s25 = 2 * (k[1, 0] * k[4, 0] - k[1, 1:] @ k[4, 1:])
            eikonal = 8 * s12 / (s15 * s25)
            h5 = yyg.helicity_resolved(p).sum()
            h4 = yy.helicity_resolved(point[None]).sum()
            ratio = h5 / (eikonal * h4)
            assert abs(ratio - 1) < 3 * lam
            # the same with the squared matrix elements: g_s² 4 C_A s12/(s15 s25) (couplings included)
            msq_ratio = yyg(p)[0] / (4 * math.pi * alpha_s * 4 * 3 * s12 / (s15 * s25) * yy(point[None])[0])
            assert msq_ratio == pytest.approx(ratio, rel=1e-12)
            errors.append(abs(ratio - 1))
    assert max(errors[3:]) < max(errors[:3]) / 3  # converges like O(λ)
