"""Tests for activeamp.surrogate.inference: chunked, reproducible predictions in both spaces, vector shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.inference import (
    chunk_size,
    closed_form_prediction,
    has_closed_form,
    image_outputs,
    weight_sample_count,
)
from activeamp.surrogate.networks import build_network
from activeamp.surrogate.surrogate import Surrogate, t_model_weights
from tests.surrogate.toys import coefficient_data, smooth_data, tiny_surrogate, vector_surrogate

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return smooth_data()


@pytest.fixture(scope="module")
def trained(data: tuple[np.ndarray, np.ndarray]) -> Surrogate:
    return tiny_surrogate(data)


@pytest.fixture(scope="module")
def vector_data() -> tuple[np.ndarray, np.ndarray]:
    return coefficient_data()


@pytest.fixture(scope="module")
def vector_trained(vector_data: tuple[np.ndarray, np.ndarray]) -> Surrogate:
    return vector_surrogate(vector_data)


def test_prediction_is_reproducible_and_independent_of_chunking(
    trained: Surrogate, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = data
    full = trained.predict(x, n_samples=8, return_samples=True)
    chunked = trained.predict(x, n_samples=8, return_samples=True, batch_size=7)
    np.testing.assert_allclose(chunked.samples, full.samples, rtol=1e-6)  # the same 8 functions in every chunk
    np.testing.assert_allclose(chunked.sigma_pred, full.sigma_pred, rtol=1e-5, atol=1e-12)
    again = trained.predict(x, n_samples=8)
    np.testing.assert_array_equal(again.mean, full.mean)
    other = trained.predict(x, n_samples=8, seed=123)
    assert not np.array_equal(other.mean, full.mean)


def test_amplitude_space_is_the_sampled_image_of_the_preprocessed_space(
    trained: Surrogate, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, a = data
    amp = trained.predict(x, n_samples=6, return_samples=True)
    pre = trained.predict(x, n_samples=6, return_samples=True, space="preprocessed")
    np.testing.assert_allclose(amp.samples, trained.target_transform.inverse(pre.samples), rtol=1e-12)
    for p in (amp, pre):
        np.testing.assert_allclose(p.sigma_tot**2, p.sigma_model**2 + p.sigma_pred**2, rtol=1e-12)
        np.testing.assert_allclose(p.sigma_pred, p.samples.std(axis=0), rtol=1e-12)
        np.testing.assert_allclose(p.sigma_model, np.sqrt((p.sigma_model_samples**2).mean(0)), rtol=1e-12)
    y = trained.transform_targets(a)
    np.testing.assert_allclose(trained.weight_pulls(x, a, n_samples=6), t_model_weights(pre, y), rtol=1e-12)
    np.testing.assert_allclose(trained.predict_mean(x), trained.predict_mean(x, batch_size=3), rtol=1e-6)


def test_vector_prediction_shapes_and_identities(
    vector_trained: Surrogate, vector_data: tuple[np.ndarray, np.ndarray]
) -> None:
    s = vector_trained
    x, v = vector_data[0][:50], vector_data[1][:50]
    amp = s.predict(x, n_samples=6, return_samples=True)
    pre = s.predict(x, n_samples=6, return_samples=True, space="preprocessed")
    for p in (amp, pre):
        assert p.samples.shape == p.sigma_model_samples.shape == (6, 50, 3)
        np.testing.assert_allclose(p.sigma_tot**2, p.sigma_model**2 + p.sigma_pred**2, rtol=1e-12)
        np.testing.assert_allclose(p.sigma_pred, p.samples.std(axis=0), rtol=1e-12)
        np.testing.assert_allclose(p.sigma_model, np.sqrt((p.sigma_model_samples**2).mean(0)), rtol=1e-12)
    np.testing.assert_allclose(amp.samples, s.target_transform.inverse(pre.samples), rtol=1e-12)
    np.testing.assert_allclose(s.predict(x, n_samples=6, batch_size=7).mean, amp.mean, rtol=1e-5)
    assert s.predict_mean(x).shape == (50, 3)
    np.testing.assert_allclose(s.predict_mean(x), s.predict_mean(x, batch_size=3), rtol=1e-5)  # float32 chunks
    pulls = s.weight_pulls(x, v, n_samples=6)
    np.testing.assert_allclose(pulls, t_model_weights(pre, s.transform_targets(v)), rtol=1e-12)
    empty = s.predict(x[:0], n_samples=4, return_samples=True)
    assert empty.mean.shape == (0, 3) and empty.samples.shape == (4, 0, 3)
    # c_k: the "std" statistic of |v_k| on the training targets, a copy
    scales = s.output_scales
    np.testing.assert_allclose(scales, np.abs(vector_data[1]).std(axis=0), rtol=1e-14)
    scales[0] = -1.0
    assert s.output_scales[0] > 0


def test_weight_samples_and_chunk_sizes() -> None:
    bnn = build_network(SurrogateConfig.from_dict({"family": "bnn", "hidden": [8, 8]}), 3)
    ensemble = build_network(SurrogateConfig.from_dict({"family": "ensemble", "hidden": [8], "n_members": 4}), 3)
    assert weight_sample_count(bnn, 20, None) == 20 and weight_sample_count(bnn, 20, 3) == 3
    assert weight_sample_count(ensemble, 20, 7) == 4  # an ensemble always uses its members
    with pytest.raises(ValueError, match="n_samples: must be >= 1, got 0"):
        weight_sample_count(bnn, 20, 0)
    params = bnn.draw(16, torch.Generator().manual_seed(0))
    assert chunk_size(bnn, 5, params) == 5
    assert chunk_size(bnn, None, params) == 2**20 // (16 * bnn.max_width)
    assert chunk_size(bnn, None, bnn.draw(4096, torch.Generator().manual_seed(0))) == 256  # at least 256 points
    with pytest.raises(ValueError, match="batch_size: must be >= 1, got 0"):
        chunk_size(bnn, 0, params)


def test_image_outputs_average_the_network_over_the_images() -> None:
    net = build_network(SurrogateConfig.from_dict({"family": "ensemble", "hidden": [8], "n_members": 3}), 2)
    params = net.draw(3)
    x = torch.randn(4, 5, 2, generator=torch.Generator().manual_seed(1))  # 4 images of 5 points
    mean, sigma = image_outputs(net, x, params)
    assert mean.shape == sigma.shape == (3, 5)
    per_image = [net.evaluate(x[g], params) for g in range(4)]
    torch.testing.assert_close(mean, torch.stack([m for m, _ in per_image]).mean(dim=0))
    torch.testing.assert_close(sigma, torch.stack([s for _, s in per_image]).mean(dim=0))


def test_default_predictions_use_the_closed_form_of_the_last_layer(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    s = Surrogate({"hidden": [16, 16], "batch_size": 64, "max_epochs": 20, "lr": 3e-3, "seed": 3})
    s.fit(x, a + 2.0, progress=False)  # the default family (laplace) with the log target: positive values
    net = s._require_net()
    assert has_closed_form(net, s.target_transform) and s.closed_form
    auto = s.predict(x)
    exact = closed_form_prediction(net, s._require_pipeline(), x, s.target_transform, n_outputs=None,
                                   batch_size=13, device=s.device)
    for name in ("mean", "sigma_model", "sigma_pred"):
        np.testing.assert_allclose(getattr(auto, name), getattr(exact, name), rtol=1e-6)
    sampled = s.predict(x, n_samples=4000, batch_size=50)  # asking for draws samples
    assert np.all(np.abs(sampled.mean - auto.mean) < 5 * auto.sigma_pred / np.sqrt(4000))  # Monte Carlo error
    np.testing.assert_allclose(np.median(sampled.sigma_model / auto.sigma_model), 1.0, atol=0.01)
    np.testing.assert_allclose(np.median(sampled.sigma_pred / auto.sigma_pred), 1.0, atol=0.03)
    pre = s.predict(x, space="preprocessed")
    np.testing.assert_allclose(s.target_transform.inverse(pre.mean), s.predict_mean(x), rtol=1e-5)  # no envelope
    with pytest.raises(ValueError, match="closed_form"):
        s.predict(x, closed_form=True, return_samples=True)


def test_models_without_a_closed_form_sample(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    bnn = Surrogate({"family": "bnn", "hidden": [8], "batch_size": 64, "max_epochs": 2, "seed": 4})
    bnn.fit(x, a, progress=False)
    assert not has_closed_form(bnn._require_net(), bnn.target_transform) and not bnn.closed_form
    with pytest.raises(ValueError, match="closed_form"):
        bnn.predict(x, closed_form=True)
    np.testing.assert_array_equal(bnn.predict(x).mean, bnn.predict(x, closed_form=False).mean)
