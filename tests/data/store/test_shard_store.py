"""Tests of the ShardStore itself: creating and opening, the manifest, vector stores, handles, the package API."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import activeamp.data.store as store_package
from activeamp.data.store import (
    MANIFEST_NAME,
    SCHEMA_VERSION,
    ManifestError,
    ShardStore,
    StoreError,
    StoreInputError,
    StoreNotFoundError,
    store_schema,
)
from activeamp.physics.process import get_process
from tests.data.store.conftest import OUTPUTS, PROCESS, VV_PROCESS, points


def test_package_exports_the_public_names() -> None:
    assert sorted(store_package.__all__) == sorted(
        [
            "SCHEMA_VERSION", "SPLITS", "STATUSES", "MANIFEST_NAME", "StoreError", "StoreNotFoundError",
            "ManifestError", "StoreInputError", "BadShardError", "ShardSchemaError", "DuplicateLabelError",
            "StoreValidationError", "PointSet", "LabelledArrays", "StoreSummary", "ValidationReport", "ShardStore",
            "make_point_ids", "momenta_from_arrow", "store_schema", "values_from_arrow",
        ]
    )  # fmt: skip
    assert all(hasattr(store_package, name) for name in store_package.__all__)
    assert MANIFEST_NAME == "store.json" and SCHEMA_VERSION == 1


def test_create_writes_manifest_and_open_checks_it(tmp_path: Path) -> None:
    store = ShardStore.create(tmp_path / "s", PROCESS, metadata={"run": "test", "seed": np.int64(4)})
    text = (tmp_path / "s" / MANIFEST_NAME).read_text()
    manifest = json.loads(text)
    assert text.endswith("}\n") and list(manifest) == sorted(manifest)
    assert manifest["format"] == "activeamp.shard-store" and manifest["shard_format"] == "arrow-ipc-file"
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["process"] == PROCESS and manifest["n_particles"] == 4
    assert manifest["metadata"] == {"run": "test", "seed": 4} and "created" in manifest and "created_by" in manifest
    assert ShardStore.open(tmp_path / "s").process.name == PROCESS
    assert ShardStore.create(tmp_path / "s", PROCESS, exist_ok=True).path == store.path
    assert repr(store) == f"ShardStore({store.path!r}, process='gg_yy')"
    with pytest.raises(StoreError, match="already exists"):
        ShardStore.create(tmp_path / "s", PROCESS)
    with pytest.raises(StoreError, match="gg_yyg"):
        ShardStore.create(tmp_path / "s", "gg_yyg", exist_ok=True)
    with pytest.raises(StoreInputError, match="not JSON-serialisable"):
        ShardStore.create(tmp_path / "t", PROCESS, metadata={"handle": object()})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(StoreError, match="not empty"):
        ShardStore.create(tmp_path / "other", PROCESS)
    with pytest.raises(StoreNotFoundError, match="store.json"):
        ShardStore.open(tmp_path / "other")


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(schema_version=99), "'schema_version' is 99"),
        (lambda m: m.update(process="gg_zz"), "'process'"),
        (lambda m: m.update(format="other"), "'format'"),
        (lambda m: m.update(n_particles=5), "'n_particles' is 5, process gg_yy has 4"),
    ],
)
def test_bad_manifest_is_named(tmp_path: Path, edit: object, match: str) -> None:
    ShardStore.create(tmp_path, PROCESS)
    path = tmp_path / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    edit(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=match) as err:
        ShardStore.open(tmp_path)
    assert str(path) in str(err.value)
    path.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        ShardStore.open(tmp_path)
    path.write_text("[]")
    with pytest.raises(ManifestError, match="expected a JSON object, got list"):
        ShardStore.open(tmp_path)


def test_vector_store_manifest_schema_and_reopening(tmp_path: Path, vstore: ShardStore) -> None:
    manifest = json.loads((Path(vstore.path) / MANIFEST_NAME).read_text())
    assert manifest["outputs"] == list(OUTPUTS) and manifest["schema_version"] == SCHEMA_VERSION
    assert vstore.outputs == OUTPUTS and vstore.n_outputs == 3 and "outputs=['c1', 'c2', 'c3']" in repr(vstore)
    reopened = ShardStore.open(vstore.path)
    assert reopened.outputs == OUTPUTS and reopened.schema.equals(vstore.schema, check_metadata=True)
    field = vstore.schema.field("values")
    assert field.type == pa.list_(pa.float64(), 3) and field.nullable
    assert json.loads(vstore.schema.metadata[b"activeamp.outputs"]) == list(OUTPUTS)
    assert ShardStore.create(vstore.path, VV_PROCESS, outputs=list(OUTPUTS), exist_ok=True).outputs == OUTPUTS
    with pytest.raises(StoreError, match=r"existing store has outputs \['c1', 'c2', 'c3'\].*requested \['a', 'b'\]"):
        ShardStore.create(vstore.path, VV_PROCESS, outputs=["a", "b"], exist_ok=True)
    with pytest.raises(StoreError, match=r"outputs \['c1', 'c2', 'c3'\] \(vector store\), requested None"):
        ShardStore.create(vstore.path, VV_PROCESS, exist_ok=True)
    # scalar stores are unchanged: no outputs in the manifest, the schema or the metadata
    scalar = ShardStore.create(tmp_path / "scalar", PROCESS)
    assert scalar.outputs is None and scalar.n_outputs is None
    assert "outputs" not in json.loads((tmp_path / "scalar" / MANIFEST_NAME).read_text())
    assert "values" not in scalar.schema.names and b"activeamp.outputs" not in scalar.schema.metadata
    assert scalar.schema.equals(store_schema(get_process(PROCESS)), check_metadata=True)
    with pytest.raises(StoreError, match=r"existing store has outputs None \(scalar store\), requested \['a'\]"):
        ShardStore.create(tmp_path / "scalar", PROCESS, outputs=["a"], exist_ok=True)
    for bad, match in (
        ([], "at least one output"),
        (["a", "a"], "'a' more than once"),
        ("abc", "the string"),
        (["a", ""], r"outputs\[1\] is ''"),
    ):
        with pytest.raises(StoreInputError, match=match):
            ShardStore.create(tmp_path / "bad", VV_PROCESS, outputs=bad)
    assert not (tmp_path / "bad" / MANIFEST_NAME).exists()


def test_vector_manifest_with_bad_outputs_is_named(vstore: ShardStore) -> None:
    path = Path(vstore.path) / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    for bad in (["x", "x"], "x", []):
        path.write_text(json.dumps({**manifest, "outputs": bad}))
        with pytest.raises(ManifestError, match="'outputs'") as err:
            ShardStore.open(vstore.path)
        assert str(path) in str(err.value)


def test_store_handle_pickles(store: ShardStore, rng: np.random.Generator) -> None:
    ids, p = points(store, rng, 4)
    clone = pickle.loads(pickle.dumps(store))
    clone.append_labels(ids, None, np.ones(4), oracle="mock")
    np.testing.assert_array_equal(store.arrays().momenta, p)
