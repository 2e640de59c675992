"""Tests of the parser pieces shared by the commands (activeamp.cli.common)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from activeamp.cli.common import add_config_options, load_config


def test_config_file_and_overrides_make_a_validated_config(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_config_options(parser)
    path = tmp_path / "run.yaml"
    path.write_text("budget:\n  max_rounds: 5\n")
    args = parser.parse_args(["--config", str(path), "--set", "n_initial=500"])
    config = load_config(args, "ActiveConfig")
    assert config.budget.max_rounds == 5 and config.n_initial == 500
    bad = parser.parse_args(["--set", "budget.bogus=1"])
    with pytest.raises(ValueError, match="budget.bogus"):
        load_config(bad, "ActiveConfig")
    assert load_config(parser.parse_args([]), "DatasetConfig").n_train > 0
