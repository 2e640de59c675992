"""Tests of the mpmath reference of the diphoton amplitudes (oracles.diphoton_reference)."""

from __future__ import annotations

import numpy as np
import pytest

from oracles.diphoton_2to2 import HELICITY_LABELS_2TO2
from oracles.diphoton_2to3 import HELICITY_LABELS_2TO3
from tests.oracles.diphoton_points import (
    OVERRIDES_2TO2,
    OVERRIDES_2TO3,
    reference_points,
)


@pytest.mark.slow
def test_overrides_are_40_digit_values_2to2() -> None:
    """Replaced reference terms equal a 40-digit evaluation of the spec; the others are within half the tolerance."""
    pytest.importorskip("mpmath")
    from oracles.diphoton_reference import helicity_terms_2to2

    momenta2, _, terms2 = reference_points("points_2to2")
    exact2 = helicity_terms_2to2(momenta2)
    np.testing.assert_allclose(terms2, exact2, rtol=5e-14)
    for (i, label), value in OVERRIDES_2TO2.items():
        assert exact2[i, HELICITY_LABELS_2TO2.index(label)] == pytest.approx(value, rel=1e-15)


@pytest.mark.slow
def test_overrides_are_40_digit_values_2to3() -> None:
    """Replaced reference terms equal a 40-digit evaluation of the spec; the others are within half the tolerance."""
    pytest.importorskip("mpmath")
    from oracles.diphoton_reference import helicity_terms_2to3

    momenta, _, terms = reference_points("points_2to3")
    exact = helicity_terms_2to3(momenta[:1])[0]
    np.testing.assert_allclose(terms[0], exact, rtol=5e-13)
    for (i, label), value in OVERRIDES_2TO3.items():
        if i == 0:
            assert exact[HELICITY_LABELS_2TO3.index(label)] == pytest.approx(value, rel=1e-15)
