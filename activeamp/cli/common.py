"""Parser pieces and helpers shared by the command modules of the ``activeamp`` command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_config_options", "load_config"]


def add_config_options(
    p: argparse.ArgumentParser,
    config_help: str = "YAML file with the configuration (see README)",
    example: str = "--set n_train=20000 --set oracle.options.latency=0.005",
) -> None:
    """``--config FILE`` and repeatable ``--set KEY=VALUE`` (into ``args.overrides``) of a command."""
    p.add_argument("--config", type=Path, help=config_help)
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a configuration key, e.g. {example}",
    )


def load_config(args: argparse.Namespace, kind: str) -> Any:
    """The ``--config`` YAML (or the defaults) with ``--set`` overrides, as an ActiveConfig or DatasetConfig."""
    from activeamp.config import load_config
    from activeamp.data.dataset import DatasetConfig
    from activeamp.loop.settings import ActiveConfig

    cls = {"ActiveConfig": ActiveConfig, "DatasetConfig": DatasetConfig}[kind]
    return load_config(cls, args.config, args.overrides)
