"""Tests of the generate command's work: events, report and closure from a model (activeamp.deploy.generate_run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from activeamp.deploy.generate import GenerateSettings
from activeamp.deploy.generate_run import GenerateJob, run_generate
from activeamp.surrogate.surrogate import Surrogate
from oracles.mock import MockOracle
from tests.conftest import physical_points

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x = physical_points("gg_yyg", 800, seed=3)
    s = Surrogate({"hidden": [16, 16], "max_steps": 300, "batch_size": 128, "process": "gg_yyg", "seed": 2})
    s.fit(x, MockOracle(process="gg_yyg")(x), progress=False)
    return s.save(tmp_path_factory.mktemp("model") / "model.pt")


def test_events_report_and_closure_files(model: Path, tmp_path: Path) -> None:
    settings = GenerateSettings(n_events=300, batch_size=20_000, pilot=5_000, ratio_pilot=50, seed=1)
    job = GenerateJob(model, tmp_path, settings, oracle="mock", direct=300, lhe=True)
    report = run_generate(job, progress=False)
    assert json.loads((tmp_path / "generate.json").read_text())["two_stage"]["n_events"] == report["two_stage"][
        "n_events"]
    two, direct = report["two_stage"], report["direct"]
    assert two["oracle_calls"] == two["n_first_stage"] and direct["oracle_calls"] == direct["n_candidates"]
    assert report["gain_after_pilot"] == pytest.approx(
        direct["calls_per_event_after_pilot"] / two["calls_per_event_after_pilot"])
    assert report["gain_after_pilot"] > 3  # the surrogate spares the oracle the first stage's rejections
    closure = report["closure"]
    assert set(closure["observables"]) >= {"pT_a1", "eta_g1", "dR_a1a2"} and closure["ndf"] > 0
    assert abs(report["cross_section_ratio_minus_1"]) < 5 * report["cross_section_ratio_error"]
    with pa.ipc.open_file(tmp_path / "events.arrow") as reader:
        table = reader.read_all()
    assert table.num_rows == 300
    mock = MockOracle(process="gg_yyg")
    momenta = np.stack([np.stack([table[f"p{i}_{c}"].to_numpy() for c in ("E", "px", "py", "pz")], -1)
                        for i in range(5)], 1)
    np.testing.assert_allclose(table["amplitude"].to_numpy(), mock(momenta))  # the oracle's values, per event
    assert (tmp_path / "events.lhe").stat().st_size > 0 and (tmp_path / "closure.png").is_file()
    assert (tmp_path / "direct_events.arrow").is_file()


def test_a_model_of_another_process_than_the_oracle_is_refused(model: Path, tmp_path: Path) -> None:
    job = GenerateJob(model, tmp_path, GenerateSettings(n_events=10), oracle="gg_yy")
    with pytest.raises(ValueError, match="gg_yy"):
        run_generate(job, progress=False)
