"""Tests of the q q̄′ → V1 V2 phase-space map: ranges, inverse, Jacobian, options, the sampler interface."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.physics import kinematics as K
from activeamp.physics.process import VV_PROCESSES, get_process
from activeamp.physics.vv_phasespace import VV_RANGES, VVPhaseSpace


def test_vv_phase_space_mapping_and_inverse() -> None:
    assert set(VV_RANGES) == set(VV_PROCESSES)
    ps = VVPhaseSpace("uu_ZZ")
    sample = ps.sample(2000, np.random.default_rng(1))
    kin = sample.kinematics
    rs, cos, m34, m56 = K.vv_variables(kin).T
    assert rs.min() >= 200 and rs.max() <= 1000 and np.abs(cos).max() <= 1
    assert m34.min() >= 66 and m34.max() <= 116 and m56.min() >= 66 and (m34 + m56 < rs).all()
    np.testing.assert_allclose(ps.to_unit(kin), sample.unit, atol=1e-9)
    p = sample.momenta
    np.testing.assert_allclose(p[:, 0] + p[:, 1] - p[:, 2] - p[:, 3], 0, atol=1e-9)
    np.testing.assert_allclose(K.mass_squared(p[:, 2]), kin[:, 2], rtol=1e-9)
    np.testing.assert_allclose(K.mass_squared(p[:, 3]), kin[:, 3], rtol=1e-9)
    np.testing.assert_allclose(K.mass_squared(p[:, 0] - p[:, 2]), kin[:, 1], rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("sqrt_s_map", ["linear", "log"])
def test_vv_phase_space_jacobian(sqrt_s_map: str) -> None:
    ps = VVPhaseSpace("ud_WZ", sqrt_s_range=(110.0, 400.0), sqrt_s_map=sqrt_s_map)  # thresholds bind here
    u = np.random.default_rng(2).uniform(0.05, 0.95, (20, 4))
    _, w = ps.from_unit(u)
    h = 1e-6
    for k in range(len(u)):
        jac = np.empty((4, 4))
        for d in range(4):
            up, dn = u[k : k + 1].copy(), u[k : k + 1].copy()
            up[0, d] += h
            dn[0, d] -= h
            jac[:, d] = (K.vv_variables(ps.from_unit(up)[0]) - K.vv_variables(ps.from_unit(dn)[0]))[0] / (2 * h)
        assert w[k] == pytest.approx(abs(np.linalg.det(jac)), rel=1e-5)
    flat = VVPhaseSpace("uu_ZZ", sqrt_s_range=(240.0, 1000.0))  # no threshold constraint binds: constant weight
    np.testing.assert_allclose(flat.sample(100, 3).weights, 760.0 * 2 * 50.0 * 50.0)


def test_vv_phase_space_options_are_checked() -> None:
    with pytest.raises(ValueError, match="not above m34_min"):
        VVPhaseSpace("uu_ZZ", sqrt_s_range=(100.0, 1000.0))
    with pytest.raises(ValueError, match="m34_range must be"):
        VVPhaseSpace("uu_ZZ", m34_range=(120.0, 60.0))
    with pytest.raises(ValueError, match="sqrt_s_map must be"):
        VVPhaseSpace("uu_ZZ", sqrt_s_map="cubic")
    with pytest.raises(KeyError, match="process 'gg_yyg' is not a q q̄′ → V1 V2 process"):
        VVPhaseSpace("gg_yyg")


def test_vv_phase_space_sample_is_a_drop_in_for_the_active_loop() -> None:
    ps = VVPhaseSpace("uu_WW")
    a = ps.sample(20, np.random.default_rng(8), only_accepted=True)
    b = ps.sample(20, np.random.default_rng(8), only_accepted=False)
    np.testing.assert_array_equal(a.kinematics, b.kinematics)
    assert a.momenta.shape == (20, 4, 4) and len(a) == 20
    assert ps.process is get_process("uu_WW") and ps.process.kinds[2:] == ("W", "W") and ps.dim == 4
    assert VVPhaseSpace(get_process("dd_ZZ")).m34_range == VV_RANGES["dd_ZZ"].m34_range
