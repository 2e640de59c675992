"""Tests of BLHA order files and contracts: subprocess lines, coupling powers, contract formats and errors."""

from __future__ import annotations

import pytest

from activeamp.physics.process import get_process
from oracles.blha_contract import default_coupling_powers, order_file, parse_contract, process_line
from oracles.blha_provider import PROVIDERS, BLHAError


def test_order_file_and_process_line() -> None:
    proc = get_process("gg_yyg")
    assert process_line(proc) == "21 21 -> 22 22 21"
    assert default_coupling_powers(proc) == (1, 2)
    assert default_coupling_powers(get_process("gg_yygg")) == (2, 2)
    text = order_file(proc, PROVIDERS["njet"], amplitude_type="loopsq", alphas_power=1, alpha_power=2)
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body == [
        "AmplitudeType loopsq",
        "CorrectionType QCD",
        "IRregularisation CDR",
        "AlphasPower 1",
        "AlphaPower 2",
        "NJetReturnAccuracy 2",
        "21 21 -> 22 22 21",
    ]
    ol = order_file(proc, PROVIDERS["openloops"], amplitude_type="LoopInduced", alphas_power=1, alpha_power=2)
    assert "InterfaceVersion BLHA2" in ol and "CouplingPower QCD 1" in ol and "AlphasPower" not in ol
    with pytest.raises(ValueError, match="must be one line"):
        order_file(proc, PROVIDERS["njet"], amplitude_type="loopsq", alphas_power=1, alpha_power=2, extra_lines=["a|b"])


def test_parse_contract_formats_and_errors() -> None:
    line = "21 21 -> 22 22 21"
    assert parse_contract("AmplitudeType loopsq | OK\n21 21 -> 22 22 21 | 1 0\n", line) == 0
    assert parse_contract("InterfaceVersion BLHA2 | Ok\n21 21  ->  22 22 21     | 1    1\n", line) == 1
    assert parse_contract("A b | OK # Ignored: fine\n21 21 -> 22 22 | 1 0\n21 21 -> 22 22 21 | 2 5 6\n", line) == 5
    with pytest.raises(BLHAError, match=r"has no line for subprocess '21 21 -> 22 22 21' .*'21 21 -> 22 22'"):
        parse_contract("21 21 -> 22 22 | 1 0\n", line, source="contract c.lh")
    with pytest.raises(BLHAError, match="rejected subprocess '21 21 -> 22 22 21': 'Error: process not available'"):
        parse_contract("21 21 -> 22 22 21 | Error: process not available\n", line)
    with pytest.raises(BLHAError, match="rejected subprocess .*'Process not found'"):
        parse_contract("21 21 -> 22 22 21     | Process not found\n", line)
    with pytest.raises(BLHAError, match=r"rejected 1 line\(s\): 'IRregularisation DRED' -> 'Error: only CDR'"):
        parse_contract("IRregularisation DRED | Error: only CDR\n21 21 -> 22 22 21 | 1 0\n", line)
    with pytest.raises(BLHAError, match="not a signed contract"):
        parse_contract("AmplitudeType loopsq\n21 21 -> 22 22 21\n", line)
    assert parse_contract("21 21 -> 22 22 21\n", line, allow_unanswered=True) is None
