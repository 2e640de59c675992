"""Tests of the Ray connection helpers (activeamp.loop.cluster) on the session's local Ray instance."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from activeamp.loop import cluster
from activeamp.loop.cluster import (
    ClusterError,
    check_resources,
    connect,
    has_gpus,
    package_runtime_env,
    wait_ready,
)


def test_connect_reuses_a_running_instance(ray_local: object) -> None:
    assert connect() is False  # already initialised by the session fixture: nothing new is started
    assert has_gpus() is False  # this test machine has no GPU


def test_check_resources_warns_about_requests_beyond_the_cluster(
    ray_local: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="activeamp.loop.cluster"):
        check_resources({"CPU": 1.0}, "a small pool")
        assert not caplog.records
        check_resources({"CPU": 64.0, "GPU": 1.0}, "a big pool")
    text = caplog.text
    assert "a big pool requests CPU=64 but the cluster has 2 now" in text and "GPU=1" in text


def test_wait_ready_names_the_unsatisfied_request(ray_local: object) -> None:
    import ray

    @ray.remote(num_cpus=0)
    def slow() -> int:
        time.sleep(5.0)
        return 1

    ref = slow.remote()
    message = r"the test actors did not start within 0.2 s; it requests CPU=64 \(cluster has 2\)"
    with pytest.raises(ClusterError, match=message):
        wait_ready([ref], {"CPU": 64.0, "GPU": 0.0}, "the test actors", timeout=0.2)
    ray.cancel(ref, force=True)
    assert wait_ready([ray.put(3)], {"CPU": 1.0}, "a ready object", timeout=5.0) == [3]


def test_package_runtime_env_puts_the_installed_packages_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import activeamp

    monkeypatch.setenv("PYTHONPATH", "/opt/user/lib")
    entries = package_runtime_env()["env_vars"]["PYTHONPATH"].split(os.pathsep)
    assert entries[0] == str(Path(activeamp.__file__).resolve().parents[1]) and entries[-1] == "/opt/user/lib"


@pytest.mark.slow
def test_actors_import_the_installed_package_whatever_the_working_directory(tmp_path: Path) -> None:
    """A driver started next to a folder named ``activeamp`` (e.g. the clone) still gets working actors."""
    (tmp_path / "activeamp" / "loop").mkdir(parents=True)  # a namespace folder that would shadow the package
    script = textwrap.dedent(
        """
        import ray
        from activeamp.loop.cluster import connect

        connect(num_cpus=1)

        @ray.remote(num_cpus=0)
        def where() -> str:
            import activeamp.loop.cluster as c
            return c.__file__

        print("ACTOR-IMPORTED", ray.get(where.remote()))
        ray.shutdown()
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")}
    # -P: like the `activeamp` console script, the driver itself does not import from its working directory
    command = [sys.executable, "-P", "-c", script]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    imported = run.stdout.split("ACTOR-IMPORTED", 1)[1].strip()
    assert Path(imported).resolve() == Path(cluster.__file__).resolve()
