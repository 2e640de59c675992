"""BLHA order files and contracts: the subprocess line, default coupling powers, writing orders, reading answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from activeamp.physics.process import Process
from oracles.blha_provider import BLHAError, BLHAProvider

__all__ = [
    "default_coupling_powers",
    "order_file",
    "parse_contract",
    "process_line",
]

logger = logging.getLogger(__name__)


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
