"""Tests for activeamp.report.observables: pT, η, ΔR and VV observables, their axis labels."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.physics.process import get_process
from activeamp.report.observables import kinematic_observables, observable_label, observables_for, vv_observables
from tests.report.conftest import momenta


def test_kinematic_observables_names_and_values() -> None:
    p = momenta(50, "gg_yygg")
    obs = kinematic_observables(p, get_process("gg_yygg"))
    pts = ["pT_a1", "pT_a2", "pT_g1", "pT_g2"]
    assert [k for k in obs if k.startswith("pT")] == pts
    assert sum(k.startswith("dR_") for k in obs) == 6 and "dR_a1g2" in obs
    assert all(v.shape == (50,) for v in obs.values())
    assert np.all(obs["pT_a1"] >= obs["pT_a2"]) and np.all(obs["pT_g1"] >= obs["pT_g2"])
    photons = p[:, 2:4]
    pt = np.hypot(photons[..., 1], photons[..., 2])
    np.testing.assert_allclose(obs["pT_a1"], pt.max(axis=1))
    hard = np.take_along_axis(photons, np.argmax(pt, axis=1)[:, None, None], axis=1)[:, 0]
    np.testing.assert_allclose(obs["eta_a1"], np.arctanh(hard[:, 3] / np.linalg.norm(hard[:, 1:], axis=1)))
    unordered = kinematic_observables(p, get_process("gg_yygg"), pt_ordered=False)
    np.testing.assert_allclose(unordered["pT_a1"], pt[:, 0])


def test_delta_r_wraps_phi() -> None:
    p = np.zeros((1, 4, 4))
    p[0, 2] = [1.0, np.cos(3.1), np.sin(3.1), 0.0]
    p[0, 3] = [1.0, np.cos(-3.1), np.sin(-3.1), 0.0]
    obs = kinematic_observables(p, get_process("gg_yy"), pt_ordered=False)
    assert obs["dR_a1a2"][0] == pytest.approx(2 * np.pi - 6.2)


def test_kinematic_observables_shape_error() -> None:
    with pytest.raises(ValueError, match=r"process 'gg_yyg' needs \(N, 5, 4\)"):
        kinematic_observables(np.zeros((3, 4, 4)), get_process("gg_yyg"))


def test_observable_labels() -> None:
    assert observable_label("pT_a1") == r"$p_{T,\gamma_{1}}$ [GeV]"
    assert observable_label("eta_g2") == r"$\eta_{g_{2}}$"
    assert observable_label("dR_a1g1") == r"$\Delta R_{\gamma_{1}\,g_{1}}$"
    assert observable_label("dR_qb1q1") == r"$\Delta R_{\bar{q}_{1}\,q_{1}}$"
    assert observable_label("m_aa") == "m_aa" and observable_label("whatever") == "whatever"


def test_vv_observables_invert_the_map() -> None:
    from activeamp.physics.vv_phasespace import VVPhaseSpace

    sample = VVPhaseSpace("uu_ZZ").sample(300, np.random.default_rng(2))
    obs = vv_observables(sample.momenta)
    assert list(obs) == ["sqrt_s", "cos_theta", "m34", "m56"]
    np.testing.assert_allclose(obs["sqrt_s"] ** 2, sample.kinematics[:, 0], rtol=1e-12)
    np.testing.assert_allclose(obs["m34"] ** 2, sample.kinematics[:, 2], rtol=1e-9)
    assert np.all(np.abs(obs["cos_theta"]) <= 1.0)
    assert observables_for(sample.momenta, get_process("uu_ZZ")).keys() == obs.keys()
