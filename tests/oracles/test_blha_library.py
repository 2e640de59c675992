"""Tests of loading and starting BLHA libraries (stand-in from tests/fixtures/blha_standin.c): library lookup,
symbols, status codes, contracts (signed, given, answered in place), signing tools, one contract per library."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import oracles
from activeamp.physics.process import get_process
from oracles.blha_contract import order_file
from oracles.blha_library import started_libraries
from oracles.blha_provider import PROVIDERS, BLHAError
from oracles.mock import MockOracle
from tests.conftest import physical_points
from tests.oracles.blha_standin import Builder, standin


def test_library_from_environment(build: Builder, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = build("env")
    monkeypatch.setenv("NJET_LIB", str(lib.parent))  # a directory holding libnjet3.so
    oracle = oracles.get("njet", process="gg_yy")
    assert oracle.library_path == str(lib.resolve()) and oracle.options()["library"] is None
    monkeypatch.delenv("NJET_LIB")
    with pytest.raises(BLHAError, match="no library given: pass library=/path/to/libnjet3.so or set .*NJET_LIB"):
        oracles.get("njet", process="gg_yy")


def test_missing_or_broken_library(tmp_path: Path) -> None:
    with pytest.raises(BLHAError, match=r"library .*nowhere/libnjet3.so \(option library\) not found"):
        oracles.get("njet", library=str(tmp_path / "nowhere" / "libnjet3.so"))
    with pytest.raises(BLHAError, match="contains none of libnjet3.so"):
        oracles.get("njet", library=str(tmp_path))
    junk = tmp_path / "libnjet3.so"
    junk.write_text("not a library")
    with pytest.raises(BLHAError, match="could not load library .*libnjet3.so"):
        oracles.get("njet", library=str(junk))


def test_missing_symbol(build: Builder, signer: list[str]) -> None:
    lib = build("nosetparameter", "-DSTANDIN_OMIT_SETPARAMETER")
    with pytest.raises(
        BLHAError, match=r"has no symbol OLP_SetParameter \(OLP_SetParameter\) expected for provider 'njet'"
    ):
        oracles.get("njet", library=str(lib), signer=signer)


def test_bad_status_codes(build: Builder, signer: list[str]) -> None:
    lib = build("status")
    with pytest.raises(BLHAError, match=r"OLP_Start returned status 0 \(1 = OK\) for contract"):
        oracles.get("njet", library=str(lib), signer=signer, ir_regularisation="DRED")
    with pytest.raises(BLHAError, match=r"OLP_SetParameter\('bogus', 1.0, 0.0\) returned status 0 \(error"):
        oracles.get("njet", library=str(lib), signer=signer, parameters={"bogus": 1.0})
    lib2 = build("status-ignored")
    with pytest.raises(BLHAError, match="returned status 2 .*ignored"):
        oracles.get("njet", library=str(lib2), signer=signer, parameters={"ignored_x": 1.0})


def test_wrong_or_unsigned_contracts(build: Builder, tmp_path: Path) -> None:
    lib = build("contracts")
    other = tmp_path / "gg_yy.lh"
    other.write_text("AmplitudeType loopsq | OK\n21 21 -> 22 22 | 1 0\n")
    with pytest.raises(BLHAError, match=r"gg_yy.lh has no line for subprocess '21 21 -> 22 22 21'"):
        oracles.get("njet", process="gg_yyg", library=str(lib), contract=str(other))
    rejected = tmp_path / "rejected.lh"
    rejected.write_text("AmplitudeType loopsq | OK\n21 21 -> 22 22 21 | Error: process not available\n")
    with pytest.raises(BLHAError, match="rejected subprocess '21 21 -> 22 22 21'"):
        oracles.get("njet", process="gg_yyg", library=str(lib), contract=str(rejected))
    unsigned = tmp_path / "order.lh"
    unsigned.write_text("AmplitudeType loopsq\n21 21 -> 22 22 21\n")
    with pytest.raises(BLHAError, match="not a signed contract"):
        oracles.get("njet", process="gg_yyg", library=str(lib), contract=str(unsigned))
    signed = tmp_path / "signed.lh"
    signed.write_text("AmplitudeType loopsq | OK\nAlphasPower 1 | OK\nAlphaPower 2 | OK\n21 21 -> 22 22 21 | 1 3\n")
    oracle = oracles.get("njet", process="gg_yyg", library=str(lib), contract=str(signed))
    assert oracle.subprocess_id == 3 and oracle.contract_path == str(signed)
    p = physical_points("gg_yyg", 5)
    np.testing.assert_allclose(oracle(p), MockOracle("gg_yyg").amplitude(p), rtol=1e-13)


def test_signer_failures(build: Builder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lib = build("signer-fail")
    with pytest.raises(BLHAError, match=r"signing tool .* exited with status 1: .*"):
        oracles.get("njet", library=str(lib), signer=[sys.executable, "-c", "import sys; sys.exit('no NJet here')"])
    with pytest.raises(BLHAError, match="wrote no contract"):
        oracles.get("njet", library=str(lib), signer=[sys.executable, "-c", "pass"])
    # no NJET_SIGNER, nothing on PATH, nothing in <lib>/../bin
    bare = tmp_path / "bare" / "lib"
    bare.mkdir(parents=True)
    shutil.copy(lib, bare / "libnjet3.so")
    monkeypatch.delenv("NJET_SIGNER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BLHAError, match=r"no signing tool was found .*njet.py.*set NJET_SIGNER"):
        oracles.get("njet", library=str(bare / "libnjet3.so"))
    monkeypatch.setenv("NJET_SIGNER", f"{sys.executable} {lib.parent.parent / 'bin' / 'njet.py'}")
    assert oracles.get("njet", library=str(bare / "libnjet3.so")).subprocess_id == 0


def test_one_contract_per_library_per_process(build: Builder, signer: list[str]) -> None:
    lib = build("shared")
    first = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer)
    again = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer)
    assert standin(lib).standin_start_calls() == 1  # the second oracle shares the started library
    assert again.subprocess_id == first.subprocess_id
    assert started_libraries()[str(lib.resolve())]["provider"] == "njet"
    with pytest.raises(BLHAError, match="already started in this process .* different order file"):
        oracles.get("njet", process="gg_yy", library=str(lib), signer=signer)
    with pytest.raises(BLHAError, match="already started in this process"):
        oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer, alphas=0.2)


def test_openloops_answers_order_file_in_place(build: Builder) -> None:
    lib = build("openloops", "-DSTANDIN_ANSWER_IN_PLACE", filename="libopenloops.so")
    oracle = oracles.get("openloops", process="gg_yyg", library=str(lib))
    contract = Path(oracle.contract_path).read_text()
    assert "21 21 -> 22 22 21 | 1 1" in contract and "CouplingPower QCD 1 | OK" in contract
    assert oracle.subprocess_id == 1 and oracle.result_index == 0
    p = physical_points("gg_yyg", 10)
    np.testing.assert_allclose(oracle(p), MockOracle("gg_yyg").amplitude(p), rtol=1e-13)


def test_gosam_symbols_extra_arguments_and_index(build: Builder, signer: list[str], tmp_path: Path) -> None:
    lib = build("gosam", "-DSTANDIN_GOSAM", filename="libgolem_olp.so")
    with pytest.raises(BLHAError, match="needs the contract made together with its library"):
        oracles.get("gosam", process="gg_yyg", library=str(lib))
    order = tmp_path / "order.olp"
    proc = get_process("gg_yyg")
    order.write_text(order_file(proc, PROVIDERS["gosam"], amplitude_type="LoopInduced", alphas_power=1, alpha_power=2))
    contract = tmp_path / "order.olc"
    subprocess.run([a.format(order=order, contract=contract) for a in signer], check=True)
    oracle = oracles.get("gosam", process="gg_yyg", library=str(lib), contract=str(contract))
    assert standin(lib).standin_last_stage() == -1
    assert oracle.result_index == 2
    p = physical_points("gg_yyg", 10)
    np.testing.assert_allclose(oracle(p), MockOracle("gg_yyg").amplitude(p), rtol=1e-13)
