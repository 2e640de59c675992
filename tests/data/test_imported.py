"""Tests of the checks an imported file must pass (activeamp.data.imported)."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.data.imported import (
    InterchangeError,
    check_amplitude,
    check_file_momenta,
    check_ids,
    parse_outputs,
    resolve_process,
)
from activeamp.physics.process import get_process
from tests.conftest import two_body_points


def test_momenta_checks_name_the_file_and_the_rows() -> None:
    p = two_body_points(6, np.random.default_rng(0))
    assert check_file_momenta(p, get_process("gg_yy"), "f.h5:/momenta").shape == (6, 4, 4)
    bad = p.copy()
    bad[[2, 4], 2, 1] += 10.0  # +10 GeV in px of a photon
    with pytest.raises(InterchangeError, match=r"f.h5:/momenta: momentum not conserved at point 2.*rows 2, 4"):
        check_file_momenta(bad, get_process("gg_yy"), "f.h5:/momenta")


def test_label_ids_and_process_checks() -> None:
    np.testing.assert_array_equal(check_amplitude(np.array([1.0, 2.0]), 2, "a.npy", "m.npy"), [1.0, 2.0])
    with pytest.raises(InterchangeError, match="a.npy"):
        check_amplitude(np.array([1.0, 2.0, 3.0]), 2, "a.npy", "m.npy")
    with pytest.raises(InterchangeError, match="f.h5:/ids"):
        check_ids(np.array(["a", "a"]), 2, "f.h5:/ids")
    assert parse_outputs('["c1", "c2"]', "f.h5:outputs") == ("c1", "c2")
    assert resolve_process(None, "gg_yyg", "f.h5").name == "gg_yyg"
    with pytest.raises(InterchangeError, match="gg_yy"):
        resolve_process("gg_yy", "gg_yyg", "f.h5")
