"""Tests of RAMBO, the unit-hypercube interface and the uniform phase-space sampler."""

from __future__ import annotations

import math

import numpy as np
import pytest

from activeamp.physics import kinematics as K
from activeamp.physics.cuts import paper_cuts
from activeamp.physics.phasespace import (
    PhaseSpaceSample,
    PhaseSpaceSampler,
    massless_phase_space_volume,
    rambo,
    rambo_from_unit,
)
from activeamp.physics.process import get_process

SQRT_S = 1000.0


def within(estimate: float, error: float, expected: float, n_sigma: float = 4.0) -> bool:
    return abs(estimate - expected) <= n_sigma * error


def mean_and_error(x: np.ndarray) -> tuple[float, float]:
    return float(np.mean(x)), float(np.std(x, ddof=1) / math.sqrt(x.size))


# --------------------------------------------------------------------------- phase-space volume


def test_phase_space_volume_closed_forms() -> None:
    s = SQRT_S**2
    assert massless_phase_space_volume(2, SQRT_S) == pytest.approx(1 / (8 * math.pi), rel=1e-14)
    assert massless_phase_space_volume(2, 13.0) == pytest.approx(1 / (8 * math.pi), rel=1e-14)
    assert massless_phase_space_volume(3, SQRT_S) == pytest.approx(s / (256 * math.pi**3), rel=1e-14)
    assert massless_phase_space_volume(4, SQRT_S) == pytest.approx(s**2 / (3 * 2**13 * math.pi**5), rel=1e-14)


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_phase_space_volume_obeys_the_recursion(n: int) -> None:
    # Φ_n(s) = ∫_0^s dM²/(2π) Φ_2(s; M², 0) Φ_{n−1}(M²), Φ_2(s; M², 0) = (1 − M²/s)/(8π)
    # ⇒ V_n(s) = V_{n−1}(s) s / (16 π² (n−1)(n−2)).
    s = SQRT_S**2
    expected = massless_phase_space_volume(n - 1, SQRT_S) * s / (16 * math.pi**2 * (n - 1) * (n - 2))
    assert massless_phase_space_volume(n, SQRT_S) == pytest.approx(expected, rel=1e-13)


def test_phase_space_volume_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="n >= 2"):
        massless_phase_space_volume(1, SQRT_S)
    with pytest.raises(ValueError, match="sqrt_s"):
        massless_phase_space_volume(3, -1.0)


# --------------------------------------------------------------------------- RAMBO


@pytest.mark.parametrize("n", [2, 3, 4])
def test_rambo_momenta_are_physical(n: int) -> None:
    momenta, weights = rambo(20_000, n, np.random.default_rng(n), sqrt_s=SQRT_S)
    assert momenta.shape == (20_000, 2 + n, 4) and momenta.dtype == np.float64
    assert weights.shape == (20_000,) and weights.dtype == np.float64
    e = SQRT_S / 2
    np.testing.assert_array_equal(momenta[:, 0], np.broadcast_to([e, 0, 0, e], (20_000, 4)))
    np.testing.assert_array_equal(momenta[:, 1], np.broadcast_to([e, 0, 0, -e], (20_000, 4)))
    assert np.all(momenta[:, 2:, 0] > 0)
    total = momenta[:, 2:].sum(axis=1)
    incoming = momenta[:, 0] + momenta[:, 1]
    assert np.max(np.abs(total - incoming)) <= 1e-12 * SQRT_S
    # masslessness, relative to E²
    assert np.max(np.abs(K.mass_squared(momenta[:, 2:])) / momenta[:, 2:, 0] ** 2) <= 1e-12
    # √s from the outgoing momenta
    np.testing.assert_allclose(np.sqrt(K.mass_squared(total)), SQRT_S, rtol=1e-12)
    # the weight is the constant phase-space volume, and the MC mean weight is the volume
    volume = massless_phase_space_volume(n, SQRT_S)
    np.testing.assert_allclose(weights, volume, rtol=1e-15)
    sample = PhaseSpaceSampler({2: "gg_yy", 3: "gg_yyg", 4: "gg_yygg"}[n]).sample(1000, 0)
    assert sample.integral() == pytest.approx((volume, 0.0), rel=1e-14, abs=1e-12 * volume)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_rambo_is_flat_in_phase_space(n: int) -> None:
    """Energy fractions x = 2E/√s of flat massless n-body phase space have density ∝ x (1−x)^(n−3)."""
    momenta, _ = rambo(40_000, n, np.random.default_rng(10 + n), sqrt_s=SQRT_S)
    x = 2 * momenta[:, 2:, 0] / SQRT_S
    m2, e2 = mean_and_error(x.ravel() ** 2)
    assert within(m2, e2 * math.sqrt(n), 6 / (n * (n + 1)))  # ⟨x²⟩ = B(4, n−2)/B(2, n−2); √n: correlated
    # isotropy of every particle: ⟨cos θ⟩ = 0, ⟨cos² θ⟩ = 1/3, ⟨cos φ⟩ = 0
    cos_t = momenta[:, 2:, 3] / momenta[:, 2:, 0]
    for i in range(n):
        assert within(*mean_and_error(cos_t[:, i]), 0.0)
        assert within(*mean_and_error(cos_t[:, i] ** 2), 1 / 3)
        assert within(*mean_and_error(np.cos(K.phi(momenta[:, 2 + i]))), 0.0)


def test_rambo_three_body_dalitz_fraction() -> None:
    """Flat 3-body phase space is flat in the Dalitz plot: P(E_3 < √s/4) = P(x_3 < 1/2) = 1/4."""
    momenta, _ = rambo(40_000, 3, np.random.default_rng(5))
    inside = (2 * momenta[:, 4, 0] / SQRT_S < 0.5).astype(float)
    assert within(*mean_and_error(inside), 0.25)
    s12 = K.invariants(momenta[:, 2:])[:, 0]
    below = (s12 < SQRT_S**2 / 2).astype(float)  # s_34 = s (1 − x_5) < s/2 ⇔ x_5 > 1/2
    assert within(*mean_and_error(below), 0.75)


@pytest.mark.parametrize("n", [2, 3])
def test_rambo_stays_exact_for_nearly_collinear_seed_momenta(n: int) -> None:
    """Nearly collinear isotropic momenta make the RAMBO boost huge (γ ~ 10⁶); the output must stay physical."""
    u = np.tile([0.9, 0.3, 0.5, 0.5], (5, n))
    eps = np.array([1e-3, 1e-4, 1e-5, 1e-6, 1e-7])
    u[:, 4] += eps  # particle 1: slightly different cos θ
    u[:, 5] += eps  # and φ
    momenta, _ = rambo_from_unit(u, SQRT_S)
    out = momenta[:, 2:]
    assert np.max(np.abs(out.sum(axis=1) - [SQRT_S, 0, 0, 0])) <= 1e-12 * SQRT_S
    assert np.max(np.abs(K.mass_squared(out)) / out[..., 0] ** 2) <= 1e-12
    assert np.all(out[..., 0] > 0)


def test_rambo_two_body_is_back_to_back() -> None:
    momenta, _ = rambo(100, 2, 1)
    np.testing.assert_allclose(momenta[:, 2, 0], SQRT_S / 2, rtol=1e-12)
    np.testing.assert_allclose(momenta[:, 2, 1:], -momenta[:, 3, 1:], atol=1e-9)


def test_rambo_from_unit_matches_rambo_and_does_not_modify_input() -> None:
    u = np.random.default_rng(7).random((100, 12))
    for arr in (u, np.asfortranarray(u)):
        copy = arr.copy()
        momenta, weights = rambo_from_unit(arr, SQRT_S)
        np.testing.assert_array_equal(arr, copy)
        m2, w2 = rambo(100, 3, np.random.default_rng(7), SQRT_S)
        np.testing.assert_array_equal(momenta, m2)
        np.testing.assert_array_equal(weights, w2)


def test_rambo_from_unit_edges_of_the_hypercube_stay_finite() -> None:
    u = np.random.default_rng(0).random((4, 12))
    u[0, :4] = 0.0  # cos θ = −1, φ = 0, r3 = r4 = 0 (log guarded)
    u[1, 4:8] = 1.0  # cos θ = 1, φ = 2π, r3 = r4 = 1 (zero-energy seed momentum)
    u[2, 2::4] = 0.0
    u[3, 3::4] = 1.0 - 1e-16
    momenta, _ = rambo_from_unit(u, SQRT_S)
    assert np.all(np.isfinite(momenta))
    assert np.max(np.abs(momenta[:, 2:].sum(axis=1) - [SQRT_S, 0, 0, 0])) <= 1e-9 * SQRT_S


def test_rambo_from_unit_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"shape \(N, 4n\)"):
        rambo_from_unit(np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"shape \(N, 4n\)"):
        rambo_from_unit(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rambo_from_unit(np.full((3, 8), 1.5))
    with pytest.raises(TypeError, match="Generator or an integer seed"):
        rambo(3, 3, "seed")  # type: ignore[arg-type]


def test_rambo_seeds_reproduce() -> None:
    a, _ = rambo(1000, 3, 42)
    b, _ = rambo(1000, 3, np.random.default_rng(42))
    c, _ = rambo(1000, 3, 43)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[:, 2:], c[:, 2:])


def test_rambo_scales_with_sqrt_s() -> None:
    u = np.random.default_rng(3).random((10, 16))
    a, wa = rambo_from_unit(u, 1000.0)
    b, wb = rambo_from_unit(u, 250.0)
    np.testing.assert_allclose(b, a / 4, rtol=1e-14)
    np.testing.assert_allclose(wb, wa / 4**4, rtol=1e-13)  # V_4 ∝ s²


# --------------------------------------------------------------------------- uniform sampler


def test_sampler_unfiltered_zeroes_failing_weights() -> None:
    cuts = paper_cuts("gg_yyg")
    sampler = PhaseSpaceSampler("gg_yyg", SQRT_S, cuts, chunk_size=1000)
    sample = sampler.sample(5000, 11)
    assert isinstance(sample, PhaseSpaceSample) and len(sample) == 5000 and sample.n_trials == 5000
    assert sample.momenta.shape == (5000, 5, 4)
    np.testing.assert_array_equal(sample.passed, cuts.mask(sample.momenta, "gg_yyg"))
    assert 0.5 < sample.acceptance < 1.0  # the cuts remove a part, not all
    np.testing.assert_array_equal(sample.weights[~sample.passed], 0.0)
    np.testing.assert_array_equal(sample.weights[sample.passed], sampler.volume)


def test_sampler_stream_is_independent_of_chunking() -> None:
    big = PhaseSpaceSampler("gg_yyg", chunk_size=700).sample(3000, 5)
    small = PhaseSpaceSampler("gg_yyg", chunk_size=4096).sample(1200, 5)
    np.testing.assert_array_equal(big.momenta[:1200], small.momenta)
    ref, _ = rambo(3000, 3, 5)
    np.testing.assert_array_equal(big.momenta, ref)


def test_only_accepted_returns_the_first_accepted_points_of_the_stream() -> None:
    cuts = paper_cuts("gg_yyg")
    # Tighten the cuts so that rejection is frequent.
    from activeamp.physics.cuts import KindCut

    tight = cuts & KindCut("jet", pt_min=150.0)
    sampler = PhaseSpaceSampler("gg_yyg", SQRT_S, tight, chunk_size=512)
    accepted = sampler.sample(1000, 9, only_accepted=True)
    assert len(accepted) == 1000 and accepted.passed.all()
    assert np.all(tight.mask(accepted.momenta, "gg_yyg"))
    stream = PhaseSpaceSampler("gg_yyg", SQRT_S, tight, chunk_size=999).sample(accepted.n_trials, 9)
    np.testing.assert_array_equal(stream.momenta[stream.passed], accepted.momenta)
    assert stream.passed[-1]  # n_trials ends at the last accepted point
    assert accepted.acceptance == pytest.approx(stream.acceptance)
    # both forms give the same integral estimate (the same points, the same zeros)
    assert accepted.integral() == pytest.approx(stream.integral(), rel=1e-12)


def test_sample_without_cuts_and_edge_sizes() -> None:
    sampler = PhaseSpaceSampler(get_process("gg_yy"))
    s0 = sampler.sample(0, 1, only_accepted=True)
    assert s0.momenta.shape == (0, 4, 4)
    s = sampler.sample(10, 1, only_accepted=True)
    assert s.passed.all() and s.n_trials == 10
    with pytest.raises(ValueError, match="non-negative"):
        sampler.sample(-1, 1)
    with pytest.raises(ValueError, match="chunk_size"):
        PhaseSpaceSampler("gg_yy", chunk_size=0)
    assert "gg_yy" in repr(sampler)


def test_impossible_cuts_raise_instead_of_looping(monkeypatch: pytest.MonkeyPatch) -> None:
    from activeamp.physics import phasespace
    from activeamp.physics.cuts import KindCut

    monkeypatch.setattr(phasespace, "_MAX_TRIALS_WITHOUT_ACCEPTANCE", 10_000)
    sampler = PhaseSpaceSampler("gg_yyg", SQRT_S, KindCut("photon", pt_min=600.0), chunk_size=2048)
    message = r"no point passed the cuts in 1\d{4} trials .*acceptance < 2.9e-04 at 95 % CL"
    with pytest.raises(ValueError, match=message):
        sampler.sample(5, 0, only_accepted=True)


def test_sample_integral_validates_values() -> None:
    sample = PhaseSpaceSampler("gg_yyg").sample(10, 0)
    with pytest.raises(ValueError, match=r"expected shape \(10,\)"):
        sample.integral(np.ones(3))


# --------------------------------------------------------------------------- massive processes


@pytest.mark.parametrize("name", ["uu_ZZ", "dd_ZZ", "ud_WZ", "uu_WW"])
def test_sampler_refuses_processes_with_massive_particles(name: str) -> None:
    message = f"process {name} has massive particles; sample it with activeamp.physics.vv_phasespace.VVPhaseSpace"
    with pytest.raises(ValueError, match=message):
        PhaseSpaceSampler(name)


def test_mc_integral_counts_the_trials_not_given_as_zeros() -> None:
    from activeamp.physics.phasespace import mc_integral

    full = np.array([2.0, 1.0, 0.0, 0.0, 0.0])
    mean, err = mc_integral(np.array([2.0, 1.0]), 5)
    assert mean == pytest.approx(full.mean()) and err == pytest.approx(full.std(ddof=1) / np.sqrt(5))
    with pytest.raises(ValueError, match="two trials"):
        mc_integral(np.ones(1), 1)
