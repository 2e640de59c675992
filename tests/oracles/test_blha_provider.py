"""Tests of the BLHA provider table: entries from mappings, round trips, named errors."""

from __future__ import annotations

import pytest

import oracles
from oracles.blha_provider import BLHAProvider


def test_provider_table_entry_from_dict() -> None:
    custom = BLHAProvider.from_dict({"base": "njet", "name": "njet-big", "rval_length": 20, "result_index": {"x": 7}})
    assert custom.rval_length == 20 and custom.index_of("X") == 7 and custom.library_env == "NJET_LIB"
    assert BLHAProvider.from_dict(custom.to_dict()) == custom
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['rval_len'\]"):
        BLHAProvider.from_dict({"base": "njet", "rval_len": 3})
    with pytest.raises(ValueError, match="result index 12 .* outside rval"):
        BLHAProvider.from_dict({"base": "njet", "result_index": {"loopsq": 12}})
    with pytest.raises(KeyError, match="unknown BLHA provider 'nj'"):
        oracles.get("blha", provider="nj")
    assert {"blha", "njet", "openloops", "gosam"} <= set(oracles.available())
