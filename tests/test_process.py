"""Tests of the process descriptions."""

from __future__ import annotations

import pytest

from activeamp.process import PROCESSES, Process, get_process


def test_builtin_processes_are_consistent() -> None:
    yyg = get_process("gg_yyg")
    assert yyg.n_particles == 5 and yyg.n_final == 3
    assert yyg.kinds == ("gluon", "gluon", "photon", "photon", "gluon")
    assert yyg.outgoing_indices("photon") == (2, 3)
    assert yyg.identical_groups() == ((0, 1), (2, 3))
    assert get_process("gg_yygg").identical_groups() == ((0, 1), (2, 3), (4, 5))
    assert get_process("gg_yy").momentum_shape == (4, 4)
    assert set(PROCESSES) == {"gg_yy", "gg_yyg", "gg_yygg"}


def test_unknown_process_lists_known() -> None:
    with pytest.raises(KeyError, match="unknown process 'qq_yy'; known processes: gg_yy, gg_yyg, gg_yygg"):
        get_process("qq_yy")


def test_invalid_descriptions_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown particle kind 'graviton'"):
        Process("bad", ("gluon", "gluon"), ("graviton",), "g g -> G", (21, 21, 39))
    with pytest.raises(ValueError, match="2 PDG codes for 3 particles"):
        Process("bad", ("gluon", "gluon"), ("photon",), "g g -> γ", (21, 21))
