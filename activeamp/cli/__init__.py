"""The ``activeamp`` command: the global options, the error policy and the commands of :mod:`activeamp.cli.data`,
:mod:`activeamp.cli.surrogate`, :mod:`activeamp.cli.loop` and :mod:`activeamp.cli.deploy`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from activeamp import __version__
from activeamp.cli import data, deploy, loop, surrogate

__all__ = ["main", "build_parser"]

logger = logging.getLogger("activeamp")


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are user mistakes (bad input, files, names): reported as one line, exit status 2.

    The project's own error classes count only from modules already imported (one that was not imported
    cannot have raised), so reporting a mistake never waits for Ray or torch to load.
    """
    errors: list[type[BaseException]] = [ValueError, KeyError, OSError]
    for module, name in _PROJECT_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None:
            errors.append(getattr(loaded, name))
    return tuple(errors)


#: Error classes of the project that are user mistakes, by module.
_PROJECT_ERRORS: tuple[tuple[str, str], ...] = (
    ("activeamp.data.store.errors", "StoreError"),
    ("activeamp.loop.cluster", "ClusterError"),
    ("activeamp.loop.pool", "PoolError"),
    ("oracles.base", "OracleError"),
)



def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``activeamp`` command."""
    parser = argparse.ArgumentParser(
        prog="activeamp",
        description="Active learning of precision surrogates for loop amplitudes. "
        "Momenta in GeV; squared matrix elements in GeV^(8-2n) for n particles.",
    )
    parser.add_argument("--version", action="version", version=f"activeamp {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for module in (loop, data, surrogate, deploy):
        module.add_parsers(sub)
    return parser


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``activeamp`` command; returns the exit status (2 for user errors, one line on stderr)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except _user_errors() as err:
        if args.traceback:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"activeamp {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"activeamp {args.command}: interrupted", file=sys.stderr)
        return 130

