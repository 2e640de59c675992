"""Tests of the search-space language: parsing into dimensions, canonical form, Tune domains, layer lists."""

from __future__ import annotations

import numpy as np
import pytest

from activeamp.config import ConfigError
from activeamp.loop.tuning.space import DEFAULT_SPACE, Dimension, SearchSpace
from activeamp.surrogate.config import SurrogateConfig


def _sample(space: SearchSpace, rng: np.random.Generator) -> dict[str, object]:
    """One configuration drawn from the Tune domains (what Tune's random search does per trial)."""
    return {k: (v.sample(random_state=rng) if hasattr(v, "sample") else v) for k, v in space.param_space().items()}


def test_layer_list_is_conditional_on_the_sampled_layer_count() -> None:
    space = SearchSpace.parse(DEFAULT_SPACE, SurrogateConfig())
    assert space.max_layers == 6
    assert {f"width_{i}" for i in range(6)} <= set(space.param_space())
    rng = np.random.default_rng(0)
    configs = [SurrogateConfig.from_dict(space.surrogate_values(_sample(space, rng))) for _ in range(300)]
    assert {len(c.hidden) for c in configs} == set(range(3, 7))  # randint [3, 7): 3..6 layers
    assert {w for c in configs for w in c.hidden} == {64, 128, 256}
    assert any(len(set(c.hidden)) > 1 for c in configs)  # per-layer widths, not one shared width
    assert {c.family for c in configs} == {"laplace", "bnn", "ensemble"}
    assert {c.activation for c in configs} == {"silu", "gelu"}
    prior = np.array([c.prior_width for c in configs])
    assert prior.min() >= 1e-2 and prior.max() <= 10 and np.median(np.log10(prior)) == pytest.approx(-0.5, abs=0.3)
    assert {c.batch_size for c in configs} == {512, 1024, 2048}


def test_grid_constants_and_hidden_choice() -> None:
    base = SurrogateConfig()
    space = SearchSpace.parse({"lr": {"grid": [1e-3, 1e-2]}, "activation": "relu"}, base)
    assert space.n_trials(3) == 6 and space.max_layers == 0
    values = space.surrogate_values({"lr": 1e-2, "activation": "relu"})
    assert values == {"lr": 1e-2, "activation": "relu"}
    space = SearchSpace.parse({"hidden": {"choice": [[8, 8], [16, 8, 4]]}}, base)
    assert space.surrogate_values({"hidden": [16, 8, 4]}) == {"hidden": [16, 8, 4]}


def test_dimensions_hold_numeric_bounds_and_give_tune_domains() -> None:
    space = SearchSpace.parse(
        {
            "lr": {"loguniform": ["1e-4", "1e-2"]},  # YAML reads 1e-4 without a dot as text
            "batch_size": {"qrandint": [256, 1024, 256]},
            "n_members": {"randint": [2, 5]},
            "activation": "tanh",
        }
    )
    assert space.get("lr") == Dimension("lr", "loguniform", (1e-4, 1e-2))
    assert space.get("batch_size") == Dimension("batch_size", "qrandint", (256, 1024, 256))
    assert space.get("hidden") is None
    assert space.get("n_members").extremes() == [2, 4]  # upper bound exclusive
    assert space.get("batch_size").extremes() == [256, 1024]  # qrandint: inclusive
    assert space.to_dict() == {
        "lr": {"loguniform": [1e-4, 1e-2]},
        "batch_size": {"qrandint": [256, 1024, 256]},
        "n_members": {"randint": [2, 5]},
        "activation": "tanh",
    }
    assert SearchSpace.parse(space.to_dict()) == space  # the canonical form parses to the same dimensions
    domains = space.param_space()
    assert domains["activation"] == "tanh"
    rng = np.random.default_rng(1)
    draws = [_sample(space, rng) for _ in range(200)]
    assert all(1e-4 <= d["lr"] <= 1e-2 for d in draws)
    assert {d["batch_size"] for d in draws} == {256, 512, 768, 1024}
    assert {d["n_members"] for d in draws} == {2, 3, 4}
    values = space.surrogate_values(draws[0])
    assert all(type(v) in (int, float, str) for v in values.values())  # NumPy scalars become Python numbers


def test_grid_of_layer_counts_multiplies_the_trials() -> None:
    space = SearchSpace.parse(
        {"n_layers": {"grid": [1, 3]}, "width": {"choice": [8, 16]}, "lr": {"grid": [1e-3, 3e-3]}}
    )
    assert space.max_layers == 3 and space.n_trials(2) == 8
    assert space.param_space()["n_layers"] == {"grid_search": [1, 3]}
    assert space.surrogate_values({"lr": 1e-3, "n_layers": 2, "width_0": 16, "width_1": 8, "width_2": 8}) == {
        "lr": 1e-3,
        "hidden": [16, 8],
    }


def test_parse_checks_the_language_and_check_the_values_against_a_base() -> None:
    with pytest.raises(ConfigError, match=r"^space\.lr\.loguniform\[1\]: expected a number, got 'x'$"):
        SearchSpace.parse({"lr": {"loguniform": [1e-4, "x"]}})
    with pytest.raises(ConfigError, match=r"^space\.n_members\.randint\[0\]: expected an integer, got 1\.5$"):
        SearchSpace.parse({"n_members": {"randint": [1.5, 4]}})
    with pytest.raises(ConfigError, match=r"^space\.lr: a distribution is a mapping with one key"):
        SearchSpace.parse({"lr": {"uniform": [0, 1], "loguniform": [1, 2]}})
    with pytest.raises(ConfigError, match=r"^space\.lr\.quniform: q must be > 0, got 0\.0$"):
        SearchSpace.parse({"lr": {"quniform": [0.1, 1, 0]}})
    with pytest.raises(ConfigError, match=r"^space\.family\.choice: expected a non-empty list of values, got \[\]$"):
        SearchSpace.parse({"family": {"choice": []}})
    with pytest.raises(ConfigError, match=r"^space\.hidden: give either hidden or n_layers/width"):
        SearchSpace.parse({"hidden": [8], "n_layers": 2, "width": 8})
    with pytest.raises(ConfigError, match=r"^space: expected a mapping"):
        SearchSpace.parse(["lr"])  # type: ignore[arg-type]
    # values: parsed without a base, rejected by the base they are applied to
    space = SearchSpace.parse({"lr": {"uniform": [0, 1e-2]}, "n_layers": 2, "width": {"choice": [8, 0]}})
    with pytest.raises(ConfigError, match=r"^space\.lr: lr: must be > 0"):
        space.check(SurrogateConfig())
    with pytest.raises(ConfigError, match=r"^space\.lr: lr: must be > 0"):
        SearchSpace.parse(space.to_dict(), SurrogateConfig())
    loss = SearchSpace.parse({"loss": "mse"})
    loss.check(SurrogateConfig(family="laplace"))
    with pytest.raises(ConfigError, match=r"^space\.loss: loss: 'mse' .* only family 'laplace'"):
        loss.check(SurrogateConfig(family="bnn"))
