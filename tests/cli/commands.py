"""Support for the command tests: run ``activeamp`` in-process and capture its output."""

from __future__ import annotations

import pytest

from activeamp.cli import main

#: Overrides of a small vector data set (q q̄ → Z Z, the analytic VV mock with 3 outputs).
VECTOR_DATA = (
    "--set",
    "phasespace.process=uu_ZZ",
    "--set",
    "oracle.name=mock_vv",
    "--set",
    "oracle.options.n_outputs=2",
)




def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``activeamp ARGV``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
