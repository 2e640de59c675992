"""Tests for activeamp.surrogate.networks: derived seeds and the network of each family."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from activeamp.surrogate.bnn import BayesianNet
from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.laplace import LastLayerNet
from activeamp.surrogate.models import EnsembleNet, RepulsiveEnsembleNet, SurrogateNet
from activeamp.surrogate.networks import build_network, derive_seed

PURPOSES = ("init", "shuffle", "noise", "validation", "predict")


def test_derived_seeds_are_fixed_per_run_and_differ_between_purposes() -> None:
    seeds = [derive_seed(7, purpose) for purpose in PURPOSES]
    assert len(set(seeds)) == len(PURPOSES) and all(0 <= s < 2**32 for s in seeds)
    assert seeds == [derive_seed(7, purpose) for purpose in PURPOSES]  # no hidden state
    assert derive_seed(8, "init") != seeds[0]
    with pytest.raises(KeyError, match="training"):
        derive_seed(7, "training")


@pytest.mark.parametrize(
    ("family", "kind", "members"),
    [
        ("laplace", LastLayerNet, None),
        ("bnn", BayesianNet, None),
        ("deterministic", EnsembleNet, 1),
        ("ensemble", EnsembleNet, 3),
        ("repulsive", RepulsiveEnsembleNet, 3),
    ],
)
def test_each_family_gets_its_network_initialised_from_the_init_seed(
    family: str, kind: type[SurrogateNet], members: int | None
) -> None:
    config = SurrogateConfig.from_dict({"family": family, "hidden": [8, 8], "n_members": 3, "seed": 5})
    net = build_network(config, 4)
    assert type(net) is kind and net.n_inputs == 4 and net.n_outputs is None and net.fixed_samples == members
    assert build_network(config, 4, 3).n_outputs == 3
    twin = build_network(config, 4)
    other = build_network(dataclasses.replace(config, seed=6), 4)
    same = [torch.equal(v, twin.state_dict()[k]) for k, v in net.state_dict().items()]
    changed = [not torch.equal(v, other.state_dict()[k]) for k, v in net.state_dict().items()]
    assert all(same) and any(changed)


def test_the_laplace_sigma_head_sees_the_inputs_unless_an_old_checkpoint_says_otherwise() -> None:
    config = SurrogateConfig.from_dict({"family": "laplace", "hidden": [8, 8]})
    assert build_network(config, 4).sigma_inputs
    assert not build_network(config, 4, sigma_inputs=False).sigma_inputs
