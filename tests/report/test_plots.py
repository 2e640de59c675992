"""Tests for activeamp.report.plots: the report of a scalar and of a vector surrogate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.physics.process import get_process
from activeamp.report.observables import kinematic_observables, vv_observables
from activeamp.report.plots import write_report
from activeamp.surrogate.prediction import Prediction
from tests.report.conftest import assert_png, momenta, toy


def test_write_report(tmp_path: Path) -> None:
    n = 1500
    pred, a = toy(n)
    obs = kinematic_observables(momenta(n, "gg_yyg"), get_process("gg_yyg"))
    history = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.1 / (e + 1)} for e in range(4)]
    paths = write_report(tmp_path / "report", pred, a, obs, history, train=toy(n, seed=3))
    names = {p.name for p in paths}
    assert {"delta.png", "delta_log.png", "pulls.png", "loss.png", "kin_pT_a1.png", "kin_dR_a2g1.png"} <= names
    assert len(paths) == 3 + len(obs) + 1
    for p in paths:
        assert_png(p)


def test_prediction_output_and_vector_report(tmp_path: Path) -> None:
    from activeamp.physics.vv_phasespace import VVPhaseSpace

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
    paths = write_report(
        tmp_path / "vv",
        pred,
        truth,
        {"sqrt_s": obs["sqrt_s"]},
        outputs=["A1.re", "A1.im"],
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
        assert_png(p)
    with pytest.raises(ValueError, match=r"truth of shape \(800, 2\) with no output names"):
        write_report(tmp_path / "y", pred, truth, {})
    with pytest.raises(ValueError, match=r"truth of shape \(800,\) with 1 output names"):
        write_report(tmp_path / "y", part, truth[:, 1], {}, outputs=["A1.im"])
    with pytest.raises(ValueError, match="train overlay is drawn for scalar surrogates only"):
        write_report(tmp_path / "y", pred, truth, {}, outputs=["a", "b"], train=(part, truth[:, 1]))
    assert not (tmp_path / "y").exists()
