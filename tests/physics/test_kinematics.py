"""Tests of the kinematic observables: hand-built momenta, identities, Lorentz and longitudinal invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activeamp.physics import kinematics as K
from activeamp.physics.phasespace import rambo


def massless(pt: float, eta: float, phi: float) -> np.ndarray:
    """Massless four-momentum ``(E, px, py, pz)`` from pT (GeV), η and φ."""
    return np.array([pt * math.cosh(eta), pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)])


def rotation(a: float, b: float, c: float) -> np.ndarray:
    """Rotation matrix from Euler angles (z-y-z)."""

    def rz(t: float) -> np.ndarray:
        return np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])

    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    return rz(a) @ ry @ rz(c)


def test_single_particle_observables_on_hand_built_momenta() -> None:
    p = np.array(
        [
            [5.0, 3.0, 4.0, 0.0],  # pT 5, central, massless
            [13.0, 0.0, 5.0, 12.0],  # pT 5, pz 12
            [2.0, -1.0, 0.0, 0.0],  # massive, along −x
        ]
    )
    np.testing.assert_allclose(K.pt(p), [5.0, 5.0, 1.0])
    np.testing.assert_allclose(K.pt2(p), [25.0, 25.0, 1.0])
    np.testing.assert_allclose(K.mass_squared(p), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(K.pseudorapidity(p), [0.0, math.asinh(12 / 5), 0.0])
    # massless: y = η = ln((E + pz)/pT) = ln(25/5)
    np.testing.assert_allclose(K.rapidity(p[1]), math.log(5.0))
    np.testing.assert_allclose(K.pseudorapidity(p[1]), math.log(5.0))
    np.testing.assert_allclose(K.phi(p), [math.atan2(4, 3), math.pi / 2, math.pi])
    # η = 1 exactly when pz/pT = sinh 1
    np.testing.assert_allclose(K.pseudorapidity(massless(40.0, 1.0, 0.3)), 1.0, rtol=1e-14)
    np.testing.assert_allclose(K.pseudorapidity(massless(40.0, -2.37, 0.3)), -2.37, rtol=1e-14)


def test_rapidity_differs_from_pseudorapidity_for_massive_particles() -> None:
    p = np.array([5.0, 0.0, 3.0, 3.0])  # m² = 7
    assert K.pseudorapidity(p) == pytest.approx(math.asinh(1.0))
    assert K.rapidity(p) == pytest.approx(0.5 * math.log(8.0 / 2.0))
    assert K.rapidity(p) < K.pseudorapidity(p)


def test_beam_particles_have_infinite_rapidity() -> None:
    beam = np.array([[500.0, 0.0, 0.0, 500.0], [500.0, 0.0, 0.0, -500.0]])
    assert np.array_equal(K.pseudorapidity(beam), [np.inf, -np.inf])
    assert np.array_equal(K.rapidity(beam), [np.inf, -np.inf])


def test_wrap_phi_examples() -> None:
    np.testing.assert_allclose(
        K.wrap_phi(np.array([0.0, 1.5 * math.pi, -1.5 * math.pi, 2 * math.pi, 7.0, -0.3])),
        [0.0, -0.5 * math.pi, 0.5 * math.pi, 0.0, 7.0 - 2 * math.pi, -0.3],
        atol=1e-15,
    )


@given(st.floats(-100.0, 100.0, allow_nan=False))
def test_wrap_phi_range_and_periodicity(x: float) -> None:
    w = float(K.wrap_phi(np.array(x)))
    assert -math.pi - 1e-12 <= w <= math.pi + 1e-12
    k = (x - w) / (2 * math.pi)
    assert abs(k - round(k)) < 1e-9


def test_delta_phi_and_delta_r_across_the_pi_boundary() -> None:
    a = massless(50.0, 0.2, math.pi - 0.1)
    b = massless(70.0, 0.5, -math.pi + 0.15)
    # Δφ = (π − 0.1) − (−π + 0.15) = 2π − 0.25 → −0.25 after wrapping
    assert float(K.delta_phi(a, b)) == pytest.approx(-0.25, abs=1e-12)
    assert float(K.delta_phi(b, a)) == pytest.approx(0.25, abs=1e-12)
    assert float(K.delta_r(a, b)) == pytest.approx(math.hypot(0.3, 0.25), rel=1e-12)
    assert float(K.delta_r(a, b, use_rapidity=True)) == pytest.approx(math.hypot(0.3, 0.25), rel=1e-12)
    assert float(K.delta_r(a, a)) == 0.0
    back_to_back = float(K.delta_r(massless(10.0, 0.0, 0.0), massless(10.0, 0.0, math.pi)))
    assert back_to_back == pytest.approx(math.pi)


def test_minkowski_dot_and_broadcasting() -> None:
    p = np.array([4.0, 1.0, 2.0, 3.0])
    q = np.array([[2.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    np.testing.assert_allclose(K.minkowski_dot(p, q), [8.0 - 2.0 - 3.0, 4.0 - 1.0])
    assert K.minkowski_dot(p, q).shape == (2,)


def test_invariants_matrix_and_vector_agree_and_satisfy_sum_rules() -> None:
    momenta, _ = rambo(50, 4, np.random.default_rng(3), sqrt_s=1000.0)
    n = momenta.shape[1]
    k = K.all_outgoing(momenta)
    mat = K.invariants_matrix(k)
    vec = K.invariants(k)
    assert mat.shape == (50, n, n) and vec.shape == (50, n * (n - 1) // 2)
    np.testing.assert_allclose(mat, np.swapaxes(mat, 1, 2))
    i, j = K.pair_indices(n)
    np.testing.assert_allclose(mat[:, i, j], vec)
    scale = 1000.0**2
    assert np.max(np.abs(np.diagonal(mat, axis1=1, axis2=2))) < 1e-9 * scale  # massless
    np.testing.assert_allclose(vec[:, 0], scale, rtol=1e-12)  # s_12 = s
    assert np.all(vec[:, 1 : n - 1] < 0)  # s_1j = −2 p1·pj < 0 after crossing
    # (Σ k_i)² = 0 with massless k_i  ⇒  Σ_{i<j} s_ij = 0
    assert np.max(np.abs(vec.sum(axis=1))) < 1e-9 * scale
    # for the physical momenta: s = (p3 + … + pn)² = Σ_{3≤i<j} s_ij
    outgoing = K.invariants(momenta[:, 2:])
    np.testing.assert_allclose(outgoing.sum(axis=1), scale, rtol=1e-12)


def test_pair_indices_order() -> None:
    i, j = K.pair_indices(4)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_all_outgoing_crosses_incoming_only_and_copies() -> None:
    momenta, _ = rambo(5, 3, 0)
    original = momenta.copy()
    k = K.all_outgoing(momenta)
    np.testing.assert_array_equal(momenta, original)
    np.testing.assert_array_equal(k[:, :2], -momenta[:, :2])
    np.testing.assert_array_equal(k[:, 2:], momenta[:, 2:])
    assert np.max(np.abs(k.sum(axis=1))) < 1e-9 * 1000.0


def test_boost_gives_particle_at_rest_the_velocity_and_inverts() -> None:
    beta = np.array([0.3, -0.2, 0.6])
    gamma = 1 / math.sqrt(1 - beta @ beta)
    rest = np.array([2.0, 0.0, 0.0, 0.0])
    moved = K.boost(rest, beta)
    np.testing.assert_allclose(moved, [2.0 * gamma, *(2.0 * gamma * beta)], rtol=1e-14)
    momenta, _ = rambo(10, 3, 1)
    back = K.boost(K.boost(momenta, beta), -beta)
    np.testing.assert_allclose(back, momenta, atol=1e-9)
    np.testing.assert_allclose(K.boost(momenta, np.zeros(3)), momenta)
    with pytest.raises(ValueError, match="beta"):
        K.boost(momenta, np.array([0.0, 0.0, 1.0]))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    beta=st.tuples(*3 * [st.floats(-0.55, 0.55)]),
    angles=st.tuples(st.floats(0, 2 * math.pi), st.floats(0, math.pi), st.floats(0, 2 * math.pi)),
)
def test_invariants_and_masses_are_lorentz_invariant(
    seed: int, beta: tuple[float, float, float], angles: tuple[float, float, float]
) -> None:
    momenta, _ = rambo(8, 3, seed)
    transformed = K.boost(momenta, np.array(beta))
    transformed[..., 1:] = transformed[..., 1:] @ rotation(*angles).T
    scale = 1000.0**2
    np.testing.assert_allclose(K.invariants(transformed), K.invariants(momenta), atol=1e-9 * scale)
    np.testing.assert_allclose(K.mass_squared(transformed), 0.0, atol=1e-9 * scale)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), beta_z=st.floats(-0.95, 0.95), angle=st.floats(-10.0, 10.0))
def test_pt_and_delta_r_are_invariant_under_longitudinal_boosts_and_azimuthal_rotations(
    seed: int, beta_z: float, angle: float
) -> None:
    momenta, _ = rambo(8, 4, seed)
    out = momenta[:, 2:]
    moved = K.boost(out, np.array([0.0, 0.0, beta_z]))
    moved[..., 1:] = moved[..., 1:] @ rotation(angle, 0.0, 0.0).T
    np.testing.assert_allclose(K.pt(moved), K.pt(out), rtol=1e-9)
    # rapidity shifts by artanh(β_z) for every particle
    shift = K.rapidity(moved) - K.rapidity(out)
    np.testing.assert_allclose(shift, math.atanh(beta_z), atol=1e-8)
    i, j = K.pair_indices(out.shape[1])
    np.testing.assert_allclose(
        K.delta_r(moved[:, i], moved[:, j]), K.delta_r(out[:, i], out[:, j]), rtol=1e-8, atol=1e-8
    )


def test_as_momenta_validates() -> None:
    good = np.zeros((3, 5, 4), dtype=np.float32)
    out = K.as_momenta(good, 5)
    assert out.dtype == np.float64 and out.shape == (3, 5, 4)
    with pytest.raises(ValueError, match=r"momenta: expected shape \(N, n_particles, 4\), got \(3, 4\)"):
        K.as_momenta(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="expected 4 particles per point"):
        K.as_momenta(good, 4)
    bad = np.zeros((1, 2, 4))
    bad[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        K.as_momenta(bad)


# --------------------------------------------------------------------------- q q̄′ → V1 V2


def test_vv_variables_invariants_and_momenta_invert_each_other() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    m34, m56 = rng.uniform(40.0, 120.0, n), rng.uniform(40.0, 120.0, n)
    variables = np.stack([m34 + m56 + rng.uniform(1.0, 800.0, n), rng.uniform(-1, 1, n), m34, m56], axis=1)
    kin = K.vv_invariants_from_variables(variables)
    np.testing.assert_allclose(K.vv_variables(kin), variables, rtol=1e-9, atol=1e-9)
    p = K.vv_momenta(kin)
    assert p.shape == (n, 4, 4)
    np.testing.assert_allclose(K.vv_invariants(p), kin, rtol=1e-11, atol=1e-6)
    # Lorentz invariant: any frame gives the same invariants (to round-off of the boosted components)
    np.testing.assert_allclose(K.vv_invariants(K.boost(p, [0.0, 0.0, 0.7])), kin, rtol=1e-10, atol=1e-5)
    assert K.kallen(np.float64(4.0), np.float64(1.0), np.float64(1.0)) == 0.0  # threshold: √s = m_a + m_b
    with pytest.raises(ValueError, match=r"expected shape \(N, 4, 4\)"):
        K.vv_invariants(p[:, :3])
