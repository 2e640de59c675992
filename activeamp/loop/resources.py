"""Where Ray places an actor: the resources config shared by the oracle pool and the trainer (no Ray import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from activeamp.config import ConfigError

__all__ = ["Resources"]


@dataclass(frozen=True)
class Resources:
    """What one actor reserves, and how long it may take to be placed.

    :class:`activeamp.loop.pool.PoolConfig` (per oracle actor) and :class:`activeamp.loop.trainer.TrainerConfig`
    (the trainer actor) are ``Resources``: their YAML sections ``pool`` and ``trainer`` take these keys flat,
    next to their own (``pool.num_cpus``, ``trainer.resources``, ...).

    Attributes
    ----------
    num_cpus : float
        CPUs reserved per actor.
    num_gpus : "auto" or float
        GPUs per actor: ``"auto"`` requests one when the cluster reports GPUs (a request without GPUs would
        pend forever), else none.
    resources : dict
        Custom Ray resources per actor, e.g. ``{"oracle": 1}`` or ``{"trainer": 1}`` so that the actors land
        on the node types that advertise them.
    startup_timeout : float
        Seconds to wait for the actors to be placed before failing with a message naming the resources.
    """

    #: Config section named in error messages (``pool``, ``trainer``).
    section: ClassVar[str] = "resources"

    num_cpus: float = 1.0
    num_gpus: Literal["auto"] | float = 0.0
    resources: dict[str, float] = field(default_factory=dict)
    startup_timeout: float = 600.0

    def __post_init__(self) -> None:
        where = self.section
        if self.num_gpus != "auto" and (
            isinstance(self.num_gpus, bool) or not isinstance(self.num_gpus, (int, float)) or self.num_gpus < 0
        ):
            raise ConfigError(f"{where}.num_gpus: expected 'auto' or a number >= 0, got {self.num_gpus!r}")
        if self.num_cpus < 0:
            raise ConfigError(f"{where}.num_cpus: must be >= 0, got {self.num_cpus}")
        if not self.startup_timeout > 0:
            raise ConfigError(f"{where}.startup_timeout: must be > 0 (seconds), got {self.startup_timeout}")
        for name, amount in self.resources.items():
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                raise ConfigError(f"{where}.resources.{name}: must be a number >= 0, got {amount!r}")

    def gpus(self, cluster_gpus: float, count: int = 1) -> float:
        """GPUs per actor for ``count`` actors on a cluster that reports ``cluster_gpus`` GPUs in all (resolves
        ``"auto"``: one each when there are enough, an equal share of at least one GPU, none without GPUs)."""
        if self.num_gpus == "auto":
            return min(1.0, cluster_gpus / count) if cluster_gpus >= 1 else 0.0
        return float(self.num_gpus)

    def request(self, gpus: float, count: int = 1) -> dict[str, float]:
        """Ray resources of ``count`` actors with ``gpus`` GPUs each: ``{"CPU": ..., "GPU": ..., custom...}``."""
        return {
            "CPU": self.num_cpus * count,
            "GPU": gpus * count,
            **{name: amount * count for name, amount in self.resources.items()},
        }

    def actor_options(self, gpus: float) -> dict[str, Any]:
        """Placement keywords of ``ray.remote(...).options`` for one actor with ``gpus`` GPUs."""
        return {"num_cpus": self.num_cpus, "num_gpus": float(gpus), "resources": dict(self.resources) or None}
