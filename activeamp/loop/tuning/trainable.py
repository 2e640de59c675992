"""The function Ray Tune runs per trial: train one surrogate epoch by epoch, report and checkpoint every epoch."""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ray import tune

from activeamp.jsonio import write_json
from activeamp.surrogate.metrics import evaluate_prediction
from activeamp.surrogate.surrogate import Surrogate, SurrogateConfig

__all__ = ["MODEL_FILE", "train_trial", "trial_dirname", "validation_metrics"]

logger = logging.getLogger(__name__)

#: The surrogate's file inside every trial checkpoint (:meth:`Surrogate.save`).
MODEL_FILE = "model.pt"
_STATE_FILE = "trial_state.json"  # last validation metrics, so a resumed trial keeps reporting them


def validation_metrics(
    surrogate: Surrogate, x_val: np.ndarray, a_val: np.ndarray, outputs: Sequence[str] | None = None
) -> dict[str, float]:
    """The Δ objectives of a trained surrogate on the validation points: ``val_delta68`` and ``val_top1``.

    Parameters
    ----------
    surrogate : Surrogate
        Trained (scalar or vector) surrogate.
    x_val : numpy.ndarray
        Shape ``(M, n, 4)`` momenta [GeV].
    a_val : numpy.ndarray
        Shape ``(M,)`` amplitudes, or ``(M, K)`` values of a vector store.
    outputs : sequence of str, optional
        Names of the K outputs (default ``y0 … y{K-1}``); ignored for amplitudes.

    Returns
    -------
    dict
        Scalar: the 68 % half-width of Δ = A_NN/A_true − 1 and of its top 1 % by amplitude. Vector: the
        worst output's 68 % half-width of the floored relative deviation Δ_k (:attr:`Metrics.precision`) and
        the worst output's top-1 % half-width (top 1 % by |A_k|).
    """
    pred = surrogate.predict(x_val)
    names = None
    if np.ndim(a_val) == 2:
        names = list(outputs) if outputs is not None else [f"y{k}" for k in range(np.shape(a_val)[1])]
    metrics = evaluate_prediction(pred, a_val, names)
    return {"val_delta68": float(metrics.precision), "val_top1": metrics.top1[1]}


def _restore(folder: Path) -> tuple[Surrogate, dict[str, float]]:
    """The surrogate and last validation metrics of a checkpoint folder (JSON null = NaN)."""
    state = json.loads((folder / _STATE_FILE).read_text())
    last_eval = {k: math.nan if v is None else float(v) for k, v in state["last_eval"].items()}
    return Surrogate.load(folder / MODEL_FILE), last_eval


def train_trial(config: dict[str, Any], settings: dict[str, Any], data: dict[str, np.ndarray]) -> None:
    """Ray Tune function trainable: train one surrogate epoch by epoch, reporting every epoch.

    Reports (``ray.tune.report``) once per epoch: ``epoch``, ``train_loss``, ``train_nll``, ``penalty``,
    ``val_nll``, ``val_delta68``, ``val_top1``, ``lr``, ``epoch_time_s``, ``converged``, ``n_layers``,
    ``n_parameters`` and ``hidden`` (the layer widths as text, e.g. ``"64-32-128"``). Every
    ``checkpoint_every`` epochs and at the last one, a checkpoint goes with the report: the surrogate
    (``model.pt``, :meth:`Surrogate.save`, with optimiser and RNG states) and the last validation metrics;
    a restored trial continues its training stage from there.

    Parameters
    ----------
    config : dict
        The trial's sampled values (see :meth:`SearchSpace.param_space`).
    settings : dict
        ``base`` (:class:`SurrogateConfig`), ``space`` (:class:`~activeamp.loop.tuning.space.SearchSpace`),
        ``epochs``, ``eval_every``, ``checkpoint_every`` (counts in epochs), ``trial_cpus``, ``process``
        (optional) and for a vector store ``outputs`` (the output names; optional).
    data : dict
        Arrays ``x`` ``(N, n, 4)``, ``amplitude`` ``(N,)`` or ``(N, K)``, ``x_val``, ``a_val`` (see
        :class:`~activeamp.loop.tuning.data.SearchData`).
    """
    torch.set_num_threads(max(1, int(settings["trial_cpus"])))
    base: SurrogateConfig = settings["base"]
    epochs = int(settings["epochs"])
    values = settings["space"].surrogate_values(config)
    surrogate_config = SurrogateConfig.from_dict({**base.to_dict(), **values, "max_epochs": epochs})
    if settings.get("process"):
        surrogate_config = surrogate_config.with_process(settings["process"])
    last_eval: dict[str, float] = {}
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            surrogate, last_eval = _restore(Path(folder))
        logger.info("trial resumed from its checkpoint at epoch %d", surrogate.epoch)
    else:
        surrogate = Surrogate(surrogate_config)
    x_val, a_val = data["x_val"], data["a_val"]
    hidden = "-".join(str(h) for h in surrogate_config.hidden)

    def report(epoch: int, metrics: dict[str, Any]) -> None:
        last = epoch >= epochs or bool(metrics["converged"])
        if not last_eval or epoch == 1 or epoch % settings["eval_every"] == 0 or last:
            last_eval.update(validation_metrics(surrogate, x_val, a_val, settings.get("outputs")))
        result = {
            "epoch": epoch,
            "train_loss": metrics["train_loss"],
            "train_nll": metrics["train_nll"],
            "penalty": metrics["penalty"],
            "val_nll": metrics.get("val_loss", math.nan),
            **last_eval,
            "lr": metrics["lr"],
            "epoch_time_s": metrics["epoch_time_s"],
            "converged": int(bool(metrics["converged"])),
            "n_layers": len(surrogate_config.hidden),
            "n_parameters": surrogate.n_parameters,
            "hidden": hidden,
        }
        if not (last or epoch % settings["checkpoint_every"] == 0):
            tune.report(result)
            return
        with tempfile.TemporaryDirectory(prefix="activeamp-trial-") as folder:
            surrogate.save(Path(folder) / MODEL_FILE)
            write_json(Path(folder) / _STATE_FILE, {"epoch": epoch, "last_eval": last_eval}, indent=None)
            tune.report(result, checkpoint=tune.Checkpoint.from_directory(folder))

    surrogate.fit(
        data["x"],
        data["amplitude"],
        x_val=x_val,
        a_val=a_val,
        callback=report,
        progress=False,
        new_stage=False if checkpoint is not None else None,
    )


def trial_dirname(trial: Any) -> str:
    """Short trial folder names (``trial_<id>``) instead of Tune's ``<trainable>_<id>_<key=value,...>``."""
    return f"trial_{trial.trial_id}"
