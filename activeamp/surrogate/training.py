"""From a shard store to a trained, saved surrogate (``activeamp train``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from activeamp import config as _config
from activeamp.atomic import write_atomic
from activeamp.data.store import ShardStore
from activeamp.jsonio import write_json
from activeamp.report.plots import plot_loss_history
from activeamp.surrogate.fitting import fit_and_boost
from activeamp.surrogate.surrogate import Callback, Surrogate, SurrogateConfig
from activeamp.surrogate.train_config import TrainConfig, load_train_config

__all__ = [
    "HISTORY_SCHEMA",
    "MODEL_NAME",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "check_target_transform",
    "load_train_config",
    "load_training_data",
    "names_text",
    "open_store",
    "stream_rng",
    "train_from_store",
]

logger = logging.getLogger(__name__)

#: Identifier written into ``history.json``; bumped when its layout changes.
HISTORY_SCHEMA: str = "activeamp.training-history/1"
#: File name of the checkpoint that :func:`train_from_store` writes into its output folder.
MODEL_NAME: str = "model.pt"

_SEED_VALIDATION = 0  # stream of the run seed that carves the validation set
_SEED_SUBSAMPLE = 1  # stream that draws the n_train subsample
_SEED_EVALUATE = 2  # stream that draws the max_points subsample of an evaluated split
_MAX_KEPT_SAMPLES = 2**24  # M × N (× K) beyond which evaluate_model drops the per-sample (M, N) arrays (128 MiB each)

StoreLike = ShardStore | str | os.PathLike[str]


# ------------------------------------------------------------------------------------------------ data


def open_store(store: StoreLike) -> ShardStore:
    """The store itself, or the store opened at a path."""
    return store if isinstance(store, ShardStore) else ShardStore.open(store)


@dataclass(frozen=True)
class TrainingData:
    """The arrays one training run uses, selected from a store by :func:`load_training_data`.

    Attributes
    ----------
    ids, x, amplitude : numpy.ndarray
        Training points: ids ``(N,)`` (object, sorted), momenta ``(N, n, 4)`` [GeV], and the labels: amplitudes
        ``(N,)``, or for a vector store the values ``(N, K)`` (columns as ``outputs``).
    val_ids, x_val, a_val : numpy.ndarray or None
        Validation set in the same layout, or None.
    validation_source : {"split", "carved", "none"}
        Where the validation set came from.
    n_available : int
        ``ok`` points in the training split before carving and subsampling.
    outputs : tuple of str or None
        Output names of a vector store (:attr:`ShardStore.outputs`); None for amplitudes.
    """

    ids: np.ndarray
    x: np.ndarray
    amplitude: np.ndarray
    val_ids: np.ndarray | None
    x_val: np.ndarray | None
    a_val: np.ndarray | None
    validation_source: Literal["split", "carved", "none"]
    n_available: int
    outputs: tuple[str, ...] | None = None

    @property
    def n_train(self) -> int:
        """Number of training points."""
        return int(self.amplitude.shape[0])

    @property
    def n_validation(self) -> int:
        """Number of validation points (0 without validation set)."""
        return 0 if self.a_val is None else int(self.a_val.shape[0])


def names_text(outputs: Sequence[str], limit: int = 6) -> str:
    """Output names for a message: the first ``limit``, then how many more."""
    shown = ", ".join(outputs[:limit])
    return shown + (f", ... ({len(outputs)} in all)" if len(outputs) > limit else "")


def check_target_transform(
    store: ShardStore, surrogate: SurrogateConfig, key: str = "surrogate.target_transform"
) -> None:
    """Refuse a target map that cannot learn the store's labels, before any training.

    A vector store holds signed outputs (e.g. form-factor coefficients that cross zero); the log map of
    Eq. (15) needs non-negative targets, so such a store needs ``target_transform="signed"``.

    Parameters
    ----------
    store : ShardStore
        The store trained on.
    surrogate : SurrogateConfig
        The surrogate settings.
    key : str
        The config key named in the error (``base.target_transform`` in a search config).

    Raises
    ------
    activeamp.config.ConfigError
        Naming ``key``, the store and its outputs.
    """
    outputs = store.outputs
    if outputs is not None and surrogate.target_transform != "signed":
        raise _config.ConfigError(
            f"{key}: {store.path} holds {len(outputs)} signed outputs per point ({names_text(outputs)}), which the "
            f"{surrogate.target_transform!r} map cannot learn; set {key}=signed"
        )


def stream_rng(seed: int, stream: int) -> np.random.Generator:
    """Generator of stream ``stream`` of the run seed ``seed`` (independent of every other stream)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream]))


def load_training_data(store: StoreLike, config: TrainConfig) -> TrainingData:
    """Select training and validation points of ``store`` as ``config`` says (deterministic for its seed).

    The labels are the store's targets (:attr:`LabelledArrays.targets`): amplitudes ``(N,)``, or the values
    ``(N, K)`` of a vector store.

    Order of operations: read the ``ok`` points of ``train_split`` (sorted by id); take the validation set
    from ``validation_split`` if it has ``ok`` points, else carve ``validation_fraction`` of the training
    points at random; then keep a random subsample of ``n_train`` of the remaining points. Selected points
    stay in id order.

    Raises
    ------
    ValueError
        If the training split has fewer than 2 ``ok`` points (message names store and split), or
        carving leaves fewer than 2.
    """
    store = open_store(store)
    train = store.arrays(config.train_split)
    if len(train) < 2:
        raise ValueError(
            f"{store.path}: split {config.train_split!r} has {len(train)} labelled (ok) points; need at least 2 "
            "to train (label the store first: `activeamp label`)"
        )
    ids, x, a = train.ids, train.momenta, train.targets
    val_ids = x_val = a_val = None
    source: Literal["split", "carved", "none"] = "none"
    if config.validation_split is not None:
        val = store.arrays(config.validation_split)
        if len(val):
            val_ids, x_val, a_val, source = val.ids, val.momenta, val.targets, "split"
            if config.validation_split == config.test_split:
                logger.warning(
                    "the validation split is the test split %r: test metrics are not independent", config.test_split
                )
        elif config.validation_fraction == 0:
            logger.info(
                "%s: split %r has no ok points; training without validation set", store.path, config.validation_split
            )
    if source == "none" and config.validation_fraction > 0:
        n_val = max(1, round(config.validation_fraction * len(a)))
        if len(a) - n_val < 2:
            raise ValueError(
                f"validation_fraction: {config.validation_fraction} of {len(a)} points leaves fewer than 2 to train on"
            )
        perm = stream_rng(config.seed, _SEED_VALIDATION).permutation(len(a))
        held, kept = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        val_ids, x_val, a_val, source = ids[held], x[held], a[held], "carved"
        ids, x, a = ids[kept], x[kept], a[kept]
    if config.n_train is not None and config.n_train < len(a):
        keep = np.sort(stream_rng(config.seed, _SEED_SUBSAMPLE).permutation(len(a))[: config.n_train])
        ids, x, a = ids[keep], x[keep], a[keep]
    elif config.n_train is not None and config.n_train > len(a):
        logger.warning("n_train=%d but only %d training points are available: using all", config.n_train, len(a))
    data = TrainingData(ids, x, a, val_ids, x_val, a_val, source, len(train), store.outputs)
    logger.info(
        "training data from %s: %d training points (of %d in %r), %d validation points (%s)",
        store.path,
        data.n_train,
        data.n_available,
        config.train_split,
        data.n_validation,
        source,
    )
    return data


# ------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train_from_store`.

    Attributes
    ----------
    model_path : pathlib.Path
        The checkpoint (``out_dir/model.pt``), loadable with :meth:`Surrogate.load`.
    out_dir : pathlib.Path
        Folder with ``model.pt``, ``train_config.yaml``, ``history.json``, ``loss.png`` (and ``boosting.npz``).
    history : tuple of dict
        Learning curve, one record per epoch over all stages (see :attr:`Surrogate.history`).
    boosting : tuple of dict
        One record per boosting round (:class:`~activeamp.surrogate.boosting.BoostingResult`); empty without
        boosting.
    multiplicities : numpy.ndarray or None
        Shape ``(n_train,)``: final multiplicities ``n_j`` of the training points, None without boosting.
    n_train, n_validation : int
        Points trained on and held out for validation.
    epochs : int
        Epochs over all stages.
    seconds : float
        Wall time of training and boosting (s), without data loading and output writing.
    surrogate : Surrogate
        The trained surrogate (the object, not reloaded).
    """

    model_path: Path
    out_dir: Path
    history: tuple[dict[str, Any], ...]
    boosting: tuple[dict[str, Any], ...]
    multiplicities: np.ndarray | None
    n_train: int
    n_validation: int
    epochs: int
    seconds: float
    surrogate: Surrogate = field(repr=False, compare=False)


def train_from_store(
    store: StoreLike,
    config: TrainConfig | Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    progress: bool = True,
    callback: Callback | None = None,
) -> TrainResult:
    """Train a surrogate on the ``ok`` points of a store, boost it, and save model, config, history and plot.

    A vector store (:attr:`ShardStore.outputs`) trains a vector model with one output per stored output; it
    needs ``surrogate.target_transform: signed``.

    The surrogate is trained to convergence (one :meth:`Surrogate.fit` stage: plateau rule or
    ``surrogate.max_epochs``); then each round of ``config.boosting`` updates the multiplicities and retrains
    (:func:`activeamp.surrogate.fitting.fit_and_boost`, the procedure the trainer actor runs too). Written into
    ``out_dir`` (created; existing files replaced):

    - ``model.pt``: the checkpoint (:meth:`Surrogate.save`, atomic);
    - ``train_config.yaml``: ``config`` as YAML (``TrainConfig.from_dict`` reads it back);
    - ``history.json``: per-epoch learning curve, boosting rounds, data selection (with a vector store's
      ``outputs``) and timing;
    - ``loss.png``: the learning curve (training and validation loss);
    - ``boosting.npz``: point ids ``(N,)`` and final multiplicities ``(N,)`` (only when boosting ran).

    Parameters
    ----------
    store : ShardStore or path
        Labelled store.
    config : TrainConfig or mapping
        Settings; a mapping is validated with :meth:`TrainConfig.from_dict`.
    out_dir : path
        Output folder.
    progress : bool
        Show tqdm progress bars for the training stages.
    callback : callable, optional
        ``callback(epoch, metrics)`` after every epoch of every stage (see :meth:`Surrogate.fit`).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        If the store has too few labelled training points (see :func:`load_training_data`).
    activeamp.config.ConfigError
        For an invalid ``config`` mapping, or a vector store (several signed outputs per point) with a
        ``surrogate.target_transform`` other than ``"signed"`` (:func:`check_target_transform`).
    """
    if not isinstance(config, TrainConfig):
        config = TrainConfig.from_dict(config)
    store = open_store(store)
    check_target_transform(store, config.surrogate)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_training_data(store, config)
    surrogate = Surrogate(config.surrogate.with_process(store.process.name))
    # a killed training leaves its best model so far in out/model.pt (overwritten by the final one)
    fitted = fit_and_boost(
        surrogate,
        data.x,
        data.amplitude,
        x_val=data.x_val,
        a_val=data.a_val,
        boosting=config.boosting,
        callback=callback,
        progress=progress,
        checkpoint=out / MODEL_NAME,
        checkpoint_every_s=300.0,
    )
    rounds = fitted.boosting
    multiplicities = fitted.multiplicities if config.boosts else None
    seconds = fitted.seconds
    logger.info("trained %r on %d points in %.1f s (%d epochs)", surrogate, data.n_train, seconds, surrogate.epoch)
    selection: dict[str, Any] = {
        "store": store.path,
        "process": store.process.name,
        "train_split": config.train_split,
        "n_available": data.n_available,
        "n_train": data.n_train,
        "n_validation": data.n_validation,
        "validation_source": data.validation_source,
    }
    if data.outputs is not None:
        selection["outputs"] = list(data.outputs)

    model_path = surrogate.save(out / MODEL_NAME)
    write_atomic(out / "train_config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    write_json(
        out / "history.json",
        {
            "schema": HISTORY_SCHEMA,
            "epochs": surrogate.history,
            "boosting": list(rounds),
            "data": selection,
            "n_parameters": surrogate.n_parameters,
            "seconds": seconds,
        },
    )
    if multiplicities is not None:
        np.savez(out / "boosting.npz", ids=data.ids.astype(str), multiplicities=multiplicities)
    if surrogate.history:
        plot_loss_history(out / "loss.png", surrogate.history)
    return TrainResult(
        model_path=model_path,
        out_dir=out,
        history=tuple(dict(h) for h in surrogate.history),
        boosting=tuple(dict(r) for r in rounds),
        multiplicities=multiplicities,
        n_train=data.n_train,
        n_validation=data.n_validation,
        epochs=surrogate.epoch,
        seconds=seconds,
        surrogate=surrogate,
    )
