"""Tests of the oracle registry: names, the ``exact`` alias, which oracles take a process, provenance."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import oracles
from activeamp.config import ConfigError
from activeamp.data.dataset import OracleConfig
from activeamp.physics.process import get_process
from oracles.registry import BUILTIN, EXACT, exact_oracle, resolve
from tests.conftest import two_body_points


def test_registry_lists_available_on_unknown_name() -> None:
    assert "mock" in oracles.available() and EXACT in oracles.available()
    with pytest.raises(KeyError, match="unknown oracle 'njet9'; available oracles: .*exact.*mock"):
        oracles.get("njet9")
    oracle = oracles.get("mock", process="gg_yy")
    assert oracle.process.name == "gg_yy"


def test_builtin_names_are_those_of_the_oracles() -> None:
    for name, spec in BUILTIN.items():
        module, _, attr = spec.target.partition(":")
        assert getattr(importlib.import_module(module), attr).name == name


def test_provenance_is_complete() -> None:
    prov = oracles.get("mock", process="gg_yyg", latency=0.0).provenance()
    assert prov["name"] == "mock" and prov["process"] == "gg_yyg"
    assert prov["options"]["latency"] == 0.0
    assert {"activeamp", "numpy", "python"} <= set(prov["versions"])


def test_exact_resolves_per_process_like_the_command_line(rng: np.random.Generator) -> None:
    oracle = oracles.get(EXACT, process="gg_yy")
    assert oracle.name == "gg_yy" and oracle.process.name == "gg_yy" and oracle.outputs is None
    same = OracleConfig().build("gg_yy")  # what `activeamp label --oracle exact` builds for a gg_yy store
    assert type(same) is type(oracle) and same.options() == oracle.options()
    p = two_body_points(4, rng)
    np.testing.assert_array_equal(oracle(p), same(p))
    assert exact_oracle("gg_yyg") == "gg_yyg" and resolve(EXACT, "gg_yyg")[0] == "gg_yyg"
    with pytest.raises(ValueError, match="no built-in exact oracle for uu_ZZ .*takes the process: .*mock_vv.*vvamp"):
        oracles.get(EXACT, process="uu_ZZ")
    with pytest.raises(ValueError, match="give process="):
        oracles.get(EXACT)


def test_process_is_passed_on_or_checked() -> None:
    # the fixed-process oracles accept the process they compute, and refuse any other
    assert oracles.get("gg_yyg", process="gg_yyg").process.name == "gg_yyg"
    with pytest.raises(ValueError, match="oracle 'gg_yy' computes gg_yy only, not gg_yyg"):
        oracles.get("gg_yy", process="gg_yyg")
    # the others take it as their option
    assert oracles.get("mock", process="gg_yygg").process is get_process("gg_yygg")
    assert oracles.get("mock_vv", process="ud_WZ").process is get_process("ud_WZ")
    with pytest.raises(ConfigError, match="oracle.name: oracle 'gg_yy' computes gg_yy only, not gg_yyg"):
        OracleConfig("gg_yy").build("gg_yyg")
    with pytest.raises(ConfigError, match="oracle.name: there is no built-in exact oracle for uu_ZZ"):
        OracleConfig().build("uu_ZZ")
    with pytest.raises(ConfigError, match="oracle.options.process: 'gg_yy', but the run is for gg_yyg"):
        OracleConfig("mock", {"process": "gg_yy"}).build("gg_yyg")


def test_registry_builds_the_vector_mock() -> None:
    from oracles.mock import MockVectorOracle

    assert {"mock_vv", "vvamp"} <= set(oracles.available())
    oracle = oracles.get("mock_vv", n_outputs=3)
    assert isinstance(oracle, MockVectorOracle) and isinstance(oracle, oracles.Oracle) and oracle.n_outputs == 3
    assert oracle.process.name == "uu_ZZ" and oracle.outputs == ("c1", "c2", "c3")
    assert oracles.get("mock_vv", process="ud_WZ").process is get_process("ud_WZ")
