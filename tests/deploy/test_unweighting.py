"""Tests of hit-or-miss unweighting, its overweights, the two-stage scheme and the cross-section estimate."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.deploy.unweighting import CrossSection, cross_section, hit_or_miss, reference_maximum


def test_reference_maximum_ignores_empty_weights_and_takes_quantiles() -> None:
    w = np.array([0.0, 1.0, 2.0, 3.0, np.nan, 4.0])
    assert reference_maximum(w) == 4.0
    assert reference_maximum(w, 0.5) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="quantile"):
        reference_maximum(w, 0.0)
    with pytest.raises(ValueError, match="no positive"):
        reference_maximum(np.zeros(3))


def test_kept_events_with_their_weights_follow_the_weighted_density_even_with_overweights() -> None:
    rng = np.random.default_rng(1)
    x = rng.random(400_000)
    w = x**2  # density ∝ x²: ⟨x⟩ = 3/4
    for w_max in (1.0, 0.3):  # 0.3: every point above x ≈ 0.55 is an overweight
        stage = hit_or_miss(w, w_max, rng)
        kx, kw = x[stage.kept], stage.event_weights[stage.kept]
        assert np.all(kw >= 1.0) and (stage.n_overweight > 0) == (w_max < 1.0)
        mean = np.sum(kx * kw) / np.sum(kw)
        assert mean == pytest.approx(0.75, abs=3e-3)
        assert stage.n_kept == pytest.approx(np.sum(np.minimum(w / w_max, 1.0)), rel=0.02)
    with pytest.raises(ValueError, match="negative"):
        hit_or_miss(-w, 1.0, rng)


def test_two_stages_with_a_biased_surrogate_give_the_exact_distribution() -> None:
    rng = np.random.default_rng(2)
    x = rng.random(1_000_000)
    exact = 1.0 + 4.0 * x**3  # ⟨x⟩ under it: (1/2 + 4/5) / (1 + 1) = 0.65
    surrogate = exact * (1.0 + 0.3 * np.sin(6.0 * x))  # 30 % wrong: its own ⟨x⟩ differs
    first = hit_or_miss(surrogate, surrogate.max(), rng)
    ratio = exact[first.kept] / surrogate[first.kept]
    second = hit_or_miss(ratio, 0.9 * ratio.max(), rng)  # with some overweights in the second stage too
    kx = x[first.kept][second.kept]
    kw = first.event_weights[first.kept][second.kept] * second.event_weights[second.kept]
    assert np.sum(kx * kw) / np.sum(kw) == pytest.approx(0.65, abs=3e-3)
    biased = np.sum(x[first.kept] * first.event_weights[first.kept]) / np.sum(first.event_weights[first.kept])
    assert abs(biased - 0.65) > 0.01  # the first stage alone is visibly wrong
    xs = cross_section(kw, surrogate.max() * 0.9 * ratio.max(), x.size)
    assert xs.value == pytest.approx(2.0, abs=4 * xs.error) and xs.error / xs.value < 0.01


def test_cross_section_equals_the_weighted_mean_of_all_trials() -> None:
    w = np.array([1.0, 2.0, 1.0])
    xs = cross_section(w, 0.5, 10)
    full = np.concatenate([w * 0.5, np.zeros(7)])
    assert xs.value == pytest.approx(full.mean())
    assert xs.error == pytest.approx(full.std(ddof=1) / np.sqrt(10))
    diff, err = CrossSection(1.1, 0.1).relative_to(CrossSection(1.0, 0.1))
    assert diff == pytest.approx(0.1) and err == pytest.approx(1.1 * np.hypot(0.1 / 1.1, 0.1))
