"""The code base passes the project's ruff configuration (style, imports, bugbear, type annotations)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    folders = [f for f in ("activeamp", "oracles", "tests", "bench", "tune", "cluster") if (ROOT / f).exists()]
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *folders], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
