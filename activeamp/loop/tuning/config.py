"""The search definition: :class:`SearchConfig` (data, objective, budget, resources, base surrogate, parsed space)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from activeamp import config as _config
from activeamp.loop.tuning.space import DEFAULT_SPACE, SearchSpace
from activeamp.surrogate.config import SurrogateConfig

__all__ = [
    "METRICS",
    "SchedulerConfig",
    "SearchConfig",
    "TuningError",
    "best_surrogate_config",
    "experiment_path",
    "load_search_config",
]

#: Objectives a search can minimise: validation NLL (preprocessed space, Eq. 14 without the regulariser),
#: 68 % half-width of Δ = A_NN/A_true − 1 on the validation split, and for its top 1 % by amplitude the 68 % quantile
#: of |Δ| (which counts a bias: a narrow Δ distribution far from zero is not precision).
#: On a vector store (several signed outputs per point) Δ is the floored relative deviation
#: Δ_k = (⟨A⟩_k − A_k)/(|A_k| + m_k), and both Δ objectives are those of the worst output
#: (:attr:`activeamp.surrogate.metrics.Metrics.precision`).
METRICS: tuple[str, ...] = ("val_nll", "val_delta68", "val_top1")


class TuningError(RuntimeError):
    """A search could not produce a result (e.g. every trial failed); the message says where to look."""


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
        Epochs (of the trial's training) every trial gets before ASHA may stop it.
    reduction_factor : float
        ASHA keeps the best ``1/reduction_factor`` of the trials at each rung.
    brackets : int
        Number of ASHA brackets (1 is the usual choice).
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


def _default_space() -> SearchSpace:
    return SearchSpace.parse(DEFAULT_SPACE)


@dataclass(frozen=True)
class SearchConfig:
    """A hyperparameter search over surrogate settings; build with :meth:`from_dict` or :meth:`from_yaml`.

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
        Number of trials drawn from the space (times the number of points of any ``grid`` dimensions).
    max_concurrent : int
        Number of trials running at once (0: as many as the cluster's resources allow).
    metric : {"val_nll", "val_delta68", "val_top1"}
        Objective, minimised: validation loss (NLL, or half the squared error for ``loss: mse``), 68 %
        half-width of Δ on the validation split, or the 68 % quantile of |Δ| of its top 1 % by true amplitude
        (counts a bias). On a vector store: the worst output's figure of the floored relative deviation
        Δ_k = (⟨A⟩_k − A_k)/(|A_k| + m_k), the top 1 % by |A_k| (see :data:`METRICS`).
    epochs : int
        Epoch limit of a trial (ASHA's ``max_t``; an epoch is one pass over the training split); the plateau
        rule of ``base`` may stop a trial earlier.
    eval_every : int
        Predict on the validation split (for the Δ metrics) every this many epochs, plus at the first and
        the last epoch; the reports in between carry the last values.
    checkpoint_every : int
        Save the trial's surrogate every this many epochs (and at its last epoch).
    keep_checkpoints : int
        Number of checkpoints kept per trial, the best by ``metric`` (Tune always keeps the latest one too).
    best_scope : {"all", "last"}
        Rank trials by their best value over all epochs (and export that checkpoint), or by the last one.
    scheduler : SchedulerConfig
        Early stopping.
    trial_cpus : float
        CPUs per trial (torch uses ``max(1, int(trial_cpus))`` threads).
    trial_gpus : float or "auto"
        GPUs per trial; ``auto``: ``1 / max_concurrent`` when the cluster has GPUs, else 0.
    trial_resources : dict
        Extra custom Ray resources per trial (amounts of each resource), e.g. ``{trainer: 0.25}``.
    seed : int
        Seed of the search (which configurations are drawn). Every trial's network uses ``base.seed``.
    base : SurrogateConfig
        Surrogate settings the sampled values are applied to (and exported with the best ones); its
        ``batch_size`` counts training points per optimiser step.
    space : SearchSpace
        The parsed search space (given as a mapping: surrogate field → distribution such as
        ``{loguniform: [1e-4, 1e-2]}`` or a constant, plus ``n_layers`` and ``width`` for a per-trial list of
        hidden-layer widths); parsed by :meth:`from_dict` and checked against ``base`` on construction.
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
    space: SearchSpace = field(default_factory=_default_space)
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
        if not isinstance(self.space, SearchSpace):
            raise _config.ConfigError(f"space: expected a SearchSpace (from_dict parses one), got {self.space!r}")
        self.space.check(self.base)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchConfig:
        """Validated config from a mapping; errors name the key (``base.lr: must be > 0``, ``space.width: ...``).

        The ``space`` mapping (default :data:`DEFAULT_SPACE`) is parsed here into a :class:`SearchSpace`.

        Raises
        ------
        activeamp.config.ConfigError
        """
        if not isinstance(data, Mapping):
            raise _config.ConfigError(f"SearchConfig: expected a mapping, got {data!r}")
        if "space" in data:
            data = {**data, "space": SearchSpace.parse(data["space"])}
        return _config.from_dict(cls, data)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> SearchConfig:
        """Config from an optional YAML file (``~`` expanded) plus dotted ``KEY=VALUE`` overrides.

        Raises
        ------
        activeamp.config.ConfigError
            Naming the file and the key, e.g. ``search.yaml: space.lr.loguniform: need low < high, got [1.0, 0.1]``.
        """
        return _config.load_config(cls, path, overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict that :meth:`from_dict` accepts (``space`` in its canonical form)."""
        return {
            f.name: self.space.to_dict() if f.name == "space" else _config.to_dict(getattr(self, f.name))
            for f in dataclasses.fields(self)
        }


def load_search_config(path: str | os.PathLike[str] | None = None, overrides: Sequence[str] = ()) -> SearchConfig:
    """:class:`SearchConfig` from an optional YAML file plus overrides (:meth:`SearchConfig.from_yaml`)."""
    return SearchConfig.from_yaml(path, overrides)


def experiment_path(config: SearchConfig) -> str:
    """``<storage_path>/<name>``: the experiment folder (a local path or a URI)."""
    return config.storage_path.rstrip("/") + "/" + config.name


def best_surrogate_config(config: SearchConfig, trial_config: Mapping[str, Any]) -> SurrogateConfig:
    """``base`` with a trial's sampled values: the surrogate a run should use (``max_epochs`` from ``base``)."""
    return SurrogateConfig.from_dict({**config.base.to_dict(), **config.space.surrogate_values(trial_config)})
