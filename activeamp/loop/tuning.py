"""Ray Tune hyperparameter search for the surrogate: YAML search space, ASHA, checkpoints, best-configuration export."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.fs as pafs
import ray
import torch
import yaml
from ray import tune

from activeamp import config as _config
from activeamp.data.store import ShardStore
from activeamp.loop.cluster import connect, has_gpus
from activeamp.surrogate.metrics import (
    AnyMetrics,
    VectorMetrics,
    evaluate_prediction,
    evaluate_vector_prediction,
    normalised_residual,
    validate_truth,
)
from activeamp.surrogate.surrogate import Surrogate, SurrogateConfig

__all__ = [
    "BEST_MODEL",
    "BEST_RUN",
    "DEFAULT_SPACE",
    "DISTRIBUTIONS",
    "ENTRY_ENVIRONMENT",
    "METRICS",
    "SAVED_CONFIG",
    "TRIALS_CSV",
    "TRIALS_TABLE",
    "SchedulerConfig",
    "SearchConfig",
    "SearchData",
    "SearchOutcome",
    "SearchSpace",
    "TrialRow",
    "TuningError",
    "best_surrogate_config",
    "experiment_path",
    "format_trial_table",
    "load_search_config",
    "load_search_data",
    "run_search",
    "train_trial",
    "trial_dirname",
    "validation_metrics",
]

logger = logging.getLogger(__name__)

#: Objectives a search can minimise: validation NLL (preprocessed space, Eq. 14 without the regulariser),
#: 68 % half-width of Δ = A_NN/A_true − 1 on the validation split, and for its top 1 % by amplitude the 68 % quantile
#: of |Δ| (which counts a bias: a narrow Δ distribution far from zero is not precision).
#: On a vector store (several signed outputs per point) Δ is the floored relative deviation
#: Δ_k = (⟨A⟩_k − A_k)/(|A_k| + m_k), and both Δ objectives are those of the worst output
#: (:attr:`activeamp.surrogate.metrics.VectorMetrics.precision`).
METRICS: tuple[str, ...] = ("val_nll", "val_delta68", "val_top1")

#: Fewest validation points for the ``val_top1`` objective (10 points in the top 1 %).
MIN_TOP1_VALIDATION = 1000

#: Distribution names of the ``space`` section; arguments and bounds as in :mod:`ray.tune`
#: (``randint``/``lograndint``: upper bound exclusive; ``qrandint``: inclusive).
DISTRIBUTIONS: tuple[str, ...] = (
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "randint",
    "qrandint",
    "lograndint",
    "choice",
    "grid",
)

#: The default search space (what ``tune/search.yaml`` spells out).
DEFAULT_SPACE: dict[str, Any] = {
    "family": {"choice": ["laplace", "bnn", "ensemble"]},
    "prior_width": {"loguniform": [1e-2, 10.0]},
    "n_layers": {"randint": [3, 7]},
    "width": {"choice": [64, 128, 256]},
    "activation": {"choice": ["silu", "gelu"]},
    "lr": {"loguniform": [1e-3, 1.5e-2]},
    "batch_size": {"choice": [512, 1024, 2048]},
}

#: Files written into the experiment folder ``<storage_path>/<name>/``.
BEST_RUN = "best_run.yaml"
BEST_MODEL = "best_model.pt"
TRIALS_CSV = "trials.csv"
TRIALS_TABLE = "trials.txt"
SAVED_CONFIG = "activeamp_search.yaml"

#: Environment defaults for an entry point (script or CLI) that runs a search; user settings win.
ENTRY_ENVIRONMENT: dict[str, str] = {"TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}

_MODEL_FILE = "model.pt"  # inside every trial checkpoint
_STATE_FILE = "trial_state.json"  # last validation metrics, so a resumed trial keeps reporting them
_LAYER_KEYS = ("n_layers", "width")
_UNCHECKED_ON_RESUME = ("address", "verbose")


class TuningError(RuntimeError):
    """A search could not produce a result (e.g. every trial failed); the message says where to look."""


# ------------------------------------------------------------------------------------------------ search space


def _number(value: Any, where: str, *, integer: bool = False) -> float | int:
    """A bound of a distribution as float (or int); YAML strings such as ``1e-3`` are accepted."""
    if isinstance(value, bool):
        raise _config.ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise _config.ConfigError(f"{where}: expected a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _config.ConfigError(f"{where}: expected a finite number, got {value!r}")
    if integer:
        if float(value) != int(value):
            raise _config.ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    return float(value)


def _plain(value: Any) -> Any:
    """NumPy scalars (as Tune's samplers return them) as Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class _Dimension:
    """One parsed entry of the ``space`` section: a distribution or a constant."""

    key: str
    kind: str  # one of DISTRIBUTIONS, or "constant"
    args: tuple[Any, ...]

    @classmethod
    def parse(cls, key: str, spec: Any) -> _Dimension:
        where = f"space.{key}"
        if not isinstance(spec, Mapping):
            return cls(key, "constant", (spec,))
        if len(spec) != 1:
            raise _config.ConfigError(
                f"{where}: a distribution is a mapping with one key ({', '.join(DISTRIBUTIONS)}), got {dict(spec)!r}"
            )
        ((kind, raw),) = spec.items()
        if kind not in DISTRIBUTIONS:
            raise _config.ConfigError(f"{where}: unknown distribution {kind!r}; use one of {', '.join(DISTRIBUTIONS)}")
        where = f"{where}.{kind}"
        if kind in ("choice", "grid"):
            if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or not raw:
                raise _config.ConfigError(f"{where}: expected a non-empty list of values, got {raw!r}")
            return cls(key, kind, tuple(raw))
        n_args = 3 if kind.startswith("q") else 2
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or len(raw) != n_args:
            names = "[low, high, q]" if n_args == 3 else "[low, high]"
            raise _config.ConfigError(f"{where}: expected {names}, got {raw!r}")
        integer = kind.endswith("randint")
        low, high = (_number(v, f"{where}[{i}]", integer=integer) for i, v in enumerate(raw[:2]))
        args: tuple[Any, ...] = (low, high)
        if n_args == 3:
            q = _number(raw[2], f"{where}[2]", integer=integer)
            if not q > 0:
                raise _config.ConfigError(f"{where}: q must be > 0, got {q!r}")
            args += (q,)
        inclusive = kind == "qrandint"
        if not (low <= high if inclusive else low < high):
            raise _config.ConfigError(f"{where}: need low {'<=' if inclusive else '<'} high, got [{low}, {high}]")
        if kind.startswith(("log", "qlog")) and not low > 0:
            raise _config.ConfigError(f"{where}: a log distribution needs low > 0, got {low!r}")
        return cls(key, kind, args)

    def spec(self) -> Any:
        """The canonical YAML form: the constant, or ``{kind: [args]}`` with numeric bounds."""
        return self.args[0] if self.kind == "constant" else {self.kind: list(self.args)}

    def domain(self) -> Any:
        """The Tune domain (or constant) for ``param_space``."""
        if self.kind == "constant":
            return self.args[0]
        if self.kind == "choice":
            return tune.choice(list(self.args))
        if self.kind == "grid":
            return tune.grid_search(list(self.args))
        return getattr(tune, self.kind)(*self.args)

    def extremes(self) -> list[Any]:
        """Values that bound what this dimension can produce (checked against the surrogate config)."""
        if self.kind in ("constant", "choice", "grid"):
            return list(self.args)
        low, high = self.args[:2]
        if self.kind in ("randint", "lograndint"):
            return [low, high - 1]
        return [low, high]

    @property
    def n_grid(self) -> int:
        return len(self.args) if self.kind == "grid" else 1


@dataclass(frozen=True)
class SearchSpace:
    """The validated ``space`` section: Tune domains per surrogate field, plus the conditional layer list.

    The hidden layers are sampled as ``n_layers`` and ``max_layers`` independent widths ``width_0 …
    width_{max_layers-1}`` (each from the ``width`` distribution); a trial uses the first ``n_layers`` of
    them, so every trial has its own list of layer sizes. The flat encoding keeps the space reproducible
    from the search seed and usable by any Tune search algorithm.

    Attributes
    ----------
    dimensions : tuple of _Dimension
        The entries that map one-to-one onto :class:`SurrogateConfig` fields.
    n_layers, width : _Dimension or None
        The layer-count and per-layer-width entries (both or neither).
    max_layers : int
        Largest number of hidden layers ``n_layers`` can produce (0 without a layer search).
    """

    dimensions: tuple[_Dimension, ...]
    n_layers: _Dimension | None
    width: _Dimension | None
    max_layers: int

    @classmethod
    def parse(cls, space: Mapping[str, Any], base: SurrogateConfig) -> SearchSpace:
        """Validate ``space`` against ``base``; errors name the key (``space.lr.loguniform[0]: ...``).

        Raises
        ------
        activeamp.config.ConfigError
        """
        if not isinstance(space, Mapping):
            raise _config.ConfigError(f"space: expected a mapping of surrogate fields to distributions, got {space!r}")
        fields = {f.name for f in dataclasses.fields(SurrogateConfig)}
        reserved = {"max_epochs"}  # set per trial from the search's epochs
        dims: list[_Dimension] = []
        layer: dict[str, _Dimension] = {}
        for key, spec in space.items():
            if key in _LAYER_KEYS:
                layer[key] = _Dimension.parse(key, spec)
                continue
            if key in reserved:
                raise _config.ConfigError(f"space.{key}: set by the search (epochs); remove it from the space")
            if key not in fields:
                allowed = ", ".join(sorted((fields - reserved) | set(_LAYER_KEYS)))
                raise _config.ConfigError(f"space.{key}: not a surrogate setting; allowed: {allowed}")
            dims.append(_Dimension.parse(key, spec))
        if "hidden" in {d.key for d in dims} and layer:
            raise _config.ConfigError("space.hidden: give either hidden or n_layers/width, not both")
        if len(layer) == 1:
            missing = next(k for k in _LAYER_KEYS if k not in layer)
            raise _config.ConfigError(f"space.{missing}: n_layers and width go together (layers = n_layers widths)")
        for dim in dims:
            for value in dim.extremes():
                _check_value(base, {dim.key: _plain(value)}, f"space.{dim.key}")
        max_layers = 0
        if layer:
            n_dim, w_dim = layer["n_layers"], layer["width"]
            if n_dim.kind in ("uniform", "quniform", "loguniform", "qloguniform"):
                raise _config.ConfigError(f"space.n_layers: needs integers (randint, choice, ...), not {n_dim.kind}")
            if w_dim.kind == "grid":
                raise _config.ConfigError("space.width: grid is not supported per layer; use choice")
            counts = []
            for value in n_dim.extremes():
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise _config.ConfigError(f"space.n_layers: layer counts must be integers >= 1, got {value!r}")
                counts.append(value)
            for value in w_dim.extremes():
                if isinstance(value, bool) or not isinstance(_plain(value), (int, float)) or float(value) != int(value):
                    raise _config.ConfigError(f"space.width: layer widths must be integers >= 1, got {value!r}")
                _check_value(base, {"hidden": [int(value)]}, "space.width")
            max_layers = max(counts)
        return cls(tuple(dims), layer.get("n_layers"), layer.get("width"), max_layers)

    def to_dict(self) -> dict[str, Any]:
        """The canonical ``space`` section (bounds as numbers, e.g. ``"1e-3"`` read by YAML as text → 0.001)."""
        out = {d.key: d.spec() for d in self.dimensions}
        if self.n_layers is not None and self.width is not None:
            out.update(n_layers=self.n_layers.spec(), width=self.width.spec())
        return out

    def param_space(self) -> dict[str, Any]:
        """The ``param_space`` of the Tuner: one flat key per sampled quantity."""
        space = {d.key: d.domain() for d in self.dimensions}
        if self.n_layers is not None and self.width is not None:
            space["n_layers"] = self.n_layers.domain()
            for i in range(self.max_layers):
                space[f"width_{i}"] = self.width.domain()  # a fresh domain per layer
        return space

    def surrogate_values(self, trial_config: Mapping[str, Any]) -> dict[str, Any]:
        """The :class:`SurrogateConfig` fields a trial's sampled config sets (``hidden`` built from the layers)."""
        values = {d.key: _plain(trial_config[d.key]) for d in self.dimensions}
        if self.n_layers is not None:
            n = int(_plain(trial_config["n_layers"]))
            values["hidden"] = [int(_plain(trial_config[f"width_{i}"])) for i in range(n)]
        return values

    def n_trials(self, num_samples: int) -> int:
        """Trials a search creates: ``num_samples`` per point of the grid dimensions."""
        grid = math.prod(d.n_grid for d in self.dimensions)
        return num_samples * grid * (self.n_layers.n_grid if self.n_layers is not None else 1)


def _check_value(base: SurrogateConfig, values: Mapping[str, Any], where: str) -> None:
    try:
        SurrogateConfig.from_dict({**base.to_dict(), **values})
    except _config.ConfigError as err:
        raise _config.ConfigError(f"{where}: {err}") from None


# ------------------------------------------------------------------------------------------------ configuration


def _absolute(path: str) -> str:
    """Local paths made absolute (``~`` expanded); URIs (``s3://...``) unchanged."""
    if "://" in path:
        return path
    return os.path.abspath(os.path.expanduser(path))


@dataclass(frozen=True)
class SchedulerConfig:
    """Early stopping of unpromising trials.

    Attributes
    ----------
    kind : {"asha", "fifo"}
        ASHA (asynchronous successive halving) or no early stopping (every trial runs ``epochs`` epochs).
    grace_period : int
        Epochs every trial gets before ASHA may stop it.
    reduction_factor : float
        ASHA keeps the best ``1/reduction_factor`` of the trials at each rung.
    brackets : int
        ASHA brackets (1 is the usual choice).
    """

    kind: Literal["asha", "fifo"] = "asha"
    grace_period: int = 2
    reduction_factor: float = 3.0
    brackets: int = 1

    def __post_init__(self) -> None:
        if self.grace_period < 1:
            raise _config.ConfigError(f"grace_period: must be >= 1, got {self.grace_period}")
        if not self.reduction_factor > 1:
            raise _config.ConfigError(f"reduction_factor: must be > 1, got {self.reduction_factor}")
        if self.brackets < 1:
            raise _config.ConfigError(f"brackets: must be >= 1, got {self.brackets}")


@dataclass(frozen=True)
class SearchConfig:
    """A hyperparameter search over surrogate settings; load with :func:`load_search_config`.

    Attributes
    ----------
    store : str
        Shard store with the frozen ``train`` / ``validation`` splits (read only; required). Relative
        paths are taken from the working directory and stored absolute.
    train_split, validation_split : str
        Splits trained on and evaluated on (the objective); the test split is never read.
    storage_path : str
        Where Tune writes results: a local folder (made absolute) or a URI every node can reach (``s3://``).
    name : str
        Experiment name: results in ``<storage_path>/<name>/``.
    num_samples : int
        Trials drawn from the space (times the size of any ``grid`` dimensions).
    max_concurrent : int
        Trials running at once (0: as many as the cluster's resources allow).
    metric : {"val_nll", "val_delta68", "val_top1"}
        Objective, minimised: validation loss (NLL, or half the squared error for ``loss: mse``), 68 %
        half-width of Δ on the validation split, or the 68 % quantile of |Δ| of its top 1 % by true amplitude
        (counts a bias). On a vector store: the worst output's figure of the floored relative deviation
        Δ_k = (⟨A⟩_k − A_k)/(|A_k| + m_k), the top 1 % by |A_k| (see :data:`METRICS`).
    epochs : int
        Epoch limit of a trial (ASHA's ``max_t``); the plateau rule of ``base`` may stop a trial earlier.
    eval_every : int
        Predict on the validation split (for the Δ metrics) every this many epochs, plus at the first and
        the last epoch; the reports in between carry the last values.
    checkpoint_every : int
        Save the trial's surrogate every this many epochs (and at its last epoch).
    keep_checkpoints : int
        Checkpoints kept per trial, the best by ``metric`` (Tune always keeps the latest one too).
    best_scope : {"all", "last"}
        Rank trials by their best value over all epochs (and export that checkpoint), or by the last one.
    scheduler : SchedulerConfig
        Early stopping.
    trial_cpus : float
        CPUs per trial (torch uses ``max(1, int(trial_cpus))`` threads).
    trial_gpus : float or "auto"
        GPUs per trial; ``auto``: ``1 / max_concurrent`` when the cluster has GPUs, else 0.
    trial_resources : dict
        Extra custom Ray resources per trial, e.g. ``{trainer: 0.25}``.
    seed : int
        Seed of the search (which configurations are drawn). Every trial's network uses ``base.seed``.
    base : SurrogateConfig
        Surrogate settings the sampled values are applied to (and exported with the best ones).
    space : dict
        Search space: surrogate field → distribution (``{loguniform: [1e-4, 1e-2]}``) or constant, plus
        ``n_layers`` and ``width`` for a per-trial list of hidden-layer widths (see :class:`SearchSpace`).
    address : str, optional
        Ray cluster address (default ``RAY_ADDRESS``, else a local instance).
    verbose : int
        Tune's console output: 0 silent, 1 status tables, 2 with trial results.
    """

    store: str = ""
    train_split: str = "train"
    validation_split: str = "validation"
    storage_path: str = "runs/tune"
    name: str = "search"
    num_samples: int = 8
    max_concurrent: int = 2
    metric: Literal["val_nll", "val_delta68", "val_top1"] = "val_nll"
    epochs: int = 30
    eval_every: int = 1
    checkpoint_every: int = 1
    keep_checkpoints: int = 1
    best_scope: Literal["all", "last"] = "all"
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    trial_cpus: float = 1.0
    trial_gpus: float | str = "auto"
    trial_resources: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    base: SurrogateConfig = field(default_factory=SurrogateConfig)
    space: dict[str, Any] = field(default_factory=lambda: json.loads(json.dumps(DEFAULT_SPACE)))
    address: str | None = None
    verbose: int = 1

    def __post_init__(self) -> None:
        if not self.store:
            raise _config.ConfigError("store: required: the shard store with the train/validation split")
        object.__setattr__(self, "store", _absolute(str(self.store)))
        object.__setattr__(self, "storage_path", _absolute(str(self.storage_path)))
        if not self.name or "/" in self.name or self.name in (".", ".."):
            raise _config.ConfigError(f"name: expected a folder name without '/', got {self.name!r}")
        if self.train_split == self.validation_split:
            raise _config.ConfigError("validation_split: must differ from train_split")
        for name in ("num_samples", "epochs", "eval_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise _config.ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.max_concurrent < 0 or self.seed < 0:
            bad = "max_concurrent" if self.max_concurrent < 0 else "seed"
            raise _config.ConfigError(f"{bad}: must be >= 0, got {getattr(self, bad)}")
        if not self.trial_cpus > 0:
            raise _config.ConfigError(f"trial_cpus: must be > 0, got {self.trial_cpus}")
        if isinstance(self.trial_gpus, str) and self.trial_gpus != "auto":
            raise _config.ConfigError(f"trial_gpus: expected a number or 'auto', got {self.trial_gpus!r}")
        if not isinstance(self.trial_gpus, str) and self.trial_gpus < 0:
            raise _config.ConfigError(f"trial_gpus: must be >= 0, got {self.trial_gpus}")
        for key, value in self.trial_resources.items():
            if key.lower() in ("cpu", "gpu"):
                raise _config.ConfigError(f"trial_resources.{key}: use trial_cpus / trial_gpus")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise _config.ConfigError(f"trial_resources.{key}: expected a number >= 0, got {value!r}")
        if self.scheduler.kind == "asha" and self.scheduler.grace_period > self.epochs:
            raise _config.ConfigError(
                f"scheduler.grace_period: {self.scheduler.grace_period} exceeds epochs ({self.epochs})"
            )
        if self.verbose not in (0, 1, 2, 3):
            raise _config.ConfigError(f"verbose: must be 0, 1, 2 or 3, got {self.verbose}")
        object.__setattr__(self, "space", SearchSpace.parse(self.space, self.base).to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchConfig:
        """Validated config from a mapping; errors name the key (``base.lr: must be > 0``, ``space.width: ...``).

        Raises
        ------
        activeamp.config.ConfigError
        """
        return _config.from_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict that :meth:`from_dict` accepts."""
        return _config.to_dict(self)

    def search_space(self) -> SearchSpace:
        """The parsed ``space``."""
        return SearchSpace.parse(self.space, self.base)


def load_search_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> SearchConfig:
    """:class:`SearchConfig` from an optional YAML file (``~`` expanded) plus dotted ``KEY=VALUE`` overrides.

    Raises
    ------
    activeamp.config.ConfigError
        Naming the file and the key, e.g. ``search.yaml: space.lr.loguniform: need low < high, got [1.0, 0.1]``.
    """
    return _config.load_config(SearchConfig, path, overrides)


def experiment_path(config: SearchConfig) -> str:
    """``<storage_path>/<name>``: the experiment folder (a local path or a URI)."""
    return config.storage_path.rstrip("/") + "/" + config.name


def best_surrogate_config(config: SearchConfig, trial_config: Mapping[str, Any]) -> SurrogateConfig:
    """``base`` with a trial's sampled values: the surrogate a run should use (``max_epochs`` from ``base``)."""
    return SurrogateConfig.from_dict({**config.base.to_dict(), **config.search_space().surrogate_values(trial_config)})


# ------------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class SearchData:
    """The frozen arrays every trial trains and validates on (read once from the store by the driver).

    Attributes
    ----------
    x, amplitude : numpy.ndarray
        Training momenta ``(N, n, 4)`` [GeV] and labels: amplitudes ``(N,)``, or for a vector store the values
        ``(N, K)`` (columns as ``outputs``).
    x_val, a_val : numpy.ndarray
        Validation momenta ``(M, n, 4)`` and labels ``(M,)`` / ``(M, K)``: the objective's points.
    fingerprint : dict
        Point counts and a SHA-256 of the ids and labels (amplitudes, or a vector store's values) of both
        splits, plus a vector store's ``outputs`` (checked on resume).
    outputs : tuple of str or None
        Output names of a vector store; None for amplitudes.
    process : str or None
        The store's process (the trials' ``surrogate.process``, for symmetry).
    """

    x: np.ndarray
    amplitude: np.ndarray
    x_val: np.ndarray
    a_val: np.ndarray
    fingerprint: dict[str, Any]
    outputs: tuple[str, ...] | None = None
    process: str | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The four arrays by name (what the trainable receives)."""
        return {"x": self.x, "amplitude": self.amplitude, "x_val": self.x_val, "a_val": self.a_val}


def _check_target_transform(store: ShardStore, config: SearchConfig) -> None:
    """A vector store's signed outputs need ``target_transform: signed`` in ``base`` and in every trial."""
    outputs = store.outputs
    if outputs is None:
        return
    names = ", ".join(outputs[:6]) + (f", ... ({len(outputs)} in all)" if len(outputs) > 6 else "")
    held = f"{config.store} holds {len(outputs)} signed outputs per point ({names})"
    space = config.search_space()
    sampled = next((d for d in space.dimensions if d.key == "target_transform"), None)
    if sampled is not None:
        bad = sorted({str(v) for v in sampled.extremes()} - {"signed"})
        if bad:
            raise _config.ConfigError(
                f"space.target_transform: {held}, which the {', '.join(map(repr, bad))} map cannot learn; "
                "search only target_transform=signed (or drop it from the space and set base.target_transform=signed)"
            )
    elif config.base.target_transform != "signed":
        raise _config.ConfigError(
            f"base.target_transform: {held}, which the {config.base.target_transform!r} map cannot learn; "
            "set base.target_transform=signed"
        )


def load_search_data(config: SearchConfig) -> SearchData:
    """Read the ``ok`` points of the train and validation splits of ``config.store``.

    A vector store (several signed outputs per point) gives its values ``(N, K)`` as labels; the surrogate
    must then use the signed target map.

    Raises
    ------
    activeamp.data.store.StoreError
        If the store is missing or unreadable.
    activeamp.config.ConfigError
        A vector store with ``base.target_transform`` (or a sampled ``space.target_transform``) other than
        ``"signed"``.
    TuningError
        If a split has no labelled points, or validation amplitudes are zero or not finite (Δ is undefined);
        for a vector store, validation values that are not finite or an output that is zero at every point.
    """
    store = ShardStore.open(config.store)
    _check_target_transform(store, config)
    outputs = store.outputs
    digest = hashlib.sha256()
    parts = {}
    for role, split in (("train", config.train_split), ("validation", config.validation_split)):
        arrays = store.arrays(split)
        if len(arrays) == 0:
            raise TuningError(
                f"{config.store}: no labelled points in split {split!r} ({role}_split); a search needs both "
                "a training and a validation split (e.g. `activeamp dataset --set n_validation=2000`)"
            )
        if role == "validation":
            where = f"{config.store}: split {split!r} (the objective's points)"
            try:
                if outputs is None:
                    validate_truth(arrays.amplitude, where)
                else:
                    normalised_residual(arrays.targets, arrays.targets)  # finite, no output zero everywhere
            except ValueError as err:
                raise TuningError(str(err) if outputs is None else f"{where}: {err}") from None
        digest.update("\n".join(arrays.ids.tolist()).encode())
        digest.update(np.ascontiguousarray(arrays.targets).tobytes())
        parts[role] = arrays
    n_val = len(parts["validation"])
    if config.metric == "val_top1" and n_val < MIN_TOP1_VALIDATION:
        raise TuningError(
            f"{config.store}: metric 'val_top1' ranks trials by the top 1 % of the validation split, but split "
            f"{config.validation_split!r} has {n_val} labelled points ({n_val // 100} in its top 1 %); it needs at "
            f"least {MIN_TOP1_VALIDATION}, or use metric 'val_delta68' / 'val_nll'"
        )
    fingerprint: dict[str, Any] = {
        "store": config.store,
        "n_train": len(parts["train"]),
        "n_validation": len(parts["validation"]),
        "sha256": digest.hexdigest(),
    }
    if outputs is not None:
        fingerprint["outputs"] = list(outputs)
    logger.info(
        "search data: %d training and %d validation points from %s", *list(fingerprint.values())[1:3], config.store
    )
    return SearchData(
        parts["train"].momenta,
        parts["train"].targets,
        parts["validation"].momenta,
        parts["validation"].targets,
        fingerprint,
        outputs,
        store.process.name,
    )


# ------------------------------------------------------------------------------------------------ trainable


def _top1(metrics: AnyMetrics) -> float:
    """68 % quantile of |Δ| for the top 1 % (counts a bias); for vector metrics the worst output's (NaN if none)."""
    if not isinstance(metrics, VectorMetrics):
        return float(metrics.delta_top1.abs_68)
    widths = [metrics.per_output[n].delta_top1.abs_68 for n in metrics.names]
    finite = [w for w in widths if not math.isnan(w)]
    return float(max(finite)) if finite else math.nan


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
        worst output's 68 % half-width of the floored relative deviation Δ_k (:attr:`VectorMetrics.precision`) and
        the worst output's top-1 % half-width (top 1 % by |A_k|).
    """
    pred = surrogate.predict(x_val)
    if np.ndim(a_val) == 1:
        metrics: AnyMetrics = evaluate_prediction(pred, a_val)
    else:
        names = list(outputs) if outputs is not None else [f"y{k}" for k in range(np.shape(a_val)[1])]
        metrics = evaluate_vector_prediction(pred, a_val, names)
    return {"val_delta68": float(metrics.precision), "val_top1": _top1(metrics)}


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
        ``base`` (surrogate dict), ``space``, ``epochs``, ``eval_every``, ``checkpoint_every``, ``trial_cpus``,
        and for a vector store ``outputs`` (the output names; optional).
    data : dict
        Arrays ``x`` ``(N, n, 4)``, ``amplitude`` ``(N,)`` or ``(N, K)``, ``x_val``, ``a_val`` (see
        :class:`SearchData`).
    """
    torch.set_num_threads(max(1, int(settings["trial_cpus"])))
    base = SurrogateConfig.from_dict(settings["base"])
    space = SearchSpace.parse(settings["space"], base)
    epochs = int(settings["epochs"])
    values = space.surrogate_values(config)
    surrogate_config = SurrogateConfig.from_dict({**base.to_dict(), **values, "max_epochs": epochs})
    if settings.get("process"):
        surrogate_config = surrogate_config.with_process(settings["process"])
    last_eval: dict[str, float] = {}
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            surrogate = Surrogate.load(Path(folder) / _MODEL_FILE)
            last_eval = json.loads((Path(folder) / _STATE_FILE).read_text())["last_eval"]
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
            surrogate.save(Path(folder) / _MODEL_FILE)
            (Path(folder) / _STATE_FILE).write_text(json.dumps({"epoch": epoch, "last_eval": last_eval}))
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


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class TrialRow:
    """One line of the trial summary.

    Attributes
    ----------
    trial_id, status : str
        Tune's trial id; ``complete`` (all epochs), ``converged`` (plateau rule), ``stopped`` (by ASHA),
        ``error`` or ``unfinished`` (an interrupted search).
    family, hidden : str
        Network family and hidden widths (``"64-32-128"``).
    prior_width, lr : float
        σ_p and the learning rate.
    batch_size, epochs : int
        Batch size and epochs trained.
    objective : float
        The search metric (best over all epochs or last, by ``best_scope``); NaN without a report.
    last_val_nll, last_val_delta68, last_val_top1 : float
        The last reported validation metrics.
    path : str
        The trial folder.
    """

    trial_id: str
    status: str
    family: str
    hidden: str
    prior_width: float
    lr: float
    batch_size: int
    epochs: int
    objective: float
    last_val_nll: float
    last_val_delta68: float
    last_val_top1: float
    path: str


@dataclass(frozen=True)
class SearchOutcome:
    """What :func:`run_search` produced.

    Attributes
    ----------
    experiment_path : str
        ``<storage_path>/<name>``: Tune's results, TensorBoard events, and the files below.
    complete : bool
        False when the search was interrupted (resume it with ``resume=True``); then only the trial
        table is written.
    rows : tuple of TrialRow
        All trials, best first.
    table : str
        The printable trial table (also in ``trials.txt``).
    best : TrialRow or None
        The best trial (None for an incomplete search).
    best_config : SurrogateConfig or None
        Its surrogate settings (``base`` plus the tuned values), as written to ``best_run.yaml``.
    best_run, best_model, trials_csv : str or None
        Paths (or URIs) of the written files.
    """

    experiment_path: str
    complete: bool
    rows: tuple[TrialRow, ...]
    table: str
    best: TrialRow | None = None
    best_config: SurrogateConfig | None = None
    best_run: str | None = None
    best_model: str | None = None
    trials_csv: str | None = None


def _fs(uri: str) -> tuple[pafs.FileSystem, str]:
    if "://" in uri:
        return pafs.FileSystem.from_uri(uri)
    return pafs.LocalFileSystem(), uri


def _write(folder: str, name: str, data: bytes) -> str:
    fs, path = _fs(folder)
    fs.create_dir(path, recursive=True)
    target = f"{path}/{name}"
    tmp = f"{path}/.{name}.tmp-{os.getpid()}"
    with fs.open_output_stream(tmp) as out:
        out.write(data)
    fs.move(tmp, target)
    return folder.rstrip("/") + "/" + name


def _read(folder: str, name: str) -> bytes | None:
    fs, path = _fs(folder)
    try:
        with fs.open_input_stream(f"{path}/{name}") as stream:
            return stream.read()
    except (FileNotFoundError, OSError):
        return None


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _finite(value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def _trial_statuses(path: str) -> dict[str, str]:
    """Tune's status per trial id as saved in the experiment state.

    The saved state is the one to trust: after an interrupt (Ctrl-C), ``Tuner.fit`` returns with every trial
    marked terminated in memory, while the state it saved just before keeps the unfinished ones pending.
    """
    try:
        trials = tune.ExperimentAnalysis(path).trials
    except Exception as err:  # a missing or unreadable state only costs the status column
        logger.warning("cannot read the experiment state of %s (%s); trial statuses unknown", path, err)
        return {}
    return {t.trial_id: str(t.status) for t in trials}


def _rows(results: Any, config: SearchConfig, statuses: Mapping[str, str]) -> list[tuple[TrialRow, Any]]:
    """One row per trial with its Tune ``Result``, best objective first (trials without one last)."""
    space = config.search_space()
    rows = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = str(metrics.get("trial_id") or Path(result.path).name.removeprefix("trial_"))
        values = {**config.base.to_dict(), **space.surrogate_values(result.config)}
        epochs = int(metrics.get("training_iteration", 0) or 0)
        frame = result.metrics_dataframe
        value = math.nan
        if frame is not None and config.metric in frame and len(frame):
            column = frame[config.metric].astype(float)
            value = _finite(column.min() if config.best_scope == "all" else column.iloc[-1])
        tune_status = statuses.get(trial_id, "PENDING" if statuses else "TERMINATED")
        if result.error is not None or tune_status == "ERROR":
            status = "error"
        elif tune_status != "TERMINATED":
            status = "unfinished"
        elif metrics.get("converged"):
            status = "converged"
        elif epochs >= config.epochs:
            status = "complete"
        else:
            status = "stopped"
        row = TrialRow(
            trial_id=trial_id,
            status=status,
            family=str(values["family"]),
            hidden="-".join(str(h) for h in values["hidden"]),
            prior_width=float(values["prior_width"]),
            lr=float(values["lr"]),
            batch_size=int(values["batch_size"]),
            epochs=epochs,
            objective=value,
            last_val_nll=_finite(metrics.get("val_nll")),
            last_val_delta68=_finite(metrics.get("val_delta68")),
            last_val_top1=_finite(metrics.get("val_top1")),
            path=str(result.path),
        )
        rows.append((row, result))
    rows.sort(key=lambda pair: (math.isnan(pair[0].objective), pair[0].objective, pair[0].trial_id))
    return rows


def format_trial_table(rows: Sequence[TrialRow], metric: str, best_id: str | None = None) -> str:
    """Fixed-width table of the trials, one per line, the best marked with ``*``."""
    head = ["", "trial", "status", "family", "layers", "prior_width", "lr", "batch", metric, "epochs"]
    lines = [
        [
            "*" if r.trial_id == best_id else "",
            r.trial_id,
            r.status,
            r.family,
            r.hidden,
            f"{r.prior_width:.3g}",
            f"{r.lr:.3g}",
            str(r.batch_size),
            "-" if math.isnan(r.objective) else f"{r.objective:.4g}",
            str(r.epochs),
        ]
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
    right = {5, 6, 7, 8, 9}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([fmt(head), *(fmt(line) for line in lines)])


def _trials_csv(rows: Sequence[TrialRow], metric: str, scope: str) -> bytes:
    """One line per trial: the :class:`TrialRow` fields, then the objective's metric name and scope."""
    buffer = io.StringIO()
    names = [f.name for f in dataclasses.fields(TrialRow)]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*names, "metric", "scope"])
    for row in rows:
        writer.writerow([*(getattr(row, n) for n in names), metric, scope])
    return buffer.getvalue().encode()


def _best_run_yaml(config: SearchConfig, best: TrialRow, surrogate: SurrogateConfig) -> bytes:
    header = (
        f"# Best surrogate of the Ray Tune search {config.name!r} ({experiment_path(config)}):\n"
        f"# trial {best.trial_id}, {config.metric} = {best.objective:.6g} "
        f"({'its best epoch' if config.best_scope == 'all' else 'its last epoch'}), "
        f"layers {best.hidden}, {best.epochs} epochs trained.\n"
        "# A run config: `activeamp run --config best_run.yaml` or `activeamp train --config best_run.yaml`\n"
        "# (other settings keep their defaults; max_epochs and patience come from the search's base).\n"
    )
    return (header + yaml.safe_dump({"surrogate": surrogate.to_dict()}, sort_keys=False)).encode()


def _export(results: Any, config: SearchConfig, expected: int) -> SearchOutcome:
    path = experiment_path(config)
    statuses = _trial_statuses(path)
    pairs = _rows(results, config, statuses)
    rows = [row for row, _ in pairs]
    if statuses:
        complete = len(statuses) >= expected and all(s in ("TERMINATED", "ERROR") for s in statuses.values())
    else:
        complete = results.num_terminated + results.num_errors >= expected
    best_row: TrialRow | None = None
    best_config = best_run = best_model = None
    if complete:
        # the best trial that ended without an error (one that diverged later is no configuration to run)
        eligible = [(row, result) for row, result in pairs if row.status != "error" and not math.isnan(row.objective)]
        if not eligible:
            table = format_trial_table(rows, config.metric)
            _write(path, TRIALS_TABLE, (table + "\n").encode())
            raise TuningError(
                f"no trial of {path} finished with a finite {config.metric}; see the trial folders' error.txt\n{table}"
            )
        best_row, best = eligible[0]
        best_config = best_surrogate_config(config, best.config)
        best_run = _write(path, BEST_RUN, _best_run_yaml(config, best_row, best_config))
        checkpoint = (
            best.get_best_checkpoint(config.metric, "min") if config.best_scope == "all" else None
        ) or best.checkpoint
        if checkpoint is None:
            logger.warning("trial %s left no checkpoint; %s not written", best_row.trial_id, BEST_MODEL)
        else:
            with checkpoint.as_directory() as folder:
                best_model = _write(path, BEST_MODEL, (Path(folder) / _MODEL_FILE).read_bytes())
    table = format_trial_table(rows, config.metric, best_row.trial_id if best_row else None)
    _write(path, TRIALS_TABLE, (table + "\n").encode())
    trials_csv = _write(path, TRIALS_CSV, _trials_csv(rows, config.metric, config.best_scope))
    return SearchOutcome(path, complete, tuple(rows), table, best_row, best_config, best_run, best_model, trials_csv)


# ------------------------------------------------------------------------------------------------ driver


def _resources(config: SearchConfig) -> dict[str, float]:
    if config.trial_gpus == "auto":
        gpus = (1.0 / max(config.max_concurrent, 1)) if has_gpus() else 0.0
    else:
        gpus = float(config.trial_gpus)
    return {"cpu": float(config.trial_cpus), "gpu": gpus, **{k: float(v) for k, v in config.trial_resources.items()}}


def _saved_state(config: SearchConfig, data: SearchData) -> dict[str, Any]:
    return {"config": config.to_dict(), "data": data.fingerprint}


def _check_resume(path: str, config: SearchConfig, data: SearchData) -> None:
    """Refuse to resume with another search definition or other data than the experiment was started with."""
    raw = _read(path, SAVED_CONFIG)
    if raw is None:
        logger.warning("%s has no %s; cannot check that the search definition is unchanged", path, SAVED_CONFIG)
        return
    saved = yaml.safe_load(raw.decode())
    old = {k: v for k, v in _flatten(saved.get("config", {})).items() if k.split(".")[0] not in _UNCHECKED_ON_RESUME}
    new = {k: v for k, v in _flatten(config.to_dict()).items() if k.split(".")[0] not in _UNCHECKED_ON_RESUME}
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if changed:
        raise _config.ConfigError(
            f"{path} was started with a different search definition ({', '.join(changed)} changed); "
            "resume with the same configuration, or start a new search under another name"
        )
    if saved.get("data") != data.fingerprint:
        raise TuningError(
            f"{config.store}: the train/validation points differ from those the search {path} started with "
            f"({saved.get('data')}); trials must all use the same frozen split: start a new search under another name"
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
        Preloaded arrays (default: read with :func:`load_search_data`).

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
    space = config.search_space()
    path = experiment_path(config)
    restore = tune.Tuner.can_restore(path)
    if restore and not resume:
        raise _config.ConfigError(
            f"{path}: an experiment named {config.name!r} exists already; continue it with --resume "
            "or choose another name (--set name=...)"
        )
    if restore:
        _check_resume(path, config, data)
    elif resume:
        logger.warning("no experiment to resume in %s; starting a new search", path)
    started = connect(config.address)
    try:
        resources = _resources(config)
        settings = {
            "base": config.base.to_dict(),
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
            tune.with_parameters(train_trial, settings=settings, data=data.arrays()), resources
        )
        if restore:
            logger.info("resuming the search in %s", path)
            tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
        else:
            _write(path, SAVED_CONFIG, yaml.safe_dump(_saved_state(config, data), sort_keys=False).encode())
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
            tuner = tune.Tuner(
                trainable,
                param_space=space.param_space(),
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
        t0 = time.perf_counter()
        results = tuner.fit()
        logger.info("search %s: %d trials in %.1f s", config.name, len(results), time.perf_counter() - t0)
        outcome = _export(results, config, space.n_trials(config.num_samples))
    finally:
        if started:
            ray.shutdown()
    if not outcome.complete:
        logger.warning("the search %s was interrupted; continue it with --resume", path)
    return outcome
