"""Tests of the VVAMP ctypes adapter: the shim built against a stand-in qqvvamp library, targets, the loop."""

from __future__ import annotations

import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import oracles
from activeamp.physics.kinematics import boost, vv_invariants, vv_momenta, vv_variables
from activeamp.physics.vv_phasespace import VVPhaseSpace
from oracles.base import OracleInputError, classify_values
from oracles.vvamp import (
    VVAMPError,
    VVAmpOracle,
    build_shim,
    default_targets,
    parse_target,
    shim_build_command,
    shim_source,
)

STANDIN = Path(__file__).parents[1] / "fixtures" / "qqvvamp_standin"


@pytest.fixture(scope="module")
def vvamp_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VVAMP-like installation ``<prefix>/{include,lib}`` holding the stand-in header and ``libqqvvamp.so``."""
    cxx = shutil.which("c++") or shutil.which("g++")
    if cxx is None:
        pytest.skip("no C++ compiler (c++ or g++) on PATH: the stand-in qqvvamp library and the shim cannot be built")
    prefix = tmp_path_factory.mktemp("vvamp")
    (prefix / "include").mkdir()
    (prefix / "lib").mkdir()
    shutil.copy(STANDIN / "qqvvamp.h", prefix / "include" / "qqvvamp.h")
    done = subprocess.run(
        [cxx, "-O2", "-std=c++11", "-shared", "-fPIC", str(STANDIN / "qqvvamp.cpp"), f"-I{prefix / 'include'}"]
        + ["-o", str(prefix / "lib" / "libqqvvamp.so"), "-lquadmath"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return prefix


@pytest.fixture(scope="module")
def shim(vvamp_prefix: Path) -> Path:
    """The shim, built with the documented command against the stand-in (GiNaC/CLN not needed by it)."""
    cxx = shutil.which("c++") or shutil.which("g++")
    assert cxx is not None
    return build_shim(vvamp_prefix, vvamp_prefix / "libvvamp_shim.so", cxx=cxx, libraries=("qqvvamp", "quadmath"))


def analytic(kin: np.ndarray, nf: int = 5, catani: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The stand-in's known answer (tests/fixtures/qqvvamp_standin/qqvvamp.cpp) without its cancellation term."""
    s, t, ma2, mb2 = kin.T
    x, ya, yb = t / s, ma2 / s, mb2 / s
    c = 1 if catani else 0
    a = np.zeros((len(s), 10, 4, 3, 2))
    e = np.zeros((len(s), 9, 4, 3, 2))
    for j in range(4):
        for loop in range(3):
            for i in range(1, 11):
                base = i + j / 2 + loop * (nf + c) / 4
                a[:, i - 1, j, loop, 0] = base * (1 + x * x + ya - 2 * yb) / (1 + loop)
                a[:, i - 1, j, loop, 1] = loop * base * (x - ya * yb)
            for i in range(1, 10):
                base = i + 0.1 + j / 2 + loop * (nf + c) / 4
                e[:, i - 1, j, loop, 0] = -base * (x - ya + 2 * yb) / (1 + loop)
                e[:, i - 1, j, loop, 1] = loop * (i + 0.1) * (ya - x * yb)
    return a, e


def forward(kin: np.ndarray) -> np.ndarray:
    """Where the stand-in's double-precision cancellation is switched on (cos θ* > 0.8)."""
    return vv_variables(kin)[:, 1] > 0.8


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    """200 points of u ū → Z Z, avoiding the immediate neighbourhood of the stand-in's cos θ* = 0.8 switch."""
    kin = VVPhaseSpace("uu_ZZ").sample(220, np.random.default_rng(5)).kinematics
    keep = np.abs(vv_variables(kin)[:, 1] - 0.8) > 1e-6
    return kin[keep][:200]


def test_build_command_is_one_documented_line(tmp_path: Path) -> None:
    cmd = shim_build_command("/opt/vvamp", "libvvamp_shim.so")
    assert cmd[:5] == ["c++", "-O2", "-std=c++11", "-shared", "-fPIC"]
    assert cmd[5] == str(shim_source()) and shim_source().is_file()
    assert "-I/opt/vvamp/include" in cmd and "-Wl,-rpath,/opt/vvamp/lib" in cmd
    assert cmd[-2:] == ["-o", "libvvamp_shim.so"] and "-lqqvvamp" in cmd and "-lquadmath" in cmd
    with pytest.raises(ValueError, match="give the VVAMP prefix"):
        shim_build_command()
    with pytest.raises(VVAMPError, match=r"compiler 'no-such-c\+\+' not found"):
        build_shim("/opt/vvamp", tmp_path / "x.so", cxx="no-such-c++")


def test_quad_reproduces_known_answer(shim: Path, points: np.ndarray) -> None:
    oracle = VVAmpOracle("uu_ZZ", library=str(shim), precision="quad")
    c = oracle.coefficients(points)
    a, e = analytic(points)
    np.testing.assert_allclose(c["A"], a, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(c["E"], e, rtol=1e-13, atol=1e-13)
    assert (c["precision"] == 1).all() and np.isnan(c["relerr"]).all()


def test_double_precision_loses_digits_and_auto_recovers(shim: Path, points: np.ndarray) -> None:
    fwd = forward(points)
    assert 0 < fwd.sum() < len(points)
    a, _ = analytic(points)
    double = VVAmpOracle("uu_ZZ", library=str(shim), precision="double").coefficients(points)["A"]
    np.testing.assert_allclose(double[~fwd], a[~fwd], rtol=1e-13, atol=1e-13)
    assert np.abs(double[fwd] - a[fwd]).max() > 1e-10
    auto = VVAmpOracle("uu_ZZ", library=str(shim), precision="auto", maxrel=1e-8)
    c = auto.coefficients(points)
    np.testing.assert_allclose(c["A"], a, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(c["precision"], fwd.astype(np.int32))
    assert (c["relerr"][fwd] > 1e-8).all() and (c["relerr"][~fwd] < 1e-8).all()
    np.testing.assert_array_equal(auto.last_precision, c["precision"])


def test_targets_select_real_and_imaginary_parts(shim: Path, points: np.ndarray) -> None:
    oracle = oracles.get("vvamp", process="uu_ZZ", library=str(shim), precision="quad")
    values = oracle(points)
    assert oracle.outputs == default_targets() and oracle.n_outputs == 20 and values.shape == (len(points), 20)
    a, e = analytic(points)
    np.testing.assert_allclose(values[:, 0], a[:, 0, 0, 2, 0], rtol=1e-13)  # A1.A.2.re
    np.testing.assert_allclose(values[:, 19], a[:, 9, 0, 2, 1], rtol=1e-13)  # A10.A.2.im
    custom = VVAmpOracle("uu_ZZ", library=str(shim), precision="quad", targets=["A3.B.2.re", "E9.F.1.im", "A1.C.0.im"])
    values = custom(points)
    np.testing.assert_allclose(values[:, 0], a[:, 2, 1, 2, 0], rtol=1e-13)
    np.testing.assert_allclose(values[:, 1], e[:, 8, 3, 1, 1], rtol=1e-13)
    assert (values[:, 2] == 0).all()  # tree level has no imaginary part; negative values are fine too
    assert parse_target("E9.F.1.im") == ("E", 9, 3, 1, 1)
    for bad in ("A11.A.2.re", "E10.A.2.re", "A1.D.2.re", "A1.A.3.re", "A1.A.2.abs"):
        with pytest.raises(ValueError, match=f"target '{bad}'"):
            parse_target(bad)


def test_nf_and_ir_scheme_reach_vvamp(shim: Path, points: np.ndarray) -> None:
    oracle = VVAmpOracle("uu_ZZ", library=str(shim), precision="quad", nf=3, ir_scheme="catani")
    a, _ = analytic(points, nf=3, catani=True)
    np.testing.assert_allclose(oracle.coefficients(points)["A"], a, rtol=1e-13, atol=1e-13)
    for kwargs, message in (
        ({"ir_scheme": "msbar"}, "ir_scheme must be one of"),
        ({"precision": "octuple"}, "precision must be one of"),
        ({"nf": 7}, "nf must be an integer"),
        ({"targets": []}, "at least one coefficient"),
    ):
        with pytest.raises(ValueError, match=message):
            VVAmpOracle("uu_ZZ", library=str(shim), **kwargs)


def test_input_validation(shim: Path, points: np.ndarray) -> None:
    """The adapter validates through oracles.base.validate_vv_kinematics (its cases: tests/oracles/test_base.py)."""
    oracle = VVAmpOracle("uu_ZZ", library=str(shim), precision="double")
    below = points[:3].copy()
    below[1, 0] = (np.sqrt(below[1, 2]) + np.sqrt(below[1, 3])) ** 2 * 0.99
    with pytest.raises(OracleInputError, match="point 1 is below threshold"):
        oracle(below)
    with pytest.raises(OracleInputError, match="point 1 is below threshold"):
        oracle.coefficients(below)


def test_vvamp_exception_becomes_failed_point(shim: Path, points: np.ndarray) -> None:
    oracle = VVAmpOracle("uu_ZZ", library=str(shim), precision="double")
    k = points[:4].copy()
    k[2, 2] = -5.0  # unphysical: the stand-in throws std::domain_error, the shim catches it
    c = oracle.coefficients(k, validate=False)
    assert (
        c["precision"].tolist() == [0, 0, -1, 0] and np.isnan(c["A"][2]).all() and np.isfinite(c["A"][[0, 1, 3]]).all()
    )
    values, reasons = oracle._evaluate(k)
    assert reasons[2] == "vvamp error: qqvvamp stand-in: need s, ma2, mb2 > 0" and reasons[0] == ""
    result = classify_values(values, reasons)  # what evaluate() makes of it
    assert result.ok.tolist() == [True, True, False, True] and result.reasons[2] == reasons[2]
    assert np.isnan(result.values[2]).all() and result.n_outputs == 20


def test_library_errors(shim: Path, vvamp_prefix: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VVAMP_SHIM_LIB", raising=False)
    with pytest.raises(VVAMPError, match=r"no shim library given; compile .*c\+\+ -O2 .*-lqqvvamp.*VVAMP_SHIM_LIB"):
        VVAmpOracle("uu_ZZ")
    monkeypatch.setenv("VVAMP_SHIM_LIB", str(shim))
    assert VVAmpOracle("uu_ZZ").library_path == str(shim.resolve())
    with pytest.raises(VVAMPError, match=r"missing.so \(option library\) not found"):
        VVAmpOracle("uu_ZZ", library=str(tmp_path / "missing.so"))
    with pytest.raises(VVAMPError, match="has no symbol vvamp_shim_abi_version: not a VVAMP shim"):
        VVAmpOracle("uu_ZZ", library=str(vvamp_prefix / "lib" / "libqqvvamp.so"))
    junk = tmp_path / "junk.so"
    junk.write_text("junk")
    with pytest.raises(VVAMPError, match="could not load"):
        VVAmpOracle("uu_ZZ", library=str(junk))
    with pytest.raises(KeyError, match="unknown VV process 'uu_yy'"):
        VVAmpOracle("uu_yy", library=str(shim))
    with pytest.raises(KeyError, match="process 'gg_yy' is not a q q̄′ → V1 V2 process"):
        VVAmpOracle("gg_yy", library=str(shim))


def test_pickle_registry_and_phase_space_drive(shim: Path) -> None:
    oracle = oracles.get("vvamp", process="ud_WZ", library=str(shim), targets=["A1.A.1.re", "A1.A.1.im"])
    clone = pickle.loads(pickle.dumps(oracle))
    assert type(clone) is VVAmpOracle and clone.options() == oracle.options()
    sample = VVPhaseSpace("ud_WZ").sample(50, np.random.default_rng(9))
    result = clone.evaluate(sample.kinematics)
    assert result.ok.all() and result.values.shape == (50, 2)
    np.testing.assert_array_equal(result.values, oracle(sample.kinematics))
    prov = oracle.provenance()
    assert prov["name"] == "vvamp" and prov["process"] == "ud_WZ" and prov["inputs"] == ["s", "t", "ma2", "mb2"]
    assert prov["versions"]["vvamp_shim"] == str(shim.resolve())


# ------------------------------------------------------------------------------------------ momenta as inputs


def test_vvamp_oracle_takes_momenta(shim: Path, points: np.ndarray) -> None:
    oracle = VVAmpOracle("uu_ZZ", library=str(shim), precision="quad", targets=["A1.A.0.re", "A2.B.2.im"])
    from_momenta = oracle(vv_momenta(points[:20]))
    np.testing.assert_allclose(from_momenta, oracle(points[:20]), rtol=1e-9)
    np.testing.assert_allclose(oracle(boost(vv_momenta(points[:20]), [0.0, 0.0, 0.4])), from_momenta, rtol=1e-8)
    assert oracle.process.name == "uu_ZZ" and oracle.outputs == ("A1.A.0.re", "A2.B.2.im")


# ------------------------------------------------------------------------------------------ the active loop


def test_active_loop_learns_vvamp_coefficients(ray_local: object, shim: Path, tmp_path: Path) -> None:
    """The whole loop on the shim (stand-in VVAMP) in Ray oracle actors: vector store, labels, per-output metrics."""
    from activeamp.data.store import ShardStore
    from activeamp.loop.active import ActiveConfig, ActiveLearner

    targets = ["A1.A.2.re", "A1.A.2.im", "A3.B.1.re"]
    config = ActiveConfig.from_dict(
        {
            "seed": 3,
            "phasespace": {"process": "uu_ZZ", "mapping": {"sqrt_s_range": [250.0, 700.0]}},
            "oracle": {"name": "vvamp", "options": {"library": str(shim), "targets": targets, "precision": "quad"}},
            "n_initial": 200,
            "n_validation": 50,
            "n_test": 100,
            "pool": {"n_actors": 1, "batch_size": 64, "num_cpus": 0.5},
            "surrogate": {
                "target_transform": "signed",
                "sigma_a": "median",
                "max_epochs": 30,
                "patience": 10,
                "batch_size": 64,
                "n_weight_samples": 8,
                "hidden": [16, 16],
            },
            "trainer": {"round_epochs": 10, "torch_threads": 1, "num_cpus": 1},
            "acquisition": {"n_candidates": 500, "batch_size": 40, "n_weight_samples": 8},
            "budget": {"max_rounds": 1},
            "plots": False,
        }
    )
    statuses = ActiveLearner(config, tmp_path / "run", progress=False).run()
    assert [s.oracle_calls for s in statuses] == [250, 290]
    store = ShardStore.open(tmp_path / "run" / "store")
    assert store.outputs == tuple(targets)
    train = store.arrays("train")
    kin = vv_invariants(train.momenta)
    a, _ = analytic(kin)
    expected = np.stack([a[:, 0, 0, 2, 0], a[:, 0, 0, 2, 1], a[:, 2, 1, 1, 0]], axis=1)
    np.testing.assert_allclose(train.values, expected, rtol=1e-12)
    assert set(statuses[-1].metrics.per_output) == set(targets)
