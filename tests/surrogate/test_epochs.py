"""Tests for activeamp.surrogate.epochs: a training epoch (loss terms, multiplicities) and data parallelism."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import Tensor

from activeamp.surrogate.config import SurrogateConfig
from activeamp.surrogate.epochs import DataParallel, reduce_gradients, train_epoch, validation_metrics
from activeamp.surrogate.networks import build_network
from activeamp.surrogate.optim import build_optimizer
from activeamp.surrogate.surrogate import Surrogate
from tests.surrogate.toys import TINY, smooth_data

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return smooth_data()


def test_kl_is_normalised_to_the_sum_of_multiplicities(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, a = data
    penalties = []
    for n in (1.0, 3.0):
        s = Surrogate({**TINY, "family": "bnn", "lr": 1e-12, "max_epochs": 1})
        s.fit(x, a, weights=np.full(len(a), n), progress=False)
        penalties.append(s.history[-1]["penalty"])
        kl = float(s.net.kl().detach())
        assert penalties[-1] == pytest.approx(kl / (n * len(a)), rel=1e-5)
    assert penalties[0] == pytest.approx(3 * penalties[1], rel=1e-5)


def test_data_parallel_checks_the_rank() -> None:
    DataParallel(1, 2, lambda t: None)
    for rank, world in ((2, 2), (-1, 2), (0, 0)):
        with pytest.raises(ValueError, match=f"got rank={rank}, world_size={world}"):
            DataParallel(rank, world, lambda t: None)


def test_reduce_gradients_sums_every_gradient_and_counts_a_missing_one_as_zero() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    net[0](torch.ones(1, 2)).sum().backward()  # only the first layer gets gradients
    before = net[0].weight.grad.clone()
    calls: list[int] = []

    def double(t: Tensor) -> None:
        calls.append(t.numel())
        t.mul_(2.0)

    reduce_gradients(net, DataParallel(0, 2, double))
    assert calls == [sum(p.numel() for p in net.parameters())]  # one flat buffer
    torch.testing.assert_close(net[0].weight.grad, 2.0 * before)
    assert torch.equal(net[1].weight.grad, torch.zeros(1, 3))


class _ThreadAllReduce:
    """Sums a tensor over worker threads, in rank order (a stand-in for ``torch.distributed.all_reduce``)."""

    def __init__(self, world: int) -> None:
        self.barrier = threading.Barrier(world)
        self.slots: list[Tensor | None] = [None] * world

    def for_rank(self, rank: int) -> Callable[[Tensor], None]:
        def all_reduce(t: Tensor) -> None:
            self.slots[rank] = t.clone()
            self.barrier.wait()
            total = sum(self.slots[1:], self.slots[0].clone())
            self.barrier.wait()  # every worker has read the slots before the next call refills them
            t.copy_(total)

        return all_reduce


def _worker(config: SurrogateConfig, data: tuple[Tensor, ...], dp: DataParallel | None) -> dict:
    x, y, w, xv, yv = data
    net = build_network(config, x.shape[-1])
    optimizer = build_optimizer(net, config.optimizer, config.lr, config.weight_decay)
    gens = {"shuffle_gen": torch.Generator().manual_seed(1), "noise_gen": torch.Generator().manual_seed(2)}
    device = torch.device("cpu")
    losses = train_epoch(net, optimizer, config, x, y, w, float(w.sum()), None, **gens, device=device, data_parallel=dp)
    val = validation_metrics(net, xv, yv, config, None, device, dp)
    return {"losses": losses, "val": val, "state": net.state_dict()}


def test_two_data_parallel_workers_take_the_single_process_step() -> None:
    config = SurrogateConfig.from_dict({"hidden": [8, 8], "batch_size": 64, "seed": 3, "lr": 1e-2})
    rng = np.random.default_rng(4)
    x = torch.as_tensor(rng.uniform(-1, 1, (1, 150, 3)), dtype=torch.float32)  # 3 batches, the last one short
    y = torch.sin(3 * x[0, :, 0]) + x[0, :, 1]
    w = torch.as_tensor(rng.integers(0, 4, 150), dtype=torch.float32)  # multiplicities, zeros included
    data = (x, y, w, x[:, :41], y[:41])
    single = _worker(config, data, None)
    reduce = _ThreadAllReduce(2)
    results: dict[int, dict] = {}

    def run(rank: int) -> None:
        results[rank] = _worker(config, data, DataParallel(rank, 2, reduce.for_rank(rank)))

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [0, 1]
    for result in results.values():
        np.testing.assert_allclose(result["losses"], single["losses"], rtol=1e-5)
        assert result["val"]["val_loss"] == pytest.approx(single["val"]["val_loss"], rel=1e-5)
        for name, value in single["state"].items():
            torch.testing.assert_close(result["state"][name], value, rtol=1e-5, atol=1e-6)
