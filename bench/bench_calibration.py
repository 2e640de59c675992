"""Benchmark: calibration of σ_tot for saved ``laplace`` models, with the σ_model head refitted as training ends.

For each ``run-*`` folder of a ``bench_precision.py`` work folder, loads ``model.pt``, keeps its trunk and mean
head, refits the σ_model head and the last-layer posterior exactly as a training stage ends
(:func:`activeamp.surrogate.laplace.calibrate` on the run's own training subset and the store's validation split), and
scores the frozen test split: std of the total pull and the fraction within 1 σ (targets 0.8–1.25 and
0.60–0.76), before and after. This is how models trained before a change of the σ head are re-scored without
retraining the mean.

Example (the BENCHMARKS.md calibration figures)::

    .venv/bin/python bench/bench_calibration.py --out /tmp/prec
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from activeamp.config import load_config
from activeamp.data.store import ShardStore
from activeamp.surrogate.laplace import LastLayerNet, calibrate
from activeamp.surrogate.surrogate import Surrogate
from activeamp.surrogate.training import TrainConfig, load_training_data

__all__ = ["main"]

logger = logging.getLogger("bench_calibration")


def _pulls(model: Surrogate, x: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Std of the total pull and the fraction of points within 1 σ_tot on ``(x, truth)``."""
    p = model.predict(x, n_samples=30)
    t = (p.mean - truth) / np.sqrt(p.sigma_model**2 + p.sigma_pred**2)
    return float(t.std()), float(np.mean(np.abs(t) < 1.0))


def _refit(model: Surrogate, store: ShardStore, run: Path) -> None:
    """Replace the σ head by a fresh one on features and inputs, refitted as :meth:`Surrogate.fit` ends a stage."""
    old = model.net
    if not isinstance(old, LastLayerNet):
        raise SystemExit(f"{run / 'model.pt'}: family {model.config.family!r}, this benchmark needs 'laplace'")
    config = load_config(TrainConfig, run / "train_config.yaml", [])
    data = load_training_data(store, config)
    new = LastLayerNet(old.n_inputs, old.hidden, model.config.activation, sigma_floor=old.sigma_floor)
    shared = {k: v for k, v in old.state_dict().items() if not k.startswith("sigma_head")}
    new.load_state_dict(shared, strict=False)
    x, y = model._training_tensors(data.x, data.amplitude)
    val = model._training_tensors(data.x_val, data.a_val) if data.x_val is not None else None
    calibrate(new, x, y, torch.ones(x.shape[1]), val, model.config.prior_width)
    model.net = new


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("/tmp/activeamp-bench-precision"), help="bench_precision folder")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    store = ShardStore.open(args.out / "data" / "store")
    test = store.arrays("test")
    for run in sorted(args.out.glob("run-*")):
        model = Surrogate.load(run / "model.pt")
        if model.config.family != "laplace":
            continue
        before = _pulls(model, test.momenta, test.amplitude)
        _refit(model, store, run)
        after = _pulls(model, test.momenta, test.amplitude)
        logger.info(
            "%s: pulls std %.3f, %.3f within 1σ (as saved) → std %.3f, %.3f within 1σ (σ head on features + inputs)",
            run.name, *before, *after,
        )


if __name__ == "__main__":
    main()
