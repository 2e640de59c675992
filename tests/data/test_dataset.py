"""Tests of data-set building: reproducible ids and points, idempotent reruns, config validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activeamp.config import ConfigError, from_dict
from activeamp.data.dataset import DatasetConfig, build_dataset, work_item_rng


def _config(**overrides: object) -> DatasetConfig:
    data = {"n_train": 300, "n_test": 100, "batch_size": 128, "seed": 5}
    data.update(overrides)
    return from_dict(DatasetConfig, data)


def test_build_is_reproducible_and_idempotent(tmp_path: Path) -> None:
    config = _config()
    store_a, report = build_dataset(config, tmp_path / "a", progress=False)
    assert report.n_points == 400 and report.n_failed == 0
    assert store_a.summary().counts == {"train": {"ok": 300}, "test": {"ok": 100}}
    store_b, _ = build_dataset(config, tmp_path / "b", progress=False)
    a, b = store_a.arrays(), store_b.arrays()
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.momenta, b.momenta)
    # rerun on the same folder: nothing sampled or labelled twice
    _, again = build_dataset(config, tmp_path / "a", progress=False)
    assert again.n_points == 0
    assert store_a.summary().n_points == 400 and store_a.duplicates().num_rows == 0


def test_points_pass_the_cuts(tmp_path: Path) -> None:
    config = _config()
    store, _ = build_dataset(config, tmp_path / "s", progress=False)
    momenta = store.arrays().momenta
    assert config.phasespace.build_cuts().mask(momenta, store.process).all()


def test_vegas_sampler_adapts_to_the_oracle(tmp_path: Path) -> None:
    config = _config(phasespace={"sampler": "vegas", "vegas_iterations": 2, "vegas_points": 2000})
    store, _ = build_dataset(config, tmp_path / "v", progress=False)
    assert store.summary().count(status="ok") == 400


def test_work_items_are_independent_streams() -> None:
    a = work_item_rng(1, 0, 0).random(4)
    assert np.array_equal(a, work_item_rng(1, 0, 0).random(4))
    assert not np.array_equal(a, work_item_rng(1, 0, 1).random(4))
    assert not np.array_equal(a, work_item_rng(1, 1, 0).random(4))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"n_train": -1}, "n_train: must be >= 0, got -1"),
        ({"phasespace": {"process": "qq_tt"}}, "phasespace.process: unknown process 'qq_tt'"),
        ({"phasespace": {"sqrt_s": 0}}, "phasespace.sqrt_s: must be > 0 GeV"),
        ({"phasespace": {"cuts": "atlas"}}, "phasespace.cuts: expected 'paper', 'none' or a mapping"),
        ({"phasespace": {"sampler": "flow"}}, "phasespace.sampler: 'flow' is not one of 'uniform', 'vegas'"),
        ({"phasespace": {"mapping": {"m34_range": [60, 120]}}}, "phasespace.mapping: only the VV processes"),
        ({"phasespace": {"process": "uu_ZZ", "cuts": {"photon": {"pt_min": 20}}}}, "cuts must be 'paper' or 'none'"),
        ({"phasespace": {"process": "uu_ZZ", "sampler": "vegas"}}, "supports only 'uniform'"),
        (
            {"phasespace": {"process": "uu_ZZ", "mapping": {"sqrt_s_rang": [200, 500]}}},
            "phasespace.mapping: .*sqrt_s_rang",
        ),
        (
            {"phasespace": {"process": "uu_ZZ", "mapping": {"sqrt_s_range": [100, 500]}}},
            "phasespace.mapping: sqrt_s_range",
        ),
    ],
)
def test_config_errors(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(DatasetConfig, data)


def test_bad_oracle_names_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="oracle.name: unknown oracle 'njet7'"):
        build_dataset(_config(oracle={"name": "njet7"}), tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="oracle.options: .*latencyy"):
        build_dataset(_config(oracle={"options": {"latencyy": 1}}), tmp_path / "y", progress=False)
    vv = {"process": "uu_ZZ"}
    with pytest.raises(ConfigError, match="oracle.name: there is no built-in exact oracle for uu_ZZ .* mock_vv"):
        build_dataset(_config(phasespace=vv), tmp_path / "z", progress=False)
    with pytest.raises(ConfigError, match="oracle.name: oracle 'gg_yy' computes gg_yy only, not gg_yyg"):
        build_dataset(_config(oracle={"name": "gg_yy"}), tmp_path / "w", progress=False)


def test_vector_oracle_builds_a_vector_store(tmp_path: Path) -> None:
    config = _config(
        phasespace={"process": "uu_ZZ", "mapping": {"sqrt_s_range": [250.0, 600.0]}},
        oracle={"name": "mock_vv", "options": {"n_outputs": 3}},
    )
    store, report = build_dataset(config, tmp_path / "vv", progress=False)
    assert store.outputs == ("c1", "c2", "c3") and report.n_ok == 400
    train = store.arrays("train")
    assert train.targets.shape == (300, 3) and train.momenta.shape == (300, 4, 4)
    sqrt_s = train.momenta[:, 0, 0] + train.momenta[:, 1, 0]  # partonic centre-of-mass frame
    assert sqrt_s.min() >= 250.0 - 1e-9 and sqrt_s.max() <= 600.0 + 1e-9
    again, report = build_dataset(config, tmp_path / "vv", progress=False)  # idempotent
    assert report.n_points == 0 and again.summary().n_points == 400
