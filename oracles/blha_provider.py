"""BLHA one-loop providers (NJet, OpenLoops, GoSam) as data: what differs between them, the built-in table."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oracles.base import OracleError

__all__ = [
    "CONTRACT_MODES",
    "PROVIDERS",
    "BLHAError",
    "BLHAProvider",
    "get_provider",
]

#: How a provider turns the order file into a contract:
#: ``"sign"``: a signing tool writes the contract (NJet's ``njet.py -o contract.lh order.lh``);
#: ``"answer"``: ``OLP_Start`` reads the order file and writes its answers into it (OpenLoops);
#: ``"contract"``: the user supplies a contract made together with the library (GoSam's ``.olc``).
CONTRACT_MODES: tuple[str, ...] = ("sign", "answer", "contract")

_SYMBOL_ROLES: tuple[str, ...] = ("start", "set_parameter", "evaluate", "info")


class BLHAError(OracleError):
    """A BLHA provider could not be set up or used: missing library or symbol, bad status, bad contract."""


@dataclass(frozen=True)
class BLHAProvider:
    """Everything that differs between BLHA one-loop providers: a new provider is one of these, not new code.

    Attributes
    ----------
    name : str
        Short name (``"njet"``, ``"openloops"``, ``"gosam"``).
    library_env : str
        Environment variable holding the library path (or a directory containing one of ``library_names``).
    library_names : tuple of str
        File names looked for when a directory is given.
    start, set_parameter, evaluate, info : tuple of str
        Candidate symbol names of ``OLP_Start``, ``OLP_SetParameter``, ``OLP_EvalSubProcess2`` and the
        optional ``OLP_Info``, tried in order (e.g. GoSam's ``olp_start_``).
    contract_mode : {"sign", "answer", "contract"}
        See :data:`CONTRACT_MODES`.
    signer_env : str
        Environment variable with the signing tool (a path or a full command line), for ``"sign"``.
    signer_names : tuple of str
        Signing tool names looked up on ``PATH`` and in ``<library dir>/../bin``.
    signer_args : tuple of str
        Arguments after the tool; ``{order}``, ``{contract}``, ``{workdir}`` are substituted.
    start_extra_args : tuple of int
        Extra ``int*`` arguments of ``OLP_Start`` after ``status`` (GoSam: ``stage = -1``, ``rndseed = 0``).
    start_with_text : bool
        Pass the contract's text instead of its file name to ``OLP_Start``.
    rval_length : int
        Number of doubles allocated for ``rval``.
    result_index : tuple of (str, int)
        Index in ``rval`` of the finite squared matrix element, by lower-case amplitude type.
    default_amplitude_type : str
        ``AmplitudeType`` written when the user gives none.
    interface_version : str or None
        ``InterfaceVersion`` line of the order file (None: omitted).
    coupling_lines : tuple of str
        Templates of the coupling-power lines, with ``{alphas_power}`` and ``{alpha_power}``.
    order_lines : tuple of str
        Provider-specific lines appended to the options of every order file.
    first_id : int or None
        Subprocess id to assume in ``"answer"`` mode when the provider wrote no answer for the process line.
    cost_hints : tuple of (str, float)
        Seconds per point by process name, for :attr:`Oracle.cost_hint`.
    """

    name: str
    library_env: str
    library_names: tuple[str, ...]
    start: tuple[str, ...] = ("OLP_Start",)
    set_parameter: tuple[str, ...] = ("OLP_SetParameter",)
    evaluate: tuple[str, ...] = ("OLP_EvalSubProcess2",)
    info: tuple[str, ...] = ("OLP_Info",)
    contract_mode: str = "sign"
    signer_env: str = ""
    signer_names: tuple[str, ...] = ()
    signer_args: tuple[str, ...] = ("-o", "{contract}", "{order}")
    start_extra_args: tuple[int, ...] = ()
    start_with_text: bool = False
    rval_length: int = 11
    result_index: tuple[tuple[str, int], ...] = (("loopsq", 4), ("loop", 2), ("tree", 0))
    default_amplitude_type: str = "loopsq"
    interface_version: str | None = None
    coupling_lines: tuple[str, ...] = ("AlphasPower {alphas_power}", "AlphaPower {alpha_power}")
    order_lines: tuple[str, ...] = ()
    first_id: int | None = None
    cost_hints: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.contract_mode not in CONTRACT_MODES:
            raise ValueError(
                f"BLHA provider {self.name!r}: contract_mode must be one of {CONTRACT_MODES}, "
                f"got {self.contract_mode!r}"
            )
        if self.rval_length < 1:
            raise ValueError(f"BLHA provider {self.name!r}: rval_length must be >= 1, got {self.rval_length}")
        for role in ("start", "set_parameter", "evaluate"):
            if not getattr(self, role):
                raise ValueError(f"BLHA provider {self.name!r}: no symbol name given for {role}")
        for amp, idx in self.result_index:
            if not 0 <= idx < self.rval_length:
                raise ValueError(
                    f"BLHA provider {self.name!r}: result index {idx} of amplitude type {amp!r} is outside "
                    f"rval[0:{self.rval_length}]"
                )

    def index_of(self, amplitude_type: str) -> int | None:
        """Index in ``rval`` of the result for ``amplitude_type`` (case-insensitive), or None if not in the table."""
        return dict(self.result_index).get(amplitude_type.lower())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (tuples become lists), accepted by :meth:`from_dict`."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BLHAProvider:
        """Build a provider from a mapping; ``"base"`` names a built-in provider whose fields are the defaults.

        Raises
        ------
        ValueError
            On unknown keys (named in the message) or invalid values.
        """
        data = dict(data)
        base = data.pop("base", None)
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"BLHA provider: unknown key(s) {unknown}; known keys: {sorted(fields)} and 'base'")
        values: dict[str, Any] = get_provider(base).to_dict() if base is not None else {}
        values.update(data)
        if "name" not in values or "library_env" not in values or "library_names" not in values:
            raise ValueError("BLHA provider: 'name', 'library_env' and 'library_names' are required (or give 'base')")
        for key in ("result_index", "cost_hints"):
            if isinstance(values.get(key), Mapping):
                values[key] = list(values[key].items())
        converted: dict[str, Any] = {}
        for key, value in values.items():
            if key in ("result_index", "cost_hints"):
                converted[key] = tuple((str(k).lower() if key == "result_index" else str(k), v) for k, v in value)
            elif isinstance(value, list):
                converted[key] = tuple(value)
            else:
                converted[key] = value
        return cls(**converted)


#: Built-in providers. NJet (arXiv:1209.0100; BLHA2 as in NJet 3), OpenLoops 2 and GoSam per-process libraries.
PROVIDERS: dict[str, BLHAProvider] = {
    p.name: p
    for p in (
        BLHAProvider(
            name="njet",
            library_env="NJET_LIB",
            library_names=("libnjet3.so", "libnjet2.so", "libnjet3.dylib", "libnjet2.dylib"),
            contract_mode="sign",
            signer_env="NJET_SIGNER",
            signer_names=("njet.py",),
            rval_length=11,
            result_index=(("loopsq", 4), ("loop", 2), ("tree", 0)),
            default_amplitude_type="loopsq",
            order_lines=("NJetReturnAccuracy 2",),
            cost_hints=(("gg_yy", 0.005), ("gg_yyg", 0.3), ("gg_yygg", 7.0)),
        ),
        BLHAProvider(
            name="openloops",
            library_env="OPENLOOPS_LIB",
            library_names=("libopenloops.so", "libopenloops.dylib"),
            contract_mode="answer",
            rval_length=4,
            result_index=(("loopinduced", 0), ("loop", 2), ("tree", 0)),
            default_amplitude_type="LoopInduced",
            interface_version="BLHA2",
            coupling_lines=("CouplingPower QCD {alphas_power}", "CouplingPower QED {alpha_power}"),
            first_id=1,
        ),
        BLHAProvider(
            name="gosam",
            library_env="GOSAM_LIB",
            library_names=("libgolem_olp.so", "libgolem_olp.dylib"),
            start=("olp_start_", "OLP_Start"),
            set_parameter=("olp_setparameter_", "OLP_SetParameter"),
            evaluate=("olp_evalsubprocess2_", "OLP_EvalSubProcess2"),
            info=("olp_info_", "OLP_Info"),
            contract_mode="contract",
            start_extra_args=(-1, 0),
            rval_length=60,
            result_index=(("loopinduced", 2), ("loop", 2), ("tree", 0)),
            default_amplitude_type="LoopInduced",
            interface_version="BLHA2",
        ),
    )
}


def get_provider(name: str) -> BLHAProvider:
    """The built-in provider called ``name``.

    Raises
    ------
    KeyError
        If ``name`` is unknown; the message lists the built-in providers.
    """
    try:
        return PROVIDERS[name]
    except KeyError:
        raise KeyError(f"unknown BLHA provider {name!r}; built-in providers: {', '.join(sorted(PROVIDERS))}") from None
