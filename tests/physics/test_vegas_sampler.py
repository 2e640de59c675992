"""Tests of the vegas-adapted phase-space sampler: adaptation, reproducibility, state, checks."""

from __future__ import annotations

import logging
import math
import pickle

import numpy as np
import pytest

from activeamp.physics import kinematics as K
from activeamp.physics.cuts import paper_cuts
from activeamp.physics.phasespace import PhaseSpaceSampler
from activeamp.physics.process import get_process
from activeamp.physics.vegas_sampler import VegasSampler

SQRT_S = 1000.0


def inverse_collinear(momenta: np.ndarray) -> np.ndarray:
    """An amplitude-like test function (GeV⁻² × 10¹²/…): 1/(s_35 s_45), enhanced where the gluon is collinear."""
    s = K.invariants(momenta)
    return 1e12 / (s[:, 8] * s[:, 9])


def test_fresh_vegas_map_is_the_identity() -> None:
    uniform = PhaseSpaceSampler("gg_yyg", SQRT_S, paper_cuts("gg_yyg")).sample(2000, 4)
    fresh = VegasSampler("gg_yyg", SQRT_S, paper_cuts("gg_yyg")).sample(2000, 4)
    np.testing.assert_allclose(fresh.momenta, uniform.momenta, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fresh.weights, uniform.weights, rtol=1e-12)


def test_vegas_and_uniform_agree_on_the_cut_phase_space_volume() -> None:
    cuts = paper_cuts("gg_yyg")
    uniform = PhaseSpaceSampler("gg_yyg", SQRT_S, cuts).sample(100_000, 1).integral()
    sampler = VegasSampler("gg_yyg", SQRT_S, cuts)
    history = sampler.adapt(None, 2, nitn=5, neval=10_000)
    assert len(history) == 5 and all(h.n_eval == 10_000 for h in history)
    adapted = sampler.sample(100_000, 3)
    assert not np.allclose(adapted.weights[adapted.passed], sampler.volume)  # the map is no longer trivial
    vegas_est = adapted.integral()
    diff = abs(vegas_est[0] - uniform[0])
    assert diff <= 4 * math.hypot(vegas_est[1], uniform[1])
    assert 0.8 * sampler.volume < uniform[0] < sampler.volume


def test_vegas_adaptation_reduces_the_variance_of_a_peaked_integrand() -> None:
    cuts = paper_cuts("gg_yyg")
    uniform = PhaseSpaceSampler("gg_yyg", SQRT_S, cuts).sample(100_000, 1)
    u_est = uniform.integral(inverse_collinear(uniform.momenta))
    sampler = VegasSampler("gg_yyg", SQRT_S, cuts)
    history = sampler.adapt(inverse_collinear, 2, nitn=8, neval=20_000)
    adapted = sampler.sample(100_000, 3, only_accepted=True)
    v_est = adapted.integral(inverse_collinear(adapted.momenta))
    assert abs(v_est[0] - u_est[0]) <= 4 * math.hypot(v_est[1], u_est[1])
    assert v_est[1] < 0.8 * u_est[1]
    for h in history:  # each iteration is itself an unbiased estimate
        assert abs(h.integral - u_est[0]) <= 4 * math.hypot(h.error, u_est[1])


def test_vegas_evaluates_f_only_inside_the_cuts() -> None:
    cuts = paper_cuts("gg_yyg")
    seen: list[int] = []

    def f(momenta: np.ndarray) -> np.ndarray:
        assert cuts.mask(momenta, "gg_yyg").all()
        seen.append(momenta.shape[0])
        return np.ones(momenta.shape[0])

    history = VegasSampler("gg_yyg", SQRT_S, cuts).adapt(f, 0, nitn=2, neval=2000)
    assert seen == [round(h.acceptance * 2000) for h in history]


def test_vegas_checks_f_and_tolerates_vanishing_f(caplog: pytest.LogCaptureFixture) -> None:
    sampler = VegasSampler("gg_yyg", SQRT_S, paper_cuts("gg_yyg"))
    with pytest.raises(ValueError, match="f returned shape"):
        sampler.adapt(lambda m: np.ones(3), 0, nitn=1, neval=100)
    grid = sampler.get_state()["grid"]
    with caplog.at_level(logging.WARNING, logger="activeamp.physics.vegas_sampler"):
        sampler.adapt(lambda m: np.zeros(m.shape[0]), 0, nitn=1, neval=100)
    assert "map left unchanged" in caplog.text
    np.testing.assert_array_equal(sampler.get_state()["grid"], grid)


def test_vegas_seeds_reproduce_and_state_round_trips() -> None:
    cuts = paper_cuts("gg_yyg")

    def adapted(seed: int) -> VegasSampler:
        s = VegasSampler("gg_yyg", SQRT_S, cuts, ninc=20)
        s.adapt(inverse_collinear, seed, nitn=3, neval=5000)
        return s

    a, b, c = adapted(1), adapted(1), adapted(2)
    np.testing.assert_array_equal(a.get_state()["grid"], b.get_state()["grid"])
    assert not np.array_equal(a.get_state()["grid"], c.get_state()["grid"])
    sa, sb, sc = a.sample(500, 8), b.sample(500, 8), c.sample(500, 8)
    np.testing.assert_array_equal(sa.momenta, sb.momenta)
    np.testing.assert_array_equal(sa.weights, sb.weights)
    assert not np.allclose(sa.momenta[:, 2:], sc.momenta[:, 2:])
    # pickling the whole sampler (e.g. to a Ray actor) keeps the map
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.sample(500, 8).momenta, sa.momenta)
    # moving only the state into a fresh sampler
    fresh = VegasSampler("gg_yyg", SQRT_S, cuts)
    fresh.set_state(pickle.loads(pickle.dumps(a.get_state())))
    s_fresh = fresh.sample(500, 8)
    np.testing.assert_array_equal(s_fresh.momenta, sa.momenta)
    np.testing.assert_array_equal(s_fresh.weights, sa.weights)


def test_vegas_set_state_rejects_bad_grids() -> None:
    sampler = VegasSampler("gg_yyg")
    with pytest.raises(ValueError, match="missing key 'grid'"):
        sampler.set_state({})
    with pytest.raises(ValueError, match=r"shape \(12, ninc\+1\)"):
        sampler.set_state({"grid": np.tile(np.linspace(0, 1, 5), (8, 1))})
    with pytest.raises(ValueError, match="increase strictly from 0 to 1"):
        sampler.set_state({"grid": np.tile([0.0, 0.6, 0.5, 1.0], (12, 1))})
    with pytest.raises(ValueError, match="ninc"):
        VegasSampler("gg_yyg", ninc=0)


@pytest.mark.parametrize("name", ["uu_ZZ", "dd_ZZ", "ud_WZ", "uu_WW"])
def test_vegas_sampler_refuses_processes_with_massive_particles(name: str) -> None:
    message = f"process {name} has massive particles; sample it with activeamp.physics.vv_phasespace.VVPhaseSpace"
    with pytest.raises(ValueError, match=message):
        VegasSampler(get_process(name), cuts=None)
