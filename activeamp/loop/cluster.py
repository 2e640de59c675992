"""Connecting to Ray: an existing cluster (address or RAY_ADDRESS), or a local one started on loopback."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ray

__all__ = [
    "ClusterError",
    "LOCAL_ENVIRONMENT",
    "check_resources",
    "connect",
    "has_gpus",
    "package_runtime_env",
    "wait_ready",
]

logger = logging.getLogger(__name__)

#: Environment defaults for a Ray instance started on this machine: loopback only, no auth tokens,
#: no usage reporting (see DEVELOPERS.md). Values already set by the user win.
LOCAL_ENVIRONMENT: dict[str, str] = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}


def connect(address: str | None = None, *, num_cpus: int | None = None, quiet: bool = True) -> bool:
    """Make sure Ray is initialised; return True if this call started a new local instance.

    Parameters
    ----------
    address : str, optional
        Address of an existing cluster: ``"auto"`` (the cluster this machine belongs to, e.g. on the head
        node after ``ray up``), ``"ray://host:10001"`` or ``"host:6379"``; ``"local"`` starts a fresh local
        instance. Without it, ``RAY_ADDRESS`` is used if set, otherwise a local instance is started on
        127.0.0.1 for this process.
    num_cpus : int, optional
        Logical CPUs of a new local instance (default: all cores).
    quiet : bool
        Keep worker logs out of the driver's output.
    """
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is not None and address != "local":
        logger.info("connecting to the Ray cluster at %s", address)
        ray.init(
            address=address,
            log_to_driver=not quiet,
            logging_level=logging.WARNING,
            runtime_env=package_runtime_env(),
        )
        return False
    for key, value in LOCAL_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    logger.info("starting a local Ray instance (num_cpus=%s)", num_cpus)
    ray.init(
        address="local",
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=not quiet,
        logging_level=logging.WARNING,
        runtime_env=package_runtime_env(),
    )
    return True


def package_runtime_env() -> dict[str, Any]:
    """The job's runtime environment: workers import the installed ``activeamp`` and ``oracles`` first.

    Ray puts the driver's working directory on every worker's ``sys.path`` (unless a ``working_dir`` is
    uploaded, which this project never does). A folder named ``activeamp`` there — for example the clone
    itself, seen from the folder that contains it — would shadow the package in the actors. The folders that
    hold the imported packages go on the workers' ``PYTHONPATH`` (before the user's own entries): a regular
    package found on the path takes precedence over a namespace folder of the same name, wherever the driver
    was started. No ``working_dir`` and no ``py_modules``: the same installation is expected on every node.
    """
    import activeamp
    import oracles

    roots = [str(Path(module.__file__).resolve().parents[1]) for module in (activeamp, oracles)]
    user = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(roots + user))}}


class ClusterError(RuntimeError):
    """The cluster cannot host what was asked of it (the message names resource, request and capacity)."""


def check_resources(request: Mapping[str, float], what: str) -> None:
    """Warn when ``request`` (total over all actors) exceeds what the cluster has right now.

    An autoscaling cluster may still add nodes, so this only logs; :func:`wait_ready` enforces a deadline.
    """
    total = ray.cluster_resources()
    for name, amount in request.items():
        if amount > total.get(name, 0.0) + 1e-9:
            logger.warning(
                "%s requests %s=%g but the cluster has %g now; the actors wait until nodes provide it",
                what,
                name,
                amount,
                total.get(name, 0.0),
            )


def wait_ready(refs: list[ray.ObjectRef], request: Mapping[str, float], what: str, timeout: float) -> list[Any]:
    """``ray.get(refs)`` with a deadline that names the unsatisfied resources when actors never start."""
    try:
        return ray.get(refs, timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        total = ray.cluster_resources()
        detail = ", ".join(f"{k}={v:g} (cluster has {total.get(k, 0.0):g})" for k, v in request.items() if v)
        raise ClusterError(
            f"{what} did not start within {timeout:g} s; it requests {detail}. "
            "Reduce the request (pool.n_actors, pool.num_cpus, trainer.num_cpus, resources) or add nodes."
        ) from None


def has_gpus() -> bool:
    """True when the connected cluster reports at least one GPU."""
    return ray.cluster_resources().get("GPU", 0) >= 1
