"""Configuration of ``activeamp train``: which data, which surrogate, which boosting; light to import (no torch)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from activeamp import config as _config
from activeamp.data.store import SPLITS
from activeamp.surrogate.boosting import BoostingSchedule
from activeamp.surrogate.config import SurrogateConfig

__all__ = ["TrainConfig", "load_train_config"]


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
