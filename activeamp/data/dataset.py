"""Labelled data sets: sample phase space, label with an oracle, commit to a shard store."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

import oracles
from activeamp.config import ConfigError
from activeamp.data.labelling import LabelReport, label_store
from activeamp.data.store import ShardStore, make_point_ids
from activeamp.physics.cuts import Cuts, as_cuts, default_cuts
from activeamp.physics.phasespace import PhaseSpaceSampler
from activeamp.physics.process import PROCESSES, get_process
from activeamp.physics.vegas_sampler import VegasSampler
from activeamp.physics.vv_phasespace import VVPhaseSpace
from oracles.base import Oracle
from oracles.registry import EXACT, resolve

__all__ = [
    "DatasetConfig",
    "OracleConfig",
    "PhaseSpaceConfig",
    "build_dataset",
    "next_batch",
    "sample_into_store",
    "work_item_rng",
]

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class OracleConfig:
    """Which oracle labels the points, with its keyword options (see ``activeamp oracles``).

    ``name: exact`` (the default) is the built-in exact one-loop oracle of the process (``gg_yy``, ``gg_yyg``);
    oracles that take a process (e.g. ``mock``, the BLHA oracles and the vector-valued ``vvamp`` / ``mock_vv``)
    get the run's process as their ``process`` option. Both as in :func:`oracles.get` with ``process=``, whose
    registry (:mod:`oracles.registry`) knows the names and which oracle takes a process.
    """

    name: str = EXACT
    options: dict[str, Any] = field(default_factory=dict)

    def resolved_name(self, process: str) -> str:
        """The registry name this config stands for when labelling ``process``.

        Raises
        ------
        ConfigError
            If the name is unknown, or does not compute ``process`` (e.g. ``exact`` for a process without an
            exact oracle); the message names ``oracle.name``.
        """
        try:
            return resolve(self.name, process)[0]
        except KeyError as err:
            raise ConfigError(f"oracle.name: {err.args[0]}") from None
        except ValueError as err:
            raise ConfigError(f"oracle.name: {err}") from None

    def build(self, process: str) -> Oracle:
        """Construct the oracle for ``process`` (the ``process`` option is filled in unless given)."""
        name = self.resolved_name(process)
        options = dict(self.options)
        given = options.setdefault("process", process)
        if given != process:
            raise ConfigError(f"oracle.options.process: {given!r}, but the run is for {process}")
        try:
            return oracles.get(name, **options)
        except KeyError as err:
            raise ConfigError(f"oracle.name: {err.args[0]}") from None
        except TypeError as err:
            raise ConfigError(f"oracle.options: {err}") from None


@dataclass(frozen=True)
class PhaseSpaceConfig:
    """Where points come from.

    Attributes
    ----------
    process : str
        Process name (``gg_yy``, ``gg_yyg``, ``gg_yygg``).
    sqrt_s : float
        Partonic centre-of-mass energy in GeV.
    cuts : str or dict
        ``"paper"`` (the cuts of arXiv:2206.14831), ``"none"``, or a cut specification mapping
        (see :meth:`activeamp.physics.cuts.Cuts.from_dict`).
    sampler : {"uniform", "vegas"}
        Uniform RAMBO, or RAMBO driven by a vegas map adapted to the oracle's |M|².
    vegas_iterations, vegas_points : int
        Adaptation iterations and points per iteration of the vegas map.
    mapping : dict
        Options of the q q̄′ → V1 V2 map :class:`activeamp.physics.vv_phasespace.VVPhaseSpace` (``sqrt_s_range``,
        ``m34_range``, ``m56_range`` in GeV, ``sqrt_s_map``), used instead of RAMBO for the VV processes
        (``uu_ZZ``, ...); their ranges are the selection, so ``cuts`` must stay ``"paper"`` or ``"none"`` there,
        ``sqrt_s`` is not used and ``sampler`` must be ``"uniform"``.
    """

    process: str = "gg_yyg"
    sqrt_s: float = 1000.0
    cuts: str | dict[str, Any] = "paper"
    sampler: Literal["uniform", "vegas"] = "uniform"
    vegas_iterations: int = 5
    vegas_points: int = 10_000
    mapping: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.process not in PROCESSES:
            raise ConfigError(f"phasespace.process: unknown process {self.process!r}; known: {', '.join(PROCESSES)}")
        if self.is_vv:
            if not isinstance(self.cuts, str):
                raise ConfigError(
                    f"phasespace.cuts: {self.process} points are selected by the ranges of phasespace.mapping; "
                    "cuts must be 'paper' or 'none'"
                )
            if self.sampler != "uniform":
                raise ConfigError(f"phasespace.sampler: {self.process} supports only 'uniform' (the VV map)")
            self.build_sampler(None, None)  # checks the mapping options now, not after the first oracle calls
        elif self.mapping:
            raise ConfigError(f"phasespace.mapping: only the VV processes take mapping options, not {self.process}")
        if not self.sqrt_s > 0:
            raise ConfigError(f"phasespace.sqrt_s: must be > 0 GeV, got {self.sqrt_s}")
        if isinstance(self.cuts, str) and self.cuts not in ("paper", "none"):
            raise ConfigError(f"phasespace.cuts: expected 'paper', 'none' or a mapping, got {self.cuts!r}")
        if self.vegas_iterations < 1 or self.vegas_points < 100:
            raise ConfigError("phasespace.vegas_iterations must be >= 1 and phasespace.vegas_points >= 100")

    @property
    def is_vv(self) -> bool:
        """Whether the process is a q q̄′ → V1 V2 process (sampled with :class:`VVPhaseSpace`)."""
        return not get_process(self.process).massless

    def build_cuts(self) -> Cuts:
        """The configured cuts (none for the VV processes, whose map's ranges select the points)."""
        if self.cuts == "none":
            return Cuts()
        if self.cuts == "paper" or self.is_vv:
            return default_cuts(self.process)
        try:
            return as_cuts(self.cuts)
        except (ValueError, TypeError, KeyError) as err:
            raise ConfigError(f"phasespace.cuts: {err}") from None

    def build_sampler(
        self, weight: Callable[[np.ndarray], np.ndarray] | None, rng: np.random.Generator | None
    ) -> PhaseSpaceSampler | VVPhaseSpace:
        """The configured sampler; a vegas sampler is adapted to ``weight`` (momenta → (N,)) first.

        Every sampler answers ``sample(n, rng, only_accepted=True).momenta`` with ``(n, n_particles, 4)`` [GeV].
        """
        process = get_process(self.process)
        if self.is_vv:
            try:
                return VVPhaseSpace(self.process, **self.mapping)
            except (TypeError, ValueError) as err:
                raise ConfigError(f"phasespace.mapping: {err}") from None
        if self.sampler == "uniform":
            return PhaseSpaceSampler(process, self.sqrt_s, self.build_cuts())
        if weight is None:
            raise ConfigError("phasespace.sampler: 'vegas' needs a weight function (an oracle) to adapt to")
        sampler = VegasSampler(process, self.sqrt_s, self.build_cuts())
        sampler.adapt(weight, rng, nitn=self.vegas_iterations, neval=self.vegas_points)
        return sampler


@dataclass(frozen=True)
class DatasetConfig:
    """A labelled data set: ``n_train`` + ``n_test`` points inside the cuts, labelled by one oracle.

    Attributes
    ----------
    seed : int
        Run seed; the points of (round, batch) come from a generator seeded by (seed, round, batch).
    n_train, n_test, n_validation : int
        Points per split.
    batch_size : int
        Points per oracle call and per shard.
    """

    phasespace: PhaseSpaceConfig = field(default_factory=PhaseSpaceConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    seed: int = 1234
    n_train: int = 5000
    n_validation: int = 0
    n_test: int = 2000
    batch_size: int = 1000

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test", "n_validation", "seed"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be >= 1, got {self.batch_size}")


def work_item_rng(seed: int, round: int, batch: int) -> np.random.Generator:
    """Generator for the work item (run seed, round, batch): independent of workers and of other items."""
    return np.random.default_rng(np.random.SeedSequence([seed, round, batch]))


def next_batch(store: ShardStore, round: int) -> int:
    """The first batch number of ``round`` not yet used in ``store``."""
    table = store.read(columns=["round", "batch"], on_duplicate="ignore")
    if table.num_rows == 0:
        return 0
    rounds = table["round"].to_numpy()
    batches = table["batch"].to_numpy()[rounds == round]
    return int(batches.max()) + 1 if batches.size else 0


def sample_into_store(
    store: ShardStore,
    sampler: PhaseSpaceSampler | VVPhaseSpace,
    n: int,
    *,
    seed: int,
    split: str,
    round: int = 0,
    batch: int | None = None,
) -> np.ndarray:
    """Draw ``n`` points inside the cuts for work item (seed, round, batch) and append them unlabelled.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``: the point ids, ``"s<seed>/r<round>/b<batch>/<index>"``.
    """
    if sampler.process.name != store.process.name:
        raise ValueError(f"sampler is for {sampler.process.name}, store {store.path} holds {store.process.name}")
    batch = next_batch(store, round) if batch is None else batch
    sample = sampler.sample(n, work_item_rng(seed, round, batch), only_accepted=True)
    ids = make_point_ids(seed, round, batch, n)
    store.append_points(ids, sample.momenta, split=split, round=round, batch=batch)
    logger.info("sampled %d %s points into %s", n, split, store.path)
    return ids


def build_dataset(config: DatasetConfig, path: str | Path, *, progress: bool = True) -> tuple[ShardStore, LabelReport]:
    """Sample the configured splits into a store at ``path`` and label them (resumable).

    Re-running on an existing store samples nothing twice (the point ids are fixed by the seed)
    and labels only what is still unlabelled.
    """
    from activeamp.config import to_dict

    ps = config.phasespace
    oracle = config.oracle.build(ps.process)
    metadata = {"dataset": to_dict(config)}
    store = ShardStore.create(path, ps.process, outputs=oracle.outputs, exist_ok=True, metadata=metadata)
    weight = _positive(oracle) if ps.sampler == "vegas" else None
    sampler = ps.build_sampler(weight, work_item_rng(config.seed, 0, 999_999))
    # Fixed batch numbers per split keep the ids stable, so a rerun is idempotent.
    for batch, (split, n) in enumerate(
        (("train", config.n_train), ("validation", config.n_validation), ("test", config.n_test))
    ):
        if n:
            sample_into_store(store, sampler, n, seed=config.seed, split=split, round=0, batch=batch)
    report = label_store(store, oracle, batch_size=config.batch_size, progress=progress)
    return store, report


def _positive(oracle: Oracle) -> Callable[[np.ndarray], np.ndarray]:
    """A weight function for vegas adaptation: the oracle's values with failed points set to zero."""

    if oracle.outputs is not None:
        raise ConfigError(
            f"phasespace.sampler: 'vegas' adapts to a scalar |M|²; oracle {oracle.name!r} is vector-valued"
        )

    def weight(momenta: np.ndarray) -> np.ndarray:
        result = oracle.evaluate(momenta)
        return np.where(result.ok, result.values, 0.0)

    return weight
