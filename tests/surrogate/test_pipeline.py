"""Tests of the surrogate's data pipeline (images, envelope, features, target map) and its use in the surrogate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import oracles
from activeamp.surrogate.pipeline import Pipeline
from activeamp.surrogate.surrogate import Surrogate
from tests.conftest import physical_points

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def labelled() -> tuple[np.ndarray, np.ndarray]:
    x = physical_points("gg_yyg", 1500, seed=5)
    return x, oracles.get("gg_yyg").evaluate(x).values


def fit(x: np.ndarray, a: np.ndarray, **kw: str) -> Pipeline:
    options = {"inputs": "invariants", "target": "pure_log", "sigma_a": "std", "envelope": "auto",
               "symmetry": "auto", "process": "gg_yyg", **kw}
    return Pipeline.fit(x, a, **options)


def test_default_pipeline_flattens_the_target(labelled: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = labelled
    p = fit(x, a)
    assert p.order == 4 and p.envelope is not None
    y = p.targets(x, a)
    assert abs(y.mean()) < 1e-6 and y.std() == pytest.approx(1.0, rel=1e-6)  # standardised
    assert np.std(np.log(a / p.scale(x))) < 0.5 * np.std(np.log(a))  # the envelope takes most of the spread
    feats, scale = p.encode(x)
    assert feats.shape == (4, len(x), 9)  # s12 is constant at fixed √s and dropped
    np.testing.assert_allclose(scale, p.scale(x), rtol=1e-12)
    np.testing.assert_allclose(feats[0], p.inputs(x), atol=1e-12)


def test_plain_features_and_vector_targets_get_no_images_or_envelope(labelled: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = labelled
    plain = fit(np.random.default_rng(0).normal(size=(100, 3)), a[:100], inputs="auto")
    assert plain.order == 1 and plain.envelope is None and plain.inputs.mode == "momenta"
    vector = fit(x, np.stack([a, -a], axis=1), target="signed")
    assert vector.order == 1 and vector.envelope is None
    none = fit(x, a, envelope="none", symmetry="none")
    assert none.order == 1 and none.envelope is None
    with pytest.raises(ValueError, match="envelope 'monomial' needs momenta"):
        fit(np.ones((10, 3)) + np.arange(10)[:, None], a[:10], inputs="momenta", envelope="monomial")


def test_state_round_trip(labelled: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = labelled
    p = fit(x, a)
    q = Pipeline.from_state(p.state())
    np.testing.assert_array_equal(q.features(x), p.features(x))
    np.testing.assert_array_equal(q.targets(x, a), p.targets(x, a))


def test_default_surrogate_is_symmetric_calibrated_and_reloads(
    labelled: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    x, a = labelled
    s = Surrogate({"process": "gg_yyg", "hidden": [32, 32], "max_steps": 600, "seed": 3})
    s.fit(x[:1000], a[:1000], x_val=x[1000:1300], a_val=a[1000:1300], progress=False)
    test = x[1300:]
    pred = s.predict(test)
    delta = pred.mean / a[1300:] - 1
    assert np.quantile(np.abs(delta), 0.68) < 0.1  # a tiny net after seconds: the envelope does the rough work
    assert np.all(pred.sigma_pred > 0) and np.median(pred.sigma_pred) < np.median(pred.sigma_model)
    pulls = (pred.mean - a[1300:]) / pred.sigma_tot
    assert 0.5 < np.std(pulls) < 2.0
    images = s.pipeline.group.images(test)
    means = np.stack([s.predict_mean(img) for img in images])
    np.testing.assert_allclose(means, means[0][None].repeat(4, axis=0), rtol=1e-5)  # averaged over the group
    path = s.save(tmp_path / "model.pt")
    again = Surrogate.load(path)
    np.testing.assert_array_equal(again.predict(test).mean, pred.mean)
    np.testing.assert_array_equal(again.predict(test).sigma_pred, pred.sigma_pred)
