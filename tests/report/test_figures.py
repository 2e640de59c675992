"""Tests for activeamp.report.figures: Δ, pull, kinematic and residual figures are written, with units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.physics.process import get_process
from activeamp.report.figures import plot_delta, plot_kinematic, plot_pulls, plot_residuals
from activeamp.report.observables import observable_label
from activeamp.surrogate.prediction import Prediction
from tests.report.conftest import assert_png, toy


def test_plot_delta_linear_and_log(tmp_path: Path) -> None:
    pred, a = toy()
    tpred, ta = toy(seed=1)
    sets = {"test": (pred, a), "train": (tpred.mean, ta)}
    for log in (False, True):
        out = plot_delta(tmp_path / f"d{log}.png", sets, log=log, pdf=log)
        assert out == tmp_path / f"d{log}.png"
        assert_png(out)
    assert (tmp_path / "dTrue.pdf").stat().st_size > 0
    with pytest.raises(ValueError, match="no sets"):
        plot_delta(tmp_path / "x.png", {})


def test_plot_pulls_and_kinematic(tmp_path: Path) -> None:
    pred, a = toy()
    assert_png(plot_pulls(tmp_path / "pulls.png", pred, a))
    x = np.random.default_rng(2).exponential(50.0, a.size)
    assert_png(plot_kinematic(tmp_path / "kin.png", x, pred, a, label=observable_label("pT_a1")))
    no_samples = Prediction(pred.mean, pred.sigma_model, pred.sigma_pred)
    assert_png(plot_kinematic(tmp_path / "kin2.png", x, no_samples, a, logy=False))


def test_kinematic_axes_have_units_and_bands_stay_positive(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from activeamp.report import figures

    rng = np.random.default_rng(2)
    x = rng.uniform(40.0, 400.0, 400)
    a = rng.lognormal(0.0, 1.0, 400)
    pred = Prediction(a, 2.0 * a, 0.0 * a)  # σ_model larger than ⟨A⟩: the band would dip below zero
    captured = {}
    real_save = figures.save_figure

    def keep(fig: object, path: Path, pdf: bool) -> Path:
        captured["fig"] = fig
        return real_save(fig, path, pdf)

    figures.save_figure = keep
    try:
        out = plot_kinematic(tmp_path / "kin.png", x, pred, a, label="$p_T$ [GeV]", amplitude_unit="GeV$^{-2}$",
                             logy=False)
    finally:
        figures.save_figure = real_save
    assert_png(out)
    upper = captured["fig"].axes[0]
    assert upper.get_ylabel().endswith("[GeV$^{-2}$/GeV]")
    lowest = min(float(np.min(c.get_path().vertices[:, 1])) for c in upper.patches)
    assert lowest >= 0.0
    plt.close("all")


def test_amplitude_units_follow_the_final_state() -> None:
    from activeamp.report.figures import amplitude_unit

    assert amplitude_unit(get_process("gg_yy")) == ""
    assert amplitude_unit(get_process("gg_yyg")) == "GeV$^{-2}$"
    assert amplitude_unit(get_process("gg_yygg")) == "GeV$^{-4}$"


def test_plot_residuals_draws_every_output(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    truth = np.stack([rng.normal(0.0, 1.0, 500), rng.lognormal(3.0, 1.0, 500)], axis=1)
    sigma = 0.02 * np.abs(truth) + 0.01
    pred = Prediction(truth + sigma * rng.standard_normal(truth.shape), sigma, 0.5 * sigma)
    out = plot_residuals(tmp_path / "res.png", pred, truth, ["A1.re", "A1.im"])
    assert out == tmp_path / "res.png"
    assert_png(out)
    with pytest.raises(ValueError, match="disagree"):
        plot_residuals(tmp_path / "x.png", pred, truth[:, :1], ["a"])
    with pytest.raises(ValueError, match="disagree"):
        plot_residuals(tmp_path / "x.png", pred, truth, ["a"])
