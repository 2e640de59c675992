"""Tests of the one-loop functions (spec Sec. 3): dilogarithm, L0, L1, L2 across the series switch, Ls1."""

from __future__ import annotations

import math

import numpy as np

from oracles.loop_functions import li2_real, ls1, pair_functions


def test_dilogarithm_values() -> None:
    z = np.array([1.0, 0.5, 0.0, -1.0, -0.25, -50.0])
    expected = [
        math.pi**2 / 6,
        math.pi**2 / 12 - math.log(2) ** 2 / 2,
        0.0,
        -(math.pi**2) / 12,
        -0.23590029768626344,  # Li2(−1/4), mpmath
        -9.276995185332622,  # Li2(−50), mpmath
    ]
    np.testing.assert_allclose(li2_real(z), expected, rtol=2e-15, atol=1e-300)


def test_loop_functions_continuous_across_series_switch() -> None:
    """L0, L1, L2 on both sides of the series threshold (|z| = 0.4) and of r = 1 agree smoothly."""
    r = np.array([3 / 7 * (1 - 1e-12), 3 / 7 * (1 + 1e-12), 7 / 3 * (1 - 1e-12), 7 / 3 * (1 + 1e-12)])
    f = pair_functions(-r, -np.ones_like(r))
    for values in (f.l0, f.l1, f.l2):
        np.testing.assert_allclose(values[0], values[1], rtol=1e-11)
        np.testing.assert_allclose(values[2], values[3], rtol=1e-11)
    near_one = pair_functions(np.array([-1.0 + 1e-9, -1.0, -1.0 - 1e-9]), -np.ones(3))
    np.testing.assert_allclose(near_one.l0, -1.0, rtol=1e-8)
    np.testing.assert_allclose(near_one.l1, -0.5, rtol=1e-8)
    np.testing.assert_allclose(near_one.l2, 1 / 6, rtol=1e-8)


def test_ls1_integral_matches_closed_form() -> None:
    """Ls1 from the integral (|d| < 0.3|1 − z|) and from Eqs. (3.4)-(3.5) agree where both are accurate."""
    rng = np.random.default_rng(5)
    y = rng.uniform(-1, 1, 400)
    x1 = rng.uniform(-2, 2, 400) * np.abs(y)
    d = rng.choice([-1, 1], 400) * rng.uniform(0.05, 0.12, 400)  # the closed form loses ~ε/d² here
    x2 = (1 - x1 / y - d) * y
    f1, f2 = pair_functions(x1, y), pair_functions(x2, y)
    got = ls1(f1, f2)
    closed = ((f1.li2 + f2.li2 + f1.log * f2.log - math.pi**2 / 6) / d + f1.l0 + f2.l0) / d
    np.testing.assert_allclose(got, closed, rtol=1e-11)
