"""Tests of the input standardisation and the target map of Eq. (15)."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.preprocessing import InputTransform, TargetTransform, as_features, check_amplitudes


def _two_body(n: int, rng: np.random.Generator, sqrt_s: float = 1000.0) -> np.ndarray:
    """Massless 2 → 2 momenta ``(n, 4, 4)`` in the partonic centre-of-mass frame (GeV)."""
    e = sqrt_s / 2
    cos_t = rng.uniform(-0.9, 0.9, n)
    sin_t = np.sqrt(1 - cos_t**2)
    phi = rng.uniform(0, 2 * np.pi, n)
    p = np.zeros((n, 4, 4))
    p[:, 0] = [e, 0, 0, e]
    p[:, 1] = [e, 0, 0, -e]
    p[:, 2] = np.stack([np.full(n, e), e * sin_t * np.cos(phi), e * sin_t * np.sin(phi), e * cos_t], axis=1)
    p[:, 3] = p[:, 0] + p[:, 1] - p[:, 2]
    return p


def test_target_round_trip_is_exact() -> None:
    rng = np.random.default_rng(1)
    a = 10.0 ** rng.uniform(-7, -3, 5000)  # e.g. GeV⁻² amplitudes spanning four orders
    t = TargetTransform.fit(a)
    y = t(a)
    assert abs(y.mean()) < 1e-12 and y.std() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(t.inverse(y), a, rtol=1e-12, atol=0)
    assert t.sigma_a == pytest.approx(a.std())
    assert TargetTransform.from_state(t.state()) == t
    # far below σ_A the map is linear and the standardisation shift limits the absolute precision to ~1e-16 σ_A
    tiny = 10.0 ** rng.uniform(-16, -7, 1000)
    np.testing.assert_allclose(t.inverse(t(tiny)), tiny, rtol=0, atol=1e-15 * t.sigma_a)


@pytest.mark.parametrize(("choice", "expected"), [("mean", np.mean), ("median", np.median), (2.5, lambda a: 2.5)])
def test_sigma_a_choices(choice: str | float, expected: object) -> None:
    a = np.array([0.0, 1.0, 2.0, 10.0])
    t = TargetTransform.fit(a, choice)
    assert t.sigma_a == pytest.approx(expected(a))
    np.testing.assert_allclose(t.inverse(t(a)), a, atol=1e-14)


def test_target_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="sigma_a: 'max' is not one of"):
        TargetTransform.fit(np.array([1.0, 2.0]), "max")
    with pytest.raises(ValueError, match="sigma_a: must be positive"):
        TargetTransform.fit(np.array([1.0, 2.0]), -1.0)
    with pytest.raises(ValueError, match=r"amplitudes: 1 entries are negative or not finite \(first: index 1"):
        check_amplitudes(np.array([1.0, -2.0, 3.0]))
    with pytest.raises(ValueError, match="all training amplitudes are equal"):
        TargetTransform.fit(np.ones(4), 1.0)


def test_momenta_inputs_drop_constant_components_and_standardise() -> None:
    rng = np.random.default_rng(2)
    p = _two_body(1000, rng)
    t = InputTransform.fit(p, "momenta")
    # incoming momenta and the fixed outgoing energies are constant at fixed √s
    assert set(t.dropped) == {f"p{i}_{c}" for i in (0, 1) for c in ("E", "px", "py", "pz")} | {"p2_E", "p3_E"}
    assert t.dim == 6 and t.raw_dim == 16
    z = t(p)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-12)
    again = InputTransform.from_state(t.state())
    np.testing.assert_array_equal(again(p), z)
    assert again.dropped == t.dropped


def test_invariant_inputs_are_log_scaled() -> None:
    rng = np.random.default_rng(3)
    p = _two_body(500, rng)
    feats, names = as_features(p, "invariants")
    assert names == ("log_s01", "log_s02", "log_s03", "log_s12", "log_s13", "log_s23")
    np.testing.assert_allclose(feats[:, 0], np.log(1000.0**2), rtol=1e-12)  # s_12 = s
    t = InputTransform.fit(p, "invariants")
    assert set(t.dropped) == {"log_s01", "log_s23"}  # s and the outgoing pair's invariant are constant
    assert t(p).shape == (500, 4)


def test_plain_features_pass_through_and_shape_errors() -> None:
    x = np.random.default_rng(4).normal(3.0, 2.0, (100, 3))
    t = InputTransform.fit(x)
    assert t.names == ("x0", "x1", "x2") and t.dropped == ()
    np.testing.assert_allclose(t(x), (x - x.mean(0)) / x.std(0), rtol=1e-13)
    with pytest.raises(ValueError, match="fitted on 3"):
        t(x[:, :2])
    with pytest.raises(ValueError, match="invariants"):
        InputTransform.fit(x, "invariants")
    with pytest.raises(ValueError, match="inputs: 'angles' is not one of"):
        InputTransform.fit(x, "angles")
