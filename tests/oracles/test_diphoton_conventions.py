"""Tests of the conventions of the exact diphoton amplitudes: prefactors, charges, helicity labels."""

from __future__ import annotations

import pytest

from oracles.diphoton import GGYYGOracle
from oracles.diphoton_conventions import helicity_labels, k2_prefactor, k3_prefactor, sum_q2_for
from tests.oracles.diphoton_points import REFERENCE


def test_prefactors_match_reference() -> None:
    assert sum_q2_for(5) == pytest.approx(11 / 9, rel=1e-15)
    k3 = k3_prefactor(REFERENCE["alpha"], REFERENCE["alpha_s"], REFERENCE["sum_q2"])
    k2 = k2_prefactor(REFERENCE["alpha"], REFERENCE["alpha_s"], REFERENCE["sum_q2"])
    assert k3 == pytest.approx(REFERENCE["K3"], rel=1e-15)
    assert k2 == pytest.approx(REFERENCE["K2"], rel=1e-15)
    assert GGYYGOracle().prefactor == pytest.approx(REFERENCE["K3"], rel=1e-15)


def test_helicity_labels_count_in_binary_from_all_minus() -> None:
    assert helicity_labels(2) == ("--", "-+", "+-", "++")
    labels = helicity_labels(5)
    assert len(labels) == 32 == len(set(labels)) and labels[0] == "-----" and labels[-1] == "+++++"
    assert all(labels[31 - c] == label.translate(str.maketrans("+-", "-+")) for c, label in enumerate(labels))
