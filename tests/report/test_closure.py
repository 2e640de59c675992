"""Tests of the closure test of two weighted samples (activeamp.report.closure)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.report.closure import closure_test, plot_closure


def test_samples_of_one_distribution_pass_and_of_two_fail() -> None:
    rng = np.random.default_rng(4)
    same = [closure_test("pT_a1", (rng.exponential(50.0, 5000), np.ones(5000)),
                         (rng.exponential(50.0, 5000), np.ones(5000))) for _ in range(20)]
    per_ndf = np.array([c.chi2_per_ndf for c in same])
    assert 0.7 < per_ndf.mean() < 1.3 and all(c.ndf == 19 for c in same)
    assert np.mean([c.p_value for c in same]) == pytest.approx(0.5, abs=0.15)  # p uniform under the null
    other = closure_test("pT_a1", (rng.exponential(50.0, 5000), np.ones(5000)),
                         (rng.exponential(60.0, 5000), np.ones(5000)))
    assert other.p_value < 1e-3


def test_event_weights_count_as_repeated_events() -> None:
    x = np.random.default_rng(5).normal(size=1000)
    doubled = closure_test("eta_a1", (x, np.full(1000, 2.0)), (np.repeat(x, 2), np.ones(2000)))
    np.testing.assert_allclose(doubled.first, doubled.second)
    assert doubled.chi2 == pytest.approx(0.0, abs=1e-20)
    assert np.sum(doubled.first) == pytest.approx(0.99, abs=0.01)  # 0.5 % cut at each end


def test_plot_writes_a_figure(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    closures = [closure_test(name, (rng.random(300), np.ones(300)), (rng.random(300), np.ones(300)))
                for name in ("pT_a1", "eta_a1", "dR_a1a2", "pT_g1")]
    path = plot_closure(closures, tmp_path / "closure.png")
    assert path.stat().st_size > 10_000
