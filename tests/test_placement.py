"""Placement on a simulated multi-node cluster: oracle actors on oracle nodes, trainer actors on trainer nodes.

The test session already runs a local Ray, so the cluster (``ray.cluster_utils.Cluster``: a head without CPUs,
node A with ``{"oracle": 2}``, nodes B and B2 with ``{"trainer": 1}`` for a committee of two trainer actors, all
on 127.0.0.1) lives in a subprocess that
prints its observations as one JSON line. What happens when oracle nodes go away:

- node A removed, node C with ``{"oracle": 2}`` added: Ray restarts the pool's actors (``max_restarts``) on C,
  calls lost with A are sent again and every point is stored exactly once;
- the only oracle node removed from a pool with ``max_restarts=0, max_replacements=0``: ``label`` raises a
  :class:`~activeamp.loop.pool.PoolError` that names the gone node as a cause, and stores nothing for the lost calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, logging, sys, time

import numpy as np
import ray
from ray.cluster_utils import Cluster

from activeamp.data.dataset import OracleConfig
from activeamp.loop.pool import OraclePool, PoolConfig, PoolError
from activeamp.data.store import ShardStore, make_point_ids
from activeamp.surrogate.surrogate import SurrogateConfig
from activeamp.loop.committee import TrainerCommittee
from activeamp.loop.trainer import SurrogateTrainer, TrainerConfig
from tests.conftest import physical_points

out = {"seconds": {}}
t0 = time.perf_counter()


def lap(name):
    out["seconds"][name] = round(time.perf_counter() - t0, 2)


def trainer_node(actor):
    if hasattr(SurrogateTrainer, "node_id"):  # public once the trainer has the method
        return ray.get(actor.node_id.remote())
    return ray._private.state.actors(actor._actor_id.hex())["Address"]["NodeID"]  # GCS actor table, no dashboard


cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
try:
    node_a = cluster.add_node(num_cpus=2, resources={"oracle": 2})
    node_b = cluster.add_node(num_cpus=1, resources={"trainer": 1})
    node_b2 = cluster.add_node(num_cpus=1, resources={"trainer": 1})
    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.WARNING)
    out.update(node_a=node_a.node_id, node_b=node_b.node_id, node_b2=node_b2.node_id)
    out["node_ips"] = sorted({n["NodeManagerAddress"] for n in ray.nodes()})
    lap("cluster")

    pool_config = PoolConfig(n_actors=2, num_cpus=0.5, resources={"oracle": 1}, batch_size=16, startup_timeout=30)
    pool = OraclePool(OracleConfig("mock"), "gg_yyg", pool_config)
    committee = TrainerCommittee.start(
        SurrogateConfig(hidden=(8,), max_epochs=2, batch_size=32, seed=1),
        None,
        TrainerConfig(num_cpus=0.5, num_gpus=0, resources={"trainer": 1}, startup_timeout=30, n_actors=2),
    )
    out["pool_nodes"] = pool.actor_nodes()
    out["trainer_nodes"] = sorted(trainer_node(actor) for actor in committee.actors)
    lap("actors")

    store = ShardStore.create(sys.argv[1], "gg_yyg")
    points = physical_points("gg_yyg", 192, seed=11)
    store.append_points(make_point_ids(2, 0, 0, 64), points[:64], split="train", round=0, batch=0)
    out["label_1"] = pool.label(store, progress=False).n_ok
    train = store.arrays("train")
    outcome = committee.train(train.ids, train.momenta, train.amplitude).outcome()
    out["trainer_epochs"] = outcome.epochs
    out["trainer_prediction_finite"] = bool(np.all(np.isfinite(committee.predict(train.momenta).mean)))
    lap("label_and_train")

    # oracle node A goes away, node C takes its place: Ray restarts the actors there
    cluster.remove_node(node_a)
    node_c = cluster.add_node(num_cpus=2, resources={"oracle": 2})
    out["node_c"] = node_c.node_id
    store.append_points(make_point_ids(2, 1, 0, 64), points[64:128], split="train", round=1, batch=0)
    report = pool.label(store, progress=False)
    out["label_2"] = {"ok": report.n_ok, "crashes": report.n_crashes, "quarantined": report.n_quarantined}
    out["pool_nodes_after"] = pool.actor_nodes()
    out["stored"] = store.summary().n_points
    out["duplicates"] = store.duplicates().num_rows
    pool.shutdown()
    lap("node_replaced")

    # no oracle node left, and a pool that may not restart or replace actors: a clear PoolError
    strict = OraclePool(
        OracleConfig("mock"), "gg_yyg", PoolConfig(**{**pool_config.__dict__, "max_restarts": 0, "max_replacements": 0})
    )
    cluster.remove_node(node_c)
    store.append_points(make_point_ids(2, 2, 0, 64), points[128:], split="train", round=2, batch=0)
    try:
        strict.label(store, progress=False)
        out["pool_error"] = None
    except PoolError as err:
        out["pool_error"] = str(err)
    out["unlabelled_after_error"] = int(store.unlabelled().ids.size)
    lap("node_lost")
finally:
    ray.shutdown()
    cluster.shutdown()
print("RESULT " + json.dumps(out), flush=True)
"""


def _run_cluster_script(store: Path, timeout: float = 120.0) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(
        RAY_AUTH_MODE="disabled",
        RAY_USAGE_STATS_ENABLED="0",
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",  # every node on 127.0.0.1; cluster_utils nodes are accepted
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    # own process group: on a timeout the driver and the Ray processes it started are killed together
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(store)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"the cluster script ran past {timeout} s:\n{output[-4000:]}")
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"cluster script failed (exit {proc.returncode}):\n{output[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run_cluster_script(tmp_path_factory.mktemp("placement") / "store")


def test_actors_land_on_the_nodes_with_their_resources(cluster_run: dict[str, Any]) -> None:
    assert cluster_run["node_ips"] == ["127.0.0.1"]  # loopback only
    assert cluster_run["node_a"] != cluster_run["node_b"]
    assert cluster_run["pool_nodes"] == [cluster_run["node_a"]] * 2
    # one trainer actor per trainer node: the two members of the committee
    assert cluster_run["trainer_nodes"] == sorted([cluster_run["node_b"], cluster_run["node_b2"]])
    # points labelled on node A, the committee trained on nodes B and B2
    assert cluster_run["label_1"] == 64
    assert cluster_run["trainer_epochs"] == 2 and cluster_run["trainer_prediction_finite"]


def test_a_replaced_oracle_node_takes_over_and_every_point_is_stored_once(cluster_run: dict[str, Any]) -> None:
    assert cluster_run["pool_nodes_after"] == [cluster_run["node_c"]] * 2
    assert cluster_run["label_2"]["ok"] == 64 and cluster_run["label_2"]["quarantined"] == 0
    assert cluster_run["stored"] == 128 and cluster_run["duplicates"] == 0


def test_losing_the_last_oracle_node_raises_a_pool_error(cluster_run: dict[str, Any]) -> None:
    assert cluster_run["pool_error"] is not None and "node is gone" in cluster_run["pool_error"]
    assert cluster_run["unlabelled_after_error"] == 64  # nothing stored for the calls lost with the node
