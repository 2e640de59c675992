"""Tests of the hybrid oracle ``surrogate``: the σ_tot/⟨A⟩ split, per-point provenance, the store of exact labels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import oracles
from activeamp.data.dataset import OracleConfig
from activeamp.data.labelling import label_store
from activeamp.data.store import ShardStore
from activeamp.surrogate.surrogate import Surrogate
from oracles.base import OracleInputError
from oracles.mock import MockOracle
from oracles.surrogate import SURROGATE, HybridResult, SurrogateOracle, point_ids
from tests.conftest import UNPHYSICAL_MESSAGES, physical_points, unphysical

pytestmark = pytest.mark.usefixtures("single_thread")

#: A surrogate that trains in a fraction of a second (a deep ensemble: no Laplace calibration); σ_tot/⟨A⟩ ≈ 16 %.
TINY = {"family": "ensemble", "n_members": 3, "hidden": [16, 16], "batch_size": 128, "max_epochs": 6, "seed": 3}


class CountingMock(MockOracle):
    """The mock oracle, recording the size of every batch it evaluates."""

    def __init__(self, **options: float) -> None:
        super().__init__("gg_yyg", **options)
        self.calls: list[int] = []

    def _evaluate(self, x: np.ndarray) -> np.ndarray | tuple[np.ndarray, list[str]]:
        self.calls.append(len(x))
        return super()._evaluate(x)


def _train(tmp: Path, name: str, x: np.ndarray, y: np.ndarray, **config: object) -> Path:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped fixtures run before the function-scoped single_thread one
    try:
        s = Surrogate({**TINY, **config})
        s.fit(x, y, progress=False)
    finally:
        torch.set_num_threads(threads)
    return s.save(tmp / name)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scalar g g → γ γ g surrogate of the mock oracle (300 points), saved as ``model.pt``."""
    x = physical_points("gg_yyg", 300, seed=3)
    return _train(tmp_path_factory.mktemp("model"), "model.pt", x, MockOracle("gg_yyg")(x), process="gg_yyg")


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    """60 g g → γ γ g points [GeV], none of them training points."""
    return physical_points("gg_yyg", 60, seed=29)


@pytest.fixture(scope="module")
def relative(model: Path, points: np.ndarray) -> np.ndarray:
    """σ_tot/⟨A⟩ ``(60,)`` of the model at ``points``."""
    pred = Surrogate.load(model).predict(points)
    return pred.sigma_tot / pred.mean


def test_tiny_threshold_sends_every_point_to_the_wrapped_oracle(model: Path, points: np.ndarray) -> None:
    wrapped = CountingMock()
    hybrid = SurrogateOracle(model, oracle=wrapped, threshold=1e-12)
    result = hybrid.evaluate(points)
    assert isinstance(result, HybridResult) and wrapped.calls == [60]
    np.testing.assert_array_equal(result.values, MockOracle("gg_yyg")(points))
    assert result.answered_by == ("mock",) * 60 and not result.by_surrogate.any() and result.ok.all()
    assert (hybrid.n_surrogate, hybrid.n_oracle, hybrid.n_oracle_calls) == (0, 60, 1)


def test_huge_threshold_never_calls_the_wrapped_oracle(model: Path, points: np.ndarray) -> None:
    wrapped = CountingMock()
    hybrid = SurrogateOracle(model, oracle=wrapped, threshold=1e300)
    values = hybrid(points)
    assert wrapped.calls == [] and hybrid.n_oracle_calls == 0 and hybrid.n_surrogate == 60
    np.testing.assert_array_equal(values, Surrogate.load(model).predict(points).mean)
    result = hybrid.evaluate(points)
    assert result.answered_by == (SURROGATE,) * 60 and result.ok.all() and wrapped.calls == []
    # fewer weight samples: another prediction, still the surrogate's
    few = SurrogateOracle(model, oracle=wrapped, threshold=1e300, n_samples=4)(points)
    np.testing.assert_array_equal(few, Surrogate.load(model).predict(points, 4).mean)


def test_threshold_splits_the_points_by_relative_uncertainty(
    model: Path, points: np.ndarray, relative: np.ndarray
) -> None:
    threshold = float(np.median(relative))
    mine = relative <= threshold
    assert 0 < mine.sum() < 60
    wrapped = CountingMock()
    hybrid = SurrogateOracle(model, oracle=wrapped, threshold=threshold)
    result = hybrid.evaluate(points)
    np.testing.assert_array_equal(result.by_surrogate, mine)
    np.testing.assert_array_equal(result.relative_sigma, relative)
    assert [who for who, m in zip(result.answered_by, mine, strict=True) if not m] == ["mock"] * int((~mine).sum())
    np.testing.assert_array_equal(result.values[mine], Surrogate.load(model).predict(points).mean[mine])
    np.testing.assert_array_equal(result.values[~mine], MockOracle("gg_yyg")(points[~mine]))
    assert wrapped.calls == [int((~mine).sum())]
    answered = hybrid.provenance()["answered"]
    assert answered == {"surrogate": int(mine.sum()), "oracle": int((~mine).sum()), "oracle_calls": 1, "stored": 0}


def test_failures_of_the_wrapped_oracle_keep_their_reason(model: Path, points: np.ndarray) -> None:
    hybrid = SurrogateOracle(model, oracle="mock", oracle_options={"nan_rate": 0.3}, threshold=1e-12)
    result = hybrid.evaluate(points)
    expected = MockOracle("gg_yyg", nan_rate=0.3).evaluate(points)
    assert 0 < result.n_failed < 60
    np.testing.assert_array_equal(result.ok, expected.ok)
    assert result.reasons == expected.reasons
    assert hybrid.evaluate(points[:0]).values.shape == (0,) and hybrid.n_oracle_calls == 1
    with pytest.raises(OracleInputError, match=UNPHYSICAL_MESSAGES["px"]):
        hybrid.evaluate(unphysical(points, "px"))


def test_store_gets_the_wrapped_oracles_labels_once(
    model: Path, points: np.ndarray, relative: np.ndarray, tmp_path: Path
) -> None:
    threshold = float(np.median(relative))
    exact = ~(relative <= threshold)
    path = tmp_path / "labels"
    options = {"nan_rate": 0.3}
    hybrid = SurrogateOracle(model, oracle="mock", oracle_options=options, threshold=threshold, store=path)
    first = points[:40]
    result = hybrid.evaluate(first)
    store = ShardStore.open(path)
    assert store.process.name == "gg_yyg"
    truth = MockOracle("gg_yyg", **options).evaluate(first)
    sent = np.flatnonzero(exact[:40])
    ids = point_ids(first[sent])
    records = store.read(columns=["point_id", "status", "amplitude", "reason", "oracle", "split"])
    assert sorted(records["point_id"].to_pylist()) == sorted(ids.tolist())  # only the wrapped oracle's points
    by_id = {pid: i for i, pid in enumerate(records["point_id"].to_pylist())}
    rows = [by_id[pid] for pid in ids]
    stored = np.array(records["amplitude"].to_pylist(), dtype=float)[rows]
    np.testing.assert_array_equal(stored, truth.values[sent])
    assert [records["status"][i].as_py() == "ok" for i in rows] == truth.ok[sent].tolist()
    assert [records["reason"][i].as_py() for i in rows] == [truth.reasons[i] for i in sent]
    assert set(records["oracle"].to_pylist()) == {"mock"} and set(records["split"].to_pylist()) == {"train"}
    assert result.answered_by.count("mock") == len(sent) == hybrid.n_stored
    assert 0 < int((~truth.ok[sent]).sum()) < len(sent)  # failed points are stored too

    # again, with the first points once more and new ones: only the new points of the wrapped oracle are appended
    hybrid.evaluate(points)
    again = SurrogateOracle(model, oracle="mock", oracle_options=options, threshold=threshold, store=path)
    again.evaluate(np.concatenate([points, points[:5]]))  # a fresh oracle knows what the store holds
    assert again.n_stored == 0 and again.n_oracle == int(exact.sum()) + int(exact[:5].sum())
    reopened = ShardStore.open(path)
    all_ids = point_ids(points[exact])
    raw = reopened.records(columns=["point_id"])["point_id"].to_pylist()
    assert sorted(raw) == sorted(all_ids.tolist())  # one record per point: nothing appended twice
    assert hybrid.n_stored == len(all_ids)
    report = reopened.validate()
    assert report.ok, report.message()
    labelled = reopened.arrays("train")
    truth_all = MockOracle("gg_yyg", **options).evaluate(points[exact])
    assert len(labelled) == int(truth_all.ok.sum())
    order = {pid: i for i, pid in enumerate(all_ids.tolist())}
    np.testing.assert_array_equal(labelled.amplitude, truth_all.values[[order[p] for p in labelled.ids]])
    # a point repeated within one batch is appended once
    twice = SurrogateOracle(model, oracle="mock", threshold=1e-12, store=tmp_path / "twice")
    twice.evaluate(np.concatenate([points[:10], points[:10]]))
    assert twice.n_oracle == 20 and twice.n_stored == 10 and ShardStore.open(tmp_path / "twice").validate().ok


def test_store_of_another_process_is_refused(model: Path, tmp_path: Path) -> None:
    ShardStore.create(tmp_path / "yy", "gg_yy")
    with pytest.raises(ValueError, match="store: .*existing store has process 'gg_yy', requested 'gg_yyg'"):
        SurrogateOracle(model, oracle="mock", store=tmp_path / "yy")
    with pytest.raises(ValueError, match="store_split 'bulk' is not one of"):
        SurrogateOracle(model, oracle="mock", store=tmp_path / "new", store_split="bulk")


@pytest.mark.parametrize("threshold", [0.0, -1e-3, float("nan"), float("inf"), "tight"])
def test_bad_threshold_is_named(model: Path, threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        SurrogateOracle(model, oracle="mock", threshold=threshold)


def test_mismatches_are_named(model: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"model\.pt learned process gg_yyg, not gg_yy$"):
        SurrogateOracle(model, oracle="mock", process="gg_yy")
    with pytest.raises(ValueError, match="learned process gg_yyg, not gg_yy"):
        oracles.get("surrogate", model=model, process="gg_yy")
    with pytest.raises(ValueError, match="wrapped oracle 'mock' computes gg_yy, the model learned gg_yyg"):
        SurrogateOracle(model, oracle=MockOracle("gg_yy"))
    with pytest.raises(ValueError, match="oracle_options.process is 'gg_yy', the model learned gg_yyg"):
        SurrogateOracle(model, oracle="mock", oracle_options={"process": "gg_yy"})
    with pytest.raises(ValueError, match="is not a file"):
        SurrogateOracle(tmp_path / "missing.pt")
    x = physical_points("gg_yyg", 100, seed=5)
    y = MockOracle("gg_yyg")(x)
    vector = _train(tmp_path, "vector.pt", x, np.stack([y, -y], axis=1), process="gg_yyg", max_epochs=1,
                    target_transform="signed")
    with pytest.raises(ValueError, match="vector model with 2 outputs; only scalar"):
        SurrogateOracle(vector, oracle="mock")


def test_registry_and_labelling_build_it(model: Path, points: np.ndarray, tmp_path: Path) -> None:
    hybrid = oracles.get("surrogate", model=str(model), process="gg_yyg")
    assert isinstance(hybrid, SurrogateOracle) and hybrid.process.name == "gg_yyg"
    assert hybrid.oracle.name == "gg_yyg" and hybrid.cost_hint == hybrid.oracle.cost_hint  # "exact" by default
    prov = hybrid.provenance()
    assert prov["name"] == "surrogate" and prov["options"]["threshold"] == 1e-3
    assert prov["options"]["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert prov["wrapped"]["name"] == "gg_yyg" and "torch" in prov["versions"]
    # what `activeamp label --oracle surrogate -o model=... -o oracle=mock -o threshold=...` builds and runs
    built = OracleConfig("surrogate", {"model": str(model), "oracle": "mock", "threshold": 1e300}).build("gg_yyg")
    store = ShardStore.create(tmp_path / "store", "gg_yyg")
    store.append_points(point_ids(points[:10]), points[:10], split="test", round=0, batch=0)
    report = label_store(store, built, progress=False)
    assert report.n_ok == 10 and built.n_surrogate == 10
    labelled, order = store.arrays("test"), {pid: i for i, pid in enumerate(point_ids(points[:10]))}
    expected = built(points[:10])[[order[pid] for pid in labelled.ids]]
    np.testing.assert_allclose(labelled.amplitude, expected, rtol=1e-6)  # batch order may change float32 round-off
