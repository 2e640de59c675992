"""Fault-injection benchmark: SIGKILL the driver of an active run at random moments, and its oracle actors.

Runs ``activeamp run`` on the mock oracle (a sleep per point, so labelling takes a while) in a subprocess.
The driver is killed with SIGKILL at ``--kills`` random moments, each followed by ``activeamp run --resume``;
while it runs, oracle actors are killed with SIGKILL at random too. A last resume runs the run to its end.
Then the store is checked:

* every selected point is labelled exactly once (no point left unlabelled, no point with two labels);
* no point id appears with two different momenta or splits (``ShardStore.validate``);
* the number of points equals what the configuration asks for (initial, validation and test sets plus
  ``max_rounds`` acquisition batches): no point lost, none drawn twice;
* ``state.json`` says the last round completed.

Each driver (with the local Ray instance it started) runs in its own process group; after the driver's
SIGKILL the rest of the group is killed too, as when the machine of the driver goes down.

Example (the BENCHMARKS.md row)::

    .venv/bin/python bench/bench_faults.py --kills 10 --out /tmp/activeamp-bench-faults
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from activeamp.data.store import ShardStore

__all__ = ["main"]

logger = logging.getLogger("bench_faults")

CONFIG: dict[str, Any] = {
    "seed": 11,
    "oracle": {"name": "mock", "options": {"latency": 0.03, "crash_rate": 0.0}},
    "n_initial": 1500,
    "n_validation": 300,
    "n_test": 500,
    "pool": {"n_actors": 2, "batch_size": 25, "num_cpus": 0.5},
    "surrogate": {"max_steps": 300, "hidden": [32, 32], "batch_size": 256, "n_weight_samples": 8},
    "trainer": {"round_steps": 150, "num_cpus": 1.0},
    "acquisition": {"n_candidates": 4000, "batch_size": 500, "n_weight_samples": 8},
    "budget": {"max_rounds": 6},
    "plots": False,
}


def _expected_points(config: dict[str, Any]) -> int:
    rounds = config["budget"]["max_rounds"]
    initial = config["n_initial"] + config["n_validation"] + config["n_test"]
    return initial + rounds * config["acquisition"]["batch_size"]


def _oracle_actor_pids() -> list[int]:
    """PIDs of live oracle actors (Ray names their processes ``ray::OracleWorker...``)."""
    out = subprocess.run(["pgrep", "-f", "ray::OracleWorker"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL the driver, then whatever is left of its process group (its local Ray instance)."""
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(1.0)
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _drive(
    command: list[str], rng: np.random.Generator, kill_after: float | None, actor_kills: list[int], log: Path
) -> int:
    """Run ``command`` in a new session (output to ``log``); kill it after ``kill_after`` s (None: let it finish)."""
    with log.open("ab") as fh:
        child = subprocess.Popen(command, start_new_session=True, stdout=fh, stderr=subprocess.STDOUT)
    start = time.perf_counter()
    next_actor_kill = start + rng.uniform(4.0, 12.0)
    while child.poll() is None:
        now = time.perf_counter()
        if kill_after is not None and now - start >= kill_after:
            _kill_group(child)
            return -9
        if now >= next_actor_kill:
            pids = _oracle_actor_pids()
            if pids:
                os.kill(int(rng.choice(pids)), signal.SIGKILL)
                actor_kills.append(int(now - start))
            next_actor_kill = now + rng.uniform(6.0, 15.0)
        time.sleep(0.05)
    if child.returncode != 0:
        logger.error("driver exited %d: %s", child.returncode, log.read_text(errors="replace")[-2000:])
    return int(child.returncode)


def _check(run_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    store = ShardStore.open(run_dir / "store")
    table = store.records(columns=["point_id", "status"])
    per_point: dict[str, list[str]] = {}
    for pid, status in zip(table["point_id"].to_pylist(), table["status"].to_pylist(), strict=True):
        per_point.setdefault(pid, []).append(status)
    labels = {pid: [s for s in statuses if s != "unlabelled"] for pid, statuses in per_point.items()}
    report = store.validate()
    state = json.loads((run_dir / "state.json").read_text())
    return {
        "points": len(per_point),
        "expected_points": _expected_points(config),
        "unlabelled": sum(1 for v in labels.values() if not v),
        "labelled_twice": sum(1 for v in labels.values() if len(v) > 1),
        "ok": sum(1 for v in labels.values() if v == ["ok"]),
        "failed": sum(1 for v in labels.values() if v and v[0] != "ok"),
        "validate_ok": report.ok,
        "completed_round": state["completed_round"],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("/tmp/activeamp-bench-faults"), help="work folder (emptied)")
    p.add_argument("--kills", type=int, default=10, help="driver SIGKILLs before the last resume")
    p.add_argument("--seed", type=int, default=3, help="seed of the kill times")
    p.add_argument("--max-wait", type=float, default=25.0, help="latest kill time after a (re)start, seconds")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rng = np.random.default_rng(args.seed)
    if args.out.exists():
        subprocess.run(["rm", "-rf", str(args.out)], check=True)
    args.out.mkdir(parents=True)
    config_path = args.out / "config.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    run_dir = args.out / "run"
    exe = [sys.executable, "-m", "activeamp.cli"]
    env_note = "RAY_ADDRESS unset: each driver starts its own local Ray instance"
    os.environ.pop("RAY_ADDRESS", None)
    t0 = time.perf_counter()
    actor_kills: list[int] = []
    driver_kills = 0
    for i in range(args.kills):
        started = (run_dir / "config.yaml").exists()
        command = exe + (["run", "--resume", str(run_dir), "--no-progress"] if started else
                         ["run", "--config", str(config_path), "--out", str(run_dir), "--no-progress"])
        kill_after = float(rng.uniform(3.0, args.max_wait))
        code = _drive(command, rng, kill_after, actor_kills, args.out / "drivers.log")
        if code == -9:
            driver_kills += 1
            logger.info("kill %d/%d: driver SIGKILLed after %.1f s", i + 1, args.kills, kill_after)
        else:
            logger.info("driver finished (exit %d) before kill %d", code, i + 1)
            break
    last = exe + ["run", "--resume", str(run_dir), "--no-progress"]
    code = _drive(last, rng, None, actor_kills, args.out / "drivers.log")
    result = _check(run_dir, CONFIG)
    result.update(driver_kills=driver_kills, actor_kills=len(actor_kills), final_exit=code,
                  wall_s=round(time.perf_counter() - t0, 1), note=env_note)
    logger.info("result: %s", json.dumps(result))
    good = (
        code == 0
        and result["unlabelled"] == 0
        and result["labelled_twice"] == 0
        and result["validate_ok"]
        and result["points"] == result["expected_points"]
        and result["completed_round"] == CONFIG["budget"]["max_rounds"]
    )
    if not good:
        raise SystemExit(f"store invariants violated: {result}")


if __name__ == "__main__":
    main()
