"""Self-contained artefacts of a trained surrogate: a ``torch.export`` program, ONNX, an AOTInductor package.

Each artefact maps momenta ``(N, n, 4)`` float64 [GeV, (E, px, py, pz), incoming first] to ⟨A⟩ and σ_tot ``(N,)``
float64 in the units of the process (e.g. GeV⁻² for g g → γ γ g) with the whole pipeline inside: the invariants,
the symmetry images, the input standardisation and the envelope in float64, the network in float32 (the cast where
:meth:`activeamp.surrogate.pipeline.Pipeline.encode`'s features become the network's tensor), and the closed-form
lognormal moments (:func:`activeamp.surrogate.uncertainty.lognormal_summary`) in float64. It reproduces
``Surrogate.predict(x)`` of the default model family (:func:`activeamp.surrogate.inference.closed_form_prediction`).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from activeamp import __version__
from activeamp.atomic import atomic_open
from activeamp.jsonio import dumps, write_json
from activeamp.physics.kinematics import pair_indices
from activeamp.physics.process import Process, get_process
from activeamp.surrogate.checkpoint import checkpoint_sha256
from activeamp.surrogate.committee import Model, SurrogateCommittee, load_model
from activeamp.surrogate.inference import has_closed_form
from activeamp.surrogate.laplace import LastLayerNet
from activeamp.surrogate.pipeline import Pipeline
from activeamp.surrogate.preprocessing import LogTargetTransform
from activeamp.surrogate.surrogate import Surrogate

__all__ = [
    "ARTEFACTS",
    "DEFAULT_FORMATS",
    "FORMATS",
    "INPUT",
    "OUTPUTS",
    "SCHEMA",
    "ExportError",
    "ExportReport",
    "ExportedCommittee",
    "ExportedSurrogate",
    "export_model",
    "export_program",
    "exportable_process",
    "exported_module",
    "for_onnx",
    "load_artefact",
    "max_relative_difference",
    "metadata",
    "require_packages",
    "sample_points",
    "save_aoti",
    "save_onnx",
    "save_pt2",
]

logger = logging.getLogger(__name__)

#: Artefact formats: a ``torch.export`` program, ONNX, an AOTInductor package (compiled C++, for libtorch callers).
FORMATS: tuple[str, ...] = ("pt2", "onnx", "aoti")
#: Formats written when none are asked for (``aoti`` compiles C++ for half a minute: only on request).
DEFAULT_FORMATS: tuple[str, ...] = ("pt2", "onnx")
#: File name of each format's artefact in the output folder.
ARTEFACTS: dict[str, str] = {"pt2": "surrogate.pt2", "onnx": "surrogate.onnx", "aoti": "surrogate_aoti.pt2"}
#: The artefacts' outputs, each ``(N,)`` float64 in the process's amplitude units.
OUTPUTS: tuple[str, ...] = ("mean", "sigma_tot")
#: Name of the artefacts' one input, momenta ``(N, n, 4)`` float64 [GeV].
INPUT = "momenta"
#: Schema of the ``export.json`` sidecar.
SCHEMA = "activeamp.export/1"

_OUTPUT_TEXT = ("<A>: the surrogate's mean amplitude", "sigma_tot = sqrt(sigma_model^2 + sigma_pred^2)")
_TINY = float(np.finfo(np.float64).tiny)  # the floor of s_ij in as_features
_ONNX_PACKAGES = ("onnx", "onnxscript")


class ExportError(ValueError):
    """The model cannot be exported (what is unsupported is named), or a tool of the export is missing."""


class ExportedSurrogate(nn.Module):
    """``Surrogate.predict`` of a default-family model as one torch module: momenta in, ⟨A⟩ and σ_tot out.

    Parameters
    ----------
    net : LastLayerNet
        The trained network (copied to the CPU; its weights become the module's, float32).
    pipeline : Pipeline
        The frozen pipeline: inputs ``"invariants"`` or ``"momenta"``, the ``pure_log`` target map, optional
        envelope and symmetry group (their numbers become float64 buffers).
    n_particles : int
        n of the momenta ``(N, n, 4)``.
    """

    def __init__(self, net: LastLayerNet, pipeline: Pipeline, n_particles: int) -> None:
        super().__init__()
        if not isinstance(pipeline.target, LogTargetTransform):
            raise ExportError(f"target map {getattr(pipeline.target, 'kind', 'log')!r}: only 'pure_log' is exported")
        self.net = copy.deepcopy(net).cpu().eval().requires_grad_(False)
        inputs, group = pipeline.inputs, pipeline.group
        perms = np.array(group.permutations if group is not None else [tuple(range(n_particles))], dtype=np.int64)
        self.n_particles = int(n_particles)
        self.order = int(perms.shape[0])
        self.invariant_inputs = inputs.mode == "invariants"

        def f64(values: np.ndarray) -> Tensor:
            return torch.as_tensor(np.asarray(values, dtype=np.float64))

        i, j = pair_indices(n_particles)
        self.register_buffer("pair_i", torch.as_tensor(i, dtype=torch.int64))
        self.register_buffer("pair_j", torch.as_tensor(j, dtype=torch.int64))
        keep = np.asarray(inputs.keep, dtype=np.int64)
        if self.invariant_inputs:  # column of log s_ij that feature k of image g is (Pipeline.encode), kept ones only
            columns = group.invariant_columns() if group is not None else np.arange(inputs.raw_dim)[None]
            self.register_buffer("columns", torch.as_tensor(columns[:, keep].reshape(-1), dtype=torch.int64))
        else:  # particle perm[g][i] is image particle i; swapped beams rotate by π about x
            self.register_buffer("columns", torch.as_tensor(keep, dtype=torch.int64))
            self.register_buffer("perms", torch.as_tensor(perms.reshape(-1)))
            flips = np.where((perms[:, 0] != 0)[:, None], [1.0, 1.0, -1.0, -1.0], 1.0)
            self.register_buffer("flips", f64(flips[None, :, None, :]))
            self.flip = bool((perms[:, 0] != 0).any())
        # numbers as float64 buffers: the ONNX exporter would round Python floats to float32 constants
        self.register_buffer("tiny", f64(_TINY))
        self.register_buffer("target_mu", f64(pipeline.target.mu))
        self.register_buffer("target_scale", f64(pipeline.target.scale))
        self.register_buffer("input_mean", f64(inputs.mean))
        self.register_buffer("input_std", f64(inputs.std))
        env = pipeline.envelope
        self.enveloped = env is not None
        self.register_buffer("env_intercept", f64(0.0 if env is None else env.intercept))
        self.register_buffer("env_centre", f64(np.zeros(len(i)) if env is None else env.centre))
        self.register_buffer("env_exponents", f64(np.zeros(len(i)) if env is None else env.exponents))

    def log_invariants(self, p: Tensor) -> Tensor:
        """``log(s_ij / GeV²)`` ``(N, n(n−1)/2)`` float64 of momenta ``(N, n, 4)`` (as :func:`as_features`)."""
        a, b = p.index_select(1, self.pair_i), p.index_select(1, self.pair_j)
        dot = a[..., 0] * b[..., 0] - a[..., 1] * b[..., 1] - a[..., 2] * b[..., 2] - a[..., 3] * b[..., 3]
        return torch.log(torch.maximum(2.0 * dot, self.tiny))

    def features(self, p: Tensor, log_s: Tensor) -> Tensor:
        """Standardised features ``(G, N, d)`` float64 of every image (identity first)."""
        g = self.order
        if self.invariant_inputs:
            raw = log_s.index_select(1, self.columns).reshape(p.shape[0], g, -1).transpose(0, 1)
        else:
            images = p.index_select(1, self.perms).reshape(p.shape[0], g, self.n_particles, 4)
            if self.flip:
                images = images * self.flips
            raw = images.transpose(0, 1).reshape(g, p.shape[0], 4 * self.n_particles).index_select(2, self.columns)
        return (raw - self.input_mean) / self.input_std

    def forward(self, momenta: Tensor) -> tuple[Tensor, Tensor]:
        """⟨A⟩ and σ_tot, each ``(N,)`` float64 (amplitude units), of momenta ``(N, n, 4)`` float64 [GeV]."""
        log_s = self.log_invariants(momenta)
        x = self.features(momenta, log_s).to(torch.float32)
        mean_pre, var_pre, sigma_pre = (t[:, 0].to(torch.float64) for t in self.net.moments(x))
        var = torch.clamp_min(var_pre, 0.0)
        s2 = self.target_scale**2
        mean = torch.exp(mean_pre * self.target_scale + self.target_mu + 0.5 * s2 * var)
        if self.enveloped:
            mean = mean * torch.exp(self.env_intercept + (log_s - self.env_centre) @ self.env_exponents)
        u = s2 * sigma_pre**2
        sigma_model = mean * torch.sqrt(torch.exp(s2 * var + u) * torch.expm1(u))
        sigma_pred = mean * torch.sqrt(torch.expm1(s2 * var))
        return mean, torch.sqrt(sigma_model**2 + sigma_pred**2)

    @classmethod
    def from_surrogate(cls, surrogate: Surrogate) -> ExportedSurrogate:
        """The module of a trained surrogate, or :class:`ExportError` naming what it cannot express."""
        process = exportable_process(surrogate)
        return cls(surrogate.net, surrogate.pipeline, process.n_particles)  # type: ignore[arg-type]


class ExportedCommittee(nn.Module):
    """A committee's mixture (:mod:`activeamp.surrogate.committee`) as one module: every member's
    :class:`ExportedSurrogate`, then ⟨A⟩ = the mean of the members' and σ_tot² = the mean of their σ_tot² plus
    the variance of their ⟨A⟩ (σ_model² + σ_pred² of the mixture)."""

    def __init__(self, members: Sequence[ExportedSurrogate]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        first = members[0]
        self.n_particles, self.order, self.enveloped = first.n_particles, first.order, first.enveloped

    def forward(self, momenta: Tensor) -> tuple[Tensor, Tensor]:
        """⟨A⟩ and σ_tot of the mixture, each ``(N,)`` float64, of momenta ``(N, n, 4)`` float64 [GeV]."""
        outputs = [member(momenta) for member in self.members]
        means = torch.stack([mean for mean, _ in outputs])
        variances = torch.stack([sigma**2 for _, sigma in outputs])
        mean = means.mean(dim=0)
        return mean, torch.sqrt(variances.mean(dim=0) + ((means - mean) ** 2).mean(dim=0))


def exported_module(model: Model) -> ExportedSurrogate | ExportedCommittee:
    """The module of a trained surrogate or committee (:class:`ExportError` naming what it cannot express)."""
    if isinstance(model, SurrogateCommittee):
        return ExportedCommittee([ExportedSurrogate.from_surrogate(member) for member in model.members])
    return ExportedSurrogate.from_surrogate(model)


def exportable_process(surrogate: Surrogate) -> Process:
    """The model's process, after checking the model is of the exported family (else :class:`ExportError`)."""
    cfg, net, pipeline = surrogate.config, surrogate.net, surrogate.pipeline
    if net is None or pipeline is None:
        raise ExportError("the surrogate is not trained: nothing to export")
    if surrogate.n_outputs is not None:
        raise ExportError(f"vector models ({surrogate.n_outputs} outputs) are not supported: only scalar amplitudes")
    if not isinstance(net, LastLayerNet):
        raise ExportError(f"family {cfg.family!r} is not supported: only 'laplace' (the default) is exported")
    if not has_closed_form(net, pipeline.target) or not isinstance(pipeline.target, LogTargetTransform):
        kind = getattr(pipeline.target, "kind", None) or "log"
        raise ExportError(f"target_transform {kind!r} is not supported: only 'pure_log' (the default) is exported")
    if cfg.process is None:
        raise ExportError("the model does not record its process (trained on plain features?): retrain with a process")
    process = get_process(cfg.process)
    n = process.n_particles
    expected = n * (n - 1) // 2 if pipeline.inputs.mode == "invariants" else 4 * n
    if pipeline.inputs.raw_dim != expected:
        raise ExportError(
            f"the model's {pipeline.inputs.raw_dim} raw inputs are not the {pipeline.inputs.mode} of {process.name} "
            f"({expected}): models trained on plain features are not supported"
        )
    return process


def export_program(module: ExportedSurrogate | ExportedCommittee, n_example: int = 8) -> torch.export.ExportedProgram:
    """``torch.export`` of ``module`` with a dynamic batch dimension (any N ≥ 1 works)."""
    example = torch.zeros(n_example, module.n_particles, 4, dtype=torch.float64)
    example[:, :, 0] = 1.0
    batch = torch.export.Dim("batch", min=1)
    with _quiet():
        return torch.export.export(module, (example,), dynamic_shapes=({0: batch},), strict=False)


def _silu(x: Tensor) -> Tensor:
    return x / (1.0 + torch.exp(-x))  # the formula of torch's CPU kernel, in its float32 steps


def _softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    xd = x.to(torch.float64) * beta
    return (torch.where(xd > threshold, xd, torch.log(1.0 + torch.exp(xd))) / beta).to(x.dtype)


def _tanh(x: Tensor) -> Tensor:
    return torch.tanh(x.to(torch.float64)).to(x.dtype)


def _expm1(x: Tensor) -> Tensor:
    e = torch.exp(x)  # Kahan's expm1 from exp and log, accurate to a few ulp (ONNX has no Expm1)
    return torch.where(e == 1.0, x, (e - 1.0) * x / torch.log(e))


def for_onnx(program: torch.export.ExportedProgram) -> torch.export.ExportedProgram:
    """The program with the functions that onnxruntime approximates written out (float32 unless said).

    onnxruntime's float32 ``Sigmoid``, ``Softplus`` and ``Tanh`` are approximations (up to thousands of ulp from torch
    near 0; softplus loses digits for negative inputs): with them σ_tot of a 4 × 128 g g → γ γ g model differed from
    ``Surrogate.predict`` by up to 2e-4. SiLU becomes ``x / (1 + exp(−x))``, the steps of torch's kernel (better than
    float64 rounded back: torch's float32 rounding is what is reproduced); softplus and tanh are evaluated in float64
    and rounded to float32; ``expm1`` (no ONNX operator; ``exp(u) − 1`` loses digits for small σ) is Kahan's
    ``(e − 1) u / log e``. SiLU in four operators costs a third of the speed of the fused ``Sigmoid``.
    """
    aten = torch.ops.aten
    table = {
        aten.silu.default: _silu,
        aten.softplus.default: _softplus,
        aten.tanh.default: _tanh,
        aten.expm1.default: _expm1,
    }
    with _quiet():
        return program.run_decompositions(table)


def metadata(process: Process, model: Path, module: ExportedSurrogate | ExportedCommittee) -> dict[str, Any]:
    """What a caller needs to know: process, input shape and units, outputs, versions, the model's sha256."""
    units = process.amplitude_units
    return {
        "schema": SCHEMA,
        "process": process.name,
        "description": process.description,
        "n_particles": process.n_particles,
        "input": {
            "name": INPUT,
            "shape": ["N", process.n_particles, 4],
            "dtype": "float64",
            "units": "GeV",
            "layout": "(E, px, py, pz); incoming first (p1 along +z, p2 along -z, partonic CM frame), then "
            + ", ".join(process.outgoing),
        },
        "outputs": [
            {"name": name, "shape": ["N"], "dtype": "float64", "units": units, "description": text}
            for name, text in zip(OUTPUTS, _OUTPUT_TEXT, strict=True)
        ],
        "amplitude_units": units,
        "symmetry_images": module.order,
        "committee_members": len(module.members) if isinstance(module, ExportedCommittee) else 1,
        "envelope": module.enveloped,
        "activeamp_version": __version__,
        "torch_version": torch.__version__,
        "model": str(model),
        "model_sha256": checkpoint_sha256(model),
    }


def _flat(meta: dict[str, Any]) -> dict[str, str]:
    """Metadata as string pairs (ONNX metadata_props, AOTInductor package metadata)."""
    return {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in meta.items()}


def save_pt2(program: torch.export.ExportedProgram, path: Path, meta: dict[str, Any]) -> None:
    """The program as a ``torch.export.save`` file; ``meta`` in its extra file ``activeamp.json``."""
    with atomic_open(path, "wb") as fh:
        torch.export.save(program, fh, extra_files={"activeamp.json": dumps(meta)})


def save_onnx(program: torch.export.ExportedProgram, path: Path, meta: dict[str, Any]) -> None:
    """The program as one ONNX file (weights inside, float64 preprocessing), ``meta`` in its metadata_props."""
    require_packages(_ONNX_PACKAGES, "ONNX export")
    import onnx
    import onnx_ir

    with _quiet("torch.onnx", "onnxscript", "onnx_ir"):
        onnx_program = torch.onnx.export(program, dynamo=True, verbose=False)
    graph = onnx_program.model.graph
    taken = {v.name for v in graph.outputs}
    for value in (v for node in graph for v in node.outputs):  # internal values named like an output step aside
        if value.name in OUTPUTS and value.name not in taken:
            value.name = f"{value.name}_"
    for value, name in zip(graph.outputs, OUTPUTS, strict=True):
        value.name = name
    for value in (*graph.inputs, *graph.outputs):  # the batch dimension is called N, as in export.json
        value.shape = onnx_ir.Shape(["N", *value.shape[1:]])
    proto = onnx_program.model_proto
    onnx.helper.set_model_props(proto, _flat(meta))
    with atomic_open(path, "wb") as fh:
        fh.write(proto.SerializeToString())


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Only errors from ``loggers`` and no warnings (the ONNX exporter's progress talk) inside the block."""
    levels = {name: logging.getLogger(name).level for name in loggers}
    try:
        for name in loggers:
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def require_packages(names: Sequence[str], what: str) -> None:
    """Raise :class:`ExportError` naming the packages of ``names`` that are not installed (needed for ``what``)."""
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(f"{what} needs the packages {', '.join(missing)}: pip install 'activeamp[export]'")


def save_aoti(program: torch.export.ExportedProgram, path: Path, meta: dict[str, Any]) -> None:
    """The program compiled by AOTInductor into a package for ``torch::inductor::AOTIModelPackageLoader`` (C++)
    and ``torch._inductor.aoti_load_package``; ``meta`` in the package metadata (``get_metadata()``)."""
    from torch._inductor import aoti_compile_and_package

    package = io.BytesIO()
    with _quiet():
        aoti_compile_and_package(program, package_path=package, inductor_configs={"aot_inductor.metadata": _flat(meta)})
    with atomic_open(path, "wb") as fh:
        fh.write(package.getbuffer())


def load_artefact(fmt: str, path: Path) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A function momenta ``(N, n, 4)`` float64 → (⟨A⟩, σ_tot) ``(N,)`` of an artefact (for verification)."""
    if fmt == "onnx":
        require_packages(["onnxruntime"], "running the ONNX model")
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def run_onnx(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean, sigma = session.run(list(OUTPUTS), {INPUT: np.ascontiguousarray(x, dtype=np.float64)})
            return mean, sigma

        return run_onnx
    if fmt == "pt2":
        with _quiet():
            module = torch.export.load(path).module()
    elif fmt == "aoti":
        from torch._inductor import aoti_load_package

        with _quiet():
            module = aoti_load_package(str(path))
    else:
        raise ExportError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")

    def run_torch(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            mean, sigma = module(torch.as_tensor(np.ascontiguousarray(x, dtype=np.float64)))
        return mean.numpy(), sigma.numpy()

    return run_torch


def sample_points(process: Process, n: int, seed: int = 0) -> np.ndarray:
    """``n`` points ``(n, n_particles, 4)`` [GeV] of ``process`` inside its default cuts, at √s = 1 TeV."""
    if process.massless:
        from activeamp.physics.cuts import default_cuts
        from activeamp.physics.phasespace import PhaseSpaceSampler

        return PhaseSpaceSampler(process, cuts=default_cuts(process)).sample(n, seed, only_accepted=True).momenta
    from activeamp.physics.vv_phasespace import VVPhaseSpace

    return VVPhaseSpace(process).sample(n, seed).momenta


def max_relative_difference(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> float:
    """``max |got − want| / |want|`` over all outputs and points."""
    return max(float(np.max(np.abs(g - w) / np.abs(w))) for g, w in zip(got, want, strict=True))


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_model` wrote: artefact paths, the sidecar, and each artefact's max relative difference
    from ``Surrogate.predict`` on ``n_checked`` points (on ⟨A⟩ and σ_tot)."""

    artefacts: dict[str, Path]
    sidecar: Path
    max_rel_diff: dict[str, float]
    n_checked: int
    seconds: dict[str, float] = field(default_factory=dict)


def export_model(
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    formats: Sequence[str] = DEFAULT_FORMATS,
    *,
    n_check: int = 300,
    seed: int = 0,
    tolerance: float = 1e-6,
) -> ExportReport:
    """Export the surrogate in ``model`` to ``out``: :data:`ARTEFACTS` of ``formats`` and ``export.json``.

    Every artefact is loaded back and compared with ``Surrogate.predict`` on ``n_check`` phase-space points of
    the model's process (:func:`sample_points`); the maximal relative difference is logged and recorded.

    Parameters
    ----------
    model : path-like
        A checkpoint of ``activeamp train`` or ``activeamp run`` (``model.pt``; a committee of several trainer
        actors is exported as one module of the members' mixture).
    out : path-like
        Output folder (created).
    formats : sequence of str
        Some of :data:`FORMATS`.
    n_check : int
        Points of the verification (0: none).
    seed : int
        Seed of the verification points.
    tolerance : float
        A larger relative difference is logged as a warning.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        what = ", ".join(map(repr, unknown)) or "none given"
        raise ExportError(f"format: {what} is not one of {', '.join(FORMATS)}")
    formats = tuple(dict.fromkeys(formats))
    if "onnx" in formats:  # before anything is written
        require_packages(_ONNX_PACKAGES + (("onnxruntime",) if n_check > 0 else ()), "ONNX export and its check")
    model, out = Path(model), Path(out)
    surrogate = load_model(model, device="cpu")
    module = exported_module(surrogate)
    process = get_process(surrogate.config.process)  # type: ignore[arg-type]  # checked by from_surrogate
    meta = metadata(process, model.resolve(), module)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    program = export_program(module)
    seconds = {"export": time.perf_counter() - t0}
    programs = {"pt2": program, "aoti": program}
    if "onnx" in formats:
        programs["onnx"] = for_onnx(program)
    savers = {"pt2": save_pt2, "onnx": save_onnx, "aoti": save_aoti}
    artefacts: dict[str, Path] = {}
    for fmt in formats:
        t0 = time.perf_counter()
        path = out / ARTEFACTS[fmt]
        savers[fmt](programs[fmt], path, meta)
        artefacts[fmt] = path
        seconds[fmt] = time.perf_counter() - t0
        logger.info("wrote %s in %.1f s: %s", fmt, seconds[fmt], path)
    diffs: dict[str, float] = {}
    if n_check > 0:
        x = sample_points(process, n_check, seed)
        pred = surrogate.predict(x)
        want = (pred.mean, pred.sigma_tot)
        for fmt, path in artefacts.items():
            diffs[fmt] = max_relative_difference(load_artefact(fmt, path)(x), want)
            if diffs[fmt] <= tolerance:
                logger.info(
                    "%s: max relative difference from Surrogate.predict on %d points: %.3g", fmt, len(x), diffs[fmt]
                )
            else:  # the float32 network, evaluated by other kernels (onnxruntime), rounds differently
                logger.warning(
                    "%s: max relative difference from Surrogate.predict on %d points: %.3g > %.3g "
                    "(float32 rounding of the network by other kernels)",
                    fmt,
                    len(x),
                    diffs[fmt],
                    tolerance,
                )
    doc = {
        **meta,
        "artefacts": {fmt: path.name for fmt, path in artefacts.items()},
        "check": {"n_points": n_check, "seed": seed, "max_rel_diff": diffs},
    }
    sidecar = write_json(out / "export.json", doc)
    return ExportReport(artefacts, sidecar, diffs, n_check if diffs else 0, seconds)
