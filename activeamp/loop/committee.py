"""Several trainer actors as one trainer: the members of a surrogate committee train in parallel.

``trainer.n_actors: K`` starts K :class:`~activeamp.loop.trainer.SurrogateTrainer` actors (one GPU each where the
cluster has K GPUs). Member k trains with the seed ``surrogate.seed + k``; a deep ensemble's networks are split
over the members (:func:`activeamp.surrogate.committee.member_configs`). Every round each member warm-starts from
its own state on the same labelled data, with its own boosting multiplicities; no weights are exchanged. The
members' predictions are combined as an equal-weight mixture (:func:`activeamp.surrogate.committee.
combine_predictions`): that is what scores candidates, what the test-set figures measure and what ``model.pt``
holds (a :class:`~activeamp.surrogate.committee.SurrogateCommittee` checkpoint when K > 1).

With K = 1 this is the single trainer actor of earlier runs, and its checkpoints are single surrogates.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray

from activeamp.config import ConfigError
from activeamp.loop.cluster import check_resources, wait_ready
from activeamp.loop.settings import TrainerConfig
from activeamp.loop.trainer import SurrogateTrainer, TrainOutcome
from activeamp.surrogate.boosting import BoostingSchedule
from activeamp.surrogate.checkpoint import MEMBERS_KEY, dump_state, load_state
from activeamp.surrogate.committee import combine_predictions, committee_state, is_committee_state, member_configs
from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.prediction import Prediction

__all__ = ["TrainerCommittee", "TrainingCall", "combine_outcomes", "join_states", "split_state"]

logger = logging.getLogger(__name__)

Multiplicity = dict[str, int]


def join_states(blobs: Sequence[bytes]) -> bytes:
    """One checkpoint (bytes of a :class:`~activeamp.surrogate.committee.SurrogateCommittee` state) from the
    members' :func:`~activeamp.surrogate.fitting.state_to_bytes`; one member's bytes are returned as they are."""
    if len(blobs) == 1:
        return blobs[0]
    return dump_state(committee_state([load_state(b) for b in blobs]))


def split_state(blob: bytes) -> list[bytes]:
    """The members' state bytes of a checkpoint written by :func:`join_states` (a single surrogate: itself)."""
    state = load_state(blob)
    return [dump_state(member) for member in state[MEMBERS_KEY]] if is_committee_state(state) else [blob]


def combine_outcomes(outcomes: Sequence[TrainOutcome]) -> TrainOutcome:
    """One round's outcome of K members: epochs and boosting of the first, mean losses and N_eff, the longest
    member's wall time, and the device as ``"K×<device>"``."""
    first = outcomes[0]
    if len(outcomes) == 1:
        return first

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return float(np.mean(known)) if known else None

    return dataclasses.replace(
        first,
        n_eff=float(np.mean([o.n_eff for o in outcomes])),
        train_loss=mean([o.train_loss for o in outcomes]),
        val_loss=mean([o.val_loss for o in outcomes]),
        seconds=max(o.seconds for o in outcomes),
        device=f"{len(outcomes)}×{first.device}",
    )


@dataclass(frozen=True)
class TrainingCall:
    """A training round running on every member (the actors' call refs)."""

    refs: tuple[ray.ObjectRef, ...]

    def done(self, timeout: float = 0.0) -> bool:
        """Whether every member has finished (waits up to ``timeout`` seconds)."""
        ready, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=timeout)
        return len(ready) == len(self.refs)

    def outcome(self) -> TrainOutcome:
        """The combined outcome (waits for every member; a member's error is raised)."""
        return combine_outcomes(ray.get(list(self.refs)))


class TrainerCommittee:
    """K trainer actors, driven as one trainer (Ray must be initialised; see the module docstring).

    Parameters
    ----------
    actors : sequence of actor handles
        :class:`~activeamp.loop.trainer.SurrogateTrainer` actors, member k first trained with seed ``seed + k``.
    """

    def __init__(self, actors: Sequence[Any]) -> None:
        self.actors = list(actors)

    def __len__(self) -> int:
        return len(self.actors)

    @classmethod
    def start(
        cls, surrogate: SurrogateConfig, boosting: BoostingSchedule | None, config: TrainerConfig
    ) -> TrainerCommittee:
        """Start ``config.n_actors`` trainer actors placed by ``config`` and wait until all are placed.

        GPUs: ``num_gpus: auto`` gives each actor one GPU when the cluster has ``n_actors`` of them, an equal share
        when it has fewer (at least one), none when it has none.
        """
        k = config.n_actors
        try:
            configs = member_configs(surrogate, k)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if config.data_parallel_workers:
            gpus = 0.0  # the Ray Train workers hold them
        else:
            gpus = config.gpus(ray.cluster_resources().get("GPU", 0.0), count=k)
        actor_cls = ray.remote(SurrogateTrainer).options(
            **config.actor_options(gpus),
            max_restarts=0,
            max_concurrency=2,  # progress() answers while train() runs
        )
        request = config.request(gpus, count=k)
        what = "the trainer" if k == 1 else f"the {k} trainer actors"
        check_resources(request, what)
        logger.info("starting %s (num_gpus=%g each, resources=%s)", what, gpus, dict(config.resources))
        if not config.torch_threads:  # an actor's torch would use one thread, whatever it reserved
            config = dataclasses.replace(config, torch_threads=max(1, int(config.num_cpus)))
        actors = [actor_cls.remote(c, boosting, config, log_progress=i == 0) for i, c in enumerate(configs)]
        wait_ready([a.device.remote() for a in actors], request, what, config.startup_timeout)
        return cls(actors)

    def kill(self) -> None:
        """Stop every actor."""
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []

    def load(self, blob: bytes, multiplicity: Mapping[str, int] | Sequence[Mapping[str, int]]) -> None:
        """Resume every member from a checkpoint of :meth:`checkpoint` and its saved multiplicities.

        Raises
        ------
        ConfigError
            If the checkpoint holds another number of members than there are actors (``trainer.n_actors`` changed).
        """
        blobs = split_state(blob)
        per_member = [multiplicity] if isinstance(multiplicity, Mapping) else list(multiplicity)
        if len(blobs) != len(self.actors) or len(per_member) != len(self.actors):
            raise ConfigError(
                f"trainer.n_actors: the checkpoint holds {len(blobs)} trained member(s), the run now asks for "
                f"{len(self.actors)}; resume with trainer.n_actors={len(blobs)}"
            )
        ray.get([a.load.remote(b, m) for a, b, m in zip(self.actors, blobs, per_member, strict=True)])

    def train(
        self,
        ids: np.ndarray,
        x: np.ndarray,
        amplitudes: np.ndarray,
        x_val: np.ndarray | None = None,
        a_val: np.ndarray | None = None,
    ) -> TrainingCall:
        """Start a round on every member (see :meth:`SurrogateTrainer.train`; the arrays go to the object store
        once and are shared by the members)."""
        args = [ray.put(v) if v is not None else None for v in (ids, x, amplitudes, x_val, a_val)]
        return TrainingCall(tuple(a.train.remote(*args) for a in self.actors))

    def predict(self, x: np.ndarray, n_samples: int | None = None) -> Prediction:
        """The committee's prediction for momenta ``(N, n, 4)`` [GeV] (the members' mixture)."""
        ref = ray.put(x)
        return combine_predictions(ray.get([a.predict.remote(ref, n_samples) for a in self.actors]))

    def predict_with_samples(self, x: np.ndarray) -> Prediction:
        """The mixture with every member's weight samples attached (for σ_h,pred bands)."""
        ref = ray.put(x)
        return combine_predictions(ray.get([a.predict_with_samples.remote(ref) for a in self.actors]))

    def progress(self) -> str | None:
        """The first member's progress line (None while it has none), with the number of members."""
        line = ray.get(self.actors[0].progress.remote())
        if line is None or len(self.actors) == 1:
            return line
        return f"{line} [member 1 of {len(self.actors)}]"

    def history(self) -> list[dict[str, Any]]:
        """The first member's per-epoch learning curve."""
        return ray.get(self.actors[0].history.remote())

    def checkpoint(self) -> tuple[bytes, Multiplicity | list[Multiplicity]]:
        """The committee's state (bytes; one member: that surrogate's) and the multiplicities (one member: its
        dict; several: one dict per member)."""
        results = ray.get([a.checkpoint.remote() for a in self.actors])
        blob = join_states([b for b, _ in results])
        multiplicities = [m for _, m in results]
        return blob, multiplicities[0] if len(multiplicities) == 1 else multiplicities
