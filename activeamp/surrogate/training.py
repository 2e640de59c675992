"""Glue from a shard store to a trained, saved surrogate, and from a surrogate and data to metrics and figures."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from activeamp import config as _config
from activeamp.atomic import write_atomic
from activeamp.data.store import SPLITS, ShardStore
from activeamp.report.plots import (
    kinematic_observables,
    observables_for,
    plot_loss_history,
    write_report,
    write_vector_report,
)
from activeamp.surrogate.boosting import BoostingSchedule, run_boosting
from activeamp.surrogate.metrics import (
    AnyMetrics,
    Metrics,
    VectorMetrics,
    evaluate_prediction,
    evaluate_vector_prediction,
    write_metrics_json,
)
from activeamp.surrogate.prediction import Prediction
from activeamp.surrogate.surrogate import Callback, Surrogate, SurrogateConfig

__all__ = [
    "HISTORY_SCHEMA",
    "MODEL_NAME",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "check_compatible",
    "check_target_transform",
    "evaluate_model",
    "format_delta_table",
    "load_train_config",
    "load_training_data",
    "open_store",
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


# ------------------------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class TrainConfig:
    """How to train a surrogate on the labelled points of a shard store.

    Attributes
    ----------
    surrogate : SurrogateConfig
        Network family, architecture, optimiser and convergence rule (YAML section ``surrogate``).
    boosting : BoostingSchedule or None
        Boosting rounds run after the initial training (YAML section ``boosting``); None or a schedule
        with no steps (``steps: []``) trains without boosting. Note that an empty section ``boosting: {}``
        is the default schedule, 4 rounds of loss boosting.
    train_split : str
        Split whose ``ok`` points are trained on.
    validation_split : str or None
        Split used as validation set (its NLL is the convergence monitor) when it holds ``ok`` points.
    validation_fraction : float
        In ``[0, 1)``: when ``validation_split`` is None or empty, this fraction of the training split is
        held out as validation set (chosen by ``seed``; default 0.1: the default surrogate fits σ_model to
        held-out residuals); 0 trains without validation set (σ_model is then fitted to training residuals,
        and the plateau rule monitors the training loss).
    test_split : str
        Split that :func:`evaluate_model` reports on by default (recorded for the CLI).
    n_train : int or None
        Train on a subsample of this many points (chosen by ``seed`` after the validation carve; nested:
        for one seed, a smaller ``n_train`` gives a subset of a larger one). None: all points.
    seed : int
        Seed of the data selection (validation carve, subsample). The network's own seed is ``surrogate.seed``.
    """

    surrogate: SurrogateConfig = field(default_factory=SurrogateConfig)
    boosting: BoostingSchedule | None = None
    train_split: str = "train"
    validation_split: str | None = "validation"
    validation_fraction: float = 0.1
    test_split: str = "test"
    n_train: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.surrogate, SurrogateConfig):
            raise _config.ConfigError(f"surrogate: expected a SurrogateConfig, got {type(self.surrogate).__name__}")
        if self.boosting is not None and not isinstance(self.boosting, BoostingSchedule):
            raise _config.ConfigError(
                f"boosting: expected a BoostingSchedule or null, got {type(self.boosting).__name__}"
            )
        for name in ("train_split", "validation_split", "test_split"):
            value = getattr(self, name)
            if value is None and name == "validation_split":
                continue
            if value not in SPLITS:
                raise _config.ConfigError(f"{name}: {value!r} is not one of {', '.join(SPLITS)}")
        if self.validation_split == self.train_split:
            raise _config.ConfigError(f"validation_split: must differ from train_split ({self.train_split!r})")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise _config.ConfigError(f"validation_fraction: must be in [0, 1), got {self.validation_fraction!r}")
        if self.n_train is not None and self.n_train < 2:
            raise _config.ConfigError(f"n_train: must be >= 2 or null, got {self.n_train!r}")
        if self.seed < 0:
            raise _config.ConfigError(f"seed: must be >= 0, got {self.seed!r}")

    @property
    def boosts(self) -> bool:
        """Whether a boosting schedule with at least one round is configured."""
        return self.boosting is not None and bool(self.boosting.steps)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Validated config from a mapping (YAML file, ``--set`` overrides, Ray Tune sample).

        Raises
        ------
        activeamp.config.ConfigError
            (a ``ValueError``) naming the bad key with its section, e.g. ``surrogate.lr: must be > 0`` or
            ``unknown key boosting.stepz; allowed: ...``.
        """
        return _config.from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-serialisable dict that :meth:`from_dict` accepts."""
        return _config.to_dict(self)


def load_train_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """:class:`TrainConfig` from an optional YAML file plus dotted ``KEY=VALUE`` overrides.

    Raises
    ------
    activeamp.config.ConfigError
        Naming the file (if any) and the bad key, e.g. ``train.yaml: surrogate.lr: must be > 0, got 0.0``.
    """
    return _config.load_config(TrainConfig, path, overrides)


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


def _names(outputs: Sequence[str], limit: int = 6) -> str:
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
            f"{key}: {store.path} holds {len(outputs)} signed outputs per point ({_names(outputs)}), which the "
            f"{surrogate.target_transform!r} map cannot learn; set {key}=signed"
        )


def _rng(seed: int, stream: int) -> np.random.Generator:
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
        perm = _rng(config.seed, _SEED_VALIDATION).permutation(len(a))
        held, kept = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        val_ids, x_val, a_val, source = ids[held], x[held], a[held], "carved"
        ids, x, a = ids[kept], x[kept], a[kept]
    if config.n_train is not None and config.n_train < len(a):
        keep = np.sort(_rng(config.seed, _SEED_SUBSAMPLE).permutation(len(a))[: config.n_train])
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


# ------------------------------------------------------------------------------------------------ output helpers


def _plain(obj: Any) -> Any:
    """JSON-ready copy: numpy scalars/arrays to Python, NaN and ±inf to None, paths to str."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _write_json(path: Path, doc: Mapping[str, Any]) -> Path:
    return write_atomic(path, json.dumps(_plain(doc), indent=2, allow_nan=False, ensure_ascii=False) + "\n")


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
    (:func:`activeamp.surrogate.boosting.run_boosting`). Written into ``out_dir`` (created; existing files replaced):

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
    fit_kwargs: dict[str, Any] = {"x_val": data.x_val, "a_val": data.a_val, "callback": callback, "progress": progress}

    t0 = time.perf_counter()
    # a killed training leaves its best model so far in out/model.pt (overwritten by the final one)
    surrogate.fit(data.x, data.amplitude, checkpoint=out / MODEL_NAME, checkpoint_every_s=300.0, **fit_kwargs)
    rounds: tuple[dict[str, Any], ...] = ()
    multiplicities = None
    if config.boosts:
        assert config.boosting is not None
        result = run_boosting(surrogate, data.x, data.amplitude, config.boosting, **fit_kwargs)
        rounds, multiplicities = result.history, result.multiplicities
    seconds = time.perf_counter() - t0
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
    _write_json(
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


# ------------------------------------------------------------------------------------------------ evaluation


def _load_surrogate(model: Surrogate | str | os.PathLike[str]) -> Surrogate:
    surrogate = model if isinstance(model, Surrogate) else Surrogate.load(model)
    if not surrogate.is_fitted:
        raise ValueError("the surrogate is not trained yet: train it first (train_from_store / Surrogate.fit)")
    return surrogate


def check_compatible(surrogate: Surrogate, store: ShardStore) -> None:
    """A clear error when a trained model cannot be evaluated on a store's labels.

    The model's inputs must fit the store's process (number of particles), and its outputs the store's
    labels: a scalar model (``n_outputs`` None) a scalar store, a model with K outputs a vector store with K
    outputs (:attr:`Surrogate.n_outputs`, :attr:`ShardStore.n_outputs`).

    Raises
    ------
    ValueError
        Naming the store, the process or both numbers of outputs.
    """
    probe = np.zeros((1, *store.process.momentum_shape))
    try:
        surrogate.transform_inputs(probe)
    except ValueError as err:
        raise ValueError(f"{store.path}: the model does not fit process {store.process.name}: {err}") from None
    if surrogate.n_outputs != (None if store.outputs is None else len(store.outputs)):
        model = "one output (a scalar model)" if surrogate.n_outputs is None else f"{surrogate.n_outputs} outputs"
        held = (
            "scalar amplitudes (one output per point)"
            if store.outputs is None
            else f"{len(store.outputs)} outputs per point ({_names(store.outputs)})"
        )
        raise ValueError(
            f"{store.path}: the model has {model} but the store holds {held}; "
            "evaluate a model trained on a store with the same outputs"
        )


def _effective_samples(surrogate: Surrogate, n_samples: int) -> int:
    """M of a prediction: ensembles always use all their members."""
    fixed = surrogate.net.fixed_samples if surrogate.net is not None else None
    return int(fixed) if fixed is not None else int(n_samples)


def _select(n: int, max_points: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of a random subset of ``max_points`` of ``n`` (None: keep all)."""
    if max_points is None or max_points >= n:
        return None
    return np.sort(_rng(seed, _SEED_EVALUATE).permutation(n)[:max_points])


def _delta_cell(stats: Any, quantile: bool = False) -> str:
    """``half-width (median)``, or with ``quantile`` the 68 % quantile of |Δ| (which counts a bias) and the median."""
    value = stats.abs_68 if quantile else stats.half_width_68
    if stats.count == 0 or not math.isfinite(value):
        return "-"
    return f"{value:.3e} ({stats.median:+.1e})"


def _delta_cells(m: Metrics) -> tuple[str, ...]:
    """N, the three Δ cells and the std of t_tot of one scalar record."""
    return (
        str(m.count),
        _delta_cell(m.delta_all),
        _delta_cell(m.delta_top1, quantile=True),
        _delta_cell(m.delta_top01, quantile=True),
        f"{m.pull_tot.std:.2f}" if math.isfinite(m.pull_tot.std) else "-",
    )


def _aligned(rows: Sequence[Sequence[str]], left: int) -> list[str]:
    """Rows as text: the first ``left`` columns left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]


def format_delta_table(metrics_by_set: Mapping[str, AnyMetrics]) -> str:
    """Plain-text table of the precision of Δ = A_NN/A_true − 1 (all, top 1 %, top 0.1 %) per set.

    The ``all`` cell is ``68 % half-width (median)``; the top subsets (the points with the largest true
    amplitudes) give the 68 % quantile of |Δ|, which counts a bias, and the median. A last column gives the
    standard deviation of the total pull t_tot (1 for a calibrated σ_tot).

    Vector metrics (:class:`activeamp.surrogate.metrics.VectorMetrics`) get one row per set and output, with an
    ``output`` column; Δ is then the floored relative deviation Δ_k = (⟨A⟩_k − A_k)/(|A_k| + m_k) and the top
    subsets are the points with the largest |A_k|. A last line per set names its worst output (the set's precision).

    Parameters
    ----------
    metrics_by_set : mapping
        Set name → :class:`activeamp.surrogate.metrics.Metrics` or :class:`activeamp.surrogate.metrics.VectorMetrics`.

    Returns
    -------
    str
        The table, lines separated by ``\\n``, without trailing newline.
    """
    if not any(isinstance(m, VectorMetrics) for m in metrics_by_set.values()):
        header = ("set", "N", "all", "top 1%", "top 0.1%", "std t_tot")
        rows = [(name, *_delta_cells(m)) for name, m in metrics_by_set.items()]
        lines = [
            "Delta = A_NN/A_true - 1: all points 68% half-width, top 1% / 0.1% by amplitude 68% quantile of |Delta| "
            "(median in brackets)"
        ]
        return "\n".join(lines + _aligned([header, *rows], left=1))

    header = ("set", "output", "N", "all", "top 1%", "top 0.1%", "std t_tot")
    rows = []
    worst = []
    for name, m in metrics_by_set.items():
        if isinstance(m, VectorMetrics):
            rows.extend((name, output, *_delta_cells(m.per_output[output])) for output in m.names)
            widths = {o: m.per_output[o].precision for o in m.names if math.isfinite(m.per_output[o].precision)}
            if widths:
                output = max(widths, key=widths.__getitem__)
                worst.append(f"{name} {widths[output]:.3e} ({output})")
        else:
            rows.append((name, "-", *_delta_cells(m)))
    scalar = (
        "; scalar sets: Delta = A_NN/A_true - 1" if any(isinstance(m, Metrics) for m in metrics_by_set.values()) else ""
    )
    lines = [f"68% half-width of Delta_k = (A_NN,k - A_k)/(|A_k| + m_k) per output k (median in brackets{scalar})"]
    lines += _aligned([header, *rows], left=2)
    if worst:
        lines.append("worst output: " + ", ".join(worst))
    return "\n".join(lines)


def evaluate_model(
    model: Surrogate | str | os.PathLike[str],
    store: StoreLike,
    out_dir: str | os.PathLike[str],
    *,
    splits: Sequence[str] = ("train", "test"),
    n_samples: int = 50,
    max_points: int | None = None,
    seed: int | None = None,
    plots: bool = True,
    report_split: str | None = None,
) -> dict[str, AnyMetrics]:
    """Predict the ``ok`` points of some splits with uncertainties; write metrics, figures and a summary.

    Written into ``out_dir`` (created):

    - ``metrics.json``: :class:`activeamp.surrogate.metrics.Metrics` of every split
      (:func:`activeamp.surrogate.metrics.write_metrics_json`; ``extra`` records model, store, ``n_samples``, sizes);
    - ``summary.txt``: :func:`format_delta_table` of all splits and the pull / coverage figures;
    - with ``plots``: the figures of :func:`activeamp.report.plots.write_report` for ``report_split``: ``delta.png``,
      ``delta_log.png`` (the ``train`` split overlaid when evaluated), ``pulls.png``, ``kin_<observable>.png``
      (amplitude-weighted pT, η, ΔR with σ_h,model / σ_h,pred bands) and ``loss.png`` (the model's history).

    A vector store (several signed outputs per point, :attr:`ShardStore.outputs`) is evaluated output by
    output (:func:`activeamp.surrogate.metrics.evaluate_vector_prediction`: Δ_k is the floored relative deviation
    (⟨A⟩_k − A_k)/(|A_k| + m_k)): ``metrics.json`` holds :class:`~activeamp.surrogate.metrics.VectorMetrics`
    (``per_output``),
    ``summary.txt`` a row per split and output, and the figures are those of
    :func:`activeamp.report.plots.write_vector_report` for ``report_split``: ``residuals.png``, ``pulls_<output>.png``,
    ``kin_<observable>_<output>.png`` and ``loss.png``.

    Parameters
    ----------
    model : Surrogate or path
        A trained surrogate or a checkpoint written by :meth:`Surrogate.save`.
    store : ShardStore or path
        Labelled store of the same process.
    out_dir : path
        Output folder.
    splits : sequence of str
        Splits to evaluate; each needs ``ok`` points.
    n_samples : int
        Weight samples M per prediction (ensembles use their members).
    max_points : int, optional
        Evaluate at most this many points per split (a random subset, fixed by ``seed``).
    seed : int, optional
        Seed of the weight draws (default: derived from the model's seed, reproducible) and of the subset.
    plots : bool
        Write the figures.
    report_split : str, optional
        Split the figures are drawn for (default ``"test"`` if evaluated, else the last of ``splits``).

    Returns
    -------
    dict
        Split name → :class:`~activeamp.surrogate.metrics.Metrics` (:class:`~activeamp.surrogate.metrics.VectorMetrics`
        for a vector
        store), in the order of ``splits``.

    Raises
    ------
    ValueError
        For an empty split, a model of another process or with other outputs than the store
        (:func:`check_compatible`), or bad arguments (the message names them).
    """
    splits = list(dict.fromkeys(splits))
    if not splits:
        raise ValueError("splits: give at least one split to evaluate")
    bad = [s for s in splits if s not in SPLITS]
    if bad:
        raise ValueError(f"splits: {', '.join(map(repr, bad))} not among {', '.join(SPLITS)}")
    if n_samples < 1:
        raise ValueError(f"n_samples: must be >= 1, got {n_samples}")
    if max_points is not None and max_points < 1:
        raise ValueError(f"max_points: must be >= 1 or None, got {max_points}")
    if report_split is None:
        report_split = "test" if "test" in splits else splits[-1]
    elif report_split not in splits:
        raise ValueError(f"report_split: {report_split!r} is not among the evaluated splits {splits}")
    surrogate = _load_surrogate(model)
    store = open_store(store)
    check_compatible(surrogate, store)
    outputs = store.outputs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    metrics: dict[str, AnyMetrics] = {}
    kept: dict[str, tuple[Prediction, np.ndarray, np.ndarray]] = {}
    sizes: dict[str, dict[str, int]] = {}
    timing: dict[str, float] = {}
    for split in splits:
        arrays = store.arrays(split)
        if len(arrays) == 0:
            raise ValueError(f"{store.path}: split {split!r} has no labelled (ok) points to evaluate")
        sel = _select(len(arrays), max_points, 0 if seed is None else seed)
        x = arrays.momenta if sel is None else arrays.momenta[sel]
        a = arrays.targets if sel is None else arrays.targets[sel]
        m = _effective_samples(surrogate, n_samples)
        with_samples = m * a.size <= _MAX_KEPT_SAMPLES  # a.size: N, or N × K for a vector store
        if not with_samples:
            logger.info("%s: %d points × %d samples: per-sample arrays dropped (no Eq. 17 pull)", split, len(a), m)
        t0 = time.perf_counter()
        pred = surrogate.predict(x, n_samples, return_samples=with_samples, seed=seed)
        timing[split] = time.perf_counter() - t0
        if outputs is None:
            metrics[split] = evaluate_prediction(pred, a)
        else:
            metrics[split] = evaluate_vector_prediction(pred, a, outputs)
        sizes[split] = {"n_points": int(len(a)), "n_available": int(len(arrays))}
        if split == report_split or (split == "train" and outputs is None):  # the train overlay is scalar only
            kept[split] = (pred, a, x)
        logger.info(
            "%s: %d points, 68%% half-width of Δ = %.3g%s (prediction %.2f s)",
            split,
            len(a),
            metrics[split].precision,
            "" if outputs is None else " (worst output)",
            timing[split],
        )

    extra = {
        "model": str(model) if not isinstance(model, Surrogate) else None,
        "store": store.path,
        "process": store.process.name,
        "n_samples": _effective_samples(surrogate, n_samples),
        "max_points": max_points,
        "seed": seed,
        "sizes": sizes,
        "prediction_seconds": timing,
        "surrogate": surrogate.config.to_dict(),
        "epochs": surrogate.epoch,
    }
    if outputs is not None:
        extra["outputs"] = list(outputs)
    write_metrics_json(out / "metrics.json", metrics, extra)
    summary = [
        f"model: {extra['model'] or repr(surrogate)}",
        f"store: {store.path} ({store.process.name}); M = {extra['n_samples']} weight samples",
        "",
        format_delta_table(metrics),
        "",
        "pulls and coverage of sigma_tot:",
    ]
    for name, record in metrics.items():
        parts = (
            [(f"{name}/{o}", record.per_output[o]) for o in record.names]
            if isinstance(record, VectorMetrics)
            else [(name, record)]
        )
        for label, m in parts:
            cover = ", ".join(f"{c.k:g} sigma {c.observed:.3f} (Gaussian {c.expected:.3f})" for c in m.coverage)
            summary.append(
                f"  {label}: t_model std {m.pull_model.std:.2f}, t_pred std {m.pull_pred.std:.2f}, "
                f"t_tot std {m.pull_tot.std:.2f}; coverage {cover}"
            )
    write_atomic(out / "summary.txt", "\n".join(summary) + "\n")

    if plots and outputs is not None:
        pred, a, x = kept[report_split]
        write_vector_report(out, pred, a, outputs, observables_for(x, store.process), surrogate.history or None)
    elif plots:
        pred, a, x = kept[report_split]
        train = None
        if "train" in kept and report_split != "train":
            train = (kept["train"][0], kept["train"][1])
        write_report(
            out,
            pred,
            a,
            kinematic_observables(x, store.process),
            surrogate.history or None,
            train=train,
            set_name=report_split,
        )
    return metrics
