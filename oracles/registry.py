"""Oracle registry: names → constructors, resolved lazily so that heavy oracles cost nothing until used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from oracles.base import Oracle

if TYPE_CHECKING:
    from oracles.vvamp import VectorOracle

__all__ = ["BUILTIN", "available", "get"]

#: Built-in oracles as ``name: "module:callable"``. Third-party oracles register through the
#: ``activeamp.oracles`` entry-point group with the same form.
BUILTIN: dict[str, str] = {
    "mock": "oracles.mock:MockOracle",
    "mock_vv": "oracles.mock:MockVectorOracle",
    "gg_yy": "oracles.diphoton:GGYYOracle",
    "gg_yyg": "oracles.diphoton:GGYYGOracle",
    "blha": "oracles.blha:BLHAOracle",
    "njet": "oracles.blha:NJetOracle",
    "openloops": "oracles.blha:OpenLoopsOracle",
    "gosam": "oracles.blha:GoSamOracle",
    "vvamp": "oracles.vvamp:VVAmpOracle",
}

ENTRY_POINT_GROUP = "activeamp.oracles"


def _table() -> dict[str, str]:
    table = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        table.setdefault(ep.name, ep.value)
    return table


def available() -> list[str]:
    """Names of all oracles that :func:`get` can build."""
    return sorted(_table())


def _resolve(target: str) -> Callable[..., Oracle | VectorOracle]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def get(name: str, **options: Any) -> Oracle | VectorOracle:
    """Build the oracle called ``name`` with keyword ``options``.

    Scalar oracles (:class:`oracles.base.Oracle`, e.g. ``"mock"``) take momenta; vector oracles
    (:class:`oracles.vvamp.VectorOracle`, e.g. ``"vvamp"`` and its mock ``"mock_vv"``) take invariants or momenta.

    Raises
    ------
    KeyError
        If ``name`` is unknown; the message lists the available oracles.
    TypeError, ValueError
        If the options do not fit the oracle (the oracle's own message).
    """
    table = _table()
    if name not in table:
        raise KeyError(f"unknown oracle {name!r}; available oracles: {', '.join(sorted(table))}")
    return _resolve(table[name])(**options)
