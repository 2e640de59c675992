"""Entry script of the Ray Tune search: ``python tune/search.py --config tune/search.yaml [--set K=V] [--resume]``.

The same command as ``activeamp tune`` (it runs :func:`activeamp.cli.main` with the ``tune`` subcommand and these
arguments; ``-v``/``-vv`` and ``--traceback`` are passed on as the command's own options). Self-contained (imports
only the installed ``activeamp`` package), so ``ray submit cluster/cluster.yaml tune/search.py -- --config
'~/activeamp/tune/search.yaml'`` can run a copy of it on the head node. Without ``--address``, the search joins
``RAY_ADDRESS`` or starts a local Ray instance.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from activeamp.cli import main as cli_main

__all__ = ["main"]

_COMMAND_OPTIONS = ("-v", "-vv", "-vvv", "--verbose", "--traceback")  # options of `activeamp`, not of `tune`


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``activeamp tune`` with ``argv``; exit status 0 when done, 2 for configuration errors, 130 if interrupted."""
    args = [os.path.expanduser(a) for a in (sys.argv[1:] if argv is None else argv)]
    command = [a for a in args if a in _COMMAND_OPTIONS]
    return cli_main([*command, "tune", *(a for a in args if a not in _COMMAND_OPTIONS)])


if __name__ == "__main__":
    sys.exit(main())
