"""Tests of the process descriptions."""

from __future__ import annotations

import pytest

from activeamp.physics.process import (
    MASSIVE_KINDS,
    PARTICLE_KINDS,
    PROCESSES,
    VV_PROCESSES,
    Process,
    get_process,
    get_vv_process,
)


def test_builtin_processes_are_consistent() -> None:
    yyg = get_process("gg_yyg")
    assert yyg.n_particles == 5 and yyg.n_final == 3
    assert yyg.kinds == ("gluon", "gluon", "photon", "photon", "gluon")
    assert yyg.outgoing_indices("photon") == (2, 3)
    assert yyg.identical_groups() == ((0, 1), (2, 3))
    assert get_process("gg_yygg").identical_groups() == ((0, 1), (2, 3), (4, 5))
    assert get_process("gg_yy").momentum_shape == (4, 4)
    assert set(PROCESSES) == {"gg_yy", "gg_yyg", "gg_yygg", "uu_ZZ", "dd_ZZ", "ud_WZ", "uu_WW"}
    assert all(get_process(name).massless for name in ("gg_yy", "gg_yyg", "gg_yygg"))


def test_unknown_process_lists_known() -> None:
    with pytest.raises(
        KeyError, match="unknown process 'qq_yy'; known processes: dd_ZZ, gg_yy, gg_yyg, gg_yygg, ud_WZ, uu_WW, uu_ZZ"
    ):
        get_process("qq_yy")


def test_vv_processes_match_vvamp() -> None:
    assert set(MASSIVE_KINDS) == {"Z", "W"} and set(MASSIVE_KINDS) <= set(PARTICLE_KINDS)
    expected = {
        "uu_ZZ": ((2, -2, 23, 23), ("Z", "Z")),
        "dd_ZZ": ((1, -1, 23, 23), ("Z", "Z")),
        "ud_WZ": ((2, -1, 24, 23), ("W", "Z")),
        "uu_WW": ((2, -2, 24, -24), ("W", "W")),
    }
    assert set(VV_PROCESSES) == set(expected)
    for name, (pdg, outgoing) in expected.items():
        proc = get_process(name)
        assert proc.pdg == pdg and get_vv_process(name) is proc and get_vv_process(proc) is proc
        assert proc.incoming == ("quark", "antiquark") and proc.outgoing == outgoing
        assert not proc.massless and proc.momentum_shape == (4, 4) and proc.n_final == 2
    # identical particles need the same kind and PDG code: Z Z are, W⁺ W⁻ and W Z are not
    assert get_process("uu_ZZ").identical_groups() == ((2, 3),)
    assert get_process("uu_WW").identical_groups() == ()
    assert get_process("ud_WZ").identical_groups() == ()
    assert get_process("uu_WW").outgoing_indices("W") == (2, 3)


def test_get_vv_process_names_the_vv_processes() -> None:
    with pytest.raises(KeyError, match="unknown VV process 'cc_ZZ'; the VV processes are dd_ZZ, ud_WZ, uu_WW, uu_ZZ"):
        get_vv_process("cc_ZZ")
    with pytest.raises(KeyError, match="process 'gg_yy' is not a q q̄′ → V1 V2 process; the VV processes are dd_ZZ"):
        get_vv_process("gg_yy")


def test_invalid_descriptions_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown particle kind 'graviton'"):
        Process("bad", ("gluon", "gluon"), ("graviton",), "g g -> G", (21, 21, 39))
    with pytest.raises(ValueError, match="2 PDG codes for 3 particles"):
        Process("bad", ("gluon", "gluon"), ("photon",), "g g -> γ", (21, 21))
