"""The stand-in BLHA library (tests/fixtures/blha_standin.c): its build, an NJet-like signer, its test hooks.

Not a test module: the fixtures ``build`` and ``signer`` of ``tests/oracles/conftest.py`` use it.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

__all__ = ["ALPHA_REF", "SIGNER", "SOURCE", "Builder", "builder", "standin"]

#: C source of the stand-in library.
SOURCE = Path(__file__).parents[1] / "fixtures" / "blha_standin.c"
#: α passed with ``OLP_SetParameter("alpha")`` in the tests.
ALPHA_REF = 1.0 / 137.035999084

#: A stand-in for NJet's ``njet.py -o contract order``: answers options with OK and subprocess lines with ids.
SIGNER = r"""
import sys
args = sys.argv[1:]
out = args[args.index("-o") + 1]
order = [a for a in args if a not in ("-o", out)][0]
lines, next_id = ["# signed by the activeamp test stand-in signer"], 0
for raw in open(order):
    s = raw.strip()
    if not s or s.startswith("#"):
        lines.append(s)
    elif "->" in s:
        codes = [int(c) for c in s.replace("->", " ").split()]
        if all(c in (21, 22) or 1 <= abs(c) <= 6 for c in codes):
            lines.append(f"{s} | 1 {next_id}")
            next_id += 1
        else:
            lines.append(f"{s} | Error: process not available")
    else:
        lines.append(f"{s} | OK")
open(out, "w").write("\n".join(lines) + "\n")
"""

Builder = Callable[..., Path]


def builder(cc: str, root: Path) -> Builder:
    """A function compiling the stand-in with ``cc`` into ``<root>/<name>/lib/<filename>``, with an NJet-like
    ``bin/njet.py`` next to it; each ``name`` is built once."""
    built: dict[str, Path] = {}

    def _build(name: str, *defines: str, filename: str = "libnjet3.so") -> Path:
        if name in built:
            return built[name]
        prefix = root / name
        (prefix / "lib").mkdir(parents=True)
        (prefix / "bin").mkdir()
        (prefix / "bin" / "njet.py").write_text(SIGNER)
        out = prefix / "lib" / filename
        done = subprocess.run(
            [cc, "-shared", "-fPIC", "-O2", *defines, str(SOURCE), "-o", str(out), "-lm"],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        built[name] = out
        return out

    return _build


def standin(lib: Path) -> ctypes.CDLL:
    """The already-loaded stand-in (dlopen returns the same instance), for its test hooks."""
    cdll = ctypes.CDLL(str(lib), mode=os.RTLD_LOCAL)
    cdll.standin_last_mu.restype = ctypes.c_double
    return cdll
