"""Shared data of the tuning tests: tiny search definitions and mock-labelled stores (built once per package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from activeamp.config import from_dict
from activeamp.data.store import ShardStore

ROOT = Path(__file__).resolve().parents[3]

#: Tiny networks and data: a trial epoch takes milliseconds, so the searches are dominated by Ray's overhead.
TINY_BASE = {"sigma_a": "median", "n_members": 2, "n_weight_samples": 8, "batch_size": 256, "seed": 1}
TINY_SPACE = {
    "family": {"choice": ["bnn", "deterministic", "ensemble"]},
    "prior_width": {"loguniform": [1e-3, 10.0]},
    "n_layers": {"randint": [2, 6]},
    "width": {"choice": [8, 16, 32]},
    "lr": {"loguniform": [1e-3, 1e-2]},
}
VECTOR_BASE = {**TINY_BASE, "target_transform": "signed", "hidden": [8, 8]}


def search_dict(store_path: str | Path, storage: Path, **overrides: object) -> dict[str, object]:
    """A tiny search definition (4 trials of at most 4 epochs) as the mapping ``SearchConfig.from_dict`` takes."""
    data: dict[str, object] = {
        "store": str(store_path),
        "storage_path": str(storage),
        "name": "tiny",
        "num_samples": 4,
        "max_concurrent": 2,
        "epochs": 4,
        "eval_every": 2,
        "verbose": 0,
        "seed": 3,
        "scheduler": {"grace_period": 1, "reduction_factor": 2},
        "base": TINY_BASE,
        "space": TINY_SPACE,
    }
    data.update(overrides)
    return data


@pytest.fixture(scope="package")
def store(tmp_path_factory: pytest.TempPathFactory) -> ShardStore:
    """g g → γ γ g labelled by the mock oracle: 600 train, 150 validation, 100 test points."""
    from activeamp.data.dataset import DatasetConfig, build_dataset

    data = {"oracle": {"name": "mock"}, "n_train": 600, "n_validation": 150, "n_test": 100, "seed": 11}
    s, report = build_dataset(from_dict(DatasetConfig, data), tmp_path_factory.mktemp("data") / "store", progress=False)
    assert report.n_ok == 850
    return s


@pytest.fixture(scope="package")
def vector_store(tmp_path_factory: pytest.TempPathFactory) -> ShardStore:
    """q q̄ → Z Z with 2 signed outputs per point (the analytic VV mock): 300 train, 80 validation points."""
    from activeamp.data.dataset import DatasetConfig, build_dataset

    data = {
        "phasespace": {"process": "uu_ZZ"},
        "oracle": {"name": "mock_vv", "options": {"n_outputs": 2}},
        "n_train": 300,
        "n_validation": 80,
        "n_test": 10,
        "seed": 4,
    }
    s, _ = build_dataset(from_dict(DatasetConfig, data), tmp_path_factory.mktemp("vv") / "store", progress=False)
    return s
