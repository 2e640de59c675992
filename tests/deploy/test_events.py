"""Tests of event files: Arrow, HDF5 and Les Houches (activeamp.deploy.events)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pytest

from activeamp.deploy.events import EventSample, write_events, write_lhe
from activeamp.physics.process import get_process
from tests.conftest import physical_points


@pytest.fixture
def events() -> EventSample:
    p = physical_points("gg_yyg", 20, seed=1)
    weights = np.ones(20)
    weights[3] = 1.7  # one overweight
    amp = np.linspace(1e-6, 2e-6, 20)
    return EventSample(p, weights, amp, amp * 1.001, amp * 1e-3, get_process("gg_yyg"), 1000.0, 0.25, {"seed": 3})


def test_arrow_and_hdf5_keep_every_column_and_the_metadata(events: EventSample, tmp_path: Path) -> None:
    with pa.ipc.open_file(write_events(events, tmp_path / "e.arrow")) as reader:
        table = reader.read_all()
        meta = json.loads(table.schema.metadata[b"activeamp"])
    assert meta["process"] == "gg_yyg" and meta["cross_section_pb"] == 0.25 and meta["seed"] == 3
    np.testing.assert_array_equal(table["weight"].to_numpy(), events.weights)
    np.testing.assert_array_equal(table["p4_pz"].to_numpy(), events.momenta[:, 4, 3])
    with h5py.File(write_events(events, tmp_path / "e.h5"), "r") as f:
        np.testing.assert_array_equal(f["momenta"][:], events.momenta)
        np.testing.assert_array_equal(f["sigma_tot"][:], events.sigma_tot)
        assert f.attrs["n_events"] == 20 and json.loads(f.attrs["pdg"]) == list(events.process.pdg)
    with pytest.raises(ValueError, match="suffix"):
        write_events(events, tmp_path / "e.csv")


def test_lhe_events_conserve_momentum_and_their_weights_sum_to_the_cross_section(
    events: EventSample, tmp_path: Path
) -> None:
    text = write_lhe(events, tmp_path / "e.lhe").read_text()
    assert text.startswith('<LesHouchesEvents version="3.0">') and text.rstrip().endswith("</LesHouchesEvents>")
    init = text.split("<init>\n")[1].split("\n")
    assert init[0].split()[:2] == ["21", "21"] and init[0].split()[8] == "4"  # weighted: an overweight exists
    blocks = text.split("<event>\n")[1:]
    assert len(blocks) == 20
    total = 0.0
    for block, p in zip(blocks, events.momenta, strict=True):
        lines = block.split("\n")
        n, _, weight = lines[0].split()[:3]
        total += float(weight)
        rows = np.array([[float(v) for v in line.split()[6:10]] for line in lines[1 : 1 + int(n)]])
        status = np.array([int(line.split()[1]) for line in lines[1 : 1 + int(n)]])
        np.testing.assert_allclose(rows[:, [3, 0, 1, 2]], p, rtol=1e-11, atol=1e-9)
        balance = (rows[status == 1].sum(0) - rows[status == -1].sum(0))
        assert np.all(np.abs(balance) < 1e-8 * 1000)
    assert total == pytest.approx(0.25, rel=1e-9)


def test_lhe_needs_a_known_colour_flow(events: EventSample, tmp_path: Path) -> None:
    from dataclasses import replace

    other = replace(events, process=get_process("gg_yygg"), momenta=physical_points("gg_yygg", 20, seed=2))
    write_lhe(other, tmp_path / "ok.lhe")
    with pytest.raises(ValueError, match="colour flow"):
        write_lhe(replace(events, process=get_process("uu_ZZ")), tmp_path / "vv.lhe")
