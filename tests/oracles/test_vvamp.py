"""Tests of the VVAMP oracle: the shim built against a stand-in qqvvamp library, the VV phase space, targets."""

from __future__ import annotations

import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import oracles
from oracles.base import OracleInputError
from oracles.vvamp import (
    VectorOracle,
    VectorOracleOutputError,
    VVAMPError,
    VVAmpOracle,
    VVPhaseSpace,
    build_shim,
    default_targets,
    invariants_from_momenta,
    invariants_from_variables,
    parse_target,
    shim_build_command,
    shim_source,
    validate_kinematics,
    variables_from_invariants,
    vv_momenta,
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
    return variables_from_invariants(kin)[:, 1] > 0.8


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    """200 points of u ū → Z Z, avoiding the immediate neighbourhood of the stand-in's cos θ* = 0.8 switch."""
    kin = VVPhaseSpace("uu_ZZ").sample(220, np.random.default_rng(5)).kinematics
    keep = np.abs(variables_from_invariants(kin)[:, 1] - 0.8) > 1e-6
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


def test_phase_space_mapping_and_inverse() -> None:
    ps = VVPhaseSpace("uu_ZZ")
    rng = np.random.default_rng(1)
    sample = ps.sample(2000, rng)
    kin = validate_kinematics(sample.kinematics)  # physical, above threshold
    rs, cos, m34, m56 = variables_from_invariants(kin).T
    assert rs.min() >= 200 and rs.max() <= 1000 and np.abs(cos).max() <= 1
    assert m34.min() >= 66 and m34.max() <= 116 and m56.min() >= 66 and (m34 + m56 < rs).all()
    np.testing.assert_allclose(ps.to_unit(kin), sample.unit, atol=1e-9)
    np.testing.assert_allclose(invariants_from_variables(variables_from_invariants(kin)), kin, rtol=1e-12, atol=1e-6)
    p = vv_momenta(kin)
    metric = np.array([1.0, -1.0, -1.0, -1.0])
    np.testing.assert_allclose(p[:, 0] + p[:, 1] - p[:, 2] - p[:, 3], 0, atol=1e-9)
    np.testing.assert_allclose(np.einsum("na,na,a->n", p[:, 2], p[:, 2], metric), kin[:, 2], rtol=1e-9)
    np.testing.assert_allclose(np.einsum("na,na,a->n", p[:, 3], p[:, 3], metric), kin[:, 3], rtol=1e-9)
    q = p[:, 0] - p[:, 2]
    np.testing.assert_allclose(np.einsum("na,na,a->n", q, q, metric), kin[:, 1], rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("sqrt_s_map", ["linear", "log"])
def test_phase_space_jacobian(sqrt_s_map: str) -> None:
    ps = VVPhaseSpace("ud_WZ", sqrt_s_range=(110.0, 400.0), sqrt_s_map=sqrt_s_map)  # thresholds bind here
    u = np.random.default_rng(2).uniform(0.05, 0.95, (20, 4))
    _, w = ps.from_unit(u)
    h = 1e-6
    for k in range(len(u)):
        jac = np.empty((4, 4))
        for d in range(4):
            up, dn = u[k : k + 1].copy(), u[k : k + 1].copy()
            up[0, d] += h
            dn[0, d] -= h
            jac[:, d] = (
                variables_from_invariants(ps.from_unit(up)[0]) - variables_from_invariants(ps.from_unit(dn)[0])
            )[0] / (2 * h)
        assert w[k] == pytest.approx(abs(np.linalg.det(jac)), rel=1e-5)
    flat = VVPhaseSpace("uu_ZZ", sqrt_s_range=(240.0, 1000.0))  # no threshold constraint binds: constant weight
    np.testing.assert_allclose(flat.sample(100, 3).weights, 760.0 * 2 * 50.0 * 50.0)
    with pytest.raises(ValueError, match="not above m34_min"):
        VVPhaseSpace("uu_ZZ", sqrt_s_range=(100.0, 1000.0))


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
    assert oracle.output_names == default_targets() and values.shape == (len(points), 20)
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
    oracle = VVAmpOracle("uu_ZZ", library=str(shim), precision="double")
    below = points[:3].copy()
    below[1, 0] = (np.sqrt(below[1, 2]) + np.sqrt(below[1, 3])) ** 2 * 0.99
    wrong_t = points[:3].copy()
    wrong_t[2, 1] = 10.0  # t > 0 is outside the physical range
    negative = points[:3].copy()
    negative[0, 3] = -1.0
    for bad, message in (
        (points[:, :3], r"expected shape \(N, 4\)"),
        (points.astype(np.float32), "expected dtype float64"),
        (points.tolist(), "expected a numpy array"),
        (below, "point 1 is below threshold"),
        (wrong_t, "point 2 has t = 10 GeV² outside its physical range"),
        (negative, "point 0 has mb2 = -1 GeV², must be > 0"),
    ):
        with pytest.raises(OracleInputError, match=message):
            oracle(bad)


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


def test_vector_oracle_protocol_reports_failures() -> None:
    class Half(VectorOracle):
        name = "half"
        input_names = ("x",)

        @property
        def output_names(self) -> tuple[str, ...]:
            return ("y", "z")

        def validate(self, x: np.ndarray) -> np.ndarray:
            return np.asarray(x, dtype=np.float64)

        def _evaluate(self, x: np.ndarray) -> tuple[np.ndarray, list[str]]:
            y = np.stack([-x[:, 0], np.where(x[:, 0] > 0, x[:, 0], np.nan)], axis=1)
            return y, [""] * len(x)

    oracle = Half()
    result = oracle.evaluate(np.array([[1.0], [-1.0], [2.0]]))
    assert result.ok.tolist() == [True, False, True] and result.reasons == ("", "nan", "")
    assert np.isnan(result.values[1]).all() and result.values[0, 0] == -1.0  # negative values are valid
    with pytest.raises(VectorOracleOutputError, match="1 of 3 points failed") as info:
        oracle(np.array([[1.0], [-1.0], [2.0]]))
    assert info.value.result.n_failed == 1
    assert oracle.provenance()["outputs"] == ["y", "z"]


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


def _boost_z(p: np.ndarray, beta: float) -> np.ndarray:
    gamma = 1 / np.sqrt(1 - beta**2)
    out = p.copy()
    out[..., 0] = gamma * (p[..., 0] + beta * p[..., 3])
    out[..., 3] = gamma * (p[..., 3] + beta * p[..., 0])
    return out


@pytest.mark.parametrize("name", ["uu_ZZ", "dd_ZZ", "ud_WZ", "uu_WW"])
def test_invariants_from_momenta_inverts_vv_momenta(name: str) -> None:
    sample = VVPhaseSpace(name).sample(5000, np.random.default_rng(3))
    kin = sample.kinematics
    p = sample.momenta
    assert p.shape == (5000, 4, 4)
    np.testing.assert_array_equal(p, vv_momenta(kin))
    np.testing.assert_allclose(invariants_from_momenta(p), kin, rtol=1e-12)
    # Lorentz invariant: any frame gives the same invariants (to round-off of the boosted components)
    np.testing.assert_allclose(invariants_from_momenta(_boost_z(p, 0.7)), kin, rtol=1e-11)
    with pytest.raises(ValueError, match=r"expected shape \(N, 4, 4\)"):
        invariants_from_momenta(p[:, :3])


def test_validate_kinematics_accepts_momenta() -> None:
    sample = VVPhaseSpace("ud_WZ").sample(50, np.random.default_rng(4))
    k = validate_kinematics(_boost_z(sample.momenta, -0.3))
    assert k.shape == (50, 4) and k.flags.c_contiguous
    np.testing.assert_allclose(k, sample.kinematics, rtol=1e-11)
    assert validate_kinematics(np.empty((0, 4, 4))).shape == (0, 4)
    p = sample.momenta[:4]
    not_conserved = p.copy()
    not_conserved[2, 3, 1] += 0.5
    massive_quark = p.copy()
    massive_quark[1, 0, 0] *= 1.01
    massive_quark[1, 2, 0] += massive_quark[1, 0, 0] - p[1, 0, 0]
    zero_energy = p.copy()
    zero_energy[0, 1] = 0.0
    spacelike = p.copy()
    shift = spacelike[3, 2, 0] - 0.5 * np.linalg.norm(spacelike[3, 2, 1:])
    spacelike[3, 2, 0] -= shift  # V1 spacelike, V2 takes the energy: momentum still conserved
    spacelike[3, 3, 0] += shift
    nan = p.copy()
    nan[0, 2, 2] = np.nan
    for bad, message in (
        (not_conserved, "momentum not conserved at point 2"),
        (massive_quark, "point 1, particle 0 .* is not massless"),
        (zero_energy, "point 0, particle 1 has energy 0 GeV"),
        (nan, "non-finite momenta at point 0"),
        (p[:, :, :3], r"expected shape \(N, 4\) .* or \(N, 4, 4\)"),
        (p.astype(np.float32), "expected dtype float64"),
    ):
        with pytest.raises(OracleInputError, match=message):
            validate_kinematics(bad, what="momenta")
    with pytest.raises(OracleInputError, match="momenta: point 3 has ma2 = -.* GeV², must be > 0"):
        validate_kinematics(spacelike, what="momenta")


def test_phase_space_sample_is_a_drop_in_for_the_active_loop() -> None:
    ps = VVPhaseSpace("uu_WW")
    a = ps.sample(20, np.random.default_rng(8), only_accepted=True)
    b = ps.sample(20, np.random.default_rng(8), only_accepted=False)
    np.testing.assert_array_equal(a.kinematics, b.kinematics)
    assert a.momenta.shape == (20, 4, 4) and len(a) == 20
    assert ps.process.name == "uu_WW" and ps.process.as_process().kinds[2:] == ("W", "W")


def test_vvamp_oracle_takes_momenta(shim: Path, points: np.ndarray) -> None:
    oracle = VVAmpOracle("uu_ZZ", library=str(shim), precision="quad", targets=["A1.A.0.re", "A2.B.2.im"])
    from_momenta = oracle(vv_momenta(points[:20]))
    np.testing.assert_allclose(from_momenta, oracle(points[:20]), rtol=1e-9)
    assert oracle.process.name == "uu_ZZ"


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
            "trainer": {"round_epochs": 10, "torch_threads": 1},
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
    kin = invariants_from_momenta(train.momenta)
    a, _ = analytic(kin)
    expected = np.stack([a[:, 0, 0, 2, 0], a[:, 0, 0, 2, 1], a[:, 2, 1, 1, 0]], axis=1)
    np.testing.assert_allclose(train.values, expected, rtol=1e-12)
    assert set(statuses[-1].metrics.per_output) == set(targets)
