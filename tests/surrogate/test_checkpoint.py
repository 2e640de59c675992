"""Tests for activeamp.surrogate.checkpoint: state, save/load, resume, old and bad checkpoint files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from activeamp.surrogate.checkpoint import (
    FORMAT_VERSION,
    check_format,
    pipeline_from_state,
    pipeline_state,
    read_checkpoint,
    sigma_sees_inputs,
    write_checkpoint,
)
from activeamp.surrogate.laplace import LastLayerNet
from activeamp.surrogate.surrogate import Surrogate, SurrogateConfig
from tests.surrogate.toys import TINY, smooth_data, tiny_surrogate

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return smooth_data()


@pytest.fixture(scope="module")
def trained(data: tuple[np.ndarray, np.ndarray]) -> Surrogate:
    return tiny_surrogate(data)


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


def test_loading_a_file_that_is_not_a_checkpoint_names_the_file(
    tmp_path: Path, trained: Surrogate
) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint\n" * 10)
    with pytest.raises(ValueError, match=r"garbage.pt: not an activeamp surrogate checkpoint"):
        Surrogate.load(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(3)}, foreign)  # a plain torch state dict
    message = r"foreign.pt: not an activeamp surrogate checkpoint \(no 'format' or 'config'"
    with pytest.raises(ValueError, match=message):
        Surrogate.load(foreign)
    state = trained.state_dict()
    state["model"] = {k: v[..., :1] for k, v in state["model"].items()}  # wrong shapes
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r"bad.pt: cannot load the checkpoint: .*size mismatch"):
        Surrogate.load(bad)
    with pytest.raises(IsADirectoryError, match="is a folder, not a checkpoint"):
        Surrogate.load(tmp_path)


def test_pipeline_state_is_plain_tensors_and_restores_the_same_maps(trained: Surrogate, tmp_path: Path) -> None:
    x = np.random.default_rng(1).uniform(-1.0, 1.0, (20, 2))
    state = pipeline_state(trained.pipeline)
    assert set(state) == {"input_transform", "target_transform", "envelope", "symmetry"}
    assert not any(isinstance(v, np.ndarray) for v in state["input_transform"].values())
    path = write_checkpoint(tmp_path / "sub" / "pipeline.pt", {"format": FORMAT_VERSION, "config": {}, **state})
    back = pipeline_from_state(read_checkpoint(path))
    np.testing.assert_array_equal(back.inputs(x), trained.pipeline.inputs(x))
    np.testing.assert_array_equal(back.target(np.array([0.5, 2.0])), trained.pipeline.target(np.array([0.5, 2.0])))
    check_format({"format": FORMAT_VERSION})
    with pytest.raises(ValueError, match="checkpoint format 0 is not supported"):
        check_format({"format": 0})
    with pytest.raises(FileNotFoundError, match="missing.pt: no such checkpoint"):
        read_checkpoint(tmp_path / "missing.pt")


def test_sigma_head_inputs_are_read_from_the_first_sigma_layer() -> None:
    assert sigma_sees_inputs({"sigma_head.0.weight": torch.zeros(1, 16, 8 + 2)}, 8)
    assert not sigma_sees_inputs({"sigma_head.0.weight": torch.zeros(1, 16, 8)}, 8)
    assert sigma_sees_inputs({"layers.0.weight": torch.zeros(8, 2)}, 8)  # no σ head: nothing to adapt
