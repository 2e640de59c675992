"""Parser pieces and helpers shared by the command modules of the ``activeamp`` command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_dataset_overrides", "load_config"]


def add_dataset_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="YAML file with the configuration (see README)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a configuration key, e.g. --set n_train=20000 --set oracle.options.latency=0.005",
    )


def load_config(args: argparse.Namespace, kind: str) -> Any:
    """The ``--config`` YAML (or the defaults) with ``--set`` overrides, as an ActiveConfig or DatasetConfig."""
    from activeamp.config import load_config
    from activeamp.data.dataset import DatasetConfig
    from activeamp.loop.settings import ActiveConfig

    cls = {"ActiveConfig": ActiveConfig, "DatasetConfig": DatasetConfig}[kind]
    return load_config(cls, args.config, args.overrides)
