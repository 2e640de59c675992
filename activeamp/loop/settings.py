"""The configuration of an active-learning run: placement of the oracle pool and the trainer, budget, and the
whole run (:class:`ActiveConfig`). Light on purpose: loading and checking a run's YAML imports neither Ray nor
torch, so mistakes are reported at once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from activeamp.config import ConfigError, from_dict, load_config, to_dict
from activeamp.data.dataset import OracleConfig, PhaseSpaceConfig
from activeamp.data.store import ShardStore
from activeamp.loop.acquisition import AcquisitionConfig
from activeamp.loop.resources import Resources
from activeamp.surrogate.boosting import BoostingSchedule
from activeamp.surrogate.config import SurrogateConfig

__all__ = [
    "RESUME_MUTABLE",
    "ActiveConfig",
    "Budget",
    "LoopConfig",
    "PoolConfig",
    "TrainerConfig",
    "check_resumable",
    "resume_config",
]


@dataclass(frozen=True)
class PoolConfig(Resources):
    """How oracle actors are placed and fed.

    The placement keys are those of :class:`activeamp.loop.resources.Resources`, per actor: ``num_cpus``
    (default 1), ``num_gpus`` (default 0; ``"auto"``: one when the cluster has GPUs), ``resources`` (e.g.
    ``{"oracle": 1}`` so that actors land on oracle nodes) and ``startup_timeout`` (seconds to wait for actors
    to be placed and, added to ten times a batch's cost hint, for any oracle call to finish, before failing
    with a message instead of waiting forever).

    Attributes
    ----------
    n_actors : int
        Number of oracle actors (each constructs its own oracle inside its own process).
    batch_size : int
        Points per oracle call (one actor task), and per committed shard.
    in_flight_per_actor : int
        Calls queued per actor (2 keeps an actor busy while its last result is being stored).
    max_restarts : int
        Ray restarts of a crashed actor before it is replaced by a fresh one.
    max_replacements : int
        Fresh actors the pool may create in total before giving up with :class:`PoolError`.
    quarantine_after : int
        A single point whose evaluation crashed the oracle or raised this many times is stored as
        failed (``quarantined: ...``) and never sent again.
    """

    section = "pool"

    n_actors: int = 2
    batch_size: int = 128
    in_flight_per_actor: int = 2
    max_restarts: int = 4
    max_replacements: int = 8
    quarantine_after: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_actors < 1:
            raise ConfigError(f"pool.n_actors: must be >= 1, got {self.n_actors}")
        if self.batch_size < 1:
            raise ConfigError(f"pool.batch_size: must be >= 1, got {self.batch_size}")
        if self.in_flight_per_actor < 1:
            raise ConfigError(f"pool.in_flight_per_actor: must be >= 1, got {self.in_flight_per_actor}")
        if self.quarantine_after < 1:
            raise ConfigError(f"pool.quarantine_after: must be >= 1, got {self.quarantine_after}")


@dataclass(frozen=True)
class TrainerConfig(Resources):
    """Where and how the surrogate trains.

    The placement keys are those of :class:`activeamp.loop.resources.Resources`, for the trainer actor:
    ``num_gpus`` (default ``"auto"``: one GPU when the cluster reports GPUs, else none), ``num_cpus`` (default
    1), ``resources`` (e.g. ``{"trainer": 1}`` to land on the GPU node type of a real cluster) and
    ``startup_timeout`` (seconds to wait for the actor to be placed before failing with a message naming the
    resources).

    Attributes
    ----------
    torch_threads : int
        Torch intra-op threads inside the trainer (0: torch's default; the trainer actor then uses ``num_cpus``,
        at least 1).
    round_epochs, round_steps, round_seconds : int, int, float
        Limits of the warm-start training stage of each round after round 0 (0 steps or seconds: the
        surrogate's ``max_steps`` / ``max_seconds``); the first one reached ends the stage.
    data_parallel_workers : int
        0: train inside the actor (:class:`LocalTraining`). > 0: the actor trains through Ray Train on this many
        data-parallel workers (:class:`activeamp.loop.distributed.DataParallelTraining`), which then hold the
        GPUs; the rounds are then limited by steps or epochs, not ``round_seconds``.
    n_actors : int
        Trainer actors, each training its own member of a committee (:mod:`activeamp.loop.committee`): member k
        with the seed ``surrogate.seed + k`` (a deep ensemble's networks are split over the members), each on its
        own GPU where the cluster has them, all on the same data. The members never exchange weights; their
        predictions are combined as an equal-weight mixture (mean of the means; σ_model² the mean of theirs;
        σ_pred² the mean of theirs plus the variance of the members' means), which scores candidates, is
        evaluated and is saved as ``model.pt``. The placement keys above are per actor.
    """

    section = "trainer"

    num_gpus: Literal["auto"] | float = "auto"
    torch_threads: int = 0
    round_epochs: int = 100
    round_steps: int = 0
    round_seconds: float = 0.0
    data_parallel_workers: int = 0
    n_actors: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_actors < 1:
            raise ConfigError(f"trainer.n_actors: must be >= 1, got {self.n_actors}")
        if self.n_actors > 1 and self.data_parallel_workers:
            raise ConfigError(
                f"trainer.n_actors: {self.n_actors} committee members with trainer.data_parallel_workers="
                f"{self.data_parallel_workers}: choose one way to use several devices (members, or data-parallel "
                "workers for one surrogate)"
            )
        counts = (self.torch_threads, self.data_parallel_workers, self.round_steps, self.round_seconds)
        if min(counts) < 0 or self.round_epochs < 1:
            raise ConfigError(
                "trainer.torch_threads, trainer.data_parallel_workers, trainer.round_steps and "
                "trainer.round_seconds must be >= 0, trainer.round_epochs >= 1"
            )
        if self.data_parallel_workers and self.round_seconds:
            raise ConfigError(
                f"trainer.round_seconds: {self.round_seconds:g} s with trainer.data_parallel_workers="
                f"{self.data_parallel_workers}: data-parallel workers cannot share a wall-time limit; "
                "limit the rounds by trainer.round_steps or trainer.round_epochs"
            )


@dataclass(frozen=True)
class Budget:
    """When the loop stops (whichever comes first; 0 disables a limit).

    Attributes
    ----------
    max_rounds : int
        Active rounds after the initial training (round 0).
    max_oracle_calls : int
        Points labelled for training and validation (the frozen test set is a fixed cost, reported apart).
    max_wall_seconds : float
        Wall time of the run, summed over resumes.
    target_precision : float
        Stop once the test set's 68% half-width of Δ = A_NN/A_true − 1 is at or below this.
    """

    max_rounds: int = 3
    max_oracle_calls: int = 0
    max_wall_seconds: float = 0.0
    target_precision: float = 0.0

    def __post_init__(self) -> None:
        for name in ("max_rounds", "max_oracle_calls", "max_wall_seconds", "target_precision"):
            if getattr(self, name) < 0:
                raise ConfigError(f"budget.{name}: must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class LoopConfig:
    """How the loop schedules labelling, training and acquisition.

    Attributes
    ----------
    mode : {"rounds", "async"}
        ``rounds``: label, then train, then select, round after round (reproducible on any number of workers).
        ``async``: the oracle actors label continuously from a queue of selected points, the trainer trains
        continuously on the growing store (warm starts, one training stage per update), and each finished stage
        is evaluated, checkpointed and published as the scorer of new selections (not reproducible: what is
        selected depends on timing).
    max_surrogate_age : float
        Async: seconds a published surrogate may score new selections; older, selection waits for the next one.
    queue_points : int
        Async: points kept selected ahead of the oracle actors (0: four batches per actor,
        ``4 × pool.n_actors × pool.batch_size``).
    status_seconds : float
        Async: seconds between status lines (queue depth, utilisations, surrogate age).
    """

    mode: Literal["rounds", "async"] = "rounds"
    max_surrogate_age: float = 600.0
    queue_points: int = 0
    status_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in ("rounds", "async"):
            raise ConfigError(f"loop.mode: {self.mode!r} is not one of 'rounds', 'async'")
        if self.max_surrogate_age <= 0 or self.status_seconds <= 0 or self.queue_points < 0:
            raise ConfigError("loop.max_surrogate_age and loop.status_seconds must be > 0, loop.queue_points >= 0")


def _default_surrogate() -> SurrogateConfig:
    """The precise default surrogate (:class:`SurrogateConfig`), round 0 trained for 20 000 optimiser steps."""
    return SurrogateConfig(max_steps=20_000, n_weight_samples=30)


def _default_trainer() -> TrainerConfig:
    """A trainer with 2 CPUs (threads); warm-start rounds of 10 000 steps, each a new warm-up + cosine stage."""
    return TrainerConfig(num_cpus=2.0, round_epochs=100_000, round_steps=10_000)


def _default_acquisition() -> AcquisitionConfig:
    return AcquisitionConfig(n_candidates=50_000, batch_size=4000)


@dataclass(frozen=True)
class ActiveConfig:
    """Everything an active-learning run needs; load with :meth:`from_yaml` / :meth:`from_dict`.

    Attributes
    ----------
    seed : int
        Run seed: candidates, selections and point ids of (round, batch) derive from it, never from
        the number of workers.
    n_initial, n_validation, n_test : int
        Points of round 0: initial training set, validation set (convergence monitor), frozen test set.
    address : str, optional
        Ray cluster address; default ``RAY_ADDRESS`` or a local instance started for the run.
    plots : bool
        Write the plots of the final report.
    loop : LoopConfig
        ``loop.mode``: rounds (default) or async.
    """

    seed: int = 1234
    phasespace: PhaseSpaceConfig = field(default_factory=PhaseSpaceConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    n_initial: int = 8000
    n_validation: int = 2000
    n_test: int = 10000
    pool: PoolConfig = field(default_factory=PoolConfig)
    surrogate: SurrogateConfig = field(default_factory=_default_surrogate)
    boosting: BoostingSchedule | None = None
    trainer: TrainerConfig = field(default_factory=_default_trainer)
    acquisition: AcquisitionConfig = field(default_factory=_default_acquisition)
    budget: Budget = field(default_factory=Budget)
    loop: LoopConfig = field(default_factory=LoopConfig)
    address: str | None = None
    plots: bool = True

    def __post_init__(self) -> None:
        if self.n_initial < 10:
            raise ConfigError(f"n_initial: must be >= 10, got {self.n_initial}")
        if self.n_test < 10:
            raise ConfigError(f"n_test: must be >= 10 (the frozen test set), got {self.n_test}")
        if self.n_validation < 0 or self.seed < 0:
            raise ConfigError("n_validation and seed must be >= 0")
        if self.phasespace.is_vv and self.acquisition.sampler != "uniform":
            raise ConfigError(
                f"acquisition.sampler: {self.phasespace.process} candidates come from the VV map; use 'uniform'"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "") -> ActiveConfig:
        """Validated config from a mapping (e.g. parsed YAML with overrides applied)."""
        return from_dict(cls, data, where=where)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | None = None) -> ActiveConfig:
        """Config from a YAML file with optional ``KEY=VALUE`` overrides."""
        return load_config(cls, path, overrides or [])


#: Sections a resume may change: how long to run, where, with which resources, and the report. Everything
#: else decides which points are drawn and labelled, or what the checkpoint holds, and stays as first written.
RESUME_MUTABLE: tuple[str, ...] = ("budget", "address", "plots", "pool", "trainer")


def _first_difference(old: Any, new: Any, where: str) -> tuple[str, Any, Any] | None:
    """The first dotted key at which two ``to_dict`` trees differ, with both values; None when equal."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(old) + [k for k in new if k not in old]:
            found = _first_difference(old.get(key), new.get(key), f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
        return None
    return None if old == new else (where, old, new)


def check_resumable(stored: ActiveConfig, merged: ActiveConfig, run_dir: Path) -> None:
    """Refuse a resume whose overrides change more than :data:`RESUME_MUTABLE`, or whose store disagrees.

    Runs before anything is written, so a refused resume leaves the run folder as it was.
    """
    old, new = to_dict(stored), to_dict(merged)
    for section in old:
        if section in RESUME_MUTABLE:
            continue
        found = _first_difference(old[section], new.get(section), section)
        if found is not None:
            key, was, now = found
            raise ConfigError(
                f"{key}: a resumed run keeps {was!r} from {run_dir / 'config.yaml'} (asked for {now!r}); a resume "
                f"may change only {', '.join(RESUME_MUTABLE)}; start a new run for other settings"
            )
    state_path = run_dir / "state.json"
    members = json.loads(state_path.read_text()).get("trainer_actors", 1) if state_path.exists() else None
    if members is not None and members != merged.trainer.n_actors:
        raise ConfigError(
            f"trainer.n_actors: the run's checkpoint ({state_path}) holds a committee of {members} trained "
            f"member(s), the resume asks for {merged.trainer.n_actors}; resume with trainer.n_actors={members}"
        )
    store_dir = run_dir / "store"
    if store_dir.exists():
        store = ShardStore.open(store_dir)
        if store.process.name != merged.phasespace.process:
            raise ConfigError(
                f"{store_dir}: the store holds process {store.process.name!r}, the run config says "
                f"{merged.phasespace.process!r} (config.yaml edited by hand?)"
            )


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> ActiveConfig:
    """The configuration to continue the run in ``run_dir`` with: its ``config.yaml`` with ``overrides``.

    Checked by :func:`check_resumable` before anything is written (a refused resume changes nothing).
    """
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.exists():
        raise FileNotFoundError(f"{run_dir}: not a run folder (config.yaml missing)")
    config = ActiveConfig.from_yaml(config_path, overrides)
    check_resumable(ActiveConfig.from_yaml(config_path), config, run_dir)
    return config
