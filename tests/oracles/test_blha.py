"""Tests of the BLHA oracles against a stand-in BLHA library compiled from tests/fixtures/blha_standin.c."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import oracles
from oracles.blha import BLHAOracle
from oracles.blha_library import started_libraries
from oracles.blha_provider import PROVIDERS
from oracles.mock import MockOracle
from tests.conftest import physical_points
from tests.oracles.blha_standin import ALPHA_REF, Builder, standin


@pytest.mark.parametrize(
    ("process", "amplitude_type"),
    [("gg_yy", "loopsq"), ("gg_yyg", "loopsq"), ("gg_yygg", "loopsq"), ("gg_yyg", "loop"), ("gg_yyg", "tree")],
)
def test_njet_standin_reproduces_mock(build: Builder, process: str, amplitude_type: str) -> None:
    lib = build(f"njet-{process}-{amplitude_type}")
    oracle = oracles.get("njet", process=process, library=str(lib), amplitude_type=amplitude_type)
    assert oracle.name == "njet" and oracle.subprocess_id == 0
    assert Path(oracle.contract_path).read_text().count("| OK") >= 5  # signed by bin/njet.py next to lib/
    p = physical_points(process, 40)
    expected = MockOracle(process).amplitude(p)
    np.testing.assert_allclose(oracle(p), expected, rtol=1e-13, atol=0)
    result = oracle.evaluate(p)
    assert result.ok.all() and result.values.shape == (40,)
    assert oracle.versions()["olp_name"] == "StandIn" and oracle.versions()["blha_library"] == str(lib.resolve())
    assert oracle.cost_hint == dict(PROVIDERS["njet"].cost_hints)[process]


def test_parameters_and_scale_reach_the_library(build: Builder, signer: list[str]) -> None:
    lib = build("params")
    oracle = oracles.get(
        "njet",
        process="gg_yyg",
        library=str(lib),
        signer=signer,
        alphas=0.236,
        alpha=ALPHA_REF,
        parameters={"qcd(nf)": 4, "mass(23)": 91.1876, "width(23)": [2.4952, 0.0]},
        scale=91.1876,
    )
    p = physical_points("gg_yyg", 10)
    np.testing.assert_allclose(oracle(p), 2.0 * MockOracle("gg_yyg").amplitude(p), rtol=1e-13)  # αs¹ doubled
    hooks = standin(lib)
    assert hooks.standin_nf() == 4
    assert hooks.standin_last_mu() == 91.1876
    assert oracle.options()["parameters"] == {
        "qcd(nf)": [4.0, 0.0],
        "mass(23)": [91.1876, 0.0],
        "width(23)": [2.4952, 0.0],
    }
    np.testing.assert_allclose(oracle.scales(p[:3]), 91.1876)


def test_dynamic_scales(build: Builder, signer: list[str]) -> None:
    lib = build("scales")
    oracle = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer, scale="sqrt_s")
    p = physical_points("gg_yyg", 5)
    oracle(p)
    assert standin(lib).standin_last_mu() == pytest.approx(1000.0, rel=1e-12)
    np.testing.assert_allclose(oracle.scales(p), 1000.0, rtol=1e-12)
    ht = BLHAOracle("gg_yyg", provider="njet", library=str(lib), signer=signer, scale="ht")
    ht(p)
    pt = np.hypot(p[:, 2:, 1], p[:, 2:, 2]).sum(axis=1)
    np.testing.assert_allclose(ht.scales(p), pt)
    assert standin(lib).standin_last_mu() == pytest.approx(pt[-1], rel=1e-12)
    with pytest.raises(ValueError, match="scale must be"):
        oracles.get("njet", process="gg_yyg", library=str(lib), scale="mt")


def test_pickle_carries_configuration_only(build: Builder, signer: list[str]) -> None:
    lib = build("pickle")
    oracle = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer)
    clone = pickle.loads(pickle.dumps(oracle))
    assert type(clone) is type(oracle) and clone.options() == oracle.options()
    p = physical_points("gg_yyg", 4)
    np.testing.assert_array_equal(clone(p), oracle(p))
    assert standin(lib).standin_start_calls() == 1


def test_accuracy_threshold_marks_points_failed(build: Builder, signer: list[str]) -> None:
    lib = build("accuracy")
    oracle = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer, accuracy_threshold=1e-6)
    p = physical_points("gg_yyg", 60)
    unstable = p[:, 2, 3] / p[:, 2, 0] > 0.5  # the stand-in's acc = 1e-2 there
    assert unstable.any() and not unstable.all()
    result = oracle.evaluate(p)
    np.testing.assert_array_equal(result.ok, ~unstable)
    assert {result.reasons[i] for i in np.flatnonzero(unstable)} == {"nan"}
    np.testing.assert_array_equal(oracle.last_accuracy, np.where(unstable, 1e-2, 1e-12))


def test_blha_oracle_with_custom_provider_entry(build: Builder, signer: list[str]) -> None:
    lib = build("custom")
    provider = {"base": "njet", "name": "mine", "library_env": "MINE_LIB", "rval_length": 16}
    oracle = oracles.get("blha", process="gg_yyg", provider=provider, library=str(lib), signer=signer)
    assert oracle.name == "blha" and oracle.provider.name == "mine" and oracle.options()["provider"] == provider
    p = physical_points("gg_yyg", 3)
    np.testing.assert_allclose(oracle(p), MockOracle("gg_yyg").amplitude(p), rtol=1e-13)


# ------------------------------------------------------------------------------------------------ through Ray


@pytest.fixture(scope="module")
def ray_session() -> object:
    """A local Ray instance shared with other test modules (left running for them)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 2**20)
    return ray


def test_through_ray_actors(build: Builder, ray_session: object) -> None:
    ray = ray_session
    lib = build("ray")

    class OracleActor:
        """Builds its own oracle (and so its own library instance) in the actor process."""

        def __init__(self, name: str, options: dict) -> None:
            import oracles as _oracles

            self.oracle = _oracles.get(name, **options)

        def evaluate(self, momenta: np.ndarray) -> tuple[np.ndarray, int, int]:
            from oracles.blha_library import started_libraries as _started

            return self.oracle(momenta), os.getpid(), len(_started())

    remote = ray.remote(num_cpus=0)(OracleActor)  # type: ignore[attr-defined]
    options = {"process": "gg_yyg", "library": str(lib)}
    actors = [remote.remote("njet", options) for _ in range(2)]
    p = physical_points("gg_yyg", 16)
    results = ray.get([a.evaluate.remote(p) for a in actors])  # type: ignore[attr-defined]
    expected = MockOracle("gg_yyg").amplitude(p)
    for values, _, n_started in results:
        np.testing.assert_allclose(values, expected, rtol=1e-13)
        assert n_started == 1
    assert len({pid for _, pid, _ in results} | {os.getpid()}) == 3
    assert str(lib.resolve()) not in started_libraries()  # nothing was started in the driver
    for a in actors:
        ray.kill(a)  # type: ignore[attr-defined]
