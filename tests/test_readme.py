"""The README's run-config block shows the defaults: loading it gives the default ActiveConfig."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from activeamp.loop.active import ActiveConfig


def test_readme_run_config_block_is_the_default_config() -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    block = next(b for b in blocks if b.startswith("seed: 1234"))
    assert ActiveConfig.from_dict(yaml.safe_load(block)) == ActiveConfig()
