"""Tests of the input standardisation and the target map of Eq. (15)."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.surrogate.preprocessing import (
    InputTransform,
    SignedTargetTransform,
    TargetTransform,
    VectorLogTargetTransform,
    as_features,
    check_amplitudes,
    fit_target_transform,
    target_transform_from_state,
)
from tests.conftest import two_body_points


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
    p = two_body_points(1000, rng)
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
    p = two_body_points(500, rng)
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


# ---------------------------------------------------------------------------- per-output target maps
def _signed_targets(rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    """Three signed outputs ``(n, 3)`` spanning ±1e-6 … 1e6, with exact zeros, on very different scales."""
    mags = 10.0 ** rng.uniform(-6, 6, (n, 3))
    v = rng.choice([-1.0, 1.0], (n, 3)) * mags * np.array([1.0, 1e-3, 1e2])
    v[:10] = 0.0
    return v


def test_signed_transform_round_trip_is_exact_per_output() -> None:
    v = _signed_targets(np.random.default_rng(11))
    t = SignedTargetTransform.fit(v)
    assert t.n_outputs == 3 and t.c.shape == t.mu.shape == t.scale.shape == (3,)
    np.testing.assert_allclose(t.c, np.abs(v).std(axis=0), rtol=1e-15)  # c_k: the "std" statistic of |v_k|
    y = t(v)
    assert y.shape == v.shape
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(y, (np.arcsinh(v / t.c) - t.mu) / t.scale, rtol=1e-15)
    back = t.inverse(y)
    big = np.abs(v) >= 1e-3 * t.c
    np.testing.assert_allclose(back[big], v[big], rtol=1e-12, atol=0)
    # far below c the map is linear and the standardisation shift limits the absolute precision to ~1e-16 c
    assert np.all(np.abs(back - v) <= 1e-14 * t.c)
    assert np.all(np.sign(back[big]) == np.sign(v[big]))
    # any leading shape broadcasts against the (K,) parameters, e.g. (M, N, K) weight samples
    np.testing.assert_allclose(t.inverse(np.stack([y, y])), np.stack([back, back]), rtol=0, atol=0)


def test_signed_transform_state_and_scale_choices() -> None:
    v = _signed_targets(np.random.default_rng(12), 500)
    t = SignedTargetTransform.fit(v, "mean")
    state = t.state()
    assert state["kind"] == "signed" and all(isinstance(c, float) for c in state["c"])
    assert SignedTargetTransform.from_state(state) == t and target_transform_from_state(state) == t
    assert t != SignedTargetTransform.fit(v, "median")
    np.testing.assert_allclose(t.c, np.abs(v).mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(SignedTargetTransform.fit(v, 2.0).c, [2.0, 2.0, 2.0])
    # one output given as (N,): K = 1, applied elementwise to any shape (the scalar surrogate)
    one = SignedTargetTransform.fit(v[:, 0])
    assert one.n_outputs == 1 and one(v[:, 0]).shape == (500,) and one.inverse(np.zeros((4, 7))).shape == (4, 7)
    np.testing.assert_allclose(one(v[:, 0]), SignedTargetTransform.fit(v[:, :1])(v[:, :1])[:, 0], rtol=1e-15)


def test_per_output_transform_errors_name_the_problem() -> None:
    v = _signed_targets(np.random.default_rng(13), 50)
    bad = v.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"targets: 1 entries are not finite \(first: index \(7, 2\), value nan\)"):
        SignedTargetTransform.fit(bad)
    with pytest.raises(ValueError, match=r"expected shape \(N,\) or \(N, K\)"):
        SignedTargetTransform.fit(v[:, :, None])
    with pytest.raises(ValueError, match="output 1: all training targets are equal"):
        SignedTargetTransform.fit(np.stack([v[:, 0], np.full(50, 3.0)], axis=1), 1.0)
    with pytest.raises(ValueError, match="sigma_a: the scale of output 0 must be positive"):
        SignedTargetTransform.fit(np.array([[0.0, 1.0], [0.0, 2.0], [5.0, 3.0]]), "median")
    with pytest.raises(ValueError, match="sigma_a: 'max' is not one of"):
        SignedTargetTransform.fit(v, "max")
    t = SignedTargetTransform.fit(v)
    with pytest.raises(ValueError, match="trailing axis of 3 outputs"):
        t(v[:, :2])
    with pytest.raises(ValueError, match="kind 'log', expected 'signed'"):
        SignedTargetTransform.from_state(VectorLogTargetTransform.fit(np.abs(v)).state())
    with pytest.raises(ValueError, match="target_transform: 'asinh' is not one of pure_log, log, signed"):
        fit_target_transform(v, "asinh")  # type: ignore[arg-type]


def test_log_map_rejects_negative_targets_and_points_to_signed() -> None:
    v = _signed_targets(np.random.default_rng(14), 40)
    with pytest.raises(ValueError, match=r"amplitudes: \d+ entries are negative .*index \d+.*'signed'"):
        fit_target_transform(v[:, 0], "log")
    with pytest.raises(ValueError, match=r"targets: \d+ entries are negative .*index \(\d+, \d\).*'signed'"):
        fit_target_transform(v, "log")
    with pytest.raises(ValueError, match=r"first: index 1, value .*-2\.0\)*; .*use target_transform='signed'"):
        TargetTransform.fit(np.array([1.0, -2.0, 3.0]))


def test_vector_log_map_is_eq15_per_output() -> None:
    rng = np.random.default_rng(15)
    a = 10.0 ** rng.uniform(-7, -3, (2000, 2)) * np.array([1.0, 1e4])
    t = fit_target_transform(a, "log")
    assert isinstance(t, VectorLogTargetTransform) and t.n_outputs == 2
    np.testing.assert_allclose(t.inverse(t(a)), a, rtol=1e-12, atol=0)
    for k in range(2):  # the same parameters as the scalar Eq. (15) map of each column
        scalar = TargetTransform.fit(a[:, k])
        assert (t.c[k], t.mu[k], t.scale[k]) == pytest.approx((scalar.sigma_a, scalar.mu, scalar.scale), rel=1e-12)
    assert target_transform_from_state(t.state()) == t
    # scalar targets with the log map keep the scalar Eq. (15) transform; its state has no "kind"
    scalar = fit_target_transform(a[:, 0], "log")
    assert isinstance(scalar, TargetTransform) and "kind" not in scalar.state()
    assert target_transform_from_state(scalar.state()) == scalar
    assert isinstance(fit_target_transform(a[:, 0], "signed"), SignedTargetTransform)
