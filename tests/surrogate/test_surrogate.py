"""Tests of the surrogate: training and precision, all families through one interface, vector targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import FAMILIES, Surrogate, t_tot
from tests.surrogate.toys import TINY, coefficient_data, coefficients, smooth, smooth_data, vector_surrogate

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return smooth_data()


@pytest.fixture(scope="module")
def vector_data() -> tuple[np.ndarray, np.ndarray]:
    return coefficient_data()


@pytest.fixture(scope="module")
def vector_trained(vector_data: tuple[np.ndarray, np.ndarray]) -> Surrogate:
    return vector_surrogate(vector_data)


# ---------------------------------------------------------------------------- training and precision
def test_bnn_learns_a_smooth_function_to_percent_precision() -> None:
    rng = np.random.default_rng(0)
    x, xt = rng.uniform(-1.0, 1.0, (4000, 2)), rng.uniform(-1.0, 1.0, (2000, 2))
    s = Surrogate({"hidden": [32, 32], "lr": 5e-3, "batch_size": 256, "max_epochs": 60, "patience": 1000, "seed": 1})
    history = s.fit(x, smooth(x), progress=False)
    assert len(history) == 60 and history[-1]["train_loss"] < history[0]["train_loss"]
    pred = s.predict(xt)
    delta = pred.mean / smooth(xt) - 1.0
    half_width = 0.5 * np.diff(np.percentile(delta, [16, 84]))[0]
    assert half_width < 0.05  # stated target: 68% half-width of Δ below 5% after ~2 s of training
    assert np.all(pred.sigma_model > 0) and np.all(pred.sigma_pred > 0)
    # uncertainties are of the size of the errors, not orders of magnitude off
    pulls = t_tot(pred, smooth(xt))
    assert 0.2 < np.std(pulls) < 3.0


@pytest.mark.parametrize("family", FAMILIES)
def test_all_families_train_and_predict_through_one_interface(family: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    s = Surrogate({**TINY, "family": family})
    s.fit(x, a, x_val=x[:50], a_val=a[:50], progress=False)
    assert [h["epoch"] for h in s.history] == [1, 2, 3] and "val_loss" in s.history[-1]
    pred = s.predict(x[:20], n_samples=5, return_samples=True)
    m = {"laplace": 5, "bnn": 5, "deterministic": 1, "ensemble": 3, "repulsive": 3}[family]
    assert isinstance(pred, Prediction) and len(pred) == 20
    assert pred.samples.shape == pred.sigma_model_samples.shape == (m, 20)
    assert np.all(np.isfinite(pred.mean)) and np.all(pred.sigma_model > 0)
    assert np.all(pred.sigma_pred == 0) if family == "deterministic" else np.all(pred.sigma_pred > 0)
    assert s.predict_mean(x[:20]).shape == (20,)
    assert s.weight_pulls(x[:20], a[:20], n_samples=5).shape == (m, 20)


def test_momenta_and_invariant_inputs() -> None:
    rng = np.random.default_rng(5)
    n, e = 300, 500.0
    cos_t = rng.uniform(-0.9, 0.9, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    p = np.zeros((n, 4, 4))
    p[:, 0], p[:, 1] = [e, 0, 0, e], [e, 0, 0, -e]
    p[:, 2] = np.stack([np.full(n, e), e * sin_t * np.cos(phi), e * sin_t * np.sin(phi), e * cos_t], axis=1)
    p[:, 3] = p[:, 0] + p[:, 1] - p[:, 2]
    amp = (1 + cos_t**2) / (1 - cos_t**2)
    for inputs, dim in (("momenta", 6), ("invariants", 4)):
        s = Surrogate({**TINY, "inputs": inputs})
        s.fit(p, amp, progress=False)
        assert s.input_transform.dim == dim
        assert s.predict(p[:10]).mean.shape == (10,)


def test_input_errors_name_the_problem(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    s = Surrogate(TINY)
    with pytest.raises(RuntimeError, match="not trained yet"):
        s.predict(x)
    with pytest.raises(ValueError, match="x has 200 points but amplitudes has 199"):
        s.fit(x, a[:-1])
    with pytest.raises(ValueError, match="weights: expected shape"):
        s.fit(x, a, weights=np.ones(3))
    with pytest.raises(ValueError, match="amplitudes: 1 entries are negative"):
        s.fit(x, np.where(np.arange(200) == 4, -1.0, a))


# ---------------------------------------------------------------------------- vector targets
def test_vector_surrogate_learns_signed_outputs(vector_trained: Surrogate) -> None:
    s = vector_trained
    assert s.n_outputs == 3 and s.net.n_outputs == 3
    xt = np.random.default_rng(3).uniform(-1.0, 1.0, (400, 3))
    truth = coefficients(xt)
    pred = s.predict(xt)
    assert pred.mean.shape == pred.sigma_model.shape == pred.sigma_pred.shape == (400, 3)
    assert pred.n_outputs == 3 and len(pred) == 400
    # a constant predictor (the truth's mean) has an rms error of std(truth): beat it clearly, per output,
    # in amplitude space and in the standardised space where the outputs are comparable
    rmse = np.sqrt(np.mean((pred.mean - truth) ** 2, axis=0))
    np.testing.assert_array_less(rmse, 0.6 * truth.std(axis=0))
    pre_error = s.transform_targets(pred.mean) - s.transform_targets(truth)
    np.testing.assert_array_less(np.sqrt(np.mean(pre_error**2, axis=0)), 0.4)
    assert np.all(pred.sigma_model > 0) and np.all(pred.sigma_pred > 0)
    np.testing.assert_array_less(np.std(t_tot(pred, truth), axis=0), 5.0)  # σ of the size of the errors


def test_vector_save_load_and_shape_mismatch(
    tmp_path: Path, vector_trained: Surrogate, vector_data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, v = vector_data
    s = Surrogate.load(vector_trained.save(tmp_path / "vector.pt"))
    assert s.n_outputs == 3 and s.target_transform == vector_trained.target_transform
    np.testing.assert_array_equal(s.output_scales, vector_trained.output_scales)
    p1, p2 = vector_trained.predict(x[:40], return_samples=True), s.predict(x[:40], return_samples=True)
    np.testing.assert_array_equal(p1.samples, p2.samples)
    np.testing.assert_array_equal(p1.sigma_model_samples, p2.sigma_model_samples)
    state = s.state_dict()
    assert state["n_outputs"] == 3 and state["target_transform"]["kind"] == "signed"
    with pytest.raises(ValueError, match=r"amplitudes: shape \(600,\) does not match .* expects \(N, 3\)"):
        s.fit(x, v[:, 0], progress=False)
    with pytest.raises(ValueError, match=r"amplitudes: shape \(600, 2\) does not match .* expects \(N, 3\)"):
        s.fit(x, v[:, :2], progress=False)
    with pytest.raises(ValueError, match=r"a_val: shape \(10,\) does not match"):
        s.fit(x, v, x_val=x[:10], a_val=v[:10, 0], progress=False)
    with pytest.raises(ValueError, match=r"amplitudes: shape \(5, 2\) does not match"):
        s.weight_pulls(x[:5], v[:5, :2])
    s.fit(x[:100], v[:100], progress=False, max_epochs=1)  # a warm start with the right shape continues
    assert s.epoch == vector_trained.epoch + 1


@pytest.mark.parametrize("family", FAMILIES)
def test_one_output_as_a_column_stays_a_column(family: str, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    s = Surrogate({**TINY, "family": family, "target_transform": "signed"})
    s.fit(x, a[:, None] - 2.0, progress=False)  # signed
    assert s.n_outputs == 1 and s.output_scales.shape == (1,)
    pred = s.predict(x[:20], n_samples=4, return_samples=True)
    m = {"laplace": 4, "bnn": 4, "deterministic": 1, "ensemble": 3, "repulsive": 3}[family]
    assert pred.mean.shape == pred.sigma_tot.shape == (20, 1) and pred.samples.shape == (m, 20, 1)
    assert pred.n_outputs == 1 and s.predict_mean(x[:20]).shape == (20, 1)
    assert s.weight_pulls(x[:20], a[:20, None] - 2.0, n_samples=4).shape == (m, 20, 1)


def test_signed_scalar_and_log_vector_models(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    signed = Surrogate({**TINY, "target_transform": "signed"})
    signed.fit(x, a - 2.0, progress=False)  # (N,) signed targets: the scalar model with the signed map
    assert signed.n_outputs is None and signed.output_scales is None
    assert signed.predict(x[:5]).mean.shape == (5,) and signed.predict(x[:5]).n_outputs is None
    log = Surrogate({**TINY, "target_transform": "log"})
    with pytest.raises(ValueError, match="target_transform='signed'"):
        log.fit(x, np.stack([a, a - 2.0], axis=1), progress=False)
    log.fit(x, np.stack([a, 1e3 * a], axis=1), progress=False)  # non-negative vector targets with Eq. (15)
    assert log.n_outputs == 2 and log.predict(x[:5]).mean.shape == (5, 2)
    np.testing.assert_allclose(log.output_scales, [a.std(), 1e3 * a.std()], rtol=1e-12)


def test_stage_checkpoints_keep_the_best_model_so_far(data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    x, a = data
    path = tmp_path / "model.pt"
    saved: list[int] = []
    s = Surrogate({**TINY, "max_epochs": 6})

    def watch(epoch: int, metrics: dict) -> None:
        if path.exists():
            saved.append(Surrogate.load(path).epoch)

    s.fit(x, a, x_val=x[:50], a_val=a[:50], checkpoint=path, checkpoint_every_s=0.0, callback=watch, progress=False)
    assert saved and saved[0] == 1 and all(e <= 6 for e in saved)  # written during the stage, loadable
    reloaded = Surrogate.load(path)
    assert reloaded.predict(x[:5]).mean.shape == (5,) and np.all(reloaded.predict(x[:5]).sigma_model > 0)
