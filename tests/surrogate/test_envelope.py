"""Tests of the fitted monomial envelope."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.physics.process import get_process
from activeamp.physics.symmetry import SymmetryGroup
from activeamp.surrogate.envelope import MonomialEnvelope
from activeamp.surrogate.preprocessing import as_features
from tests.conftest import physical_points


@pytest.fixture(scope="module")
def momenta() -> np.ndarray:
    return physical_points("gg_yyg", 500, seed=4)


def test_recovers_an_exact_monomial(momenta: np.ndarray) -> None:
    feats = as_features(momenta, "invariants")[0]
    exponents = np.zeros(feats.shape[1])
    exponents[[3, 6, 8]] = [-1.5, -1.5, 0.4]  # s15, s25, s35 in the (i < j) order of 5 particles
    amplitude = 3e-8 * np.exp(feats @ exponents)
    env = MonomialEnvelope.fit(momenta, amplitude)
    np.testing.assert_allclose(env(momenta), amplitude, rtol=1e-9)
    np.testing.assert_allclose(env.of_log_invariants(feats), amplitude, rtol=1e-9)
    assert env.exponents[0] == 0.0  # s12 is constant at fixed √s: left out of the fit


def test_fit_on_all_images_is_symmetric(momenta: np.ndarray) -> None:
    group = SymmetryGroup.of(get_process("gg_yyg"))
    rng = np.random.default_rng(0)
    amplitude = np.exp(rng.normal(size=len(momenta)))
    images = group.images(momenta)
    env = MonomialEnvelope.fit(images.reshape(-1, 5, 4), np.tile(amplitude, group.order))
    values = np.stack([env(img) for img in images])
    np.testing.assert_allclose(values, values[0][None].repeat(group.order, axis=0), rtol=1e-10)


def test_state_round_trip_and_errors(momenta: np.ndarray) -> None:
    env = MonomialEnvelope.fit(momenta, np.ones(len(momenta)))
    again = MonomialEnvelope.from_state(env.state())
    np.testing.assert_array_equal(again(momenta), env(momenta))
    with pytest.raises(ValueError, match="positive amplitudes"):
        MonomialEnvelope.fit(momenta, np.zeros(len(momenta)))
    with pytest.raises(ValueError, match="fitted on 10 invariants"):
        env(momenta[:, :4])
