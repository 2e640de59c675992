"""Tests of the surrogate: configuration, training, prediction and uncertainties, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from activeamp.surrogate.laplace import LastLayerNet
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import (
    FAMILIES,
    Surrogate,
    SurrogateConfig,
    stratified_normal_nodes,
    summarise_samples,
    t_model,
    t_model_weights,
    t_pred,
    t_tot,
)

pytestmark = pytest.mark.usefixtures("single_thread")


TINY = {"hidden": [8, 8], "batch_size": 64, "max_epochs": 3, "lr": 3e-3, "n_members": 3, "seed": 7}


def smooth(x: np.ndarray) -> np.ndarray:
    """A smooth positive 2-D test function ``(N, 2) → (N,)``."""
    return 1.0 + 0.5 * np.sin(3.0 * x[:, 0]) + x[:, 0] ** 2 + 0.3 * x[:, 1]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (200, 2))
    return x, smooth(x)


@pytest.fixture(scope="module")
def trained(data: tuple[np.ndarray, np.ndarray]) -> Surrogate:
    s = Surrogate(TINY)
    s.fit(*data, progress=False)
    return s


# ---------------------------------------------------------------------------- configuration
def test_config_from_dict_validates_and_round_trips() -> None:
    cfg = SurrogateConfig.from_dict({"hidden": [4, 5], "family": "ensemble", "lr": "1e-4", "sigma_a": 2})
    assert cfg.hidden == (4, 5) and cfg.lr == 1e-4 and cfg.sigma_a == 2.0
    assert SurrogateConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown key hiden; allowed: activation, .*hidden"):
        SurrogateConfig.from_dict({"hiden": [4]})
    with pytest.raises(ValueError, match="family: 'gp' is not one of 'laplace', 'bnn', 'deterministic'"):
        SurrogateConfig.from_dict({"family": "gp"})
    with pytest.raises(ValueError, match="prior_width: must be > 0"):
        SurrogateConfig(prior_width=0.0)
    with pytest.raises(ValueError, match="activation: 'sigmoid' is not one of"):
        SurrogateConfig(activation="sigmoid")
    with pytest.raises(ValueError, match="sigma_a: 'max' is not one of"):
        SurrogateConfig(sigma_a="max")
    with pytest.raises(ValueError, match="inputs: 'angles'"):
        SurrogateConfig(inputs="angles")  # type: ignore[arg-type]
    assert SurrogateConfig(hidden=[3, 4]).hidden == (3, 4)  # type: ignore[arg-type]
    paper = SurrogateConfig.for_process("gg_yygg", seed=3)
    assert paper.hidden == (32, 64, 256, 512, 128, 64, 32) and paper.batch_size == 8192 and paper.seed == 3


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


def test_plateau_rule_stops_and_callback_sees_every_epoch(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    seen: list[tuple[int, dict]] = []
    s = Surrogate({**TINY, "lr": 1e-9, "max_epochs": 100, "patience": 3, "tol": 0.1, "lr_schedule": "none"})
    s.fit(x, a, callback=lambda epoch, metrics: seen.append((epoch, metrics)), progress=False)
    assert s.epoch == 4 and s.stage["converged"]  # epoch 1 sets the best, 3 epochs without improvement
    assert [e for e, _ in seen] == [1, 2, 3, 4] and seen[-1][1]["converged"] is True
    assert {"train_loss", "train_nll", "penalty", "lr", "epoch_time_s"} <= set(seen[0][1])


def test_kl_is_normalised_to_the_sum_of_multiplicities(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    penalties = []
    for n in (1.0, 3.0):
        s = Surrogate({**TINY, "family": "bnn", "lr": 1e-12, "max_epochs": 1})
        s.fit(x, a, weights=np.full(len(a), n), progress=False)
        penalties.append(s.history[-1]["penalty"])
        kl = float(s.net.kl().detach())
        assert penalties[-1] == pytest.approx(kl / (n * len(a)), rel=1e-5)
    assert penalties[0] == pytest.approx(3 * penalties[1], rel=1e-5)


def test_exponential_lr_schedule(data: tuple[np.ndarray, np.ndarray]) -> None:
    s = Surrogate({**TINY, "lr_schedule": "exponential", "lr_decay": 0.5})
    s.fit(*data, progress=False)
    assert [h["lr"] for h in s.history] == pytest.approx([1.5e-3, 7.5e-4, 3.75e-4])


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


# ---------------------------------------------------------------------------- prediction and uncertainties
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


def test_sigma_propagation_by_sampling_matches_the_lognormal() -> None:
    from activeamp.surrogate.preprocessing import TargetTransform

    t = TargetTransform(sigma_a=2.0, mu=0.3, scale=1.5)
    m = np.array([[-1.0, 0.0, 1.0]])
    for s_pre, rtol in ((1e-3, 1e-4), (0.1, 0.01)):
        pred = summarise_samples(m, np.full_like(m, s_pre), t, stratified_normal_nodes(32))
        s = t.scale * s_pre  # A + σ_A = σ_A exp(s y + μ): lognormal with log-width s
        exact = t.sigma_a * np.exp(t.scale * m[0] + t.mu) * np.sqrt(np.expm1(s**2)) * np.exp(s**2 / 2)
        np.testing.assert_allclose(pred.sigma_model, exact, rtol=rtol)
        np.testing.assert_allclose(pred.mean, t.inverse(m[0]), rtol=1e-14)
        assert np.all(pred.sigma_pred == 0)  # a single weight sample
    z = stratified_normal_nodes(16)
    assert abs(z.mean()) < 1e-15 and np.mean(z**2) == pytest.approx(1.0, rel=1e-14)


def test_pull_functions_on_a_constructed_prediction() -> None:
    pred = Prediction(
        mean=np.array([1.0, 2.0]),
        sigma_model=np.array([0.5, 1.0]),
        sigma_pred=np.array([0.25, 2.0]),
        samples=np.array([[1.0, 1.0], [1.0, 3.0]]),
        sigma_model_samples=np.array([[0.5, 1.0], [0.5, 1.0]]),
    )
    truth = np.array([0.5, 4.0])
    np.testing.assert_allclose(t_model(pred, truth), [1.0, -2.0])
    np.testing.assert_allclose(t_pred(pred, truth), [2.0, -1.0])
    np.testing.assert_allclose(t_tot(pred, truth), [0.5 / np.sqrt(0.3125), -2.0 / np.sqrt(5.0)])
    np.testing.assert_allclose(t_model_weights(pred, truth), [[1.0, -3.0], [1.0, -1.0]])
    with pytest.raises(ValueError, match="return_samples=True"):
        t_model_weights(Prediction(pred.mean, pred.sigma_model, pred.sigma_pred), truth)


# ---------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("family", ["bnn", "repulsive"])
def test_save_load_gives_identical_predictions(
    family: str, tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, a = data
    s = Surrogate({**TINY, "family": family, "lr_schedule": "plateau", "lr_decay": 0.5})
    s.fit(x, a, progress=False)
    path = s.save(tmp_path / "ckpt" / "model.pt")
    loaded = Surrogate.load(path)
    assert loaded.config == s.config and loaded.epoch == 3 and loaded.history == s.history
    assert loaded.input_transform.dropped == s.input_transform.dropped
    p1, p2 = s.predict(x, return_samples=True), loaded.predict(x, return_samples=True)
    np.testing.assert_array_equal(p1.samples, p2.samples)
    np.testing.assert_array_equal(p1.sigma_model, p2.sigma_model)
    np.testing.assert_array_equal(s.predict_mean(x), loaded.predict_mean(x))


def test_resume_from_checkpoint_continues_the_run(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    cfg = {**TINY, "max_epochs": 6}
    path = tmp_path / "epoch3.pt"

    def save_at_three(epoch: int, metrics: dict) -> None:
        if epoch == 3:
            straight.save(path)

    straight = Surrogate(cfg)
    straight.fit(x, a, callback=save_at_three, progress=False)
    resumed = Surrogate.load(path)
    assert resumed.epoch == 3 and len(resumed.history) == 3 and not resumed.stage["done"]
    resumed.fit(x, a, progress=False)  # continues the interrupted stage up to epoch 6
    assert resumed.epoch == 6 and [h["epoch"] for h in resumed.history] == list(range(1, 7))
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in straight.history]
    np.testing.assert_array_equal(resumed.predict(x).mean, straight.predict(x).mean)
    # a finished stage is followed by a new one with its own epoch limit
    resumed.fit(x, a, progress=False, max_epochs=2)
    assert resumed.epoch == 8 and resumed.stage["index"] == 1


# ---------------------------------------------------------------------------- vector targets
VECTOR = {"hidden": [32, 32], "lr": 5e-3, "batch_size": 64, "max_epochs": 30, "patience": 1000, "seed": 1}


def coefficients(x: np.ndarray) -> np.ndarray:
    """Three signed outputs ``(N, 3)`` of a 3-D input: oscillating, large and positive, crossing zero linearly."""
    return np.stack(
        [
            np.sin(3.0 * x[:, 0]) + 0.5 * x[:, 1],
            1e4 * np.exp(2.0 * x[:, 0] + x[:, 2]),
            100.0 * (x[:, 1] - 0.2 * x[:, 2]),
        ],
        axis=1,
    )


@pytest.fixture(scope="module")
def vector_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(2).uniform(-1.0, 1.0, (600, 3))
    return x, coefficients(x)


@pytest.fixture(scope="module")
def vector_trained(vector_data: tuple[np.ndarray, np.ndarray]) -> Surrogate:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped: set up before the function-scoped single_thread fixture
    try:
        s = Surrogate({**VECTOR, "target_transform": "signed"})
        s.fit(*vector_data, progress=False)
    finally:
        torch.set_num_threads(threads)
    return s


def test_vector_config_field_is_validated() -> None:
    assert SurrogateConfig().target_transform == "pure_log"
    assert SurrogateConfig.from_dict({"target_transform": "signed"}).target_transform == "signed"
    with pytest.raises(ValueError, match="target_transform: 'asinh' is not one of 'pure_log', 'log', 'signed'"):
        SurrogateConfig.from_dict({"target_transform": "asinh"})


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


def test_checkpoints_without_output_fields_load_as_scalar_log_models(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    trained = Surrogate({**TINY, "family": "bnn", "target_transform": "log"})
    trained.fit(x, a, progress=False)
    state = trained.state_dict()
    assert state["n_outputs"] is None and "kind" not in state["target_transform"]
    for key in ("n_outputs", "envelope", "symmetry"):  # as written before vector models and envelopes existed
        del state[key]
    for key in ("envelope", "symmetry", "process", "loss", "optimizer", "max_steps", "max_seconds"):
        del state["config"][key]
    old = Surrogate(SurrogateConfig.from_dict(state["config"]))
    old.load_state_dict(state)
    assert old.n_outputs is None and old.config.target_transform == "log"
    assert old.pipeline.envelope is None and old.pipeline.group is None
    np.testing.assert_array_equal(old.predict(x).mean, trained.predict(x).mean)


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


def test_cosine_stage_runs_over_steps_and_logs_progress(
    data: tuple[np.ndarray, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    x, a = data  # 200 points, batch 64: 4 steps per epoch
    s = Surrogate({**TINY, "max_epochs": 1000, "max_steps": 20, "lr": 1e-2, "warmup": 0.25})
    with caplog.at_level("INFO", logger="activeamp.surrogate.surrogate"):
        s.fit(x, a, x_val=x[:50], a_val=a[:50], progress=False)
    assert s.epoch == 5 and s.stage["done"] and not s.stage["converged"]  # ceil(20 / 4) epochs, no plateau stop
    lrs = [h["lr"] for h in s.history]
    assert lrs[-1] < 2e-4 and max(lrs) > 0.5e-2  # per-step warm-up and cosine decay (the last step of 20 recorded)
    assert any("stage 0: epoch 5/5" in r.getMessage() for r in caplog.records)
    timed = Surrogate({**TINY, "max_epochs": 10_000, "max_steps": 0, "max_seconds": 0.3})
    timed.fit(x, a, progress=False)
    assert timed.stage["done"] and 0.3 <= timed.stage["seconds"] < 5 and timed.epoch < 10_000


def test_progress_line_reports_the_latest_epoch(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    s = Surrogate({**TINY, "max_epochs": 2})
    assert s.progress_line() is None
    s.fit(x, a, x_val=x[:50], a_val=a[:50], progress=False)
    line = s.progress_line()
    assert line.startswith("stage 0: epoch 2/2, loss ") and "val loss" in line and "lr " in line


def test_laplace_checkpoints_whose_sigma_head_saw_features_only_still_load(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    x, a = data
    s = Surrogate({**TINY, "family": "laplace"})
    s.fit(x, a, progress=False)
    assert s.net.sigma_inputs
    # a checkpoint written before the σ head took the inputs: its first σ layer has H inputs
    legacy = LastLayerNet(s.net.n_inputs, s.net.hidden, s.config.activation, sigma_inputs=False)
    shared = {k: v for k, v in s.net.state_dict().items() if not k.startswith("sigma_head")}
    legacy.load_state_dict(shared, strict=False)
    s.net = legacy
    loaded = Surrogate(s.config)
    loaded.load_state_dict(s.state_dict())
    assert not loaded.net.sigma_inputs
    np.testing.assert_array_equal(loaded.predict(x).sigma_model, s.predict(x).sigma_model)
