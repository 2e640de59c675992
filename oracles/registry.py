"""Oracle registry: the one table of oracle names, of the process each computes, and of the ``exact`` alias.

Names resolve lazily to constructors, so that heavy oracles cost nothing until used. An oracle either computes one
fixed process (the built-in exact oracles) or takes the process as its ``process`` option; :func:`get` accepts
``process=`` for both, so ``oracles.get("exact", process="gg_yy")`` builds what ``activeamp label --oracle exact``
builds for a ``gg_yy`` store.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from oracles.base import Oracle

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "EXACT", "OracleSpec", "available", "exact_oracle", "get", "resolve"]

#: The alias of the built-in exact oracle of a process (the default oracle of configs and of the command line).
EXACT = "exact"

#: Entry-point group of third-party oracles (``name = "module:callable"``); they take the ``process`` option if
#: their callable has a ``process`` parameter.
ENTRY_POINT_GROUP = "activeamp.oracles"


@dataclass(frozen=True)
class OracleSpec:
    """One registered oracle.

    Attributes
    ----------
    target : str
        ``"module:callable"`` that builds the oracle from keyword options.
    process : str or None
        The one process the oracle computes (it takes no ``process`` option); None if it takes the process
        as its ``process`` option.
    exact : bool
        Whether this is the built-in exact oracle of :attr:`process` (what :data:`EXACT` resolves to).
    """

    target: str
    process: str | None = None
    exact: bool = False


#: Built-in oracles by name.
BUILTIN: dict[str, OracleSpec] = {
    "mock": OracleSpec("oracles.mock:MockOracle"),
    "mock_vv": OracleSpec("oracles.mock:MockVectorOracle"),
    "gg_yy": OracleSpec("oracles.diphoton:GGYYOracle", process="gg_yy", exact=True),
    "gg_yyg": OracleSpec("oracles.diphoton:GGYYGOracle", process="gg_yyg", exact=True),
    "blha": OracleSpec("oracles.blha:BLHAOracle"),
    "njet": OracleSpec("oracles.blha:NJetOracle"),
    "openloops": OracleSpec("oracles.blha:OpenLoopsOracle"),
    "gosam": OracleSpec("oracles.blha:GoSamOracle"),
    "vvamp": OracleSpec("oracles.vvamp:VVAmpOracle"),
    "surrogate": OracleSpec("oracles.surrogate:SurrogateOracle"),
}


def _table() -> dict[str, OracleSpec]:
    table = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        table.setdefault(ep.name, OracleSpec(ep.value))
    return table


def available() -> list[str]:
    """Names :func:`get` accepts: the registered oracles and :data:`EXACT`."""
    return sorted([*_table(), EXACT])


def exact_oracle(process: str) -> str:
    """Name of the built-in exact oracle of ``process``.

    Raises
    ------
    ValueError
        If ``process`` has none; the message names the processes that have one and the oracles that take a process.
    """
    table = _table()
    for name, spec in table.items():
        if spec.exact and spec.process == process:
            return name
    have = sorted(spec.process for spec in table.values() if spec.exact and spec.process)
    general = sorted(name for name, spec in table.items() if spec.process is None)
    raise ValueError(
        f"there is no built-in exact oracle for {process} (only for {', '.join(have)}); use an oracle that takes "
        f"the process: {', '.join(general)}"
    )


def resolve(name: str, process: str | None = None) -> tuple[str, OracleSpec]:
    """The registered name and spec that ``name`` stands for when labelling ``process``.

    Parameters
    ----------
    name : str
        A registered name or :data:`EXACT`.
    process : str, optional
        The process to label; required for :data:`EXACT`.

    Raises
    ------
    KeyError
        If ``name`` is unknown; the message lists the available oracles.
    ValueError
        If ``name`` is :data:`EXACT` without a process or for a process without an exact oracle, or names an
        oracle fixed to another process than ``process``.
    """
    table = _table()
    if name == EXACT:
        if process is None:
            raise ValueError(f"oracle {EXACT!r} stands for the exact oracle of a process: give process=...")
        name = exact_oracle(process)
    if name not in table:
        raise KeyError(f"unknown oracle {name!r}; available oracles: {', '.join(available())}")
    spec = table[name]
    if process is not None and spec.process is not None and spec.process != process:
        raise ValueError(f"oracle {name!r} computes {spec.process} only, not {process}")
    return name, spec


def _resolve_target(target: str) -> Callable[..., Oracle]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _takes_process(spec: OracleSpec, build: Callable[..., Oracle]) -> bool:
    """Whether the oracle takes the ``process`` option: not if fixed to one process, else if its callable has one."""
    if spec.process is not None:
        return False
    try:
        params = inspect.signature(build).parameters
    except (TypeError, ValueError):  # no signature to inspect: pass the process
        return True
    return "process" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def get(name: str, **options: Any) -> Oracle:
    """Build the oracle called ``name`` with keyword ``options``.

    ``process=`` may be given for every oracle: it is passed on to oracles that take the process, and checked
    against the one process of the others. :data:`EXACT` (``"exact"``) with ``process=`` builds the built-in exact
    oracle of that process, as ``--oracle exact`` does on the command line. Scalar oracles (e.g. ``"mock"``,
    ``"gg_yyg"``) return values ``(N,)``; vector oracles (e.g. ``"vvamp"`` and its mock ``"mock_vv"``, with
    :attr:`Oracle.outputs`) values ``(N, K)``.

    Raises
    ------
    KeyError
        If ``name`` is unknown; the message lists the available oracles.
    ValueError
        For a process the oracle does not compute (see :func:`resolve`), or options the oracle rejects.
    TypeError
        If the options do not fit the oracle (the oracle's own message).
    """
    process = options.get("process")
    name, spec = resolve(name, process)
    build = _resolve_target(spec.target)
    if not _takes_process(spec, build):
        options.pop("process", None)
    oracle = build(**options)
    if process is not None and oracle.process.name != process:
        raise ValueError(f"oracle {name!r} computes {oracle.process.name}, not {process}")
    return oracle
