"""Tests of the physical-point and cut checks: each failure raises the chosen error naming the rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from activeamp.physics.checks import check_cuts, check_momenta, cuts_report, format_rows
from activeamp.physics.cuts import default_cuts, paper_cuts
from activeamp.physics.process import get_process
from activeamp.physics.vv_phasespace import VVPhaseSpace
from tests.conftest import physical_points, two_body_points


class MyError(ValueError):
    pass


def test_physical_points_pass_unchanged(rng: np.random.Generator) -> None:
    p = two_body_points(6, rng)
    out = check_momenta(p, "gg_yy")
    assert out is p
    q = physical_points("gg_yyg", 5)
    np.testing.assert_array_equal(check_momenta(q, get_process("gg_yyg")), q)
    assert check_momenta(np.empty((0, 4, 4)), "gg_yy").shape == (0, 4, 4)


def test_format_rows_lists_at_most_five() -> None:
    bad = np.zeros(100, dtype=bool)
    bad[[3, 5, 9, 10, 11, 40, 77]] = True
    assert format_rows(bad) == "7 of 100 points fail this check, at rows 3, 5, 9, 10, 11, …"
    assert format_rows(np.array([False, True])) == "1 of 2 points fails this check, at row 1"


def test_momentum_not_conserved_names_first_row_and_count(rng: np.random.Generator) -> None:
    p = two_body_points(20, rng)
    for i in (3, 5, 9, 10, 11, 12):
        p[i, 2, 1] += 10.0  # +10 GeV in px of a photon
    with pytest.raises(MyError) as err:
        check_momenta(p, "gg_yy", what="file.h5:/momenta", error=MyError)
    assert str(err.value) == (
        "file.h5:/momenta: momentum not conserved at point 3 (relative violation 0.01 > 1e-08); "
        "6 of 20 points fail this check, at rows 3, 5, 9, 10, 11, …"
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.astype(np.float32), "m: expected dtype float64, got float32"),
        (lambda p: p[:, :3], r"m: expected shape \(N, 4, 4\) for process gg_yy"),
        (lambda p: p.tolist(), "m: expected a numpy array, got list"),
    ],
)
def test_type_and_shape(rng: np.random.Generator, mutate: Callable[[np.ndarray], object], message: str) -> None:
    with pytest.raises(MyError, match=message):
        check_momenta(mutate(two_body_points(4, rng)), "gg_yy", what="m", error=MyError)


def test_non_finite_energy_and_offshell_rows(rng: np.random.Generator) -> None:
    p = two_body_points(8, rng)
    nan = p.copy()
    nan[[2, 6], 3, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"non-finite entries at point 2; 2 of 8 points fail this check, at rows 2, 6$"
    ):
        check_momenta(nan, "gg_yy")
    neg = p.copy()
    neg[4, 1, 0] = 0.0
    with pytest.raises(
        ValueError, match=r"point 4, particle 1 has non-positive energy 0 GeV; 1 of 8 points fails .* row 4"
    ):
        check_momenta(neg, "gg_yy")
    off = p.copy()
    off[[1, 7], 2, 0] += 1.0
    off[[1, 7], 3, 0] -= 1.0  # conserves momentum, gives both photons a mass
    with pytest.raises(ValueError, match=r"point 1, particle 2 \(photon\) is off-shell: .* at rows 1, 7$"):
        check_momenta(off, "gg_yy")


def test_massive_bosons_are_exempt_from_the_on_shell_check() -> None:
    p = VVPhaseSpace("uu_ZZ").sample(10, np.random.default_rng(1)).momenta
    assert check_momenta(p, "uu_ZZ") is not None
    quark = p.copy()
    quark[4, 0, 0] *= 1.01
    quark[4, 2, 0] += quark[4, 0, 0] - p[4, 0, 0]  # conserves momentum, gives the quark a mass
    with pytest.raises(ValueError, match=r"point 4, particle 0 \(quark\) is off-shell"):
        check_momenta(quark, "uu_ZZ")


def test_cuts_report_names_rows_and_cuts() -> None:
    inside = physical_points("gg_yyg", 6, seed=3)
    outside, message = cuts_report(inside, "gg_yyg", paper_cuts("gg_yyg"))
    assert not outside.any() and message == ""
    p = physical_points("gg_yyg", 400, seed=3, cuts=False)
    outside, message = cuts_report(p, "gg_yyg", default_cuts("gg_yyg"), what="x.npy")
    expected = ~paper_cuts("gg_yyg").mask(p, "gg_yyg")
    np.testing.assert_array_equal(outside, expected)
    first = int(np.argmax(expected))
    assert message.startswith(f"x.npy: point {first} is outside the cuts of gg_yyg (fails '")
    assert f"{int(expected.sum())} of 400 points fail this check" in message
    assert "ΔR(" in message or "photon:" in message or "jet:" in message
    with pytest.raises(MyError, match=f"point {first} is outside the cuts"):
        check_cuts(p, "gg_yyg", default_cuts("gg_yyg"), error=MyError)


def test_default_cuts_are_the_papers_and_none_for_vv() -> None:
    assert default_cuts("gg_yy") == paper_cuts("gg_yy")
    assert not default_cuts("uu_ZZ")


def test_value_failures_of_scalar_and_vector_values() -> None:
    from activeamp.physics.checks import value_failures

    scalar = np.array([1.0, np.nan, np.inf, -np.inf, -2.0, 0.0])
    assert value_failures(scalar).tolist() == ["", "nan", "inf", "negative", "negative", ""]
    vector = np.array([[1.0, -3.0], [np.inf, 1.0], [np.nan, np.inf]])
    assert value_failures(vector).tolist() == ["", "inf", "nan"]  # signed values are fine; NaN outranks inf
