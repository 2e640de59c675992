"""Tests of the exact one-loop g g → γ γ (g) oracles: reference values, symmetries, limits, numerics, validation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import oracles
from oracles.base import OracleInputError, OracleOutputError
from oracles.diphoton import (
    HELICITY_LABELS_2TO2,
    HELICITY_LABELS_2TO3,
    GGYYGOracle,
    GGYYOracle,
    amplitudes_2to3,
    k2_prefactor,
    k3_prefactor,
    sum_q2_for,
)
from oracles.loop_functions import li2_real, ls1, pair_functions
from oracles.spinors import cross_to_outgoing, light_cone_frame, spinor_products
from tests.conftest import two_body_points

SQRT_S = 1000.0

#: Reference terms where MCFM's double-precision value (the JSON) differs from a 40-digit evaluation of
#: the specification by more than half the tolerance of the tests below; their 40-digit values
#: (``oracles.diphoton_reference``, checked by ``test_overrides_are_40_digit_values``) are used instead.
#: The largest: point 0, '-+-++', where MCFM is off by 1.8e-11 (the term is 3.6e-4 of the sum).
_OVERRIDES_2TO3: dict[tuple[int, str], float] = {
    (0, "-+-++"): 7.800247650666653e-06,
    (0, "+-+--"): 8.078830617664726e-06,
    (2, "-+++-"): 6.955203031746832e-06,
    (5, "+-+--"): 1.081939764335615e-07,
}
_OVERRIDES_2TO2: dict[tuple[int, str], float] = {
    (2, "-+-+"): 0.06766419280955686,
    (2, "+-+-"): 0.06766419280955686,
    (3, "-+-+"): 0.06745431306122328,
    (3, "+-+-"): 0.06745431306122328,
}


# ------------------------------------------------------------------------------------------------
# Helpers: reference data, a small RAMBO, Lorentz transformations
# ------------------------------------------------------------------------------------------------


def _points(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Momenta ``(N, n, 4)``, msq ``(N,)`` and helicity-resolved terms (overrides applied) of the reference."""
    pts = _REFERENCE[key]
    momenta = np.array([p["momenta"] for p in pts], dtype=np.float64)
    msq = np.array([p["msq"] for p in pts])
    terms = np.array([p["helicity_resolved"] for p in pts])
    labels, overrides = (
        (HELICITY_LABELS_2TO3, _OVERRIDES_2TO3) if key == "points_2to3" else (HELICITY_LABELS_2TO2, _OVERRIDES_2TO2)
    )
    for (i, label), value in overrides.items():
        terms[i, labels.index(label)] = value
    return momenta, msq, terms


def _rambo3(n: int, rng: np.random.Generator, sqrt_s: float = SQRT_S) -> np.ndarray:
    """Massless three-body RAMBO points ``(n, 5, 4)`` in the partonic centre-of-mass frame."""
    cos = 2.0 * rng.random((n, 3)) - 1.0
    phi = 2.0 * np.pi * rng.random((n, 3))
    e = -np.log(rng.random((n, 3)) * rng.random((n, 3)))
    sin = np.sqrt(1.0 - cos**2)
    q = np.stack([e, e * sin * np.cos(phi), e * sin * np.sin(phi), e * cos], axis=-1)
    total = q.sum(axis=1)
    mass = np.sqrt(total[:, 0] ** 2 - (total[:, 1:] ** 2).sum(-1))
    b = -total[:, 1:] / mass[:, None]
    x = sqrt_s / mass
    gamma = total[:, 0] / mass
    a = 1.0 / (1.0 + gamma)
    bq = np.einsum("ni,nki->nk", b, q[..., 1:])
    p = np.zeros((n, 5, 4))
    p[:, 0] = [sqrt_s / 2, 0, 0, sqrt_s / 2]
    p[:, 1] = [sqrt_s / 2, 0, 0, -sqrt_s / 2]
    p[:, 2:, 0] = x[:, None] * (gamma[:, None] * q[..., 0] + bq)
    p[:, 2:, 1:] = x[:, None, None] * (
        q[..., 1:] + b[:, None, :] * q[..., :1] + a[:, None, None] * bq[..., None] * b[:, None, :]
    )
    return p


def _physical_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """RAMBO points of g g → γ γ g with loose cuts (pT > 20 GeV, ΔR > 0.4, photon |η| < 2.37)."""
    out = []
    while sum(len(o) for o in out) < n:
        p = _rambo3(4 * n, rng)
        pt = np.hypot(p[..., 1], p[..., 2])
        eta = np.arcsinh(p[..., 3] / np.maximum(pt, 1e-300))
        phi = np.arctan2(p[..., 2], p[..., 1])
        keep = (pt[:, 2:] > 20.0).all(axis=1) & (np.abs(eta[:, 2:4]) < 2.37).all(axis=1)
        for i, j in ((2, 3), (2, 4), (3, 4)):
            dphi = np.abs(phi[:, i] - phi[:, j])
            dphi = np.minimum(dphi, 2 * np.pi - dphi)
            keep &= np.hypot(eta[:, i] - eta[:, j], dphi) > 0.4
        out.append(p[keep])
    return np.concatenate(out)[:n]


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation matrix (3, 3)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _rotate(p: np.ndarray, rot: np.ndarray) -> np.ndarray:
    q = p.copy()
    q[..., 1:] = p[..., 1:] @ rot.T
    return q


def _boost_z(p: np.ndarray, beta: float) -> np.ndarray:
    gamma = 1.0 / math.sqrt(1.0 - beta * beta)
    q = p.copy()
    q[..., 0] = gamma * (p[..., 0] + beta * p[..., 3])
    q[..., 3] = gamma * (p[..., 3] + beta * p[..., 0])
    return q


def _pair_in_frame(total: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two massless momenta summing to ``total``, back to back along ``direction`` in its rest frame."""
    mass = math.sqrt(total[0] ** 2 - total[1:] @ total[1:])
    beta = total[1:] / total[0]
    gamma = total[0] / mass
    out = []
    for sign in (1.0, -1.0):
        q = np.array([mass / 2, *(sign * mass / 2 * direction)])
        bq = beta @ q[1:]
        b2 = beta @ beta
        vec = q[1:] + (((gamma - 1.0) * bq / b2 if b2 > 0 else 0.0) + gamma * q[0]) * beta
        out.append(np.array([gamma * (q[0] + bq), *vec]))
    return out[0], out[1]


def _soft_point(p22: np.ndarray, lam: float, n_soft: np.ndarray, soft: int) -> np.ndarray:
    """A 2 → 3 point whose particle ``soft`` (3: photon, 4: gluon) has energy ``λ √s/2`` along ``n_soft``.

    The two other outgoing momenta are back to back in their rest frame along the first photon of the
    2 → 2 point ``p22`` (spec Sec. 7.4), so the point tends to ``p22`` as λ → 0.
    """
    total = p22[0] + p22[1]
    k = lam * SQRT_S / 2 * np.array([1.0, *n_soft])
    direction = p22[2, 1:] / np.linalg.norm(p22[2, 1:])
    a, b = _pair_in_frame(total - k, direction)
    out = np.empty((5, 4))
    out[:3] = p22[0], p22[1], a
    out[3], out[4] = (b, k) if soft == 4 else (k, b)
    return out


def _collinear_point(theta: float, e3: float, n5: np.ndarray) -> np.ndarray:
    """A 2 → 3 point with photon 3 (energy ``e3``) at angle ``theta`` to the gluon (direction ``n5``)."""
    n5 = n5 / np.linalg.norm(n5)
    tilt = np.cross(n5, [0.0, 0.0, 1.0])
    tilt /= np.linalg.norm(tilt)
    n3 = n5 * math.cos(theta) + tilt * math.sin(theta)
    # |E3 n3 + E5 n5| = √s − E3 − E5 fixes the gluon energy
    e5 = (SQRT_S**2 - 2 * SQRT_S * e3) / (2 * (SQRT_S - e3 * (1 - math.cos(theta))))
    p3 = e3 * np.array([1.0, *n3])
    p5 = e5 * np.array([1.0, *n5])
    p4 = np.array([SQRT_S - e3 - e5, *(-p3[1:] - p5[1:])])
    return np.array([[SQRT_S / 2, 0, 0, SQRT_S / 2], [SQRT_S / 2, 0, 0, -SQRT_S / 2], p3, p4, p5])


@pytest.fixture(scope="module")
def yyg() -> GGYYGOracle:
    return GGYYGOracle()


@pytest.fixture(scope="module")
def yy() -> GGYYOracle:
    return GGYYOracle()


@pytest.fixture(scope="module")
def points3() -> np.ndarray:
    return _physical_points(40, np.random.default_rng(61))


# ------------------------------------------------------------------------------------------------
# Reference values (spec Sec. 0, 9)
# ------------------------------------------------------------------------------------------------


def test_registry_builds_both_oracles() -> None:
    assert {"gg_yy", "gg_yyg"} <= set(oracles.available())
    yyg = oracles.get("gg_yyg")
    assert isinstance(yyg, GGYYGOracle) and yyg.process.name == "gg_yyg" and yyg.name == "gg_yyg"
    assert isinstance(oracles.get("gg_yy"), GGYYOracle)
    assert yyg.helicity_labels == HELICITY_LABELS_2TO3
    prov = yyg.provenance()
    assert prov["options"]["alpha_s"] == 0.118 and prov["options"]["n_f"] == 5


def test_prefactors_match_reference() -> None:
    assert sum_q2_for(5) == pytest.approx(11 / 9, rel=1e-15)
    k3 = k3_prefactor(_REFERENCE["alpha"], _REFERENCE["alpha_s"], _REFERENCE["sum_q2"])
    k2 = k2_prefactor(_REFERENCE["alpha"], _REFERENCE["alpha_s"], _REFERENCE["sum_q2"])
    assert k3 == pytest.approx(_REFERENCE["K3"], rel=1e-15)
    assert k2 == pytest.approx(_REFERENCE["K2"], rel=1e-15)
    assert GGYYGOracle().prefactor == pytest.approx(_REFERENCE["K3"], rel=1e-15)


def test_reference_points_2to3(yyg: GGYYGOracle) -> None:
    momenta, msq, terms = _points("points_2to3")
    got = yyg(momenta)
    np.testing.assert_allclose(got, msq, rtol=1e-12, atol=0)
    resolved = yyg.helicity_resolved(momenta)
    assert resolved.shape == (8, 32)
    np.testing.assert_allclose(resolved, terms, rtol=1e-12, atol=0)
    np.testing.assert_allclose(yyg.prefactor * resolved.sum(axis=1), got, rtol=1e-15)


def test_reference_points_2to2(yy: GGYYOracle) -> None:
    momenta, msq, terms = _points("points_2to2")
    np.testing.assert_allclose(yy(momenta), msq, rtol=1e-13, atol=0)
    resolved = yy.helicity_resolved(momenta)
    assert resolved.shape == (4, 16)
    np.testing.assert_allclose(resolved, terms, rtol=1e-13, atol=0)


@pytest.mark.slow
def test_overrides_are_40_digit_values() -> None:
    """Replaced reference terms equal a 40-digit evaluation of the spec; the others are within half the tolerance."""
    pytest.importorskip("mpmath")
    from oracles.diphoton_reference import helicity_terms_2to2, helicity_terms_2to3

    momenta, _, terms = _points("points_2to3")
    exact = helicity_terms_2to3(momenta[:1])[0]
    np.testing.assert_allclose(terms[0], exact, rtol=5e-13)
    for (i, label), value in _OVERRIDES_2TO3.items():
        if i == 0:
            assert exact[HELICITY_LABELS_2TO3.index(label)] == pytest.approx(value, rel=1e-15)
    momenta2, _, terms2 = _points("points_2to2")
    exact2 = helicity_terms_2to2(momenta2)
    np.testing.assert_allclose(terms2, exact2, rtol=5e-14)
    for (i, label), value in _OVERRIDES_2TO2.items():
        assert exact2[i, HELICITY_LABELS_2TO2.index(label)] == pytest.approx(value, rel=1e-15)


@pytest.mark.slow
def test_near_singular_points_against_40_digits(yyg: GGYYGOracle) -> None:
    """A soft-gluon point (E_g = 1 GeV) and a photon 50 mrad from the gluon, against 40 digits."""
    pytest.importorskip("mpmath")
    from oracles.diphoton_reference import helicity_terms_2to3

    rng = np.random.default_rng(7)
    p22 = two_body_points(2, rng)
    soft_gluon = _soft_point(p22[0], 2e-3, np.array([0.6, 0.0, 0.8]), soft=4)
    points = np.array([soft_gluon, _collinear_point(0.05, 150.0, np.array([0.48, 0.6, 0.64]))])
    exact = helicity_terms_2to3(points)
    got = yyg.helicity_resolved(points)
    np.testing.assert_allclose(got.sum(axis=1), exact.sum(axis=1), rtol=1e-11)
    # individual terms cancel between orderings near the collinear limit: compare on the scale of the sum
    assert (np.abs(got - exact) <= 1e-11 * exact.sum(axis=1, keepdims=True)).all()


# ------------------------------------------------------------------------------------------------
# Symmetries and independence of unphysical parameters (spec Sec. 7.3)
# ------------------------------------------------------------------------------------------------


def _swap_labels(labels: tuple[str, ...], i: int, j: int) -> np.ndarray:
    """Column permutation taking helicity terms of swapped particles back to the original labels."""
    index = {label: c for c, label in enumerate(labels)}
    out = []
    for label in labels:
        chars = list(label)
        chars[i], chars[j] = chars[j], chars[i]
        out.append(index["".join(chars)])
    return np.array(out)


@pytest.mark.parametrize(("i", "j"), [(2, 3), (0, 1)], ids=["photons", "incoming gluons"])
def test_bose_symmetry(yyg: GGYYGOracle, points3: np.ndarray, i: int, j: int) -> None:
    order = list(range(5))
    order[i], order[j] = j, i
    swapped = points3[:, order]
    np.testing.assert_allclose(yyg(swapped), yyg(points3), rtol=1e-12)
    terms, terms_swapped = yyg.helicity_resolved(points3), yyg.helicity_resolved(swapped)
    scale = terms.sum(axis=1, keepdims=True)
    assert (np.abs(terms_swapped[:, _swap_labels(HELICITY_LABELS_2TO3, i, j)] - terms) <= 1e-12 * scale).all()


@pytest.mark.parametrize(("i", "j"), [(2, 3), (0, 1)], ids=["photons", "incoming gluons"])
def test_bose_symmetry_2to2(yy: GGYYOracle, rng: np.random.Generator, i: int, j: int) -> None:
    p = two_body_points(50, rng)
    order = list(range(4))
    order[i], order[j] = j, i
    np.testing.assert_allclose(yy(p[:, order]), yy(p), rtol=1e-14)
    perm = _swap_labels(HELICITY_LABELS_2TO2, i, j)
    np.testing.assert_allclose(yy.helicity_resolved(p[:, order])[:, perm], yy.helicity_resolved(p), rtol=1e-13)


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
        rotated = _rotate(points3, _random_rotation(rng))
        np.testing.assert_allclose(yyg(rotated), ref, rtol=1e-12)
        got = yyg.helicity_resolved(rotated)
        assert (np.abs(got - terms) <= 1e-12 * terms.sum(axis=1, keepdims=True)).all()
    np.testing.assert_allclose(yyg(_boost_z(points3, 0.6)), ref, rtol=1e-12)


def test_rotation_invariance_2to2(yy: GGYYOracle, rng: np.random.Generator) -> None:
    p = two_body_points(30, rng)
    np.testing.assert_allclose(yy(_rotate(p, _random_rotation(rng))), yy(p), rtol=1e-13)
    np.testing.assert_allclose(yy(_boost_z(p, -0.4)), yy(p), rtol=1e-13)


def test_momentum_along_light_cone_axis(yyg: GGYYGOracle) -> None:
    """A photon exactly along −x, the singular direction of the spinor convention (2.1)."""
    p3 = np.array([300.0, -300.0, 0.0, 0.0])
    total = np.array([SQRT_S, 0.0, 0.0, 0.0]) - p3
    p4, p5 = _pair_in_frame(total, np.array([0.0, 0.6, 0.8]))
    point = np.array([[[500.0, 0, 0, 500.0], [500.0, 0, 0, -500.0], p3, p4, p5]])
    value = yyg(point)
    rotated = _rotate(point, _random_rotation(np.random.default_rng(3)))
    np.testing.assert_allclose(value, yyg(rotated), rtol=1e-12)


# ------------------------------------------------------------------------------------------------
# Soft-gluon limit: relative normalisation of 2 → 3 and 2 → 2 (spec Eq. 7.5)
# ------------------------------------------------------------------------------------------------


def test_soft_gluon_limit(yyg: GGYYGOracle, yy: GGYYOracle, rng: np.random.Generator) -> None:
    p22 = two_body_points(3, rng)
    alpha_s = yyg.alpha_s
    errors = []
    for lam in (1e-3, 1e-4):
        for point, n_soft in zip(p22, _random_rotation(rng), strict=True):
            p = _soft_point(point, lam, n_soft, soft=4)[None]
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
    broken = _soft_point(p22, 2e-9, np.array([0.0, 0.6, 0.8]), soft=3)[None]
    assert yyg.precision_estimate(broken)[0] > 1e-9
    batch = np.concatenate([points3[:3], broken])
    result = yyg.evaluate(batch)
    assert result.ok.tolist() == [True, True, True, False] and result.reasons[3] == "nan"
    with pytest.raises(OracleOutputError):
        yyg(batch)
    assert yyg.cost_hint == 2 * GGYYGOracle.cost_hint
    assert GGYYOracle(check_precision=1e-12).evaluate(two_body_points(5, rng)).ok.all()


# ------------------------------------------------------------------------------------------------
# Building blocks: spinors (Sec. 2) and loop functions (Sec. 3)
# ------------------------------------------------------------------------------------------------


def test_spinor_identities(points3: np.ndarray) -> None:
    k = light_cone_frame(cross_to_outgoing(points3[:10]))
    angle, square, s = spinor_products(k)
    dot = 2 * (k[:, :, None, 0] * k[:, None, :, 0] - np.einsum("nid,njd->nij", k[..., 1:], k[..., 1:]))
    scale = SQRT_S**2
    np.testing.assert_allclose(s, dot, atol=1e-12 * scale)
    np.testing.assert_allclose(angle * np.swapaxes(square, 1, 2), s, atol=1e-12 * scale)  # ⟨ij⟩[ji] = s_ij
    np.testing.assert_allclose(angle, -np.swapaxes(angle, 1, 2), atol=0)
    # momentum conservation Σ_k ⟨ik⟩[kj] = 0 and the Schouten identity
    np.testing.assert_allclose(np.einsum("nik,nkj->nij", angle, square), 0, atol=1e-10 * scale)
    a = angle
    schouten = a[:, 0, 1] * a[:, 2, 3] + a[:, 0, 2] * a[:, 3, 1] + a[:, 0, 3] * a[:, 1, 2]
    np.testing.assert_allclose(schouten, 0, atol=1e-12 * scale)


def test_dilogarithm_values() -> None:
    z = np.array([1.0, 0.5, 0.0, -1.0, -0.25, -50.0])
    expected = [
        math.pi**2 / 6,
        math.pi**2 / 12 - math.log(2) ** 2 / 2,
        0.0,
        -(math.pi**2) / 12,
        -0.23590029768626344,  # Li2(−1/4), mpmath
        -9.276995185332622,  # Li2(−50), mpmath
    ]
    np.testing.assert_allclose(li2_real(z), expected, rtol=2e-15, atol=1e-300)


def test_loop_functions_continuous_across_series_switch() -> None:
    """L0, L1, L2 on both sides of the series threshold (|z| = 0.4) and of r = 1 agree smoothly."""
    r = np.array([3 / 7 * (1 - 1e-12), 3 / 7 * (1 + 1e-12), 7 / 3 * (1 - 1e-12), 7 / 3 * (1 + 1e-12)])
    f = pair_functions(-r, -np.ones_like(r))
    for values in (f.l0, f.l1, f.l2):
        np.testing.assert_allclose(values[0], values[1], rtol=1e-11)
        np.testing.assert_allclose(values[2], values[3], rtol=1e-11)
    near_one = pair_functions(np.array([-1.0 + 1e-9, -1.0, -1.0 - 1e-9]), -np.ones(3))
    np.testing.assert_allclose(near_one.l0, -1.0, rtol=1e-8)
    np.testing.assert_allclose(near_one.l1, -0.5, rtol=1e-8)
    np.testing.assert_allclose(near_one.l2, 1 / 6, rtol=1e-8)


def test_ls1_integral_matches_closed_form() -> None:
    """Ls1 from the integral (|d| < 0.3|1 − z|) and from Eqs. (3.4)-(3.5) agree where both are accurate."""
    rng = np.random.default_rng(5)
    y = rng.uniform(-1, 1, 400)
    x1 = rng.uniform(-2, 2, 400) * np.abs(y)
    d = rng.choice([-1, 1], 400) * rng.uniform(0.05, 0.12, 400)  # the closed form loses ~ε/d² here
    x2 = (1 - x1 / y - d) * y
    f1, f2 = pair_functions(x1, y), pair_functions(x2, y)
    got = ls1(f1, f2)
    closed = ((f1.li2 + f2.li2 + f1.log * f2.log - math.pi**2 / 6) / d + f1.l0 + f2.l0) / d
    np.testing.assert_allclose(got, closed, rtol=1e-11)


# fmt: off
#: Reference points of one_loop_diphoton.md (reference_points.json: MCFM 10.3 at the constants below),
#: copied here so that the tests need no external file: momenta [GeV], msq, helicity-resolved terms.
_REFERENCE: dict[str, Any] = {
    "alpha": 0.0072973525692838015,
    "alpha_s": 0.118,
    "sum_q2": 1.2222222222222223,
    "K3": 6.159112888674498e-07,
    "K2": 2.7690770093038107e-07,
    "points_2to3": [
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [434.8016959050069, 152.51138311160375, -230.36319958812007, 335.74631652302577],
                [246.62504491624, 59.82658172811906, 13.52770445427213, -238.87589688133875],
                [318.5732591787529, -212.33796483972284, 216.8354951338479, -96.87041964168701],
            ],
            "msq": 1.3411369060817194e-08,
            "helicity_resolved": [
                5.717934413873387e-06, 0.00013678917621452055, 6.127081395540978e-06, 0.00034805895016630435,
                3.7976159890848375e-05, 0.0004195462818748252, 0.0004263723920590443, 0.0052167117276310775,
                6.859733955465708e-05, 2.3634129297139494e-05, 1.0406396977582813e-05, 7.8002476508075e-06,
                0.002177687758813208, 0.0024662127994048637, 1.78683894588597e-05, 9.692201989151995e-05,
                9.692201989152105e-05, 2.306404361336463e-05, 0.002240394432316564, 0.0019239187710953674,
                8.078830617612596e-06, 1.0036720181982914e-05, 1.6016687290157414e-05, 6.859733955465675e-05,
                0.00521671172763096, 0.00019491860682135958, 0.0001136732113028008, 3.79761598908482e-05,
                0.00020946732280253282, 6.127081395540902e-06, 0.0001367891762145203, 5.717934413873328e-06
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [218.42072574158976, -62.07815192697833, -197.57340303396555, 69.41661833013754],
                [332.9930798957977, -264.75803439356935, -88.49768858197673, -181.53714109842704],
                [448.58619436261205, 326.83618632054777, 286.07109161594235, 112.12052276828938],
            ],
            "msq": 3.5968571326393672e-09,
            "helicity_resolved": [
                2.2418314907422007e-07, 0.00018670086858792797, 1.5583813223508872e-06, 0.0007645114477802005,
                6.596973361074353e-07, 0.00025639387769199433, 6.823263205238829e-05, 0.0008001162869329554,
                4.012008906119132e-05, 5.172168382869355e-05, 1.9077177183434354e-05, 7.370732918559146e-05,
                9.938315022976119e-05, 0.00035262925260072856, 1.3368362243876491e-05, 0.00011639539162764599,
                0.00011639539162764832, 5.691052103185124e-06, 0.00038605696905952513, 6.304643827058732e-05,
                4.432802417255151e-05, 2.1146244990842148e-05, 9.245785527491228e-05, 4.012008906119095e-05,
                0.0008001162869329748, 0.00011058274412029372, 0.0004680633754172316, 6.596973361074386e-07,
                0.0006579473869820477, 1.5583813223509217e-06, 0.000186700868587926, 2.24183149074217e-07
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [334.106136478667, -72.79899478086219, -255.60196504259184, -202.4718554712317],
                [175.98058427377094, -126.37279321506531, -83.90761862800412, -89.21095623597789],
                [489.9132792475618, 199.1717879959275, 339.509583670596, 291.68281170720957],
            ],
            "msq": 1.9689772938206137e-08,
            "helicity_resolved": [
                1.0506720858235125e-08, 0.001402655483138906, 4.1731997619619776e-08, 0.002646474742843346,
                1.977134558504337e-07, 0.004360605458691207, 6.461439761695678e-05, 0.0013060954214658724,
                1.8064553219641235e-05, 0.001190000383011286, 1.017146049175161e-05, 0.002553680073679471,
                1.4014394547645738e-05, 0.0007197942573538632, 6.95520303175049e-06, 0.0013340366505162934,
                0.001334036650516301, 7.86452961764184e-06, 0.0011380012492687172, 1.2398296483337474e-05,
                0.002419761879732419, 1.7210019739151146e-05, 0.0011527795481721297, 1.8064553219641096e-05,
                0.0013060954214658754, 5.7551651218793346e-05, 0.00595821147470466, 1.9771345585044549e-07,
                0.0015162278034169072, 4.173199761962278e-08, 0.0014026554831388972, 1.050672085823577e-08
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [409.28804499119417, 288.20645842321096, 205.99851137252264, -204.9837905985944],
                [164.87255414491523, 97.76477703911279, -44.881044922402715, 124.94278405507788],
                [425.8394008638909, -385.97123546232365, -161.1174664501199, 80.04100654351646],
            ],
            "msq": 3.917160705067519e-09,
            "helicity_resolved": [
                5.030319964887883e-07, 0.00012804567203450053, 6.794563214948088e-07, 0.0002615332334365079,
                7.571475188786928e-06, 0.0005676942628264825, 7.93572785600793e-05, 0.0014108055766389562,
                6.322313459318695e-05, 4.7614344159205334e-05, 0.00018078170288632377, 0.0003558639099637183,
                2.7056018772571415e-05, 1.872684725211607e-05, 7.225425599009826e-06, 5.194846556321214e-05,
                5.194846556321009e-05, 1.8326648995826915e-05, 2.4553429749602146e-05, 2.8896340803529063e-05,
                0.00045187278952848423, 0.00024594681559269693, 4.004186526622117e-05, 6.32231345931899e-05,
                0.0014108055766388968, 3.911800237068895e-05, 0.0004751290936636351, 7.571475188787238e-06,
                0.00016465138995228228, 6.794563214948187e-07, 0.0001280456720344957, 5.030319964888027e-07
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [384.852306588323, 92.26619083771634, -373.57877409448145, 6.094871673387819],
                [283.5216069656625, -250.27548820439839, 98.28211410730566, 89.92945939479586],
                [331.62608644601454, 158.00929736668218, 275.29665998717593, -96.02433106818366],
            ],
            "msq": 2.0304063496705665e-09,
            "helicity_resolved": [
                4.501965610950536e-06, 0.00022626227256166526, 1.0447924915736748e-05, 7.997552146888303e-05,
                2.7396881543622903e-05, 0.00011692070869461151, 6.29196552219136e-05, 0.0006136423869225312,
                0.00017919589843873394, 2.369417797378715e-06, 0.00016711253010340008, 6.631929098469177e-05,
                0.00014010664855707586, 7.408173020913317e-06, 3.294696682913977e-06, 5.708574482924364e-05,
                5.708574482924386e-05, 3.7487126618335054e-05, 7.413713550665594e-06, 6.912015147823892e-05,
                6.618513511175233e-05, 0.00013165982563703542, 3.71488966539198e-06, 0.00017919589843873218,
                0.0006136423869225415, 1.8017270676138777e-05, 3.321372814228814e-05, 2.7396881543622594e-05,
                4.628431793359399e-05, 1.0447924915736809e-05, 0.0002262622725616634, 4.501965610950506e-06
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [340.23960818550324, 208.76424898912035, 56.287043093091036, 262.70182356061],
                [307.54912579894557, -222.4686270334904, 209.8641228417918, -32.42259566066145],
                [352.2112660155509, 13.704378044370056, -266.1511659348827, -230.2792278999489],
            ],
            "msq": 9.347303036608364e-09,
            "helicity_resolved": [
                4.920349641152393e-06, 0.0006331677136404022, 1.6663670131194984e-05, 0.0004480456514672135,
                1.1990927936098922e-05, 0.0006603596733402776, 0.0001507956957083195, 0.002814330518760161,
                0.0006148591925647882, 5.080671003505257e-06, 0.0002689621985735334, 5.2230002650792724e-08,
                0.0024544063621083803, 0.0001047397663666204, 0.00014031125922186972, 3.0999736417406614e-05,
                3.099973641740662e-05, 0.0003786899770918528, 8.998676030818337e-05, 0.0018146568222942375,
                1.0819397643365882e-07, 1.6776299464715036e-05, 2.935072195030355e-06, 0.0006148591925647865,
                0.002814330518760175, 6.031120489165711e-06, 0.0002442729989256716, 1.1990927936098893e-05,
                0.00013630384480118303, 1.6663670131195062e-05, 0.0006331677136403989, 4.920349641152378e-06
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [343.5926236854282, 288.49564311336957, -91.72065658743843, 162.52223266620703],
                [468.1817259563866, -409.78301106857407, -38.86196478305663, -223.07344093879573],
                [188.2256503581848, 121.28736795520446, 130.58262137049505, 60.55120827258865],
            ],
            "msq": 7.643871819580193e-09,
            "helicity_resolved": [
                4.896511719185971e-05, 0.0002815881370551542, 0.00017721614145889324, 0.00033694925423184853,
                6.307685089958128e-05, 0.00022166595909446247, 0.0004771434090628776, 0.001923489615577793,
                0.0001949094806478302, 5.836782908752382e-05, 4.281367502534145e-05, 3.538804827068604e-05,
                0.000733875326116723, 0.0013928360630428738, 8.114195536168995e-05, 0.0002197255528985862,
                0.00021972555289858552, 5.938834373210913e-05, 0.0011268386953459928, 0.0008028441083926869,
                6.066603765874767e-05, 4.708614381155554e-05, 8.417360193834245e-05, 0.0001949094806478306,
                0.0019234896155777771, 0.0006482349699898533, 0.00030527955595964815, 6.307685089958131e-05,
                7.803533660733527e-05, 0.00017721614145889297, 0.00028158813705515573, 4.8965117191859816e-05
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [400.0686852608885, -343.22334075453307, 198.01141998356337, 55.17398702075472],
                [476.03476821167953, 452.11002093900476, -138.91404890917835, -53.930664083972644],
                [123.89654652743201, -108.88668018447174, -59.097371074385045, -1.2433229367821035],
            ],
            "msq": 1.1928397456916086e-08,
            "helicity_resolved": [
                0.00014745515521402265, 0.0004345910831926469, 0.0003298935664119735, 0.00031888713164758477,
                0.00017816366053498918, 0.0004994417040516192, 0.0015178461195641732, 0.0028162113662738796,
                0.00035582987640693205, 0.00019635830393095388, 0.0003876228590973413, 0.0003529078914944243,
                0.000772881888894787, 0.0008357068728104478, 0.00022597865816396056, 0.0003291743016176632,
                0.0003291743016176619, 0.00021535521112107527, 0.0007122749277588152, 0.0007895246963911712,
                0.0003505883849005916, 0.00039250682621382147, 0.00021557181415515926, 0.0003558298764069339,
                0.002816211366273858, 0.001583141238714821, 0.0005053412806839204, 0.00017816366053498983,
                0.00031249683942784727, 0.0003298935664119743, 0.00043459108319264875, 0.00014745515521402341
            ],
        },
    ],
    "points_2to2": [
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [500.0, -371.64795278691594, -147.9963381901504, 299.9581355316121],
                [500.0, 371.64795278691594, 147.9963381901504, -299.9581355316121],
            ],
            "msq": 1.9614623488959784e-05,
            "helicity_resolved": [
                1.0, 1.0, 1.0, 17.447623486185886, 1.0, 0.2190370930411056, 12.750598354086694, 1.0, 1.0,
                12.750598354086694, 0.2190370930411056, 1.0, 17.447623486185886, 1.0, 1.0, 1.0
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [500.0, -119.35501422251379, -479.7214234836981, -74.97823971471931],
                [500.0, 119.35501422251379, 479.7214234836981, 74.97823971471931],
            ],
            "msq": 1.2152007245809514e-05,
            "helicity_resolved": [
                1.0, 1.0, 1.0, 12.256392841075586, 1.0, 3.3229042726497586, 1.363045415897404, 1.0, 1.0,
                1.363045415897404, 3.3229042726497586, 1.0, 12.256392841075586, 1.0, 1.0, 1.0
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [500.0, -66.62071377235779, -314.1433441898017, 383.243577634002],
                [500.0, 66.62071377235779, 314.1433441898017, -383.243577634002],
            ],
            "msq": 3.0242173908936408e-05,
            "helicity_resolved": [
                1.0, 1.0, 1.0, 24.910641746942684, 1.0, 0.06766419280954707, 24.62865119312246, 1.0, 1.0,
                24.62865119312246, 0.06766419280954707, 1.0, 24.910641746942684, 1.0, 1.0, 1.0
            ],
        },
        {
            "momenta": [
                [500.0, 0.0, 0.0, 500.0],
                [500.0, 0.0, 0.0, -500.0],
                [500.0, 169.71246933013722, -272.38141504020854, 383.4136701978176],
                [500.0, -169.71246933013722, 272.38141504020854, -383.4136701978176],
            ],
            "msq": 3.027779833283424e-05,
            "helicity_resolved": [
                1.0, 1.0, 1.0, 24.935801284457526, 1.0, 0.0674543130612294, 24.668026983471208, 1.0, 1.0,
                24.668026983471208, 0.0674543130612294, 1.0, 24.935801284457526, 1.0, 1.0, 1.0
            ],
        },
    ],
}
# fmt: on
