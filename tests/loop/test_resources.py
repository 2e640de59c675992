"""Tests of the resources config shared by the oracle pool and the trainer (no Ray needed)."""

from __future__ import annotations

import pytest

from activeamp.config import ConfigError, from_dict, to_dict
from activeamp.loop.active import ActiveConfig
from activeamp.loop.pool import PoolConfig
from activeamp.loop.resources import Resources
from activeamp.loop.trainer import TrainerConfig


def test_gpus_request_and_actor_options() -> None:
    auto = Resources(num_cpus=2, num_gpus="auto", resources={"trainer": 1})
    assert auto.gpus(cluster_gpus=4) == 1.0 and auto.gpus(cluster_gpus=0) == 0.0  # "auto": one if there are any
    assert Resources(num_gpus=0.5).gpus(cluster_gpus=0) == 0.5  # a number is taken as asked
    assert auto.request(1.0) == {"CPU": 2, "GPU": 1.0, "trainer": 1}
    assert Resources(num_cpus=0.5, resources={"oracle": 1}).request(0.0, count=4) == {
        "CPU": 2.0,
        "GPU": 0.0,
        "oracle": 4,
    }
    assert auto.actor_options(1.0) == {"num_cpus": 2, "num_gpus": 1.0, "resources": {"trainer": 1}}
    assert Resources().actor_options(0.0)["resources"] is None  # Ray's "no custom resources"


def test_pool_and_trainer_share_the_keys_and_checks_and_name_their_section() -> None:
    shared = {"num_cpus", "num_gpus", "resources", "startup_timeout"}
    for config in (PoolConfig(), TrainerConfig()):
        assert isinstance(config, Resources) and shared <= set(to_dict(config))
    assert PoolConfig().num_gpus == 0.0 and TrainerConfig().num_gpus == "auto"
    with pytest.raises(ConfigError, match=r"^pool\.num_cpus: must be >= 0"):
        PoolConfig(num_cpus=-1)
    with pytest.raises(ConfigError, match=r"^trainer\.resources\.trainer: must be a number >= 0"):
        TrainerConfig(resources={"trainer": -1})
    with pytest.raises(ConfigError, match=r"^trainer\.num_gpus: expected 'auto' or a number >= 0"):
        TrainerConfig(num_gpus=-1)
    with pytest.raises(ConfigError, match=r"^pool\.startup_timeout: must be > 0"):
        PoolConfig(startup_timeout=0)
    with pytest.raises(ConfigError, match=r"^resources\.num_cpus"):
        Resources(num_cpus=-0.5)


def test_run_configs_keep_the_flat_keys() -> None:
    config = ActiveConfig.from_dict(
        {
            "pool": {"n_actors": 3, "num_cpus": 0.5, "num_gpus": "auto", "resources": {"oracle": 1}, "batch_size": 16},
            "trainer": {"num_gpus": 1, "num_cpus": 4, "resources": {"trainer": 1}, "startup_timeout": 30},
        }
    )
    assert config.pool.request(config.pool.gpus(0), config.pool.n_actors) == {"CPU": 1.5, "GPU": 0.0, "oracle": 3}
    assert config.trainer.request(config.trainer.gpus(0)) == {"CPU": 4.0, "GPU": 1.0, "trainer": 1}
    assert ActiveConfig.from_dict(to_dict(config)) == config  # written run configs read back
    with pytest.raises(ConfigError, match=r"^pool\.resources\.oracle: must be a number >= 0"):
        from_dict(ActiveConfig, {"pool": {"resources": {"oracle": -2}}})
