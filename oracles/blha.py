"""BLHA one-loop providers (NJet, OpenLoops, GoSam) as oracles: options, ``OLP_EvalSubProcess2`` calls via ctypes."""

from __future__ import annotations

import ctypes
import logging
import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from activeamp.physics.process import Process, get_process
from oracles.base import Oracle
from oracles.blha_contract import default_coupling_powers, order_file
from oracles.blha_library import BLHALibrarySetup
from oracles.blha_provider import BLHAProvider, get_provider

__all__ = [
    "BLHAOracle",
    "GoSamOracle",
    "NJetOracle",
    "OpenLoopsOracle",
]

logger = logging.getLogger(__name__)


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


class BLHAOracle(BLHALibrarySetup, Oracle):
    """Squared one-loop matrix elements from a BLHA (Binoth Les Houches Accord 2) library, loaded with ctypes.

    On construction the oracle writes the order file, obtains the contract (signing tool, provider
    answering in place, or a given contract), reads the subprocess id, calls ``OLP_Start`` and
    ``OLP_SetParameter``; :meth:`evaluate` then calls ``OLP_EvalSubProcess2`` point by point with
    momenta as ``(E, px, py, pz, m)`` per leg, incoming legs first.

    BLHA libraries keep global state, so one library file holds one contract per process: a second
    oracle on the same library with the same order file and parameters shares the started library,
    a different one raises :class:`oracles.blha_provider.BLHAError`. Construct the oracle inside the worker
    (e.g. a Ray actor) that uses it; pickling an oracle carries only its options, and unpickling rebuilds it.

    Parameters
    ----------
    process : str or Process
        Process name (see :mod:`activeamp.physics.process`).
    provider : str or mapping
        Built-in provider name (:data:`oracles.blha_provider.PROVIDERS`) or a
        :class:`oracles.blha_provider.BLHAProvider` as a mapping (see
        :meth:`~oracles.blha_provider.BLHAProvider.from_dict`; ``{"base": "njet", "rval_length": 20}`` changes one
        field).
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
        Coupling powers; default :func:`oracles.blha_contract.default_coupling_powers`.
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
