"""Tests for activeamp.report.plots: histogram bands (Eqs. 23, 24), observables, labels and that figures are written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.physics.process import get_process
from activeamp.report.plots import (
    histogram_bands,
    kinematic_observables,
    observable_label,
    observables_for,
    plot_delta,
    plot_kinematic,
    plot_loss_history,
    plot_precision_vs_calls,
    plot_pulls,
    plot_residuals,
    vv_observables,
    write_report,
    write_vector_report,
)
from activeamp.surrogate.prediction import Prediction

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == PNG_MAGIC


def _toy(n: int = 2000, m: int = 8, seed: int = 0) -> tuple[Prediction, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 1.0, n)
    sm, sp = 0.01 * a, 0.005 * a
    samples = a + sm * rng.standard_normal(n) + sp * rng.standard_normal((m, n))
    return Prediction(samples.mean(0), sm, samples.std(0), samples, np.tile(sm, (m, 1))), a


def _momenta(n: int, process_name: str, seed: int = 0) -> np.ndarray:
    """Massless momenta of the right shape (not momentum-conserving; enough for pT/η/ΔR)."""
    proc = get_process(process_name)
    rng = np.random.default_rng(seed)
    p = rng.normal(0.0, 100.0, (n, proc.n_particles, 4))
    p[..., 0] = np.linalg.norm(p[..., 1:], axis=-1)
    return p


# ------------------------------------------------------------------------------------------------ bands


def test_sigma_pred_band_is_std_of_sample_histograms() -> None:
    x = np.array([0.1, 0.2, 0.6, 0.7, 0.8, 1.5])  # last point outside the edges
    samples = np.array(
        [
            [1.0, 2.0, 3.0, 4.0, 5.0, 100.0],
            [2.0, 2.0, 1.0, 4.0, 7.0, 100.0],
            [0.0, 5.0, 3.0, 3.0, 5.0, 100.0],
        ]
    )
    pred = Prediction(samples.mean(0), np.array([0.1, 0.2, 0.3, 0.4, 0.5, 9.0]), samples.std(0), samples)
    a_true = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    hb = histogram_bands(x, pred, a_true, bins=np.array([0.0, 0.5, 1.0]))
    per_sample = np.array([[3.0, 12.0], [4.0, 12.0], [5.0, 11.0]])  # Σ_j Ā_j(ω_m) per bin, by hand
    np.testing.assert_allclose(hb.sigma_pred, per_sample.std(axis=0))
    np.testing.assert_allclose(hb.network, per_sample.mean(axis=0))
    np.testing.assert_allclose(hb.truth, [3.0, 12.0])
    np.testing.assert_allclose(hb.sigma_model, [0.3, 1.2])  # Σ σ_model (Eq. 24, linear)
    np.testing.assert_array_equal(hb.count, [2, 3])


def test_sigma_model_band_sums_and_density() -> None:
    pred, a = _toy(3000)
    x = np.random.default_rng(5).uniform(0.0, 10.0, a.size)
    edges = np.linspace(0.0, 10.0, 11)
    hb = histogram_bands(x, pred, a, bins=edges)
    assert hb.sigma_model.sum() == pytest.approx(pred.sigma_model.sum())
    assert hb.network.sum() == pytest.approx(pred.mean.sum())
    assert hb.truth is not None and hb.truth.sum() == pytest.approx(a.sum())
    quad = histogram_bands(x, pred, a, bins=edges, model_correlated=False)
    np.testing.assert_allclose(
        quad.sigma_model**2, [np.sum(pred.sigma_model[(x >= lo) & (x < lo + 1)] ** 2) for lo in range(10)]
    )
    dens = histogram_bands(x, pred, a, bins=edges, density=True)
    np.testing.assert_allclose(dens.network, hb.network / (a.size * 1.0))
    assert dens.sigma_pred is not None and hb.sigma_pred is not None
    np.testing.assert_allclose(dens.sigma_pred, hb.sigma_pred / a.size)


def test_histogram_bands_without_samples_or_truth() -> None:
    pred, a = _toy(100)
    hb = histogram_bands(np.linspace(0, 1, 100), Prediction(pred.mean, pred.sigma_model, pred.sigma_pred), bins=5)
    assert hb.sigma_pred is None and hb.truth is None and hb.edges.size == 6
    assert hb.count.sum() == 100


def test_histogram_bands_errors() -> None:
    pred, _ = _toy(10)
    with pytest.raises(ValueError, match=r"values have shape \(9,\) but the prediction has 10 points"):
        histogram_bands(np.zeros(9), pred)
    with pytest.raises(ValueError, match="increasing"):
        histogram_bands(np.zeros(10), pred, bins=np.array([1.0, 0.0]))


# ------------------------------------------------------------------------------------------------ observables


def test_kinematic_observables_names_and_values() -> None:
    p = _momenta(50, "gg_yygg")
    obs = kinematic_observables(p, get_process("gg_yygg"))
    pts = ["pT_a1", "pT_a2", "pT_g1", "pT_g2"]
    assert [k for k in obs if k.startswith("pT")] == pts
    assert sum(k.startswith("dR_") for k in obs) == 6 and "dR_a1g2" in obs
    assert all(v.shape == (50,) for v in obs.values())
    assert np.all(obs["pT_a1"] >= obs["pT_a2"]) and np.all(obs["pT_g1"] >= obs["pT_g2"])
    photons = p[:, 2:4]
    pt = np.hypot(photons[..., 1], photons[..., 2])
    np.testing.assert_allclose(obs["pT_a1"], pt.max(axis=1))
    hard = np.take_along_axis(photons, np.argmax(pt, axis=1)[:, None, None], axis=1)[:, 0]
    np.testing.assert_allclose(obs["eta_a1"], np.arctanh(hard[:, 3] / np.linalg.norm(hard[:, 1:], axis=1)))
    unordered = kinematic_observables(p, get_process("gg_yygg"), pt_ordered=False)
    np.testing.assert_allclose(unordered["pT_a1"], pt[:, 0])


def test_delta_r_wraps_phi() -> None:
    p = np.zeros((1, 4, 4))
    p[0, 2] = [1.0, np.cos(3.1), np.sin(3.1), 0.0]
    p[0, 3] = [1.0, np.cos(-3.1), np.sin(-3.1), 0.0]
    obs = kinematic_observables(p, get_process("gg_yy"), pt_ordered=False)
    assert obs["dR_a1a2"][0] == pytest.approx(2 * np.pi - 6.2)


def test_kinematic_observables_shape_error() -> None:
    with pytest.raises(ValueError, match=r"process 'gg_yyg' needs \(N, 5, 4\)"):
        kinematic_observables(np.zeros((3, 4, 4)), get_process("gg_yyg"))


def test_observable_labels() -> None:
    assert observable_label("pT_a1") == r"$p_{T,\gamma_{1}}$ [GeV]"
    assert observable_label("eta_g2") == r"$\eta_{g_{2}}$"
    assert observable_label("dR_a1g1") == r"$\Delta R_{\gamma_{1}\,g_{1}}$"
    assert observable_label("dR_qb1q1") == r"$\Delta R_{\bar{q}_{1}\,q_{1}}$"
    assert observable_label("m_aa") == "m_aa" and observable_label("whatever") == "whatever"


# ------------------------------------------------------------------------------------------------ figures


def test_plot_delta_linear_and_log(tmp_path: Path) -> None:
    pred, a = _toy()
    tpred, ta = _toy(seed=1)
    sets = {"test": (pred, a), "train": (tpred.mean, ta)}
    for log in (False, True):
        out = plot_delta(tmp_path / f"d{log}.png", sets, log=log, pdf=log)
        assert out == tmp_path / f"d{log}.png"
        _assert_png(out)
    assert (tmp_path / "dTrue.pdf").stat().st_size > 0
    with pytest.raises(ValueError, match="no sets"):
        plot_delta(tmp_path / "x.png", {})


def test_plot_pulls_and_kinematic(tmp_path: Path) -> None:
    pred, a = _toy()
    _assert_png(plot_pulls(tmp_path / "pulls.png", pred, a))
    x = np.random.default_rng(2).exponential(50.0, a.size)
    _assert_png(plot_kinematic(tmp_path / "kin.png", x, pred, a, label=observable_label("pT_a1")))
    no_samples = Prediction(pred.mean, pred.sigma_model, pred.sigma_pred)
    _assert_png(plot_kinematic(tmp_path / "kin2.png", x, no_samples, a, logy=False))


def test_plot_learning_curves(tmp_path: Path) -> None:
    history = [{"epoch": e, "train_loss": -1.0 - e, "val_loss": -0.9 - e, "lr": 1e-3} for e in range(5)]
    _assert_png(plot_loss_history(tmp_path / "loss.png", history))
    with pytest.raises(ValueError, match=r"keys \['nope'\] not found; numeric keys: \['epoch', 'lr'"):
        plot_loss_history(tmp_path / "x.png", history, keys=["nope"])
    curves = {"active": [(100, 0.1), (1000, 0.02)], "random": [(1000, 0.05), (100, 0.12)]}
    _assert_png(plot_precision_vs_calls(tmp_path / "calls.png", curves))
    _assert_png(plot_precision_vs_calls(tmp_path / "calls1.png", [(10, 1.0), (20, 0.5)]))


def test_write_report(tmp_path: Path) -> None:
    n = 1500
    pred, a = _toy(n)
    obs = kinematic_observables(_momenta(n, "gg_yyg"), get_process("gg_yyg"))
    history = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.1 / (e + 1)} for e in range(4)]
    paths = write_report(tmp_path / "report", pred, a, obs, history, train=_toy(n, seed=3))
    names = {p.name for p in paths}
    assert {"delta.png", "delta_log.png", "pulls.png", "loss.png", "kin_pT_a1.png", "kin_dR_a2g1.png"} <= names
    assert len(paths) == 3 + len(obs) + 1
    for p in paths:
        _assert_png(p)


# ------------------------------------------------------------------------------------- vector outputs


def test_vv_observables_invert_the_map() -> None:
    from oracles.vvamp import VVPhaseSpace

    sample = VVPhaseSpace("uu_ZZ").sample(300, np.random.default_rng(2))
    obs = vv_observables(sample.momenta)
    assert list(obs) == ["sqrt_s", "cos_theta", "m34", "m56"]
    np.testing.assert_allclose(obs["sqrt_s"] ** 2, sample.kinematics[:, 0], rtol=1e-12)
    np.testing.assert_allclose(obs["m34"] ** 2, sample.kinematics[:, 2], rtol=1e-9)
    assert np.all(np.abs(obs["cos_theta"]) <= 1.0)
    assert observables_for(sample.momenta, get_process("uu_ZZ")).keys() == obs.keys()


def test_prediction_output_and_vector_report(tmp_path: Path) -> None:
    from oracles.vvamp import VVPhaseSpace

    n, m, k = 800, 6, 2
    rng = np.random.default_rng(5)
    truth = np.stack([rng.normal(0.0, 1.0, n), rng.lognormal(3.0, 1.0, n)], axis=1)
    sm = 0.02 * np.abs(truth) + 0.01
    samples = truth + sm * rng.standard_normal((m, n, k))
    pred = Prediction(samples.mean(0), sm, samples.std(0), samples, np.broadcast_to(sm, (m, n, k)).copy())
    part = pred.output(1)
    assert part.mean.shape == (n,) and part.samples.shape == (m, n)
    np.testing.assert_array_equal(part.sigma_tot, pred.sigma_tot[:, 1])
    with pytest.raises(ValueError, match="not vector-valued"):
        part.output(0)
    obs = vv_observables(VVPhaseSpace("uu_ZZ").sample(n, np.random.default_rng(6)).momenta)
    paths = write_vector_report(
        tmp_path / "vv",
        pred,
        truth,
        ["A1.re", "A1.im"],
        {"sqrt_s": obs["sqrt_s"]},
        precision_curves={"a": [(1, 0.1), (2, 0.05)]},
    )
    names = {p.name for p in paths}
    assert names == {
        "residuals.png",
        "pulls_A1.re.png",
        "pulls_A1.im.png",
        "kin_sqrt_s_A1.re.png",
        "kin_sqrt_s_A1.im.png",
        "precision_vs_calls.png",
    }
    for p in paths:
        _assert_png(p)
    with pytest.raises(ValueError, match="disagree"):
        plot_residuals(tmp_path / "x.png", pred, truth[:, :1], ["a"])
