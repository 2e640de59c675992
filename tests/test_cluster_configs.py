"""Tests of the Ray cluster-launcher configs in cluster/: schema, resource mapping, setup, auth, shell syntax."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parents[1]
AWS = ROOT / "cluster" / "cluster.yaml"
LOCAL = ROOT / "cluster" / "local.yaml"
CONFIGS = [AWS, LOCAL]
SCHEMA = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
COMMAND_LISTS = (
    "initialization_commands",
    "setup_commands",
    "head_setup_commands",
    "worker_setup_commands",
    "head_start_ray_commands",
    "worker_start_ray_commands",
)
INSTALL_PROJECT = re.compile(r'pip install .*-e "\$HOME/activeamp\[cluster\]"')
INSTALL_TORCH = re.compile(r"pip install .*torch==")
BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def load(path: Path) -> dict[str, Any]:
    """The raw config, as `ray up` reads it (yaml.safe_load, anchors resolved)."""
    return yaml.safe_load(path.read_text())


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to open a network connection fail loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the config validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def all_commands(cfg: dict[str, Any]) -> list[str]:
    """Every shell command of a config: the global lists and the per-node-type ones."""
    commands = [c for key in COMMAND_LISTS for c in cfg.get(key) or []]
    for node_type in (cfg.get("available_node_types") or {}).values():
        for key in ("initialization_commands", "worker_setup_commands"):
            commands += node_type.get(key) or []
    return commands


def worker_setup(prepared: dict[str, Any], node_type: str) -> list[str]:
    """The setup commands the autoscaler runs on a worker of ``node_type`` (its own list replaces the global one)."""
    return prepared["available_node_types"][node_type].get("worker_setup_commands", prepared["worker_setup_commands"])


def run_bash(command: str, home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in bash with ``home`` as $HOME and a minimal environment."""
    full_env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}
    return subprocess.run([BASH, "-c", command], env=full_env, capture_output=True, text=True, timeout=30)


# Stand-ins for the programs a start command calls: `ray` prints its arguments one per line.
STUBS = "ray() { printf '%s\\n' \"$@\"; }; nproc() { echo 8; }; "
GPU_STUB = "nvidia-smi() { printf 'GPU 0: A10G\\nGPU 1: A10G\\n'; }; "


def ray_start_args(command: str, home: Path, *, gpus: bool = False) -> list[str]:
    """The arguments a start command passes to ``ray start`` (with ``ray``, ``nproc``, ``nvidia-smi`` stubbed)."""
    stubs = STUBS + (GPU_STUB if gpus else "nvidia-smi() { return 127; }; ")
    result = run_bash(stubs + command, home, {"RAY_HEAD_IP": "10.0.0.5"})
    assert result.returncode == 0, result.stderr
    args = result.stdout.split("\n")
    assert args[0] == "start", result.stdout
    return [a for a in args[1:] if a]


def resources_arg(args: list[str]) -> dict[str, int]:
    values = [a.split("=", 1)[1] for a in args if a.startswith("--resources=")]
    assert len(values) == 1, args
    return json.loads(values[0])


# --- schema -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_raw_config_matches_the_autoscaler_schema(path: Path) -> None:
    jsonschema.validate(load(path), SCHEMA)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_prepared_config_passes_ray_validation_offline(path: Path, no_network: None) -> None:
    # prepare_config merges the provider's defaults.yaml (shipped with Ray) and the setup commands; it does not
    # contact the cloud (the AWS lookups happen later, in `ray up`'s bootstrap step, which needs boto3 and
    # credentials), so both configs are checked the way `ray up` checks them before launching anything.
    prepared = prepare_config(copy.deepcopy(load(path)))
    validate_config(prepared)


# --- AWS: node types and resources ------------------------------------------------------------------------


def test_aws_node_types_map_oracles_and_trainer() -> None:
    cfg = load(AWS)
    assert cfg["provider"]["type"] == "aws"
    types = cfg["available_node_types"]
    head = cfg["head_node_type"]
    assert head in types
    assert not {"oracle", "trainer", "GPU"} & set(types[head]["resources"]), "the head runs drivers only"

    oracle_types = [n for n, t in types.items() if t["resources"].get("oracle", 0) >= 1]
    trainer_types = [n for n, t in types.items() if t["resources"].get("trainer", 0) >= 1]
    assert oracle_types and trainer_types
    for name in oracle_types:
        assert name != head and types[name]["resources"].get("GPU", 0) == 0, "oracles belong on CPU nodes"
    for name in trainer_types:
        resources = types[name]["resources"]
        assert name != head and resources.get("GPU", 0) >= resources["trainer"], "one GPU per trainer slot"


def test_aws_worker_counts_and_idle_timeout_are_sensible() -> None:
    cfg = load(AWS)
    assert cfg["idle_timeout_minutes"] > 0
    workers = {n: t for n, t in cfg["available_node_types"].items() if n != cfg["head_node_type"]}
    for name, node_type in workers.items():
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"] <= cfg["max_workers"], name
    assert sum(t["min_workers"] for t in workers.values()) <= cfg["max_workers"]


def test_aws_nodes_use_docker_images_of_the_installed_ray_version() -> None:
    cfg = load(AWS)
    images = [cfg["docker"]["image"], cfg["docker"]["head_image"]]
    images += [t["docker"]["worker_image"] for t in cfg["available_node_types"].values() if "docker" in t]
    for image in images:
        assert image.startswith(f"rayproject/ray:{ray.__version__}-"), image
    gpu_types = [t for t in cfg["available_node_types"].values() if t["resources"].get("GPU", 0)]
    assert all(t["docker"]["worker_image"].endswith("-gpu") for t in gpu_types)


@needs_bash
def test_aws_environment_file_sets_token_mode(tmp_path: Path) -> None:
    prepared = prepare_config(load(AWS))
    writers = {c for c in prepared["head_setup_commands"] if "ray.env" in c and ".bashrc" in c}
    writers |= {c for n in prepared["available_node_types"] for c in worker_setup(prepared, n) if ".bashrc" in c}
    assert len(writers) == 1, "head and workers share one environment writer"
    (writer,) = writers
    for _ in range(2):  # `ray up` re-runs the setup
        result = run_bash(writer, tmp_path)
        assert result.returncode == 0, result.stderr
    result = run_bash('. ~/.bashrc; echo "$RAY_AUTH_MODE"', tmp_path)
    assert result.stdout.strip() == "token"


def test_aws_every_node_installs_torch_then_the_project() -> None:
    prepared = prepare_config(load(AWS))
    head = prepared["head_node_type"]
    per_node = {head: prepared["head_setup_commands"]}
    per_node |= {n: worker_setup(prepared, n) for n in prepared["available_node_types"] if n != head}
    for name, commands in per_node.items():
        torch = [i for i, c in enumerate(commands) if INSTALL_TORCH.search(c)]
        project = [i for i, c in enumerate(commands) if INSTALL_PROJECT.search(c)]
        assert len(torch) == 1 and len(project) == 1, (name, commands)
        assert torch[0] < project[0], f"{name}: torch must be installed before the project"
        has_gpu = prepared["available_node_types"][name]["resources"].get("GPU", 0) > 0
        cpu_wheel = "download.pytorch.org/whl/cpu" in commands[torch[0]]
        assert cpu_wheel != has_gpu, f"{name}: CUDA torch on GPU nodes, the CPU wheel elsewhere"


# --- local: resources through the start commands ----------------------------------------------------------


def test_local_config_uses_the_local_provider_without_node_types() -> None:
    cfg = load(LOCAL)
    assert cfg["provider"]["type"] == "local"
    assert isinstance(cfg["provider"]["head_ip"], str)
    assert isinstance(cfg["provider"]["worker_ips"], list)
    # The local provider aborts on these: resources are advertised by the start commands instead.
    assert not {"available_node_types", "head_node_type", "min_workers"} & set(cfg)


@needs_bash
def test_local_head_advertises_one_oracle_and_a_trainer_per_gpu(tmp_path: Path) -> None:
    command = load(LOCAL)["head_start_ray_commands"][-1]
    (tmp_path / ".activeamp").mkdir()
    (tmp_path / ".activeamp" / "ray.env").write_text("")
    args = ray_start_args(command, tmp_path)
    assert "--head" in args
    assert resources_arg(args) == {"oracle": 1, "trainer": 1}
    assert resources_arg(ray_start_args(command, tmp_path, gpus=True)) == {"oracle": 1, "trainer": 2}


@needs_bash
def test_local_workers_advertise_an_oracle_per_core_and_a_trainer_per_gpu(tmp_path: Path) -> None:
    command = load(LOCAL)["worker_start_ray_commands"][-1]
    (tmp_path / ".activeamp").mkdir()
    (tmp_path / ".activeamp" / "ray.env").write_text("")
    args = ray_start_args(command, tmp_path)
    assert "--address=10.0.0.5:6379" in args
    assert resources_arg(args) == {"oracle": 8, "trainer": 0}
    assert resources_arg(ray_start_args(command, tmp_path, gpus=True)) == {"oracle": 8, "trainer": 2}


def test_local_head_start_is_loopback_friendly_with_explicit_ports() -> None:
    command = load(LOCAL)["head_start_ray_commands"][-1]
    for flag in (
        "--port=6379",
        "--object-manager-port=8076",
        "--node-manager-port=8077",
        "--dashboard-port=8265",
        "--ray-client-server-port=10001",
        "--dashboard-host=127.0.0.1",
        "--autoscaling-config=~/ray_bootstrap_config.yaml",
    ):
        assert flag in command
    # Ray rewrites --node-ip-address=127.0.0.1 to the external interface; loopback comes from ray.env instead.
    assert "--node-ip-address" not in command


@needs_bash
@pytest.mark.parametrize(
    ("ssh_connection", "expected"),
    [
        ("127.0.0.1 52000 127.0.0.1 22", {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}),
        ("192.168.1.20 52000 192.168.1.10 22", {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "", "RAY_AUTH_MODE": "token"}),
    ],
    ids=["single-machine", "several-machines"],
)
def test_local_environment_file_follows_the_head_address(
    tmp_path: Path, ssh_connection: str, expected: dict[str, str]
) -> None:
    writer = load(LOCAL)["setup_commands"][0]
    (tmp_path / ".bashrc").write_text("# user's own settings, no final newline")
    for _ in range(2):  # `ray up` re-runs the setup: the ~/.bashrc hook must be added once
        result = run_bash(writer, tmp_path, {"SSH_CONNECTION": ssh_connection})
        assert result.returncode == 0, result.stderr
    bashrc = (tmp_path / ".bashrc").read_text()
    assert bashrc.startswith("# user's own settings, no final newline\n")
    assert [line for line in bashrc.splitlines() if ".activeamp/ray.env" in line] == [
        "[ -f ~/.activeamp/ray.env ] && . ~/.activeamp/ray.env"
    ]

    probe = '. ~/.bashrc; echo "$RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER|$RAY_AUTH_MODE|$ACTIVEAMP_VENV"'
    result = run_bash(probe, tmp_path)
    loopback, auth, venv = result.stdout.strip().split("|")
    assert (loopback, auth) == (expected["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"], expected["RAY_AUTH_MODE"])
    assert venv == f"{tmp_path}/.activeamp/venv"


def test_local_setup_installs_a_pinned_ray_torch_and_the_project() -> None:
    commands = prepare_config(load(LOCAL))["head_setup_commands"]
    torch = [i for i, c in enumerate(commands) if INSTALL_TORCH.search(c)]
    project = [i for i, c in enumerate(commands) if INSTALL_PROJECT.search(c)]
    assert len(torch) == 1 and len(project) == 1 and torch[0] < project[0]
    assert f'"ray[default,tune,train]=={ray.__version__}"' in commands[project[0]], "cluster Ray == local Ray"


# --- both: auth, file mounts, secrets, shell syntax -------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_auth_token_is_created_on_the_head_and_shared_with_workers(path: Path) -> None:
    cfg = load(path)
    assert "~/.ray/auth_token" in cfg["cluster_synced_files"]
    assert any("ray get-auth-token --generate" in c and "chmod 600" in c for c in cfg["head_setup_commands"])
    # Every start command (and the `ray stop` before it, where it needs the venv) runs with the node's
    # ~/.activeamp/ray.env, which sets RAY_AUTH_MODE; the same file is hooked into ~/.bashrc for drivers.
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = [c for c in cfg[key] if "ray start" in c]
        assert len(start) == 1 and start[0].lstrip().startswith(". ~/.activeamp/ray.env &&"), (key, start)
    assert any("RAY_AUTH_MODE=token" in c and ".bashrc" in c for c in all_commands(cfg))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_file_mounts_sync_the_project_and_the_run_config(path: Path) -> None:
    mounts = load(path)["file_mounts"]
    assert mounts["~/activeamp"] == "."
    assert "~/activeamp-run.yaml" in mounts
    for remote, local in mounts.items():
        # `ray up` does not expand ~ in local paths, and runs from the repository root.
        assert not local.startswith(("~", "/")), f"{remote}: local path {local!r} must be relative to the repo"
        assert (ROOT / local).resolve().is_relative_to(ROOT)
    assert (ROOT / mounts["~/activeamp"]).is_dir()
    run_config = ROOT / mounts["~/activeamp-run.yaml"]
    if not run_config.exists():  # `ray up` fails on a missing mount source
        pytest.skip(f"{run_config.relative_to(ROOT)} (the run config the clusters mount) is not in the repository yet")
    assert run_config.is_file()


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_sync_skips_the_virtualenv_and_git(path: Path) -> None:
    cfg = load(path)
    assert ".gitignore" in cfg["rsync_filter"]
    assert re.search(r"^/?\.venv/?$", (ROOT / ".gitignore").read_text(), re.MULTILINE)
    assert "**/.git" in cfg["rsync_exclude"]


SECRET_PATTERNS = {
    "AWS access key id": r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
    "AWS secret key": r"(?i)aws_secret_access_key|secret_access_key",
    "inline Ray token": r"RAY_AUTH_TOKEN\s*=",
    "private key material": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "password": r"(?i)passw(or)?d\s*[:=]",
    "long hex/base64 blob": r"(?<![\w/.-])[A-Za-z0-9+/]{40,}={0,2}(?![\w/.-])",
}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_no_hard_coded_secrets(path: Path) -> None:
    text = path.read_text()
    for what, pattern in SECRET_PATTERNS.items():
        assert not re.search(pattern, text), f"{path.name}: looks like a {what}"
    cfg = load(path)
    assert "aws_credentials" not in cfg["provider"]
    key = cfg["auth"].get("ssh_private_key")
    assert key is None or Path(key).expanduser().is_absolute(), "SSH keys never live in the repository"


@needs_bash
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_command_is_valid_bash(path: Path) -> None:
    for command in all_commands(load(path)):
        result = subprocess.run([BASH, "-n", "-c", command], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{command!r}: {result.stderr}"
