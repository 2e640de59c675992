"""Networks of a surrogate configuration: the family's network, initialised from seeds derived from the run seed."""

from __future__ import annotations

import numpy as np
import torch

from activeamp.surrogate.bnn import BayesianNet
from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.laplace import LastLayerNet
from activeamp.surrogate.models import EnsembleNet, RepulsiveEnsembleNet, SurrogateNet

__all__ = ["build_network", "derive_seed"]

_SEED_PURPOSES = {"init": 0, "shuffle": 1, "noise": 2, "validation": 3, "predict": 4}


def derive_seed(seed: int, purpose: str) -> int:
    """Independent 32-bit seed for one ``purpose`` (init, shuffle, noise, validation, predict) of run ``seed``."""
    return int(np.random.SeedSequence([int(seed), _SEED_PURPOSES[purpose]]).generate_state(1)[0])


def build_network(
    config: SurrogateConfig, n_inputs: int, n_outputs: int | None = None, sigma_inputs: bool = True
) -> SurrogateNet:
    """Fresh network of ``config.family`` for ``n_inputs`` inputs, initialised from the config's init seed.

    ``n_outputs``: K outputs per point (a vector model), or None for the scalar model. ``sigma_inputs``: whether
    the σ head of the ``laplace`` family sees the inputs besides the features (False for older checkpoints).
    """
    gen = torch.Generator().manual_seed(derive_seed(config.seed, "init"))
    common = {"n_inputs": n_inputs, "hidden": config.hidden, "activation": config.activation, "n_outputs": n_outputs}
    if config.family == "bnn":
        return BayesianNet(
            **common,
            prior_width=config.prior_width,
            local_reparam=config.local_reparam,
            last_layer_only=config.bayesian_last_layer_only,
            sigma_floor=config.sigma_floor,
            init_log_var=config.init_log_var,
            generator=gen,
        )
    if config.family == "laplace":
        return LastLayerNet(**common, sigma_floor=config.sigma_floor, generator=gen, sigma_inputs=sigma_inputs)
    if config.family == "repulsive":
        return RepulsiveEnsembleNet(
            **common,
            n_members=config.n_members,
            sigma_floor=config.sigma_floor,
            prior_width=config.prior_width,
            repulsion=config.repulsion,
            generator=gen,
        )
    members = 1 if config.family == "deterministic" else config.n_members
    return EnsembleNet(**common, n_members=members, sigma_floor=config.sigma_floor, generator=gen)
