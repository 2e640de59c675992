"""Tests of two-stage and direct unweighting on phase space (activeamp.deploy.generate)."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.deploy.generate import GenerateSettings, direct_events, two_stage_events
from activeamp.physics.cuts import paper_cuts
from activeamp.physics.phasespace import PhaseSpaceSampler
from oracles.mock import MockOracle


class CountingOracle:
    """The mock oracle for g g → γ γ, counting the points it labels."""

    def __init__(self) -> None:
        self.oracle = MockOracle(process="gg_yy")
        self.calls = 0

    def __call__(self, momenta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls += len(momenta)
        result = self.oracle.evaluate(momenta)
        return result.values, result.ok


def biased_surrogate(oracle: CountingOracle) -> object:
    """A surrogate 20 % off in a smooth pattern (cos θ of the first photon), with σ_tot = 0.2 ⟨A⟩."""

    def predict(momenta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = oracle.oracle.evaluate(momenta).values
        cos = momenta[:, 2, 3] / momenta[:, 2, 0]
        mean = a * (1.0 + 0.2 * cos)
        return mean, 0.2 * mean

    return predict


@pytest.fixture(scope="module")
def sampler() -> PhaseSpaceSampler:
    return PhaseSpaceSampler("gg_yy", 1000.0, paper_cuts("gg_yy"))


def test_two_stage_events_follow_the_oracle_and_call_it_only_on_first_stage_events(
    sampler: PhaseSpaceSampler,
) -> None:
    settings = GenerateSettings(n_events=4000, batch_size=20_000, pilot=20_000, ratio_pilot=200, seed=3)
    oracle = CountingOracle()
    events, report = two_stage_events(biased_surrogate(oracle), oracle, sampler, settings, progress=False)
    assert len(events) == 4000 and report.n_events >= 4000
    assert oracle.calls == report.oracle_calls + report.oracle_calls_pilot
    assert report.oracle_calls == report.n_first_stage and report.oracle_calls_pilot == 200
    assert 1.0 <= report.calls_per_event_after_pilot < 1.5  # r = 1/(1 + 0.2 cos θ) ≤ 1.25: ε₂ ≳ 0.8
    assert np.all(events.weights >= 1.0)
    np.testing.assert_allclose(events.amplitude, oracle.oracle(events.momenta))
    # the events follow A, not the surrogate's A (1 + 0.2 cos θ): the weighted mean of cos θ is ~0
    cos = events.momenta[:, 2, 3] / events.momenta[:, 2, 0]
    mean_cos = np.sum(cos * events.weights) / np.sum(events.weights)
    assert abs(mean_cos) < 4 * np.std(cos) / np.sqrt(len(events))
    # the exact cross section of the mock, from a large weighted sample
    big = sampler.sample(200_000, np.random.default_rng(9), only_accepted=True)
    exact, err = big.integral(oracle.oracle(big.momenta))
    factor = 0.3893793721e9 / (2 * 1000.0**2)
    assert report.cross_section_pb == pytest.approx(exact * factor, abs=4 * np.hypot(report.cross_section_error_pb,
                                                                                     err * factor))
    assert report.surrogate_cross_section_pb == pytest.approx(exact * factor, rel=0.02)  # ⟨cos θ⟩ = 0


def test_direct_unweighting_labels_every_candidate(sampler: PhaseSpaceSampler) -> None:
    settings = GenerateSettings(n_events=1000, batch_size=20_000, pilot=10_000, seed=4)
    oracle = CountingOracle()
    events, report = direct_events(oracle, sampler, settings, progress=False)
    assert len(events) == 1000 and oracle.calls == report.oracle_calls + 10_000
    assert report.oracle_calls == report.n_candidates
    assert report.calls_per_event_after_pilot == pytest.approx(report.n_candidates / report.n_events)
    assert np.all(np.isnan(events.surrogate))
    assert report.cross_section_error_pb / report.cross_section_pb < 0.1


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="n_events"):
        GenerateSettings(n_events=0)
    with pytest.raises(ValueError, match="ratio_quantile"):
        GenerateSettings(n_events=1, ratio_quantile=1.5)
