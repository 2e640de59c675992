"""Tests of the record schema: columns and metadata, Arrow ↔ numpy, and shards whose schema does not match."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from activeamp.data.store import (
    SCHEMA_VERSION,
    ShardSchemaError,
    ShardStore,
    StoreInputError,
    momenta_from_arrow,
    store_schema,
    values_from_arrow,
)
from activeamp.data.store.schema import as_choice, check_shard_schema, momenta_to_arrow
from activeamp.physics.process import get_process
from tests.data.store.conftest import (
    OUTPUTS,
    PROCESS,
    VV_PROCESS,
    expect_bad,
    ipc_bytes,
    shard_name,
    shards,
    two_good_shards,
    vv_points,
)


def test_schema_columns_and_metadata_keys() -> None:
    proc = get_process(PROCESS)
    schema = store_schema(proc)
    assert schema.names == [
        "point_id", "process", "momenta", "amplitude", "status", "reason", "oracle", "provenance", "round", "batch",
        "split", "created",
    ]  # fmt: skip
    assert schema.field("momenta").type == pa.list_(pa.float64(), 16) and not schema.field("momenta").nullable
    assert schema.metadata == {
        b"activeamp.schema_version": str(SCHEMA_VERSION).encode(),
        b"activeamp.process": b"gg_yy",
    }
    vector = store_schema(get_process(VV_PROCESS), OUTPUTS)
    assert vector.names.index("values") == vector.names.index("amplitude") + 1
    assert vector.metadata[b"activeamp.outputs"] == b'["c1", "c2", "c3"]'
    with pytest.raises(StoreInputError, match="store_schema: outputs has the name 'a' more than once"):
        store_schema(proc, ["a", "a"])
    assert as_choice("train", ("train", "test"), "split") == ["train"]
    with pytest.raises(StoreInputError, match="unknown split 'dev'; allowed: train, test"):
        as_choice(["train", "dev"], ("train", "test"), "split")


def test_arrow_columns_round_trip(rng: np.random.Generator) -> None:
    proc = get_process(PROCESS)
    p = rng.normal(size=(3, 4, 4))
    column = momenta_to_arrow(p)
    assert column.type == store_schema(proc).field("momenta").type
    np.testing.assert_array_equal(momenta_from_arrow(pa.chunked_array([column.slice(0, 1), column.slice(1)]), proc), p)
    assert momenta_from_arrow(column.slice(0, 0), proc).shape == (0, 4, 4)
    values = pa.array([[1.0, -2.0], None, [3.0, 4.0]], pa.list_(pa.float64(), 2))
    out = values_from_arrow(values, 2)
    np.testing.assert_array_equal(out[[0, 2]], [[1.0, -2.0], [3.0, 4.0]])
    assert np.isnan(out[1]).all() and values_from_arrow(values.slice(0, 0), 2).shape == (0, 2)


def test_check_shard_schema_names_the_file() -> None:
    expected = store_schema(get_process(PROCESS))
    check_shard_schema("f.arrow", expected, expected, PROCESS, None)
    with pytest.raises(ShardSchemaError, match=r"f.arrow: activeamp.outputs is \['a'\], store outputs are None"):
        check_shard_schema("f.arrow", store_schema(get_process(PROCESS), ["a"]), expected, PROCESS, None)
    with pytest.raises(ShardSchemaError, match="activeamp.process is 'gg_yy', store process is 'gg_yyg'") as err:
        check_shard_schema("f.arrow", expected, expected, "gg_yyg", None)
    assert err.value.path == "f.arrow"


def test_arrow_file_with_wrong_schema_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    two_good_shards(store, rng)
    data = ipc_bytes(pa.table({"point_id": ["a"], "amplitude": [1.0]}))
    bad = Path(store.path) / shard_name(data)
    bad.write_bytes(data)
    expect_bad(store, bad, "activeamp.schema_version", caplog, ShardSchemaError)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda t, m: (t, {**m, b"activeamp.schema_version": b"2"}), "schema_version is '2', store uses 1"),
        (lambda t, m: (t, {**m, b"activeamp.process": b"gg_yyg"}), "process is 'gg_yyg', store process is 'gg_yy'"),
        (lambda t, m: (t.drop_columns(["reason"]), m), "field 'reason' missing"),
        (
            lambda t, m: (t.set_column(3, "amplitude", t["amplitude"].cast(pa.float32())), m),
            "field 'amplitude' has type float",
        ),
        (lambda t, m: (t.append_column("extra", pa.array([1] * t.num_rows)), m), "unexpected field.*'extra'"),
        (lambda t, m: (t.set_column(4, "status", t["status"]), m), "field 'status' is nullable"),
    ],
)
def test_shard_schema_mismatch_is_named(
    store: ShardStore, rng: np.random.Generator, caplog: pytest.LogCaptureFixture, mutate: object, match: str
) -> None:
    two_good_shards(store, rng)
    table = store.records(split="train").slice(0, 3)
    table, meta = mutate(table, dict(store.schema.metadata))  # type: ignore[operator]
    data = ipc_bytes(table.replace_schema_metadata(meta))
    bad = Path(store.path) / shard_name(data)
    bad.write_bytes(data)
    expect_bad(store, bad, match, caplog, ShardSchemaError)


def test_shard_of_other_outputs_is_named(vstore: ShardStore, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    vv_points(vstore, 5)
    other = ShardStore.create(tmp_path / "other", VV_PROCESS, outputs=["a", "b", "c"])
    scalar_vv = ShardStore.create(tmp_path / "scalar_vv", VV_PROCESS)
    for source, match in (
        (other, r"activeamp.outputs is \['a', 'b', 'c'\], store outputs are \['c1', 'c2', 'c3'\]"),
        (scalar_vv, r"activeamp.outputs is None, store outputs are \['c1', 'c2', 'c3'\] \(vector store\)"),
    ):
        vv_points(source, 3, seed=1)
        shard = shards(source)[0]
        bad = Path(vstore.path) / shard.name
        bad.write_bytes(shard.read_bytes())
        with pytest.raises(ShardSchemaError, match=match) as err:
            vstore.read()
        assert err.value.path == str(bad)
        with caplog.at_level(logging.WARNING, logger="activeamp.data.store"):
            assert vstore.read(on_bad_shard="skip").num_rows == 5
        assert [f for f, _ in vstore.validate().bad_shards] == [str(bad)]
        bad.unlink()
    # and a vector shard in a scalar store
    shard = shards(vstore)[0]
    (Path(scalar_vv.path) / shard.name).write_bytes(shard.read_bytes())
    with pytest.raises(ShardSchemaError, match=r"activeamp.outputs is \['c1', 'c2', 'c3'\], store outputs are None"):
        scalar_vv.read()
    assert json.loads(vstore.schema.metadata[b"activeamp.outputs"]) == list(OUTPUTS)
