"""Fixtures of the oracle tests: the exact diphoton oracles and g g → γ γ g test points; the BLHA stand-in."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from oracles.diphoton import GGYYGOracle, GGYYOracle
from tests.oracles.blha_standin import SIGNER, Builder, builder
from tests.oracles.diphoton_points import physical_points_2to3


@pytest.fixture(scope="module")
def yyg() -> GGYYGOracle:
    return GGYYGOracle()


@pytest.fixture(scope="module")
def yy() -> GGYYOracle:
    return GGYYOracle()


@pytest.fixture(scope="module")
def points3() -> np.ndarray:
    return physical_points_2to3(40, np.random.default_rng(61))


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Builder:
    """Compile the stand-in into ``<root>/<name>/lib/<filename>`` with an NJet-like ``bin/njet.py`` next to it."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc or gcc) on PATH: the stand-in BLHA library cannot be built")
    return builder(cc, tmp_path_factory.mktemp("blha"))


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Signer command template running the stand-in signer with this Python."""
    path = tmp_path_factory.mktemp("signer") / "sign.py"
    path.write_text(SIGNER)
    return [sys.executable, str(path), "-o", "{contract}", "{order}"]
