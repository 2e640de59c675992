"""VVAMP q q̄′ → V1 V2 form factors as a vector oracle: the ctypes adapter of the C++ shim, and the shim's build.

The processes, their kinematics and phase space live in :mod:`activeamp.physics`
(:data:`~activeamp.physics.process.VV_PROCESSES`, :func:`~activeamp.physics.kinematics.vv_invariants`,
:class:`~activeamp.physics.vv_phasespace.VVPhaseSpace`); the oracle protocol is :class:`oracles.base.Oracle` with
``outputs`` (values ``(N, K)``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from activeamp.physics.process import get_vv_process
from oracles.base import Oracle, OracleError, validate_vv_kinematics

__all__ = [
    "COEFFICIENT_TYPES",
    "PRECISIONS",
    "SHIM_ABI_VERSION",
    "VVAMPError",
    "VVAmpOracle",
    "build_shim",
    "default_targets",
    "parse_target",
    "shim_build_command",
    "shim_source",
]

logger = logging.getLogger(__name__)

#: Coupling types of VVAMP's coefficients (second index of ``A[i][type][loop][re/im]``).
COEFFICIENT_TYPES: tuple[str, ...] = ("A", "B", "C", "F")
#: Numerical precisions of the shim: double, quad (``qqvvamp<__float128>``), or double checked and redone in quad.
PRECISIONS: tuple[str, ...] = ("double", "quad", "auto")
#: ABI version the shim must report (``vvamp_shim_abi_version``).
SHIM_ABI_VERSION = 1
_IR_SCHEMES = {"qt": 0, "catani": 1}
_N_LOOP = 3
_N_REIM = 2


class VVAMPError(OracleError):
    """The VVAMP shim could not be found, loaded or used; the message says which and how to fix it."""


# --------------------------------------------------------------------------------------------------------------
# Coefficient selection

_TARGET = re.compile(r"^([AE])(\d+)\.([ABCF])\.([012])\.(re|im)$")


def parse_target(spec: str) -> tuple[str, int, int, int, int]:
    """Parse a coefficient name like ``"A3.B.2.re"``: array ``A``/``E``, index (A: 1–10, E: 1–9), coupling type
    (``A``, ``B``, ``C``, ``F``), loop order (0, 1, 2), real/imaginary part.

    Returns
    -------
    tuple
        ``(array, index, type, loop, part)`` with ``type`` 0–3 and ``part`` 0 (re) / 1 (im).

    Raises
    ------
    ValueError
        If ``spec`` does not name a coefficient.
    """
    m = _TARGET.match(spec)
    limit = {"A": 10, "E": 9}
    if m is None or not 1 <= int(m.group(2)) <= limit[m.group(1)]:
        raise ValueError(
            f"target {spec!r}: expected '<A1..A10|E1..E9>.<A|B|C|F>.<loop 0|1|2>.<re|im>', e.g. 'A3.B.2.re'"
        )
    return (
        m.group(1),
        int(m.group(2)),
        COEFFICIENT_TYPES.index(m.group(3)),
        int(m.group(4)),
        0 if m.group(5) == "re" else 1,
    )


def default_targets(loop: int = 2, coupling_type: str = "A") -> tuple[str, ...]:
    """Real and imaginary parts of ``A1 … A10`` of one coupling type at one loop order (20 targets)."""
    return tuple(f"A{i}.{coupling_type}.{loop}.{part}" for i in range(1, 11) for part in ("re", "im"))


# --------------------------------------------------------------------------------------------------------------
# The shim


def shim_source() -> Path:
    """Path of the C++ shim source shipped with activeamp (``oracles/shim/vvamp_shim.cpp``)."""
    return Path(__file__).with_name("shim") / "vvamp_shim.cpp"


def shim_build_command(
    prefix: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] = "libvvamp_shim.so",
    *,
    include_dir: str | os.PathLike[str] | None = None,
    lib_dir: str | os.PathLike[str] | None = None,
    cxx: str = "c++",
    libraries: Sequence[str] = ("qqvvamp", "ginac", "cln", "quadmath"),
) -> list[str]:
    """The one-line compiler command that builds the shim against a VVAMP installation.

    Parameters
    ----------
    prefix : path, optional
        VVAMP installation prefix (headers in ``prefix/include``, library in ``prefix/lib``).
    output : path
        The shared library to write.
    include_dir, lib_dir : path, optional
        Override ``prefix/include`` and ``prefix/lib``.
    cxx : str
        C++ compiler.
    libraries : sequence of str
        Libraries to link (``-l``); ``ginac`` and ``cln`` may be dropped when ``libqqvvamp.so`` links them.

    Returns
    -------
    list of str
        The command, e.g. ``c++ -O2 -std=c++11 -shared -fPIC .../vvamp_shim.cpp -I$VVAMP/include
        -L$VVAMP/lib -Wl,-rpath,$VVAMP/lib -lqqvvamp -lginac -lcln -lquadmath -o libvvamp_shim.so``.
    """
    if prefix is None and (include_dir is None or lib_dir is None):
        raise ValueError("shim_build_command: give the VVAMP prefix, or both include_dir and lib_dir")
    inc = Path(include_dir) if include_dir is not None else Path(prefix or "") / "include"
    lib = Path(lib_dir) if lib_dir is not None else Path(prefix or "") / "lib"
    return [
        cxx,
        "-O2",
        "-std=c++11",
        "-shared",
        "-fPIC",
        str(shim_source()),
        f"-I{inc}",
        f"-L{lib}",
        f"-Wl,-rpath,{lib}",
        *(f"-l{name}" for name in libraries),
        "-o",
        str(output),
    ]


def build_shim(
    prefix: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] = "libvvamp_shim.so",
    **kwargs: Any,
) -> Path:
    """Run :func:`shim_build_command` and return the built library's path.

    Raises
    ------
    VVAMPError
        If the compiler is missing or fails (its output is in the message).
    """
    cmd = shim_build_command(prefix, output, **kwargs)
    if shutil.which(cmd[0]) is None:
        raise VVAMPError(f"build_shim: C++ compiler {cmd[0]!r} not found on PATH")
    logger.info("building the VVAMP shim: %s", shlex.join(cmd))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise VVAMPError(f"build_shim: {shlex.join(cmd)} failed (status {done.returncode}):\n{done.stderr.strip()}")
    return Path(output).resolve()


def _rebuild(cls: type, options: dict[str, Any]) -> Oracle:
    return cls(**options)


class VVAmpOracle(Oracle):
    """VVAMP's q q̄′ → V1 V2 coefficients (tree, one- and two-loop) as a vector-valued oracle.

    Inputs are invariants ``(N, 4)`` = (s, t, ma2, mb2) [GeV²] (e.g. from
    :class:`activeamp.physics.vv_phasespace.VVPhaseSpace`) or momenta ``(N, 4, 4)`` of q, q̄′, V1, V2 [GeV] (converted
    by :func:`activeamp.physics.kinematics.vv_invariants`, see :func:`oracles.base.validate_vv_kinematics`); outputs
    are the selected real and imaginary parts of the coefficients ``A[i][type][loop]`` and
    ``E[i][type][loop]`` (see :func:`parse_target`), shape ``(N, K)``. VVAMP is reached through the C++
    shim ``oracles/shim/vvamp_shim.cpp``, compiled by the user against their VVAMP (:func:`shim_build_command`).

    Parameters
    ----------
    process : str
        A :data:`activeamp.physics.process.VV_PROCESSES` name (provenance and the process of the points; the
        coefficients themselves do not depend on the flavours).
    library : str, optional
        Path of the compiled shim; default ``$VVAMP_SHIM_LIB``.
    nf : int
        Number of light flavours in closed loops (VVAMP's ``Nf``).
    ir_scheme : {"qt", "catani"}
        VVAMP's IR subtraction scheme (``IRschemeQt`` or ``IRschemeCatani``).
    precision : {"double", "quad", "auto"}
        ``qqvvamp<double>``, ``qqvvamp<__float128>``, or double with an error estimate (double evaluations
        at the invariants scaled by 1/1.1 and 1.1, using ``c(λx) c(x/λ) = c(x)²`` for homogeneous
        coefficients) and quad where the estimate exceeds ``maxrel``.
    maxrel : float
        Largest accepted relative error estimate in ``"auto"`` mode.
    targets : sequence of str, optional
        Output components (default :func:`default_targets`: ``A1 … A10``, coupling type A, two loops, re and im).
    cost_hint : float, optional
        Seconds per point (default 0.05 double/auto, 2.0 quad).
    """

    name = "vvamp"
    input_names = ("s", "t", "ma2", "mb2")

    def __init__(
        self,
        process: str = "uu_ZZ",
        *,
        library: str | None = None,
        nf: int = 5,
        ir_scheme: str = "qt",
        precision: str = "auto",
        maxrel: float = 1e-7,
        targets: Sequence[str] | None = None,
        cost_hint: float | None = None,
    ) -> None:
        super().__init__(get_vv_process(process))
        if ir_scheme not in _IR_SCHEMES:
            raise ValueError(f"vvamp oracle: ir_scheme must be one of {sorted(_IR_SCHEMES)}, got {ir_scheme!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"vvamp oracle: precision must be one of {PRECISIONS}, got {precision!r}")
        if not (isinstance(nf, int) and 0 <= nf <= 6):
            raise ValueError(f"vvamp oracle: nf must be an integer in 0..6, got {nf!r}")
        if not float(maxrel) > 0:
            raise ValueError(f"vvamp oracle: maxrel must be > 0, got {maxrel!r}")
        self.library_option = library
        self.nf = nf
        self.ir_scheme = ir_scheme
        self.precision = precision
        self.maxrel = float(maxrel)
        self.targets: tuple[str, ...] = tuple(targets) if targets is not None else default_targets()
        if not self.targets:
            raise ValueError("vvamp oracle: targets must name at least one coefficient")
        self._parsed = [parse_target(t) for t in self.targets]
        self.outputs = self.targets
        self.cost_hint_option = cost_hint
        self.cost_hint = float(cost_hint) if cost_hint is not None else (2.0 if precision == "quad" else 0.05)
        #: Per point of the last batch: 0 double, 1 quad, −1 failed.
        self.last_precision: np.ndarray = np.empty(0, dtype=np.int32)
        #: Per point of the last batch: ``"auto"`` mode's error estimate of the double result (NaN otherwise).
        self.last_relerr: np.ndarray = np.empty(0)
        self._last_error = ""
        self.library_path = self._resolve_library()
        self._lib = self._load()

    def _resolve_library(self) -> str:
        given = self.library_option or os.environ.get("VVAMP_SHIM_LIB") or None
        hint = (
            "compile the shim against your VVAMP installation with `"
            + shlex.join(shim_build_command("$VVAMP", "libvvamp_shim.so"))
            + "` and pass library=/path/to/libvvamp_shim.so or set VVAMP_SHIM_LIB"
        )
        if given is None:
            raise VVAMPError(f"vvamp oracle: no shim library given; {hint}")
        path = Path(os.path.expanduser(given))
        if not path.is_file():
            origin = "option library" if self.library_option else "$VVAMP_SHIM_LIB"
            raise VVAMPError(f"vvamp oracle: shim library {path} ({origin}) not found; {hint}")
        return str(path.resolve())

    def _load(self) -> ctypes.CDLL:
        try:
            lib = ctypes.CDLL(self.library_path, mode=os.RTLD_LOCAL)
        except OSError as exc:
            raise VVAMPError(
                f"vvamp oracle: could not load {self.library_path}: {exc} (is VVAMP's library directory in the "
                "shim's rpath or LD_LIBRARY_PATH?)"
            ) from exc
        for symbol in ("vvamp_shim_abi_version", "vvamp_shim_layout", "vvamp_shim_has_quad", "vvamp_qq_compute"):
            if not hasattr(lib, symbol):
                raise VVAMPError(
                    f"vvamp oracle: {self.library_path} has no symbol {symbol}: not a VVAMP shim built from "
                    f"{shim_source()}"
                )
        lib.vvamp_shim_abi_version.restype = ctypes.c_int
        abi = lib.vvamp_shim_abi_version()
        if abi != SHIM_ABI_VERSION:
            raise VVAMPError(
                f"vvamp oracle: shim {self.library_path} has ABI version {abi}, this activeamp needs "
                f"{SHIM_ABI_VERSION}: rebuild it from {shim_source()}"
            )
        dims = [ctypes.c_int() for _ in range(5)]
        lib.vvamp_shim_layout(*(ctypes.byref(d) for d in dims))
        layout = tuple(d.value for d in dims)
        if layout != (10, 9, len(COEFFICIENT_TYPES), _N_LOOP, _N_REIM):
            raise VVAMPError(f"vvamp oracle: unexpected coefficient layout {layout} reported by {self.library_path}")
        lib.vvamp_shim_has_quad.restype = ctypes.c_int
        if self.precision != "double" and not lib.vvamp_shim_has_quad():
            raise VVAMPError(f"vvamp oracle: precision={self.precision!r} needs VVAMP built with QUAD_PRECISION")
        fn = lib.vvamp_qq_compute
        fn.restype = ctypes.c_int
        fn.argtypes = [
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_double,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        return lib

    def validate(self, x: Any) -> np.ndarray:
        """Invariants ``(N, 4)`` [GeV²] of invariants or momenta (:func:`oracles.base.validate_vv_kinematics`)."""
        return validate_vv_kinematics(x, self.process)

    def coefficients(self, kinematics: np.ndarray, *, validate: bool = True) -> dict[str, np.ndarray]:
        """All coefficients at the given points.

        Parameters
        ----------
        kinematics : numpy.ndarray
            Shape ``(N, 4)``: s, t, ma2, mb2 [GeV²].
        validate : bool
            Check the kinematics first (:func:`oracles.base.validate_vv_kinematics`).

        Returns
        -------
        dict
            ``"A"``: ``(N, 10, 4, 3, 2)`` = ``A[1..10][type][loop][re/im]``; ``"E"``: ``(N, 9, 4, 3, 2)``;
            ``"precision"``: ``(N,)`` int (0 double, 1 quad, −1 failed); ``"relerr"``: ``(N,)`` error
            estimate of the double result in ``"auto"`` mode (NaN otherwise). Failed points are NaN.
        """
        k = self.validate(kinematics) if validate else np.ascontiguousarray(kinematics, dtype=np.float64)
        n = k.shape[0]
        a = np.empty((n, 10, len(COEFFICIENT_TYPES), _N_LOOP, _N_REIM))
        e = np.empty((n, 9, len(COEFFICIENT_TYPES), _N_LOOP, _N_REIM))
        used = np.empty(n, dtype=np.int32)
        relerr = np.empty(n)
        err = ctypes.create_string_buffer(1024)
        failed = self._lib.vvamp_qq_compute(
            n,
            k.ctypes.data,
            self.nf,
            _IR_SCHEMES[self.ir_scheme],
            PRECISIONS.index(self.precision),
            self.maxrel,
            a.ctypes.data,
            e.ctypes.data,
            used.ctypes.data,
            relerr.ctypes.data,
            err,
            len(err),
        )
        if failed < 0:
            raise VVAMPError(f"vvamp oracle: shim refused the call: {err.value.decode(errors='replace')}")
        if failed:
            logger.warning(
                "vvamp oracle: %d of %d points failed in VVAMP (first error: %s)",
                failed,
                n,
                err.value.decode(errors="replace"),
            )
        self._last_error = err.value.decode(errors="replace")
        self.last_precision = used
        self.last_relerr = relerr
        return {"A": a, "E": e, "precision": used, "relerr": relerr}

    def _evaluate(self, x: np.ndarray) -> tuple[np.ndarray, list[str]]:
        c = self.coefficients(x, validate=False)
        out = np.empty((x.shape[0], len(self._parsed)))
        for col, (array, index, ctype, loop, part) in enumerate(self._parsed):
            out[:, col] = c[array][:, index - 1, ctype, loop, part]
        reasons = ["vvamp error: " + self._last_error if u < 0 else "" for u in c["precision"]]
        return out, reasons

    def options(self) -> dict[str, Any]:
        return {
            "process": self.process.name,
            "library": self.library_option,
            "nf": self.nf,
            "ir_scheme": self.ir_scheme,
            "precision": self.precision,
            "maxrel": self.maxrel,
            "targets": list(self.targets),
            "cost_hint": self.cost_hint_option,
        }

    def versions(self) -> dict[str, str]:
        out = super().versions()
        out["vvamp_shim"] = self.library_path
        out["vvamp_shim_abi"] = str(SHIM_ABI_VERSION)
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        # Only the configuration travels; the receiving process loads the shim itself.
        return (_rebuild, (type(self), self.options()))
