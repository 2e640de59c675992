"""Run (or resume) a search: Tune's ``Tuner`` with the trainable, ASHA and checkpoints, then the export."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import ray
import yaml
from ray import tune

from activeamp.config import ConfigError
from activeamp.loop.cluster import connect, has_gpus
from activeamp.loop.tuning.config import SearchConfig, TuningError, experiment_path
from activeamp.loop.tuning.data import SearchData, load_search_data
from activeamp.loop.tuning.results import SearchOutcome, export_results
from activeamp.loop.tuning.storage import read_file, write_file
from activeamp.loop.tuning.trainable import train_trial, trial_dirname

__all__ = ["ENTRY_ENVIRONMENT", "SAVED_CONFIG", "run_search"]

logger = logging.getLogger(__name__)

#: The search definition and data fingerprint, in the experiment folder (checked on resume).
SAVED_CONFIG = "activeamp_search.yaml"

#: Environment defaults for an entry point (script or CLI) that runs a search; user settings win.
ENTRY_ENVIRONMENT: dict[str, str] = {"TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}

_UNCHECKED_ON_RESUME = ("address", "verbose")


def _resources(config: SearchConfig) -> dict[str, float]:
    """Ray resources of one trial: CPUs, GPUs (a share with ``auto``) and the custom ones."""
    if config.trial_gpus == "auto":
        gpus = (1.0 / max(config.max_concurrent, 1)) if has_gpus() else 0.0
    else:
        gpus = float(config.trial_gpus)
    return {"cpu": float(config.trial_cpus), "gpu": gpus, **{k: float(v) for k, v in config.trial_resources.items()}}


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _checked(config: Mapping[str, Any]) -> dict[str, Any]:
    """The dotted keys of a search definition that must not change on resume."""
    return {k: v for k, v in _flatten(config).items() if k.split(".")[0] not in _UNCHECKED_ON_RESUME}


def _check_resume(path: str, config: SearchConfig, data: SearchData) -> None:
    """Refuse to resume with another search definition or other data than the experiment was started with."""
    raw = read_file(path, SAVED_CONFIG)
    if raw is None:
        logger.warning("%s has no %s; cannot check that the search definition is unchanged", path, SAVED_CONFIG)
        return
    saved = yaml.safe_load(raw.decode())
    old, new = _checked(saved.get("config", {})), _checked(config.to_dict())
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if changed:
        raise ConfigError(
            f"{path} was started with a different search definition ({', '.join(changed)} changed); "
            "resume with the same configuration, or start a new search under another name"
        )
    if saved.get("data") != data.fingerprint:
        raise TuningError(
            f"{config.store}: the train/validation points differ from those the search {path} started with "
            f"({saved.get('data')}); trials must all use the same frozen split: start a new search under another name"
        )


def _new_tuner(config: SearchConfig, trainable: Any) -> tune.Tuner:
    """A fresh ``Tuner``: random search from ``config.seed``, ASHA (or FIFO), checkpoints ranked by the metric."""
    scheduler = (
        tune.schedulers.ASHAScheduler(
            time_attr="training_iteration",
            max_t=config.epochs,
            grace_period=config.scheduler.grace_period,
            reduction_factor=config.scheduler.reduction_factor,
            brackets=config.scheduler.brackets,
        )
        if config.scheduler.kind == "asha"
        else tune.schedulers.FIFOScheduler()
    )
    return tune.Tuner(
        trainable,
        param_space=config.space.param_space(),
        tune_config=tune.TuneConfig(
            metric=config.metric,
            mode="min",
            search_alg=tune.search.BasicVariantGenerator(
                random_state=config.seed, max_concurrent=config.max_concurrent
            ),
            scheduler=scheduler,
            num_samples=config.num_samples,
            trial_dirname_creator=trial_dirname,
            reuse_actors=True,  # a fresh worker imports torch (+ torch._dynamo via Adam): seconds per trial
        ),
        run_config=tune.RunConfig(
            name=config.name,
            storage_path=config.storage_path,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=config.keep_checkpoints,
                checkpoint_score_attribute=config.metric,
                checkpoint_score_order="min",
            ),
            verbose=config.verbose,
        ),
    )


def run_search(config: SearchConfig, *, resume: bool = False, data: SearchData | None = None) -> SearchOutcome:
    """Run (or resume) the search and export the best configuration, model and the trial table.

    Connects to ``config.address`` / ``RAY_ADDRESS`` or starts a local Ray instance (shut down again at
    the end); an already initialised Ray is used as it is.

    Parameters
    ----------
    config : SearchConfig
        The search.
    resume : bool
        Continue the experiment in ``<storage_path>/<name>`` with ``Tuner.restore`` (unfinished trials go
        on from their latest checkpoints, errored ones are retried from theirs; finished trials are kept).
        Without an experiment there, a new search starts. Without ``resume``, an existing experiment is
        an error.
    data : SearchData, optional
        Preloaded arrays (default: read with :func:`~activeamp.loop.tuning.data.load_search_data`).

    Returns
    -------
    SearchOutcome
        ``complete`` is False when the search was interrupted (Ctrl-C); rerun with ``resume=True``.

    Raises
    ------
    activeamp.config.ConfigError
        An experiment exists and ``resume`` is False, or it was started with another definition.
    TuningError
        No trial produced a finite objective, or the store's data changed since the search started.
    """
    data = data if data is not None else load_search_data(config)
    path = experiment_path(config)
    restore = tune.Tuner.can_restore(path)
    if restore and not resume:
        raise ConfigError(
            f"{path}: an experiment named {config.name!r} exists already; continue it with --resume "
            "or choose another name (--set name=...)"
        )
    if restore:
        _check_resume(path, config, data)
    elif resume:
        logger.warning("no experiment to resume in %s; starting a new search", path)
    started = connect(config.address)
    try:
        settings: dict[str, Any] = {
            "base": config.base,
            "space": config.space,
            "epochs": config.epochs,
            "eval_every": config.eval_every,
            "checkpoint_every": config.checkpoint_every,
            "trial_cpus": config.trial_cpus,
            "process": data.process,
        }
        if data.outputs is not None:
            settings["outputs"] = list(data.outputs)
        trainable = tune.with_resources(
            tune.with_parameters(train_trial, settings=settings, data=data.arrays()), _resources(config)
        )
        if restore:
            logger.info("resuming the search in %s", path)
            tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
        else:
            saved = {"config": config.to_dict(), "data": data.fingerprint}
            write_file(path, SAVED_CONFIG, yaml.safe_dump(saved, sort_keys=False).encode())
            tuner = _new_tuner(config, trainable)
        t0 = time.perf_counter()
        results = tuner.fit()
        logger.info("search %s: %d trials in %.1f s", config.name, len(results), time.perf_counter() - t0)
        outcome = export_results(results, config, config.space.n_trials(config.num_samples))
    finally:
        if started:
            ray.shutdown()
    if not outcome.complete:
        logger.warning("the search %s was interrupted; continue it with --resume", path)
    return outcome
