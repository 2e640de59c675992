"""Tests of HDF5 and .npy import/export between files and the shard store."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from activeamp.data.interchange import (
    InterchangeError,
    export_hdf5,
    import_hdf5,
    import_npy,
    read_hdf5,
    read_npy,
)
from activeamp.data.store import ShardStore, make_point_ids
from tests.conftest import UNPHYSICAL_MESSAGES, physical_points, two_body_points, unphysical

PROCESS = "gg_yy"


@pytest.fixture
def labelled(tmp_path: Path, rng: np.random.Generator) -> ShardStore:
    """A store with 12 points: 8 ok (train/test), 2 failed, 2 unlabelled."""
    store = ShardStore.create(tmp_path / "source", PROCESS)
    ids = make_point_ids(5, 0, 0, 12)
    store.append_points(ids, two_body_points(12, rng), split=["train"] * 9 + ["test"] * 3, round=0, batch=0)
    values = np.linspace(1.0, 10.0, 10)
    values[[3, 7]] = np.nan
    store.append_labels(ids[:10], None, values, oracle="mock", provenance={"oracle": "mock", "seed": 5})
    return store


def _write_h5(path: Path, datasets: dict[str, np.ndarray], attrs: dict[str, str] | None = None) -> Path:
    with h5py.File(path, "w") as f:
        for name, data in datasets.items():
            dtype = h5py.string_dtype() if data.dtype.kind in "OU" else data.dtype
            f.create_dataset(name, data=data.astype(object) if data.dtype.kind == "U" else data, dtype=dtype)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return path


# -------------------------------------------------------------------------------------------------- HDF5


def test_hdf5_round_trip(labelled: ShardStore, tmp_path: Path) -> None:
    out = tmp_path / "export.h5"
    assert export_hdf5(labelled, out) == 8
    with h5py.File(out, "r") as f:
        assert f["momenta"].shape == (8, 4, 4) and f["momenta"].dtype == np.float64
        assert f["amplitude"].shape == (8,) and f["amplitude"].dtype == np.float64
        assert f["point_id"].shape == (8,) and "status" not in f
        assert f.attrs["process"] == PROCESS and f.attrs["momentum_units"] == "GeV"
        provenance = json.loads(f.attrs["provenance"])
    assert provenance["oracles"] == {"mock": [{"oracle": "mock", "seed": 5}]}
    assert provenance["status"] == ["ok"] and provenance["store"] == labelled.path
    assert not list(tmp_path.glob(".*"))  # no temporary file of the atomic write is left

    target = ShardStore.create(tmp_path / "target", PROCESS)
    assert import_hdf5(target, out, split="validation", round=3) == 8
    source, copy = labelled.arrays(), target.arrays()
    assert copy.ids.tolist() == source.ids.tolist()
    np.testing.assert_array_equal(copy.momenta, source.momenta)
    np.testing.assert_array_equal(copy.amplitude, source.amplitude)
    table = target.read(columns=["oracle", "provenance", "split", "round"])
    assert set(table["oracle"].to_pylist()) == {"import:export.h5"}
    assert set(table["split"].to_pylist()) == {"validation"} and set(table["round"].to_pylist()) == {3}
    recorded = json.loads(table["provenance"][0].as_py())
    assert recorded["file_provenance"]["oracles"] == provenance["oracles"]
    assert recorded["source"] == str(out.absolute())

    with pytest.raises(InterchangeError, match="already have a label.*skip_existing"):
        import_hdf5(target, out)
    assert import_hdf5(target, out, skip_existing=True) == 0
    assert target.validate().ok


def test_failed_hdf5_export_keeps_the_old_file(
    labelled: ShardStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "export.h5"
    out.write_bytes(b"previous export")

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(h5py.Group, "create_dataset", crash)
    with pytest.raises(OSError, match="disk on fire"):
        export_hdf5(labelled, out)
    monkeypatch.undo()
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.h5", "source"]


def test_hdf5_export_selection(labelled: ShardStore, tmp_path: Path) -> None:
    assert export_hdf5(labelled, tmp_path / "test.h5", split="test", include_ids=False) == 1
    with h5py.File(tmp_path / "test.h5", "r") as f:
        assert "point_id" not in f and f["amplitude"].shape == (1,)
    assert export_hdf5(labelled, tmp_path / "all.h5", status=["ok", "failed", "unlabelled"]) == 12
    with h5py.File(tmp_path / "all.h5", "r") as f:
        status = [s.decode() for s in f["status"][()]]
        amplitude = f["amplitude"][()]
    assert status.count("ok") == 8 and status.count("failed") == 2 and status.count("unlabelled") == 2
    assert np.isnan(amplitude[np.array(status) != "ok"]).all()
    with pytest.raises(InterchangeError, match="unknown status 'done'"):
        export_hdf5(labelled, tmp_path / "x.h5", status="done")


def test_hdf5_import_without_ids_derives_stable_ids(tmp_path: Path, rng: np.random.Generator) -> None:
    p = two_body_points(6, rng)
    path = _write_h5(tmp_path / "old run.h5", {"momenta": p.reshape(6, 16), "amplitude": np.arange(6.0)[:, None]})
    data = read_hdf5(path, PROCESS)
    assert data.momenta.shape == (6, 4, 4) and data.amplitude.shape == (6,) and data.point_ids is None
    one = ShardStore.create(tmp_path / "one", PROCESS)
    two = ShardStore.create(tmp_path / "two", PROCESS)
    import_hdf5(one, path, batch=2)
    import_hdf5(two, path, batch=2)
    ids = one.arrays().ids
    assert ids.tolist() == two.arrays().ids.tolist()
    assert ids[0] == f"import-old_run-{data.digest()}/r00000/b000002/00000000"
    np.testing.assert_array_equal(one.arrays().momenta, p)
    with pytest.raises(InterchangeError, match="already have a label"):
        import_hdf5(one, path, batch=2)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p, a: ({"amplitude": a}, {"process": PROCESS}), r"dataset '/momenta' missing \(file has: amplitude\)"),
        (lambda p, a: ({"momenta": p}, {"process": PROCESS}), "dataset '/amplitude' missing"),
        (lambda p, a: ({"momenta": p[:, :3], "amplitude": a}, {}), r"/momenta: shape \(5, 3, 4\) does not fit"),
        (lambda p, a: ({"momenta": p, "amplitude": a[:4]}, {}), "/amplitude: 4 amplitudes but 5 points"),
        (lambda p, a: ({"momenta": p, "amplitude": np.stack([a, a], 1)}, {}), r"expected shape \(N,\)"),
        (
            lambda p, a: ({"momenta": np.where(p == p[2, 3, 1], np.inf, p), "amplitude": a}, {}),
            "/momenta: non-finite entries at point 2",
        ),
        (lambda p, a: ({"momenta": p, "amplitude": np.r_[a[:4], np.nan]}, {}), "non-finite amplitude at point 4"),
        (lambda p, a: ({"momenta": p, "amplitude": -a}, {}), "negative amplitude"),
        (lambda p, a: ({"momenta": p, "amplitude": a}, {"process": "gg_yyg"}), "'process' is 'gg_yyg'"),
        (lambda p, a: ({"momenta": p, "amplitude": a}, {"process": "qq_zz"}), "attribute 'process'"),
        (lambda p, a: ({"momenta": p.astype("S8"), "amplitude": a}, {}), "expected real numbers"),
        (
            lambda p, a: ({"momenta": p, "amplitude": a, "point_id": np.array(["a", "b", "a", "c", "d"])}, {}),
            "/point_id: repeated point id 'a'",
        ),
        (
            lambda p, a: ({"momenta": p, "amplitude": a, "point_id": np.array(["a", "b"])}, {}),
            r"/point_id: expected shape \(5,\)",
        ),
    ],
)
def test_hdf5_validation_errors_name_file_and_dataset(
    tmp_path: Path, rng: np.random.Generator, make: Callable[..., tuple[dict, dict]], match: str
) -> None:
    datasets, attrs = make(two_body_points(5, rng), np.linspace(1, 2, 5))
    path = _write_h5(tmp_path / "bad.h5", datasets, attrs)
    store = ShardStore.create(tmp_path / "store", PROCESS)
    with pytest.raises(InterchangeError, match=match) as err:
        import_hdf5(store, path)
    assert str(path) in str(err.value)
    assert store.read().num_rows == 0


def test_hdf5_unreadable_or_unlabelled_process(tmp_path: Path, rng: np.random.Generator) -> None:
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(InterchangeError, match="junk.h5: not a readable HDF5 file"):
        read_hdf5(junk, PROCESS)
    path = _write_h5(tmp_path / "plain.h5", {"momenta": two_body_points(3, rng), "amplitude": np.ones(3)})
    with pytest.raises(InterchangeError, match="no attribute 'process'"):
        read_hdf5(path)
    path = _write_h5(
        tmp_path / "prov.h5",
        {"momenta": two_body_points(3, rng), "amplitude": np.ones(3)},
        {"process": PROCESS, "provenance": "NJet 3.1, not JSON"},
    )
    data = read_hdf5(path)
    assert data.process == PROCESS and data.provenance == {"text": "NJet 3.1, not JSON"}


def _beam_point(p: np.ndarray, row: int) -> np.ndarray:
    """``p`` with the photons of ``row`` close to the beam (pT 22 GeV, |η| 3.8): physical, outside the cuts."""
    q = p.copy()
    e, cos = q[row, 0, 0], 0.999
    q[row, 2] = [e, e * np.sqrt(1 - cos**2), 0.0, e * cos]
    q[row, 3] = q[row, 0] + q[row, 1] - q[row, 2]
    return q


@pytest.mark.parametrize("kind", sorted(UNPHYSICAL_MESSAGES))
@pytest.mark.parametrize("fmt", ["hdf5", "npy"])
def test_unphysical_points_are_refused_naming_file_and_rows(
    tmp_path: Path, rng: np.random.Generator, kind: str, fmt: str
) -> None:
    p = unphysical(two_body_points(8, rng), kind)
    store = ShardStore.create(tmp_path / "store", PROCESS)
    if fmt == "hdf5":
        where = str(_write_h5(tmp_path / "bad.h5", {"momenta": p, "amplitude": np.ones(8)})) + ":/momenta"
        call = lambda: import_hdf5(store, tmp_path / "bad.h5")  # noqa: E731
    else:
        np.save(tmp_path / "m.npy", p)
        np.save(tmp_path / "a.npy", np.ones(8))
        where = str(tmp_path / "m.npy")
        call = lambda: import_npy(store, tmp_path / "m.npy", tmp_path / "a.npy")  # noqa: E731
    with pytest.raises(InterchangeError, match=UNPHYSICAL_MESSAGES[kind]) as err:
        call()
    assert str(err.value).startswith(f"{where}: ")
    assert str(err.value).endswith("2 of 8 points fail this check, at rows 3, 5")
    assert store.read().num_rows == 0


def test_float32_momenta_that_break_the_checks_get_a_hint(tmp_path: Path) -> None:
    p = physical_points("gg_yyg", 20, seed=4)
    np.save(tmp_path / "m.npy", p.astype(np.float32))
    np.save(tmp_path / "a.npy", np.ones(20))
    with pytest.raises(InterchangeError, match="m.npy: .*holds float32 momenta.*write them as float64"):
        read_npy(tmp_path / "m.npy", tmp_path / "a.npy", "gg_yyg")


@pytest.mark.parametrize("fmt", ["hdf5", "npy"])
def test_points_outside_the_cuts_need_allow_outside_cuts(
    tmp_path: Path, rng: np.random.Generator, caplog: pytest.LogCaptureFixture, fmt: str
) -> None:
    p = _beam_point(_beam_point(two_body_points(6, rng), 2), 4)
    store = ShardStore.create(tmp_path / "store", PROCESS)
    if fmt == "hdf5":
        where = str(_write_h5(tmp_path / "wide.h5", {"momenta": p, "amplitude": np.ones(6)})) + ":/momenta"

        def run(**kwargs: bool) -> int:
            return import_hdf5(store, tmp_path / "wide.h5", **kwargs)
    else:
        np.save(tmp_path / "m.npy", p)
        np.save(tmp_path / "a.npy", np.ones(6))
        where = str(tmp_path / "m.npy")

        def run(**kwargs: bool) -> int:
            return import_npy(store, tmp_path / "m.npy", tmp_path / "a.npy", **kwargs)

    data = read_hdf5(tmp_path / "wide.h5", PROCESS) if fmt == "hdf5" else read_npy(where, tmp_path / "a.npy", PROCESS)
    assert len(data) == 6  # reading applies no cuts, importing does
    with pytest.raises(InterchangeError) as err:
        run()
    assert str(err.value) == (
        f"{where}: point 2 is outside the cuts of gg_yy (fails 'photon: pT > 30 GeV, |η| < 2.37'); "
        "2 of 6 points fail this check, at rows 2, 4; points failing each cut: 'photon: pT > 30 GeV, |η| < 2.37': 2; "
        "a store's points lie inside the process's default cuts "
        "(pass allow_outside_cuts=True, or --allow-outside-cuts, to import them anyway)"
    )
    assert store.read().num_rows == 0
    with caplog.at_level(logging.WARNING, logger="activeamp.data.interchange"):
        assert run(allow_outside_cuts=True) == 6
    assert "2 of 6 points lie outside the cuts of gg_yy" in caplog.text
    np.testing.assert_array_equal(store.arrays().momenta, p)


# --------------------------------------------------------------------------------------------------- npy


def test_npy_import(tmp_path: Path, rng: np.random.Generator) -> None:
    p = two_body_points(7, rng)
    a = np.linspace(1e-3, 1.0, 7)
    np.save(tmp_path / "momenta.npy", p)
    np.save(tmp_path / "flat.npy", p.reshape(7, 16).astype(np.float32))
    np.save(tmp_path / "amp.npy", a)
    store = ShardStore.create(tmp_path / "store", PROCESS)
    assert import_npy(store, tmp_path / "momenta.npy", tmp_path / "amp.npy", split="test") == 7
    arrays = store.arrays(split="test")
    np.testing.assert_array_equal(arrays.momenta, p)
    np.testing.assert_array_equal(arrays.amplitude, a)
    assert arrays.ids[0].startswith("import-momenta-")
    assert set(store.read()["oracle"].to_pylist()) == {"import:momenta.npy"}
    flat = read_npy(tmp_path / "flat.npy", tmp_path / "amp.npy", PROCESS)
    assert flat.momenta.shape == (7, 4, 4) and flat.momenta.dtype == np.float64
    np.testing.assert_allclose(flat.momenta, p, rtol=1e-6)
    with pytest.raises(InterchangeError, match="already have a label"):
        import_npy(store, tmp_path / "momenta.npy", tmp_path / "amp.npy")
    assert import_npy(store, tmp_path / "momenta.npy", tmp_path / "amp.npy", id_prefix="again") == 7
    assert store.summary().n_points == 14


@pytest.mark.parametrize(
    ("momenta", "amplitude", "match"),
    [
        (lambda p: p[:, :, :3], lambda a: a, r"momenta.npy: shape \(4, 4, 3\) does not fit process gg_yy"),
        (lambda p: p.reshape(4, 8, 2), lambda a: a, r"expected \(N, 4, 4\) or \(N, 16\)"),
        (lambda p: p, lambda a: a[:3], "amp.npy: 3 amplitudes but 4 points"),
        (lambda p: np.where(p > 400, np.nan, p), lambda a: a, "momenta.npy: non-finite entries at point 0"),
        (lambda p: p, lambda a: np.r_[np.inf, a[1:]], "amp.npy: non-finite amplitude at point 0"),
        (lambda p: p, lambda a: np.array(["x"] * 4), "amp.npy: expected real numbers"),
    ],
)
def test_npy_validation_errors(
    tmp_path: Path,
    rng: np.random.Generator,
    momenta: Callable[[np.ndarray], np.ndarray],
    amplitude: Callable[[np.ndarray], np.ndarray],
    match: str,
) -> None:
    np.save(tmp_path / "momenta.npy", momenta(two_body_points(4, rng)))
    np.save(tmp_path / "amp.npy", amplitude(np.ones(4)))
    store = ShardStore.create(tmp_path / "store", PROCESS)
    with pytest.raises(InterchangeError, match=match):
        import_npy(store, tmp_path / "momenta.npy", tmp_path / "amp.npy")
    assert store.read().num_rows == 0


def test_npy_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "m.npy").write_bytes(b"garbage")
    np.save(tmp_path / "a.npy", np.ones(2))
    with pytest.raises(InterchangeError, match=r"m.npy: not a readable \.npy file"):
        read_npy(tmp_path / "m.npy", tmp_path / "a.npy", PROCESS)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(InterchangeError, match=r"obj.npy: not a readable \.npy file"):
        read_npy(tmp_path / "obj.npy", tmp_path / "a.npy", PROCESS)
    with pytest.raises(InterchangeError, match="missing.npy"):
        read_npy(tmp_path / "missing.npy", tmp_path / "a.npy", PROCESS)


def test_import_conflicting_with_stored_points_names_the_file(tmp_path: Path, rng: np.random.Generator) -> None:
    store = ShardStore.create(tmp_path / "store", PROCESS)
    ids = np.array(["p0", "p1", "p2"])
    store.append_points(ids, two_body_points(3, rng), split="train", round=0, batch=0)
    path = _write_h5(
        tmp_path / "clash.h5", {"momenta": two_body_points(3, rng), "amplitude": np.ones(3), "point_id": ids}
    )
    with pytest.raises(InterchangeError, match="clash.h5: cannot import.*'p0'.*different momenta"):
        import_hdf5(store, path)
    assert len(store.arrays()) == 0


# ------------------------------------------------------------------------------------------ vector labels

VV_PROCESS = "uu_ZZ"
OUTPUTS = ("c1", "c2", "c3")


@pytest.fixture
def vlabelled(tmp_path: Path) -> ShardStore:
    """A vector store with 10 points: 8 ok (signed values), 1 failed, 1 unlabelled."""
    from activeamp.physics.vv_phasespace import VVPhaseSpace
    from oracles.mock import MockVectorOracle

    store = ShardStore.create(tmp_path / "vsource", VV_PROCESS, outputs=OUTPUTS)
    ids = make_point_ids(6, 0, 0, 10)
    p = VVPhaseSpace(VV_PROCESS).sample(10, np.random.default_rng(1)).momenta
    store.append_points(ids, p, split="train", round=0, batch=0)
    values = MockVectorOracle(n_outputs=3)(p[:9])
    values[4, 2] = np.nan
    store.append_labels(ids[:9], None, values, oracle="mock_vv", provenance={"oracle": "mock_vv"})
    return store


def test_hdf5_vector_round_trip(vlabelled: ShardStore, tmp_path: Path) -> None:
    out = tmp_path / "vexport.h5"
    assert export_hdf5(vlabelled, out) == 8
    with h5py.File(out, "r") as f:
        assert f["momenta"].shape == (8, 4, 4) and f["values"].shape == (8, 3) and f["values"].dtype == np.float64
        assert "amplitude" not in f and "amplitude_units" not in f.attrs
        assert json.loads(f.attrs["outputs"]) == list(OUTPUTS) and f.attrs["process"] == VV_PROCESS
    data = read_hdf5(out)
    assert data.outputs == OUTPUTS and data.values.shape == (8, 3) and np.isnan(data.amplitude).all()
    target = ShardStore.create(tmp_path / "vtarget", VV_PROCESS, outputs=OUTPUTS)
    assert import_hdf5(target, out, split="test") == 8
    source, copy = vlabelled.arrays(), target.arrays("test")
    assert copy.ids.tolist() == source.ids.tolist() and (source.values < 0).any()
    np.testing.assert_array_equal(copy.values, source.values)
    np.testing.assert_array_equal(copy.momenta, source.momenta)
    assert target.validate().ok
    with pytest.raises(InterchangeError, match="already have a label"):
        import_hdf5(target, out)
    # all statuses: NaN rows where there is no value
    assert export_hdf5(vlabelled, tmp_path / "all.h5", status=["ok", "failed", "unlabelled"]) == 10
    with h5py.File(tmp_path / "all.h5", "r") as f:
        status = np.array([s.decode() for s in f["status"][()]])
        values = f["values"][()]
    assert np.isnan(values[status != "ok"]).all() and np.isfinite(values[status == "ok"]).all()


def test_vector_and_scalar_files_and_stores_do_not_mix(
    vlabelled: ShardStore, labelled: ShardStore, tmp_path: Path
) -> None:
    vfile, sfile = tmp_path / "v.h5", tmp_path / "s.h5"
    export_hdf5(vlabelled, vfile)
    export_hdf5(labelled, sfile)
    scalar_vv = ShardStore.create(tmp_path / "scalar_vv", VV_PROCESS)
    with pytest.raises(
        InterchangeError, match=r"file has vector labels with outputs \['c1', 'c2', 'c3'\] but .* scalar"
    ):
        import_hdf5(scalar_vv, vfile)
    other = ShardStore.create(tmp_path / "other", VV_PROCESS, outputs=["a", "b", "c"])
    with pytest.raises(
        InterchangeError, match=r"attribute 'outputs' is \['c1', 'c2', 'c3'\], expected \['a', 'b', 'c'\]"
    ):
        import_hdf5(other, vfile)
    vector_yy = ShardStore.create(tmp_path / "vector_yy", PROCESS, outputs=OUTPUTS)
    with pytest.raises(InterchangeError, match=r"dataset '/values' missing .*need '/values'"):
        import_hdf5(vector_yy, sfile)
    assert scalar_vv.read().num_rows == 0 and other.read().num_rows == 0 and vector_yy.read().num_rows == 0


def test_hdf5_vector_validation(tmp_path: Path) -> None:
    from activeamp.physics.vv_phasespace import VVPhaseSpace

    p = VVPhaseSpace(VV_PROCESS).sample(5, np.random.default_rng(2)).momenta
    store = ShardStore.create(tmp_path / "store", VV_PROCESS, outputs=OUTPUTS)
    bad_values = np.ones((5, 3))
    bad_values[3, 0] = np.nan
    for datasets, attrs, match in (
        ({"momenta": p, "values": np.ones((5, 2))}, {}, r"/values: expected shape \(N, 3\) for the outputs"),
        ({"momenta": p, "values": np.ones((4, 3))}, {}, "/values: 4 rows of values but 5 points"),
        ({"momenta": p, "values": bad_values}, {}, "/values: non-finite values at point 3"),
        ({"momenta": p, "values": np.ones((5, 3))}, {"outputs": "c1,c2"}, "attribute 'outputs' is 'c1,c2'"),
    ):
        path = _write_h5(tmp_path / "bad.h5", datasets, {"process": VV_PROCESS, **attrs})
        with pytest.raises(InterchangeError, match=match) as err:
            import_hdf5(store, path)
        assert str(path) in str(err.value)
    # no 'outputs' attribute: the store's names are used; reading alone needs them
    path = _write_h5(tmp_path / "plain.h5", {"momenta": p, "values": -np.ones((5, 3))}, {"process": VV_PROCESS})
    with pytest.raises(InterchangeError, match="no attribute 'outputs'.*pass outputs="):
        read_hdf5(path)
    assert import_hdf5(store, path) == 5 and (store.arrays().values == -1.0).all()


def test_npy_vector_import(tmp_path: Path) -> None:
    from activeamp.physics.vv_phasespace import VVPhaseSpace

    p = VVPhaseSpace(VV_PROCESS).sample(6, np.random.default_rng(3)).momenta
    values = np.linspace(-1.0, 1.0, 18).reshape(6, 3)
    np.save(tmp_path / "momenta.npy", p)
    np.save(tmp_path / "values.npy", values)
    np.save(tmp_path / "amp.npy", np.ones(6))
    store = ShardStore.create(tmp_path / "store", VV_PROCESS, outputs=OUTPUTS)
    assert import_npy(store, tmp_path / "momenta.npy", tmp_path / "values.npy", split="validation") == 6
    arrays = store.arrays("validation")
    np.testing.assert_array_equal(arrays.values, values)
    np.testing.assert_array_equal(arrays.momenta, p)
    with pytest.raises(InterchangeError, match=r"amp.npy: expected shape \(N, 3\) for the outputs"):
        import_npy(store, tmp_path / "momenta.npy", tmp_path / "amp.npy", id_prefix="amp")
    data = read_npy(tmp_path / "momenta.npy", tmp_path / "values.npy", VV_PROCESS, outputs=OUTPUTS)
    assert data.outputs == OUTPUTS and data.provenance["outputs"] == list(OUTPUTS)
    scalar = read_npy(tmp_path / "momenta.npy", tmp_path / "amp.npy", VV_PROCESS)
    assert scalar.values is None and data.digest() != scalar.digest()
