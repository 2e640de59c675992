"""Tests of appends: points (idempotent, conflicts named), labels as plain arrays (values, ok, reasons), provenance."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from activeamp.data.store import DuplicateLabelError, ShardStore, StoreInputError, make_point_ids
from activeamp.data.store.append import provenance_json
from tests.conftest import UNPHYSICAL_MESSAGES, two_body_points, unphysical
from tests.data.store.conftest import PROCESS, points, shards, vv_points


def test_repeated_append_is_idempotent_and_conflicts_raise(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = points(store, rng, 10)
    assert store.append_points(ids, p, split="train", round=0, batch=0) == []
    assert len(shards(store)) == 1
    q = p.copy()
    q[3, 2:, 3] *= -1  # the outgoing photons mirrored in z: another physical point
    with pytest.raises(StoreInputError, match=f"{ids[3]}.*different momenta"):
        store.append_points(ids, q, split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="split"):
        store.append_points(ids, p, split="test", round=0, batch=0)


def test_input_validation(store: ShardStore, rng: np.random.Generator) -> None:
    ids = make_point_ids(1, 0, 0, 3)
    p = two_body_points(3, rng)
    with pytest.raises(StoreInputError, match=r"shape \(3, 4, 4\)"):
        store.append_points(ids, p[:, :3], split="train", round=0, batch=0)
    bad = p.copy()
    bad[1, 0, 0] = np.nan
    with pytest.raises(StoreInputError, match="non-finite.*point 1"):
        store.append_points(ids, bad, split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="unknown split 'training'"):
        store.append_points(ids, p, split="training", round=0, batch=0)
    with pytest.raises(StoreInputError, match="repeated id"):
        store.append_points(np.array([ids[0], ids[0], ids[1]]), p, split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="round"):
        store.append_points(ids, p, split="train", round=-1, batch=0)
    with pytest.raises(StoreInputError, match="batch"):
        store.append_points(ids, p, split="train", round=0, batch=[0, 1])
    with pytest.raises(StoreInputError, match="marked ok"):
        values, ok = np.array([1.0, np.nan, 2.0]), np.ones(3, bool)
        store.append_labels(ids, p, values, ok=ok, reasons=("",) * 3, oracle="mock", split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="provenance"):
        store.append_labels(ids, p, [1.0, 2.0, 3.0], oracle="mock", provenance="{bad", split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="oracle: expected a non-empty name"):
        store.append_labels(ids, p, [1.0, 2.0, 3.0], oracle="", split="train", round=0, batch=0)
    with pytest.raises(StoreInputError, match="unknown column"):
        store.read(columns=["momenta", "energy"])
    with pytest.raises(StoreInputError, match="unknown status"):
        store.read(status="done")
    assert shards(store) == []


@pytest.mark.parametrize("kind", sorted(UNPHYSICAL_MESSAGES))
def test_unphysical_momenta_are_refused_naming_store_and_rows(
    store: ShardStore, rng: np.random.Generator, kind: str
) -> None:
    message = UNPHYSICAL_MESSAGES[kind]
    ids = make_point_ids(1, 0, 0, 8)
    bad = unphysical(two_body_points(8, rng), kind)
    with pytest.raises(StoreInputError, match=message) as err:
        store.append_points(ids, bad, split="train", round=0, batch=0)
    assert str(err.value).startswith(f"{store.path}: momenta: ")
    assert str(err.value).endswith("2 of 8 points fail this check, at rows 3, 5")
    with pytest.raises(StoreInputError, match=message):
        store.append_labels(ids, bad, np.ones(8), oracle="o", split="train", round=0, batch=0)
    assert shards(store) == []


def test_vector_store_checks_momenta_but_not_boson_masses(vstore: ShardStore) -> None:
    ids, p = vv_points(vstore, 6)  # off-shell Z bosons are fine
    bad = p.copy()
    bad[2, 3, 1] += 10.0
    with pytest.raises(StoreInputError, match=f"{vstore.path}: momenta: momentum not conserved at point 2"):
        vstore.append_points(make_point_ids(9, 0, 0, 6), bad, split="train", round=0, batch=0)
    assert len(vstore.unlabelled()) == 6


def test_labels_with_status_and_reasons(store: ShardStore, rng: np.random.Generator) -> None:
    ids, _ = points(store, rng, 4)
    values = np.array([1.0, -5.0, np.nan, 2.0])  # entries of failed points are ignored, whatever they hold
    ok = np.array([True, False, False, True])
    store.append_labels(ids, None, values, ok=ok, reasons=("", "timeout", "", ""), oracle="o")
    table = store.read(columns=["status", "reason", "amplitude", "oracle"])
    assert table["status"].to_pylist() == ["ok", "failed", "failed", "ok"]
    assert table["reason"].to_pylist() == ["", "timeout", "failed", ""]
    assert table["amplitude"].to_pylist() == [1.0, None, None, 2.0] and set(table["oracle"].to_pylist()) == {"o"}
    with pytest.raises(StoreInputError, match="expected 4 reasons, got 2"):
        store.append_labels(ids, None, values, ok=ok, reasons=("a", "b"), oracle="o", on_duplicate="ignore")
    with pytest.raises(StoreInputError, match="ok: expected a bool array"):
        store.append_labels(ids, None, values, ok=[1, 0, 0, 1], oracle="o", on_duplicate="ignore")  # type: ignore[list-item]
    # without ok the values decide: NaN, infinite and negative amplitudes fail, with their reason
    more, _ = points(store, rng, 4, batch=1)
    store.append_labels(more, None, [3.0, -1.0, np.inf, -np.inf], oracle="o")
    failed = store.read(status="failed", columns=["point_id", "reason"])
    assert dict(zip(*failed.to_pydict().values(), strict=True)) == {
        ids[1]: "timeout",
        ids[2]: "failed",
        more[1]: "negative",
        more[2]: "inf",
        more[3]: "negative",
    }
    # retrying the failed points: a label that only marks some points ok leaves the others failed
    store.append_labels(ids[1:3], None, [4.0, 0.0], ok=np.array([True, False]), oracle="retry")
    assert store.labelled_ids(include_failed=False) == frozenset([ids[0], ids[1], ids[3], more[0]])


def test_provenance_is_stored_as_json(store: ShardStore, rng: np.random.Generator) -> None:
    assert provenance_json(None) == "{}" and provenance_json('{"a": 1}') == '{"a": 1}'
    prov = {"seed": np.int64(3), "scale": np.float64(np.nan), "shape": np.arange(2), "b": Path("/x"), "a": object}
    text = provenance_json(prov)
    assert json.loads(text) == {"a": str(object), "b": "/x", "scale": None, "seed": 3, "shape": [0, 1]}
    assert text.index('"a"') < text.index('"b"') < text.index('"seed"')
    ids, _ = points(store, rng, 2)
    store.append_labels(ids, None, [1.0, 2.0], oracle="o", provenance={"seed": np.int64(3)})
    assert store.read(columns=["provenance"])["provenance"].to_pylist() == ['{"seed": 3}'] * 2


def test_new_points_can_be_labelled_directly(store: ShardStore, rng: np.random.Generator) -> None:
    ids = make_point_ids("direct", 0, 0, 4)
    p = two_body_points(4, rng)
    with pytest.raises(StoreInputError, match="not in the store.*split, round, batch"):
        store.append_labels(ids, p, np.ones(4), oracle="mock")
    store.append_labels(ids, p, np.ones(4), oracle="mock", split="test", round=1, batch=[0, 0, 1, 1])
    table = store.read(split="test")
    assert table.num_rows == 4 and table["batch"].to_pylist() == [0, 0, 1, 1]
    assert store.read(split="train").num_rows == 0
    with pytest.raises(StoreInputError, match="stored in split 'test'"):
        store.append_labels(ids, p, np.ones(4), oracle="mock", split="train", on_duplicate="ignore")
    q = p.copy()
    q[0, 2:, 3] *= -1  # the outgoing photons mirrored in z: another physical point
    with pytest.raises(StoreInputError, match="different momenta"):
        store.append_labels(ids, q, np.ones(4), oracle="mock", on_duplicate="ignore")


def test_second_ok_label_follows_the_duplicate_policy(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    ids, _ = points(store, rng, 3)
    store.append_labels(ids, None, [1.0, 2.0, 3.0], oracle="first")
    with pytest.raises(DuplicateLabelError, match=r"already have an ok label.*on_duplicate='warn'"):
        store.append_labels(ids[:1], None, [5.0], oracle="second")
    # a failed relabelling is no duplicate
    store.append_labels(ids[:1], None, [np.nan], oracle="second")
    with caplog.at_level(logging.WARNING, logger="activeamp.data.store"):
        store.append_labels(ids[:1], None, [5.0], oracle="second", on_duplicate="warn")
    assert "appending would duplicate" in caplog.text
    store.append_labels(ids[1:2], None, [6.0], oracle="third", on_duplicate="ignore")
    assert store.duplicates()["point_id"].to_pylist() == ids[:2].tolist()


def test_vector_labels_of_the_wrong_shape_are_named(vstore: ShardStore, tmp_path: Path) -> None:
    ids, _ = vv_points(vstore, 4)
    ones = np.ones(4, bool)
    cases = [
        (np.ones(4), None, r"expects values of shape \(4, 3\) for the outputs \['c1', 'c2', 'c3'\], got shape \(4,\)"),
        (np.ones((4, 2)), None, r"expects values of shape \(4, 3\) .* got shape \(4, 2\)"),
        (np.ones((3, 3)), None, r"got shape \(3, 3\)"),
        (np.ones(4), ones, r"got shape \(4,\)"),
        (np.ones((4, 2)), ones, r"got shape \(4, 2\)"),
        (np.array([[1.0, np.nan, 2.0]] * 4), ones, "point 0 .* marked ok but values are"),
        (np.ones((4, 3)), np.ones(3, bool), r"ok: expected a bool array of shape \(4,\)"),
    ]
    for values, ok, match in cases:
        with pytest.raises(StoreInputError, match=match) as err:
            vstore.append_labels(ids, None, values, ok=ok, reasons=("",) * 4, oracle="x")
        assert vstore.path in str(err.value)
    scalar = ShardStore.create(tmp_path / "scalar", PROCESS)
    sids = make_point_ids(0, 0, 0, 4)
    p = two_body_points(4, np.random.default_rng(0))
    for ok in (ones, None):
        with pytest.raises(StoreInputError, match=r"expects 4 values of shape \(4,\), got shape \(4, 3\)") as err:
            scalar.append_labels(sids, p, np.ones((4, 3)), ok=ok, oracle="x", split="train", round=0, batch=0)
        assert scalar.path in str(err.value) and "outputs=" in str(err.value)
    assert len(shards(vstore)) == 1 and shards(scalar) == []
    # values without vector rows (every point failed) and (N, K) values with a status are accepted
    vstore.append_labels(ids, None, np.full(4, np.nan), ok=np.zeros(4, bool), reasons=("oracle error",) * 4, oracle="x")
    assert vstore.read(status="failed")["reason"].to_pylist() == ["oracle error"] * 4
    packed = -np.ones((4, 3))
    vstore.append_labels(ids, None, packed, ok=np.array([True, True, False, True]), reasons=("",) * 4, oracle="x")
    assert len(vstore.arrays()) == 3 and (vstore.arrays().values == -1.0).all() and vstore.validate().ok
    assert vstore.read(status="failed")["reason"].to_pylist() == ["failed"]
