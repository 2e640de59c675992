"""Tests of the BLHA oracles against a stand-in BLHA library compiled from tests/fixtures/blha_standin.c."""

from __future__ import annotations

import ctypes
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import oracles
from activeamp.physics.process import get_process
from oracles.blha import (
    PROVIDERS,
    BLHAError,
    BLHAOracle,
    BLHAProvider,
    default_coupling_powers,
    order_file,
    parse_contract,
    process_line,
    started_libraries,
)
from oracles.mock import MockOracle
from tests.conftest import physical_points

SOURCE = Path(__file__).parents[1] / "fixtures" / "blha_standin.c"
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


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Builder:
    """Compile the stand-in into ``<root>/<name>/lib/<filename>`` with an NJet-like ``bin/njet.py`` next to it."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler (cc or gcc) on PATH: the stand-in BLHA library cannot be built")
    root = tmp_path_factory.mktemp("blha")
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


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Signer command template running the stand-in signer with this Python."""
    path = tmp_path_factory.mktemp("signer") / "sign.py"
    path.write_text(SIGNER)
    return [sys.executable, str(path), "-o", "{contract}", "{order}"]


def _standin(lib: Path) -> ctypes.CDLL:
    """The already-loaded stand-in (dlopen returns the same instance), for its test hooks."""
    cdll = ctypes.CDLL(str(lib), mode=os.RTLD_LOCAL)
    cdll.standin_last_mu.restype = ctypes.c_double
    return cdll


def test_order_file_and_process_line() -> None:
    proc = get_process("gg_yyg")
    assert process_line(proc) == "21 21 -> 22 22 21"
    assert default_coupling_powers(proc) == (1, 2)
    assert default_coupling_powers(get_process("gg_yygg")) == (2, 2)
    text = order_file(proc, PROVIDERS["njet"], amplitude_type="loopsq", alphas_power=1, alpha_power=2)
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body == [
        "AmplitudeType loopsq",
        "CorrectionType QCD",
        "IRregularisation CDR",
        "AlphasPower 1",
        "AlphaPower 2",
        "NJetReturnAccuracy 2",
        "21 21 -> 22 22 21",
    ]
    ol = order_file(proc, PROVIDERS["openloops"], amplitude_type="LoopInduced", alphas_power=1, alpha_power=2)
    assert "InterfaceVersion BLHA2" in ol and "CouplingPower QCD 1" in ol and "AlphasPower" not in ol
    with pytest.raises(ValueError, match="must be one line"):
        order_file(proc, PROVIDERS["njet"], amplitude_type="loopsq", alphas_power=1, alpha_power=2, extra_lines=["a|b"])


def test_parse_contract_formats_and_errors() -> None:
    line = "21 21 -> 22 22 21"
    assert parse_contract("AmplitudeType loopsq | OK\n21 21 -> 22 22 21 | 1 0\n", line) == 0
    assert parse_contract("InterfaceVersion BLHA2 | Ok\n21 21  ->  22 22 21     | 1    1\n", line) == 1
    assert parse_contract("A b | OK # Ignored: fine\n21 21 -> 22 22 | 1 0\n21 21 -> 22 22 21 | 2 5 6\n", line) == 5
    with pytest.raises(BLHAError, match=r"has no line for subprocess '21 21 -> 22 22 21' .*'21 21 -> 22 22'"):
        parse_contract("21 21 -> 22 22 | 1 0\n", line, source="contract c.lh")
    with pytest.raises(BLHAError, match="rejected subprocess '21 21 -> 22 22 21': 'Error: process not available'"):
        parse_contract("21 21 -> 22 22 21 | Error: process not available\n", line)
    with pytest.raises(BLHAError, match="rejected subprocess .*'Process not found'"):
        parse_contract("21 21 -> 22 22 21     | Process not found\n", line)
    with pytest.raises(BLHAError, match=r"rejected 1 line\(s\): 'IRregularisation DRED' -> 'Error: only CDR'"):
        parse_contract("IRregularisation DRED | Error: only CDR\n21 21 -> 22 22 21 | 1 0\n", line)
    with pytest.raises(BLHAError, match="not a signed contract"):
        parse_contract("AmplitudeType loopsq\n21 21 -> 22 22 21\n", line)
    assert parse_contract("21 21 -> 22 22 21\n", line, allow_unanswered=True) is None


def test_provider_table_entry_from_dict() -> None:
    custom = BLHAProvider.from_dict({"base": "njet", "name": "njet-big", "rval_length": 20, "result_index": {"x": 7}})
    assert custom.rval_length == 20 and custom.index_of("X") == 7 and custom.library_env == "NJET_LIB"
    assert BLHAProvider.from_dict(custom.to_dict()) == custom
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['rval_len'\]"):
        BLHAProvider.from_dict({"base": "njet", "rval_len": 3})
    with pytest.raises(ValueError, match="result index 12 .* outside rval"):
        BLHAProvider.from_dict({"base": "njet", "result_index": {"loopsq": 12}})
    with pytest.raises(KeyError, match="unknown BLHA provider 'nj'"):
        oracles.get("blha", provider="nj")
    assert {"blha", "njet", "openloops", "gosam"} <= set(oracles.available())


@pytest.mark.parametrize(
    ("process", "amplitude_type"),
    [("gg_yy", "loopsq"), ("gg_yyg", "loopsq"), ("gg_yygg", "loopsq"), ("gg_yyg", "loop"), ("gg_yyg", "tree")],
)
def test_njet_standin_reproduces_mock(build: Builder, process: str, amplitude_type: str) -> None:
    lib = build(f"njet-{process}-{amplitude_type}")
    oracle = oracles.get("njet", process=process, library=str(lib), amplitude_type=amplitude_type)
    assert oracle.name == "njet" and oracle.subprocess_id == 0
    assert Path(oracle.contract_path).read_text().count("| OK") >= 5  # signed by bin/njet.py next to lib/
    p = physical_points(process, 40)
    expected = MockOracle(process).amplitude(p)
    np.testing.assert_allclose(oracle(p), expected, rtol=1e-13, atol=0)
    result = oracle.evaluate(p)
    assert result.ok.all() and result.values.shape == (40,)
    assert oracle.versions()["olp_name"] == "StandIn" and oracle.versions()["blha_library"] == str(lib.resolve())
    assert oracle.cost_hint == dict(PROVIDERS["njet"].cost_hints)[process]


def test_parameters_and_scale_reach_the_library(build: Builder, signer: list[str]) -> None:
    lib = build("params")
    oracle = oracles.get(
        "njet",
        process="gg_yyg",
        library=str(lib),
        signer=signer,
        alphas=0.236,
        alpha=ALPHA_REF,
        parameters={"qcd(nf)": 4, "mass(23)": 91.1876, "width(23)": [2.4952, 0.0]},
        scale=91.1876,
    )
    p = physical_points("gg_yyg", 10)
    np.testing.assert_allclose(oracle(p), 2.0 * MockOracle("gg_yyg").amplitude(p), rtol=1e-13)  # αs¹ doubled
    hooks = _standin(lib)
    assert hooks.standin_nf() == 4
    assert hooks.standin_last_mu() == 91.1876
    assert oracle.options()["parameters"] == {
        "qcd(nf)": [4.0, 0.0],
        "mass(23)": [91.1876, 0.0],
        "width(23)": [2.4952, 0.0],
    }
    np.testing.assert_allclose(oracle.scales(p[:3]), 91.1876)


def test_dynamic_scales(build: Builder, signer: list[str]) -> None:
    lib = build("scales")
    oracle = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer, scale="sqrt_s")
    p = physical_points("gg_yyg", 5)
    oracle(p)
    assert _standin(lib).standin_last_mu() == pytest.approx(1000.0, rel=1e-12)
    np.testing.assert_allclose(oracle.scales(p), 1000.0, rtol=1e-12)
    ht = BLHAOracle("gg_yyg", provider="njet", library=str(lib), signer=signer, scale="ht")
    ht(p)
    pt = np.hypot(p[:, 2:, 1], p[:, 2:, 2]).sum(axis=1)
    np.testing.assert_allclose(ht.scales(p), pt)
    assert _standin(lib).standin_last_mu() == pytest.approx(pt[-1], rel=1e-12)
    with pytest.raises(ValueError, match="scale must be"):
        oracles.get("njet", process="gg_yyg", library=str(lib), scale="mt")


def test_library_from_environment(build: Builder, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = build("env")
    monkeypatch.setenv("NJET_LIB", str(lib.parent))  # a directory holding libnjet3.so
    oracle = oracles.get("njet", process="gg_yy")
    assert oracle.library_path == str(lib.resolve()) and oracle.options()["library"] is None
    monkeypatch.delenv("NJET_LIB")
    with pytest.raises(BLHAError, match="no library given: pass library=/path/to/libnjet3.so or set .*NJET_LIB"):
        oracles.get("njet", process="gg_yy")


def test_missing_or_broken_library(tmp_path: Path) -> None:
    with pytest.raises(BLHAError, match=r"library .*nowhere/libnjet3.so \(option library\) not found"):
        oracles.get("njet", library=str(tmp_path / "nowhere" / "libnjet3.so"))
    with pytest.raises(BLHAError, match="contains none of libnjet3.so"):
        oracles.get("njet", library=str(tmp_path))
    junk = tmp_path / "libnjet3.so"
    junk.write_text("not a library")
    with pytest.raises(BLHAError, match="could not load library .*libnjet3.so"):
        oracles.get("njet", library=str(junk))


def test_missing_symbol(build: Builder, signer: list[str]) -> None:
    lib = build("nosetparameter", "-DSTANDIN_OMIT_SETPARAMETER")
    with pytest.raises(
        BLHAError, match=r"has no symbol OLP_SetParameter \(OLP_SetParameter\) expected for provider 'njet'"
    ):
        oracles.get("njet", library=str(lib), signer=signer)


def test_bad_status_codes(build: Builder, signer: list[str]) -> None:
    lib = build("status")
    with pytest.raises(BLHAError, match=r"OLP_Start returned status 0 \(1 = OK\) for contract"):
        oracles.get("njet", library=str(lib), signer=signer, ir_regularisation="DRED")
    with pytest.raises(BLHAError, match=r"OLP_SetParameter\('bogus', 1.0, 0.0\) returned status 0 \(error"):
        oracles.get("njet", library=str(lib), signer=signer, parameters={"bogus": 1.0})
    lib2 = build("status-ignored")
    with pytest.raises(BLHAError, match="returned status 2 .*ignored"):
        oracles.get("njet", library=str(lib2), signer=signer, parameters={"ignored_x": 1.0})


def test_wrong_or_unsigned_contracts(build: Builder, tmp_path: Path) -> None:
    lib = build("contracts")
    other = tmp_path / "gg_yy.lh"
    other.write_text("AmplitudeType loopsq | OK\n21 21 -> 22 22 | 1 0\n")
    with pytest.raises(BLHAError, match=r"gg_yy.lh has no line for subprocess '21 21 -> 22 22 21'"):
        oracles.get("njet", process="gg_yyg", library=str(lib), contract=str(other))
    rejected = tmp_path / "rejected.lh"
    rejected.write_text("AmplitudeType loopsq | OK\n21 21 -> 22 22 21 | Error: process not available\n")
    with pytest.raises(BLHAError, match="rejected subprocess '21 21 -> 22 22 21'"):
        oracles.get("njet", process="gg_yyg", library=str(lib), contract=str(rejected))
    unsigned = tmp_path / "order.lh"
    unsigned.write_text("AmplitudeType loopsq\n21 21 -> 22 22 21\n")
    with pytest.raises(BLHAError, match="not a signed contract"):
        oracles.get("njet", process="gg_yyg", library=str(lib), contract=str(unsigned))
    signed = tmp_path / "signed.lh"
    signed.write_text("AmplitudeType loopsq | OK\nAlphasPower 1 | OK\nAlphaPower 2 | OK\n21 21 -> 22 22 21 | 1 3\n")
    oracle = oracles.get("njet", process="gg_yyg", library=str(lib), contract=str(signed))
    assert oracle.subprocess_id == 3 and oracle.contract_path == str(signed)
    p = physical_points("gg_yyg", 5)
    np.testing.assert_allclose(oracle(p), MockOracle("gg_yyg").amplitude(p), rtol=1e-13)


def test_signer_failures(build: Builder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lib = build("signer-fail")
    with pytest.raises(BLHAError, match=r"signing tool .* exited with status 1: .*"):
        oracles.get("njet", library=str(lib), signer=[sys.executable, "-c", "import sys; sys.exit('no NJet here')"])
    with pytest.raises(BLHAError, match="wrote no contract"):
        oracles.get("njet", library=str(lib), signer=[sys.executable, "-c", "pass"])
    # no NJET_SIGNER, nothing on PATH, nothing in <lib>/../bin
    bare = tmp_path / "bare" / "lib"
    bare.mkdir(parents=True)
    shutil.copy(lib, bare / "libnjet3.so")
    monkeypatch.delenv("NJET_SIGNER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BLHAError, match=r"no signing tool was found .*njet.py.*set NJET_SIGNER"):
        oracles.get("njet", library=str(bare / "libnjet3.so"))
    monkeypatch.setenv("NJET_SIGNER", f"{sys.executable} {lib.parent.parent / 'bin' / 'njet.py'}")
    assert oracles.get("njet", library=str(bare / "libnjet3.so")).subprocess_id == 0


def test_one_contract_per_library_per_process(build: Builder, signer: list[str]) -> None:
    lib = build("shared")
    first = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer)
    again = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer)
    assert _standin(lib).standin_start_calls() == 1  # the second oracle shares the started library
    assert again.subprocess_id == first.subprocess_id
    assert started_libraries()[str(lib.resolve())]["provider"] == "njet"
    with pytest.raises(BLHAError, match="already started in this process .* different order file"):
        oracles.get("njet", process="gg_yy", library=str(lib), signer=signer)
    with pytest.raises(BLHAError, match="already started in this process"):
        oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer, alphas=0.2)


def test_pickle_carries_configuration_only(build: Builder, signer: list[str]) -> None:
    lib = build("pickle")
    oracle = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer)
    clone = pickle.loads(pickle.dumps(oracle))
    assert type(clone) is type(oracle) and clone.options() == oracle.options()
    p = physical_points("gg_yyg", 4)
    np.testing.assert_array_equal(clone(p), oracle(p))
    assert _standin(lib).standin_start_calls() == 1


def test_accuracy_threshold_marks_points_failed(build: Builder, signer: list[str]) -> None:
    lib = build("accuracy")
    oracle = oracles.get("njet", process="gg_yyg", library=str(lib), signer=signer, accuracy_threshold=1e-6)
    p = physical_points("gg_yyg", 60)
    unstable = p[:, 2, 3] / p[:, 2, 0] > 0.5  # the stand-in's acc = 1e-2 there
    assert unstable.any() and not unstable.all()
    result = oracle.evaluate(p)
    np.testing.assert_array_equal(result.ok, ~unstable)
    assert {result.reasons[i] for i in np.flatnonzero(unstable)} == {"nan"}
    np.testing.assert_array_equal(oracle.last_accuracy, np.where(unstable, 1e-2, 1e-12))


def test_openloops_answers_order_file_in_place(build: Builder) -> None:
    lib = build("openloops", "-DSTANDIN_ANSWER_IN_PLACE", filename="libopenloops.so")
    oracle = oracles.get("openloops", process="gg_yyg", library=str(lib))
    contract = Path(oracle.contract_path).read_text()
    assert "21 21 -> 22 22 21 | 1 1" in contract and "CouplingPower QCD 1 | OK" in contract
    assert oracle.subprocess_id == 1 and oracle.result_index == 0
    p = physical_points("gg_yyg", 10)
    np.testing.assert_allclose(oracle(p), MockOracle("gg_yyg").amplitude(p), rtol=1e-13)


def test_gosam_symbols_extra_arguments_and_index(build: Builder, signer: list[str], tmp_path: Path) -> None:
    lib = build("gosam", "-DSTANDIN_GOSAM", filename="libgolem_olp.so")
    with pytest.raises(BLHAError, match="needs the contract made together with its library"):
        oracles.get("gosam", process="gg_yyg", library=str(lib))
    order = tmp_path / "order.olp"
    proc = get_process("gg_yyg")
    order.write_text(order_file(proc, PROVIDERS["gosam"], amplitude_type="LoopInduced", alphas_power=1, alpha_power=2))
    contract = tmp_path / "order.olc"
    subprocess.run([a.format(order=order, contract=contract) for a in signer], check=True)
    oracle = oracles.get("gosam", process="gg_yyg", library=str(lib), contract=str(contract))
    assert _standin(lib).standin_last_stage() == -1
    assert oracle.result_index == 2
    p = physical_points("gg_yyg", 10)
    np.testing.assert_allclose(oracle(p), MockOracle("gg_yyg").amplitude(p), rtol=1e-13)


def test_blha_oracle_with_custom_provider_entry(build: Builder, signer: list[str]) -> None:
    lib = build("custom")
    provider = {"base": "njet", "name": "mine", "library_env": "MINE_LIB", "rval_length": 16}
    oracle = oracles.get("blha", process="gg_yyg", provider=provider, library=str(lib), signer=signer)
    assert oracle.name == "blha" and oracle.provider.name == "mine" and oracle.options()["provider"] == provider
    p = physical_points("gg_yyg", 3)
    np.testing.assert_allclose(oracle(p), MockOracle("gg_yyg").amplitude(p), rtol=1e-13)


# ------------------------------------------------------------------------------------------------ through Ray


@pytest.fixture(scope="module")
def ray_session() -> object:
    """A local Ray instance shared with other test modules (left running for them)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 2**20)
    return ray


def test_through_ray_actors(build: Builder, ray_session: object) -> None:
    ray = ray_session
    lib = build("ray")

    class OracleActor:
        """Builds its own oracle (and so its own library instance) in the actor process."""

        def __init__(self, name: str, options: dict) -> None:
            import oracles as _oracles

            self.oracle = _oracles.get(name, **options)

        def evaluate(self, momenta: np.ndarray) -> tuple[np.ndarray, int, int]:
            from oracles.blha import started_libraries as _started

            return self.oracle(momenta), os.getpid(), len(_started())

    remote = ray.remote(num_cpus=0)(OracleActor)  # type: ignore[attr-defined]
    options = {"process": "gg_yyg", "library": str(lib)}
    actors = [remote.remote("njet", options) for _ in range(2)]
    p = physical_points("gg_yyg", 16)
    results = ray.get([a.evaluate.remote(p) for a in actors])  # type: ignore[attr-defined]
    expected = MockOracle("gg_yyg").amplitude(p)
    for values, _, n_started in results:
        np.testing.assert_allclose(values, expected, rtol=1e-13)
        assert n_started == 1
    assert len({pid for _, pid, _ in results} | {os.getpid()}) == 3
    assert str(lib.resolve()) not in started_libraries()  # nothing was started in the driver
    for a in actors:
        ray.kill(a)  # type: ignore[attr-defined]
