"""BLHA one-loop providers (NJet, OpenLoops, GoSam) as oracles: order file, contract and ``OLP_*`` calls via ctypes."""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
import hashlib
import json
import logging
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.physics.process import Process, get_process
from oracles.base import Oracle, OracleError

__all__ = [
    "CONTRACT_MODES",
    "PROVIDERS",
    "BLHAError",
    "BLHAOracle",
    "BLHAProvider",
    "GoSamOracle",
    "NJetOracle",
    "OpenLoopsOracle",
    "default_coupling_powers",
    "get_provider",
    "order_file",
    "parse_contract",
    "process_line",
    "started_libraries",
]

logger = logging.getLogger(__name__)

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


def process_line(process: Process) -> str:
    """The BLHA subprocess line of ``process``, e.g. ``"21 21 -> 22 22 21"`` (PDG codes, incoming first)."""
    return " ".join(map(str, process.pdg[:2])) + " -> " + " ".join(map(str, process.pdg[2:]))


def default_coupling_powers(process: Process) -> tuple[int, int]:
    """``(AlphasPower, AlphaPower)`` of the lowest-order amplitude in NJet's convention.

    Powers of the tree-like amplitude with the photons and coloured partons of ``process``: one power
    of α per photon and ``n_coloured − 2`` powers of αs, e.g. ``(1, 2)`` for g g → γ γ g; the loop (and,
    for ``loopsq``, the square) is implied by the amplitude type.
    """
    n_photon = sum(k == "photon" for k in process.kinds)
    n_coloured = sum(k in ("gluon", "quark", "antiquark") for k in process.kinds)
    return max(n_coloured - 2, 0), n_photon


def order_file(
    process: Process,
    provider: BLHAProvider,
    *,
    amplitude_type: str,
    alphas_power: int,
    alpha_power: int,
    correction_type: str = "QCD",
    ir_regularisation: str = "CDR",
    extra_lines: Sequence[str] = (),
) -> str:
    """Text of the BLHA order file for one subprocess.

    Parameters
    ----------
    process : Process
        The process; its PDG codes give the subprocess line.
    provider : BLHAProvider
        Supplies ``InterfaceVersion``, the form of the coupling lines and provider-specific lines.
    amplitude_type, correction_type, ir_regularisation : str
        ``AmplitudeType`` (``loopsq``, ``Loop``, ``LoopInduced``, ``Tree``), ``CorrectionType``, ``IRregularisation``.
    alphas_power, alpha_power : int
        Coupling powers (see :func:`default_coupling_powers`).
    extra_lines : sequence of str
        Further option lines, written after the provider's.

    Returns
    -------
    str
        The order file, options first and the subprocess line last, e.g. for NJet and g g → γ γ g::

            AmplitudeType loopsq
            CorrectionType QCD
            IRregularisation CDR
            AlphasPower 1
            AlphaPower 2
            NJetReturnAccuracy 2

            21 21 -> 22 22 21
    """
    lines = [f"# BLHA order file written by activeamp for {process.name} ({provider.name})"]
    if provider.interface_version:
        lines.append(f"InterfaceVersion {provider.interface_version}")
    lines += [
        f"AmplitudeType {amplitude_type}",
        f"CorrectionType {correction_type}",
        f"IRregularisation {ir_regularisation}",
    ]
    lines += [t.format(alphas_power=alphas_power, alpha_power=alpha_power) for t in provider.coupling_lines]
    for line in (*provider.order_lines, *extra_lines):
        if "\n" in line or "->" in line or "|" in line:
            raise ValueError(f"order file: option line {line!r} must be one line without '->' or '|'")
        lines.append(line)
    lines += ["", process_line(process), ""]
    return "\n".join(lines)


def _strip_comment(text: str) -> str:
    return text.split("#", 1)[0].strip()


def parse_contract(text: str, line: str, *, source: str = "contract", allow_unanswered: bool = False) -> int | None:
    """Find the subprocess id that a BLHA contract assigns to the subprocess ``line``.

    Contracts repeat the order file with answers after ``|``: ``OK`` for accepted options,
    ``Error: ...`` for rejected ones, and ``n id_1 … id_n`` for subprocess lines
    (NJet: ``21 21 -> 22 22 21 | 1 0``; OpenLoops: ``... | 1    1``).

    Parameters
    ----------
    text : str
        The contract.
    line : str
        The subprocess line looked for, e.g. ``"21 21 -> 22 22 21"`` (compared token by token).
    source : str
        Name of the contract in error messages (its path).
    allow_unanswered : bool
        Return None instead of raising when the subprocess line is present but has no answer.

    Returns
    -------
    int or None
        The first subprocess id of the line.

    Raises
    ------
    BLHAError
        If the provider rejected an option or the subprocess, the subprocess line is missing, or it is
        not answered (an unsigned order file where a contract was needed).
    """
    wanted = line.split()
    option_errors: list[str] = []
    process_lines: list[str] = []
    found = False
    answer: str | None = None
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        request, bar, reply = stripped.partition("|")
        request = _strip_comment(request)
        reply_text = _strip_comment(reply) if bar else None
        if not request:
            continue
        if "->" in request:
            process_lines.append(request)
            if request.replace("->", " -> ").split() == wanted and not found:
                found, answer = True, reply_text
        elif reply_text is not None and reply_text.lower().startswith("error"):
            option_errors.append(f"'{request}' -> '{reply_text}'")
    if option_errors:
        raise BLHAError(f"{source}: the provider rejected {len(option_errors)} line(s): " + "; ".join(option_errors))
    if not found:
        listed = ", ".join(f"'{p}'" for p in process_lines) or "none"
        raise BLHAError(f"{source} has no line for subprocess '{line}' (subprocess lines found: {listed})")
    if answer is None or answer == "":
        if allow_unanswered:
            return None
        raise BLHAError(
            f"{source} is not a signed contract: subprocess line '{line}' has no '| n id' answer "
            "(an order file was given where the provider needs a contract; sign it first, e.g. "
            "`njet.py -o contract.lh order.lh`)"
        )
    tokens = answer.split()
    try:
        count = int(tokens[0])
        ids = [int(tok) for tok in tokens[1 : 1 + count]]
    except (ValueError, IndexError):
        raise BLHAError(f"{source}: the provider rejected subprocess '{line}': '{answer}'") from None
    if count < 1 or len(ids) < 1:
        raise BLHAError(f"{source}: the provider has no amplitude for subprocess '{line}' (answer '{answer}')")
    if count > 1:
        logger.info("%s: subprocess '%s' has %d ids %s; using the first", source, line, count, ids)
    return ids[0]


# --------------------------------------------------------------------------------------------------------------
# One started library per process.


@dataclass
class _Started:
    """A BLHA library started in this process (its global state belongs to one contract)."""

    path: str
    key: str
    provider: str
    contract: str
    subprocess_id: int
    cdll: ctypes.CDLL
    evaluate: Any
    info: dict[str, str]
    pid: int
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


_STARTED: dict[str, _Started] = {}
_STARTED_LOCK = threading.Lock()


def started_libraries() -> dict[str, dict[str, Any]]:
    """BLHA libraries started in this process: resolved path → provider, contract file and subprocess id."""
    with _STARTED_LOCK:
        return {
            path: {"provider": s.provider, "contract": s.contract, "subprocess_id": s.subprocess_id, "pid": s.pid}
            for path, s in _STARTED.items()
        }


def _find_symbol(cdll: ctypes.CDLL, names: Sequence[str], path: str, provider: str, role: str) -> Any:
    for name in names:
        try:
            return getattr(cdll, name)
        except AttributeError:
            continue
    raise BLHAError(
        f"BLHA library {path} has no symbol {' or '.join(names)} ({role}) expected for provider {provider!r}; "
        f"check with `nm -D {path} | grep -i olp_` that this is the right library"
    )


def _complex_parts(name: str, value: Any) -> tuple[float, float]:
    if isinstance(value, complex):
        return value.real, value.imag
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return float(value[0]), float(value[1])
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return float(value), 0.0
    raise ValueError(f"BLHA parameter {name!r}: expected a number, complex or [re, im], got {value!r}")


# --------------------------------------------------------------------------------------------------------------
# The oracle.


def _rebuild(cls: type, options: dict[str, Any]) -> Oracle:
    return cls(**options)


class BLHAOracle(Oracle):
    """Squared one-loop matrix elements from a BLHA (Binoth Les Houches Accord 2) library, loaded with ctypes.

    On construction the oracle writes the order file, obtains the contract (signing tool, provider
    answering in place, or a given contract), reads the subprocess id, calls ``OLP_Start`` and
    ``OLP_SetParameter``; :meth:`evaluate` then calls ``OLP_EvalSubProcess2`` point by point with
    momenta as ``(E, px, py, pz, m)`` per leg, incoming legs first.

    BLHA libraries keep global state, so one library file holds one contract per process: a second
    oracle on the same library with the same order file and parameters shares the started library,
    a different one raises :class:`BLHAError`. Construct the oracle inside the worker (e.g. a Ray
    actor) that uses it; pickling an oracle carries only its options, and unpickling rebuilds it.

    Parameters
    ----------
    process : str or Process
        Process name (see :mod:`activeamp.physics.process`).
    provider : str or mapping
        Built-in provider name (:data:`PROVIDERS`) or a :class:`BLHAProvider` as a mapping (see
        :meth:`BLHAProvider.from_dict`; ``{"base": "njet", "rval_length": 20}`` changes one field).
    library : str, optional
        Path of the provider's shared library, or a directory holding one of its ``library_names``.
        Default: the provider's environment variable (``NJET_LIB``, ``OPENLOOPS_LIB``, ``GOSAM_LIB``).
    contract : str, optional
        An existing contract file to use as is (required for ``contract_mode="contract"``).
    signer : str or sequence of str, optional
        Command that signs the order file (placeholders ``{order}``, ``{contract}``, ``{workdir}``,
        ``{python}``); default: the provider's environment variable (``NJET_SIGNER``), its tool on
        ``PATH`` or in ``<library dir>/../bin``, with the provider's arguments.
    amplitude_type : str, optional
        BLHA ``AmplitudeType``; default the provider's (NJet ``loopsq``, OpenLoops/GoSam ``LoopInduced``).
    correction_type, ir_regularisation : str
        ``CorrectionType`` and ``IRregularisation`` lines.
    alphas_power, alpha_power : int, optional
        Coupling powers; default :func:`default_coupling_powers`.
    alphas, alpha : float, optional
        Values passed with ``OLP_SetParameter("alphas" / "alpha")``; None keeps the provider's default.
    parameters : mapping, optional
        Further ``OLP_SetParameter`` calls, name → value (float, complex or ``[re, im]``), e.g.
        ``{"mass(23)": 91.1876, "width(23)": 2.4952, "qcd(nf)": 5}``.
    scale : float or {"sqrt_s", "ht"}
        Renormalisation scale μ in GeV: a fixed value, the partonic √s, or H_T (scalar sum of the
        outgoing transverse momenta) of each point.
    order_lines : sequence of str
        Extra option lines for the order file (e.g. ``"NJetNf 5"``).
    result_index : int, optional
        Index of the result in ``rval``; default the provider's entry for the amplitude type.
    normalisation : float
        Factor applied to the provider's values (e.g. to convert conventions).
    accuracy_threshold : float, optional
        Points whose returned accuracy estimate ``acc`` exceeds this become NaN (reported as failed).
    workdir : str, optional
        Directory for the order and contract files (kept); default a new temporary directory, removed when
        the process exits.
    cost_hint : float, optional
        Seconds per point; default from the provider's table for the process.
    start_with_text : bool, optional
        Pass the contract text rather than its path to ``OLP_Start`` (some NJet versions accept both).
    signer_timeout : float
        Seconds allowed for the signing tool.
    """

    name = "blha"
    #: Provider used when none is given (subclasses fix it).
    default_provider: str = "njet"

    def __init__(
        self,
        process: str | Process = "gg_yyg",
        *,
        provider: str | Mapping[str, Any] | None = None,
        library: str | None = None,
        contract: str | None = None,
        signer: str | Sequence[str] | None = None,
        amplitude_type: str | None = None,
        correction_type: str = "QCD",
        ir_regularisation: str = "CDR",
        alphas_power: int | None = None,
        alpha_power: int | None = None,
        alphas: float | None = None,
        alpha: float | None = None,
        parameters: Mapping[str, Any] | None = None,
        scale: float | str = "sqrt_s",
        order_lines: Sequence[str] = (),
        result_index: int | None = None,
        normalisation: float = 1.0,
        accuracy_threshold: float | None = None,
        workdir: str | None = None,
        cost_hint: float | None = None,
        start_with_text: bool | None = None,
        signer_timeout: float = 600.0,
    ) -> None:
        super().__init__(get_process(process) if isinstance(process, str) else process)
        provider = self.default_provider if provider is None else provider
        if isinstance(provider, str):
            self.provider = get_provider(provider)
            self._provider_option: str | dict[str, Any] = provider
        elif isinstance(provider, Mapping):
            self.provider = BLHAProvider.from_dict(provider)
            self._provider_option = dict(provider)
        else:
            raise TypeError(f"{self.name} oracle: provider must be a name or a mapping, got {type(provider).__name__}")
        p = self.provider
        self.library_option = library
        self.contract_option = contract
        self.signer_option: list[str] | None = (
            shlex.split(signer) if isinstance(signer, str) else None if signer is None else [str(s) for s in signer]
        )
        self.amplitude_type = amplitude_type or p.default_amplitude_type
        self.correction_type = str(correction_type)
        self.ir_regularisation = str(ir_regularisation)
        default_as, default_a = default_coupling_powers(self.process)
        self.alphas_power = default_as if alphas_power is None else int(alphas_power)
        self.alpha_power = default_a if alpha_power is None else int(alpha_power)
        self.alphas = None if alphas is None else float(alphas)
        self.alpha = None if alpha is None else float(alpha)
        self.parameters: dict[str, tuple[float, float]] = {}
        if self.alphas is not None:
            self.parameters["alphas"] = (self.alphas, 0.0)
        if self.alpha is not None:
            self.parameters["alpha"] = (self.alpha, 0.0)
        for key, value in (parameters or {}).items():
            self.parameters[str(key)] = _complex_parts(str(key), value)
        if isinstance(scale, str):
            if scale not in ("sqrt_s", "ht"):
                raise ValueError(
                    f"{self.name} oracle: scale must be a positive number (GeV), 'sqrt_s' or 'ht', got {scale!r}"
                )
            self.scale: float | str = scale
        else:
            if not (math.isfinite(float(scale)) and float(scale) > 0):
                raise ValueError(f"{self.name} oracle: scale must be a positive number of GeV, got {scale!r}")
            self.scale = float(scale)
        self.order_lines = tuple(str(x) for x in order_lines)
        if result_index is None:
            idx = p.index_of(self.amplitude_type)
            if idx is None:
                known = ", ".join(a for a, _ in p.result_index)
                raise ValueError(
                    f"{self.name} oracle: provider {p.name!r} has no result index for amplitude type "
                    f"{self.amplitude_type!r} (known: {known}); pass result_index=<index in rval>"
                )
            self.result_index = idx
        else:
            self.result_index = int(result_index)
        if not 0 <= self.result_index < p.rval_length:
            raise ValueError(
                f"{self.name} oracle: result_index {self.result_index} outside rval[0:{p.rval_length}] of provider "
                f"{p.name!r}"
            )
        self.normalisation = float(normalisation)
        if accuracy_threshold is not None and not float(accuracy_threshold) > 0:
            raise ValueError(f"{self.name} oracle: accuracy_threshold must be > 0, got {accuracy_threshold!r}")
        self.accuracy_threshold = None if accuracy_threshold is None else float(accuracy_threshold)
        self.workdir_option = workdir
        self.cost_hint_option = cost_hint
        self.cost_hint = float(cost_hint) if cost_hint is not None else dict(p.cost_hints).get(self.process.name, 0.01)
        self.start_with_text = p.start_with_text if start_with_text is None else bool(start_with_text)
        self.signer_timeout = float(signer_timeout)
        #: Accuracy estimates ``acc`` of the last evaluated batch, shape ``(N,)``.
        self.last_accuracy: np.ndarray = np.empty(0)
        self.order_text = order_file(
            self.process,
            p,
            amplitude_type=self.amplitude_type,
            alphas_power=self.alphas_power,
            alpha_power=self.alpha_power,
            correction_type=self.correction_type,
            ir_regularisation=self.ir_regularisation,
            extra_lines=self.order_lines,
        )
        self.library_path = self._resolve_library()
        self._session = self._start()

    # ---------------------------------------------------------------------------------------------------- setup

    def _resolve_library(self) -> str:
        p = self.provider
        given = self.library_option
        origin = "option library"
        if given is None:
            given = os.environ.get(p.library_env) or None
            origin = f"${p.library_env}"
        if given is None:
            raise BLHAError(
                f"{self.name} oracle ({p.name}): no library given: pass library=/path/to/{p.library_names[0]} or set "
                f"the environment variable {p.library_env} (a library file or its directory)"
            )
        path = Path(os.path.expanduser(given))
        if path.is_dir():
            for candidate in p.library_names:
                if (path / candidate).is_file():
                    path = path / candidate
                    break
            else:
                raise BLHAError(
                    f"{self.name} oracle ({p.name}): directory {path} ({origin}) contains none of "
                    f"{', '.join(p.library_names)}"
                )
        if not path.is_file():
            raise BLHAError(f"{self.name} oracle ({p.name}): library {path} ({origin}) not found")
        return str(path.resolve())

    def _session_key(self) -> str:
        h = hashlib.sha256()
        contract_text = ""
        if self.contract_option is not None:
            try:
                contract_text = Path(self.contract_option).read_text()
            except OSError:
                contract_text = ""
        payload = {
            "provider": self.provider.to_dict(),
            "order": self.order_text,
            "contract": contract_text,
            "parameters": sorted(self.parameters.items()),
        }
        h.update(json.dumps(payload, sort_keys=True).encode())
        return h.hexdigest()

    def _start(self) -> _Started:
        key = self._session_key()
        with _STARTED_LOCK:
            existing = _STARTED.get(self.library_path)
            if existing is not None:
                if existing.key == key:
                    logger.debug("%s: reusing started library %s", self.name, self.library_path)
                    return existing
                raise BLHAError(
                    f"{self.name} oracle: library {self.library_path} is already started in this process "
                    f"(pid {os.getpid()}) with a different order file, contract or parameters (contract "
                    f"{existing.contract}); BLHA libraries keep global state, so use one oracle configuration per "
                    "process (e.g. one per Ray actor) or a separate copy of the library file"
                )
            session = self._load_and_start(key)
            _STARTED[self.library_path] = session
            return session

    def _load_and_start(self, key: str) -> _Started:
        p = self.provider
        path = self.library_path
        try:
            cdll = ctypes.CDLL(path, mode=os.RTLD_LOCAL)
        except OSError as exc:
            raise BLHAError(f"{self.name} oracle ({p.name}): could not load library {path}: {exc}") from exc
        start = _find_symbol(cdll, p.start, path, p.name, "OLP_Start")
        set_parameter = _find_symbol(cdll, p.set_parameter, path, p.name, "OLP_SetParameter")
        evaluate = _find_symbol(cdll, p.evaluate, path, p.name, "OLP_EvalSubProcess2")
        start.restype = None
        set_parameter.restype = None
        set_parameter.argtypes = [
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_double),
            ctypes.POINTER(ctypes.c_double),
            ctypes.POINTER(ctypes.c_int),
        ]
        evaluate.restype = None
        evaluate.argtypes = [
            ctypes.POINTER(ctypes.c_int),
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_double),
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_double),
        ]
        if self.workdir_option:
            workdir = Path(self.workdir_option)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            # The started library may read its order/contract files at any time while the process lives, so
            # our own scratch folder goes when the process exits (one per process, like the library instance).
            workdir = Path(tempfile.mkdtemp(prefix=f"activeamp-{p.name}-"))
            atexit.register(shutil.rmtree, workdir, ignore_errors=True)
        order_path = workdir / "order.lh"
        order_path.write_text(self.order_text)
        line = process_line(self.process)
        mode = "contract" if self.contract_option is not None else p.contract_mode
        subprocess_id: int | None
        if mode == "contract":
            if self.contract_option is None:
                raise BLHAError(
                    f"{self.name} oracle ({p.name}): this provider needs the contract made together with its library: "
                    f"pass contract=/path/to/contract (the order file it should answer is {order_path})"
                )
            contract_path = Path(self.contract_option).resolve()
            text = self._read(contract_path, "contract")
            subprocess_id = parse_contract(text, line, source=f"contract {contract_path}")
        elif mode == "sign":
            contract_path = workdir / "contract.lh"
            self._sign(order_path, contract_path, workdir)
            text = self._read(contract_path, "signed contract")
            subprocess_id = parse_contract(text, line, source=f"contract {contract_path}")
        else:  # "answer": OLP_Start reads the order file and answers in place
            contract_path = workdir / "contract.lh"
            contract_path.write_text(self.order_text)
            text = self.order_text
            subprocess_id = None
        arg = text if self.start_with_text else str(contract_path)
        status = ctypes.c_int(0)
        extra = [ctypes.byref(ctypes.c_int(v)) for v in p.start_extra_args]
        logger.info("%s: OLP_Start(%s) in %s (pid %d)", self.name, contract_path, path, os.getpid())
        start(arg.encode(), ctypes.byref(status), *extra)
        if status.value != 1:
            raise BLHAError(
                f"{self.name} oracle ({p.name}): OLP_Start returned status {status.value} (1 = OK) for contract "
                f"{contract_path} with library {path}; the provider's own output says why"
            )
        if mode == "answer":
            answered = self._read(contract_path, "contract answered by OLP_Start")
            subprocess_id = parse_contract(
                answered, line, source=f"contract {contract_path} (answered by OLP_Start)", allow_unanswered=True
            )
            if subprocess_id is None:
                if p.first_id is None:
                    raise BLHAError(
                        f"{self.name} oracle ({p.name}): OLP_Start wrote no answer for subprocess '{line}' into "
                        f"{contract_path}, and the provider table has no first_id to fall back on"
                    )
                logger.warning(
                    "%s: no answer for '%s' in %s; assuming id %d", self.name, line, contract_path, p.first_id
                )
                subprocess_id = p.first_id
        assert subprocess_id is not None
        for pname, (re_part, im_part) in self.parameters.items():
            st = ctypes.c_int(0)
            set_parameter(
                pname.encode(),
                ctypes.byref(ctypes.c_double(re_part)),
                ctypes.byref(ctypes.c_double(im_part)),
                ctypes.byref(st),
            )
            if st.value != 1:
                meaning = {0: "error", 2: "ignored: parameter unknown to the provider"}.get(st.value, "unknown status")
                raise BLHAError(
                    f"{self.name} oracle ({p.name}): OLP_SetParameter({pname!r}, {re_part!r}, {im_part!r}) returned "
                    f"status {st.value} ({meaning}; 1 = OK)"
                )
        info = self._info(cdll)
        logger.info("%s: started %s subprocess %d (%s) from %s", self.name, p.name, subprocess_id, line, contract_path)
        return _Started(
            path=path,
            key=key,
            provider=p.name,
            contract=str(contract_path),
            subprocess_id=int(subprocess_id),
            cdll=cdll,
            evaluate=evaluate,
            info=info,
            pid=os.getpid(),
        )

    def _read(self, path: Path, what: str) -> str:
        try:
            return path.read_text()
        except OSError as exc:
            raise BLHAError(f"{self.name} oracle ({self.provider.name}): cannot read {what} {path}: {exc}") from exc

    def _info(self, cdll: ctypes.CDLL) -> dict[str, str]:
        for name in self.provider.info:
            try:
                fn = getattr(cdll, name)
            except AttributeError:
                continue
            bufs = [ctypes.create_string_buffer(256) for _ in range(3)]
            fn.restype = None
            fn(*bufs)
            decode = [b.value.decode(errors="replace").strip() for b in bufs]
            return {"olp_name": decode[0], "olp_version": decode[1]}
        return {}

    def _signer_command(self, order: Path, contract: Path, workdir: Path) -> list[str]:
        p = self.provider
        if self.signer_option is not None:
            template = list(self.signer_option)
        else:
            tool: list[str] | None = None
            if p.signer_env and os.environ.get(p.signer_env):
                tool = shlex.split(os.environ[p.signer_env])
            else:
                for name in p.signer_names:
                    found = shutil.which(name)
                    candidate = Path(self.library_path).parent.parent / "bin" / name
                    if found:
                        tool = [found]
                    elif candidate.is_file():
                        tool = [str(candidate)]
                    if tool:
                        break
            if tool is None:
                names = ", ".join(p.signer_names) or "(none in the provider table)"
                raise BLHAError(
                    f"{self.name} oracle ({p.name}): the provider needs a signed contract but no signing tool "
                    "was found "
                    f"(looked for {names} on PATH and in {Path(self.library_path).parent.parent / 'bin'}); set "
                    f"{p.signer_env or 'signer='}, pass signer='njet.py -o {{contract}} {{order}}', or pass "
                    "contract=/path/to/signed/contract"
                )
            if len(tool) == 1 and tool[0].endswith(".py") and not os.access(tool[0], os.X_OK):
                tool = [sys.executable, *tool]
            template = [*tool, *p.signer_args]
        subs = {"order": str(order), "contract": str(contract), "workdir": str(workdir), "python": sys.executable}
        try:
            return [arg.format(**subs) for arg in template]
        except (KeyError, IndexError) as exc:
            raise ValueError(f"{self.name} oracle: unknown placeholder {exc} in signer command {template!r}") from None

    def _sign(self, order: Path, contract: Path, workdir: Path) -> None:
        cmd = self._signer_command(order, contract, workdir)
        env = dict(os.environ)
        libdir = str(Path(self.library_path).parent)
        env["LD_LIBRARY_PATH"] = libdir + (os.pathsep + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        logger.info("%s: signing %s with %s", self.name, order, shlex.join(cmd))
        if contract.exists():
            contract.unlink()
        try:
            done = subprocess.run(
                cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=self.signer_timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BLHAError(
                f"{self.name} oracle ({self.provider.name}): signing tool {shlex.join(cmd)} failed: {exc}"
            ) from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout or "").strip()[-2000:]
            raise BLHAError(
                f"{self.name} oracle ({self.provider.name}): signing tool {shlex.join(cmd)} exited with status "
                f"{done.returncode}: {tail or '(no output)'}"
            )
        if not contract.is_file():
            raise BLHAError(
                f"{self.name} oracle ({self.provider.name}): signing tool {shlex.join(cmd)} wrote no contract "
                f"{contract}"
            )

    # --------------------------------------------------------------------------------------------------- public

    @property
    def subprocess_id(self) -> int:
        """Subprocess id the contract assigned to this oracle's process line."""
        return self._session.subprocess_id

    @property
    def contract_path(self) -> str:
        """Path of the contract passed to ``OLP_Start``."""
        return self._session.contract

    @property
    def library(self) -> ctypes.CDLL:
        """The loaded library (shared by all oracles of this process on the same library file)."""
        return self._session.cdll

    def options(self) -> dict[str, Any]:
        return {
            "process": self.process.name,
            "provider": self._provider_option,
            "library": self.library_option,
            "contract": self.contract_option,
            "signer": self.signer_option,
            "amplitude_type": self.amplitude_type,
            "correction_type": self.correction_type,
            "ir_regularisation": self.ir_regularisation,
            "alphas_power": self.alphas_power,
            "alpha_power": self.alpha_power,
            "alphas": self.alphas,
            "alpha": self.alpha,
            "parameters": {k: [re_, im_] for k, (re_, im_) in self.parameters.items() if k not in ("alphas", "alpha")},
            "scale": self.scale,
            "order_lines": list(self.order_lines),
            "result_index": self.result_index,
            "normalisation": self.normalisation,
            "accuracy_threshold": self.accuracy_threshold,
            "workdir": self.workdir_option,
            "cost_hint": self.cost_hint_option,
            "start_with_text": self.start_with_text,
            "signer_timeout": self.signer_timeout,
        }

    def versions(self) -> dict[str, str]:
        out = super().versions()
        out["blha_provider"] = self.provider.name
        out["blha_library"] = self.library_path
        out.update(self._session.info)
        return out

    def scales(self, momenta: np.ndarray) -> np.ndarray:
        """Renormalisation scale μ (GeV), shape ``(N,)``, for momenta ``(N, n, 4)`` [GeV]."""
        n = momenta.shape[0]
        if not isinstance(self.scale, str):
            return np.full(n, self.scale)
        if self.scale == "sqrt_s":
            total = momenta[:, 0] + momenta[:, 1]
            return np.sqrt(np.maximum(total[:, 0] ** 2 - (total[:, 1:] ** 2).sum(axis=1), 0.0))
        return np.sqrt(momenta[:, 2:, 1] ** 2 + momenta[:, 2:, 2] ** 2).sum(axis=1)

    def _evaluate(self, momenta: np.ndarray) -> np.ndarray:
        n, legs, _ = momenta.shape
        pp = np.zeros((n, legs, 5))
        pp[..., :4] = momenta  # massless legs: m = 0 in the fifth slot
        mu = self.scales(momenta)
        rval = np.zeros(max(self.provider.rval_length, 1))
        out = np.empty(n)
        accuracy = np.empty(n)
        session = self._session
        pid = ctypes.c_int(session.subprocess_id)
        acc = ctypes.c_double(0.0)
        scale = ctypes.c_double(0.0)
        base = pp.ctypes.data
        stride = legs * 5 * pp.itemsize
        rptr = rval.ctypes.data
        with session.lock:
            for i in range(n):
                rval[:] = 0.0
                acc.value = 0.0
                scale.value = float(mu[i])
                session.evaluate(ctypes.byref(pid), base + i * stride, ctypes.byref(scale), rptr, ctypes.byref(acc))
                out[i] = rval[self.result_index]
                accuracy[i] = acc.value
        out *= self.normalisation
        self.last_accuracy = accuracy
        if self.accuracy_threshold is not None:
            bad = ~(accuracy <= self.accuracy_threshold)
            if bad.any():
                logger.info(
                    "%s: %d of %d points above accuracy threshold %g",
                    self.name,
                    int(bad.sum()),
                    n,
                    self.accuracy_threshold,
                )
            out[bad] = np.nan
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # Only the configuration travels; the receiving process loads and starts its own library.
        return (_rebuild, (type(self), self.options()))


class NJetOracle(BLHAOracle):
    """NJet 2/3 (``libnjet3.so``, ``NJET_LIB``) through BLHA; see :class:`BLHAOracle` for the options."""

    name = "njet"
    default_provider = "njet"


class OpenLoopsOracle(BLHAOracle):
    """OpenLoops 2 (``libopenloops.so``, ``OPENLOOPS_LIB``) through BLHA; see :class:`BLHAOracle` for the options."""

    name = "openloops"
    default_provider = "openloops"


class GoSamOracle(BLHAOracle):
    """A GoSam per-process library (``GOSAM_LIB``) with its contract; see :class:`BLHAOracle` for the options."""

    name = "gosam"
    default_provider = "gosam"
