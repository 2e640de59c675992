"""Tests of predictions for files of points (activeamp.deploy.predict)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from activeamp.deploy.predict import PREDICTIONS, PredictError, open_points, predict_file
from activeamp.surrogate.committee import SurrogateCommittee
from activeamp.surrogate.surrogate import Surrogate
from oracles.mock import MockOracle
from tests.conftest import physical_points, two_body_points

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x = physical_points("gg_yyg", 600, seed=3)
    a = MockOracle(process="gg_yyg")(x)
    s = Surrogate({"hidden": [16, 16], "max_steps": 200, "batch_size": 128, "process": "gg_yyg", "seed": 2})
    s.fit(x, a, progress=False)
    return s.save(tmp_path_factory.mktemp("model") / "model.pt")


def test_chunked_file_predictions_equal_one_call(model: Path, tmp_path: Path) -> None:
    x = physical_points("gg_yyg", 250, seed=9)
    h5 = tmp_path / "points.h5"
    with h5py.File(h5, "w") as f:
        f["momenta"] = x
    source, handle = open_points(h5=h5)
    try:
        report = predict_file(model, tmp_path / "pred.h5", source, chunk=64, progress=False)
    finally:
        handle.close()
    assert report.n_points == 250
    direct = Surrogate.load(model).predict(x)
    with h5py.File(tmp_path / "pred.h5", "r") as f:
        assert set(PREDICTIONS) <= set(f) and f.attrs["process"] == "gg_yyg" and f.attrs["units"] == "GeV^-2"
        np.testing.assert_allclose(f["mean"][()], direct.mean, rtol=1e-12)
        np.testing.assert_allclose(f["sigma_tot"][()], direct.sigma_tot, rtol=1e-12)
        assert np.all(f["sigma_tot"][()] >= f["sigma_model"][()])


def test_a_committee_model_predicts_the_mixture(model: Path, tmp_path: Path) -> None:
    x = physical_points("gg_yyg", 600, seed=4)
    other = Surrogate({"hidden": [16, 16], "max_steps": 200, "batch_size": 128, "process": "gg_yyg", "seed": 5})
    other.fit(x, MockOracle(process="gg_yyg")(x), progress=False)
    committee = SurrogateCommittee([Surrogate.load(model), other])
    path = committee.save(tmp_path / "committee.pt")
    points = physical_points("gg_yyg", 80, seed=8)
    np.save(tmp_path / "points.npy", points)
    source, _ = open_points(npy=tmp_path / "points.npy")
    predict_file(path, tmp_path / "pred.h5", source, chunk=32, progress=False)
    want = committee.predict(points)
    with h5py.File(tmp_path / "pred.h5", "r") as f:
        np.testing.assert_allclose(f["mean"][()], want.mean, rtol=1e-12)
        np.testing.assert_allclose(f["sigma_pred"][()], want.sigma_pred, rtol=1e-12)


def test_npy_input_and_the_errors_name_file_and_rows(model: Path, tmp_path: Path) -> None:
    x = physical_points("gg_yyg", 40, seed=4)
    npy = tmp_path / "m.npy"
    np.save(npy, x)
    source, _ = open_points(npy=npy)
    predict_file(model, tmp_path / "p.h5", source, progress=False)
    bad = x.copy()
    bad[7, 2, 1] += 10.0  # +10 GeV in px
    np.save(npy, bad)
    source, _ = open_points(npy=npy)
    with pytest.raises(PredictError, match=r"m.npy: momentum not conserved at point 7"):
        predict_file(model, tmp_path / "p2.h5", source, progress=False)
    assert not (tmp_path / "p2.h5").exists()  # nothing half-written
    np.save(npy, two_body_points(5, np.random.default_rng(0)))
    source, _ = open_points(npy=npy)
    with pytest.raises(PredictError, match=r"shape \(N, 4, 4\) but the model learned gg_yyg"):
        predict_file(model, tmp_path / "p3.h5", source, progress=False)
    with pytest.raises(PredictError, match="exactly one input"):
        open_points()
