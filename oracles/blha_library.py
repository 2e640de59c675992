"""Loading and starting a BLHA library with ctypes: one started library (one contract) per library file and process."""

from __future__ import annotations

import atexit
import ctypes
import dataclasses
import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from activeamp.physics.process import Process
from oracles.blha_contract import parse_contract, process_line
from oracles.blha_provider import BLHAError, BLHAProvider

__all__ = ["BLHALibrarySetup", "started_libraries"]

logger = logging.getLogger(__name__)


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


class BLHALibrarySetup:
    """The set-up half of :class:`oracles.blha.BLHAOracle`: library file, contract, ``OLP_Start``, parameters.

    Finds the provider's library, obtains the contract (signing tool, provider answering in place, or a
    given contract), reads the subprocess id, calls ``OLP_Start`` and ``OLP_SetParameter``, and keeps the
    started library per library file and process (BLHA libraries keep global state). It reads the
    attributes below, which the oracle's constructor sets before calling :meth:`_resolve_library` and
    :meth:`_start`.
    """

    name: str
    process: Process
    provider: BLHAProvider
    library_option: str | None
    library_path: str
    contract_option: str | None
    signer_option: list[str] | None
    signer_timeout: float
    order_text: str
    parameters: dict[str, tuple[float, float]]
    start_with_text: bool
    workdir_option: str | None

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
