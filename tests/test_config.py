"""Tests of typed configuration loading, validation and overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from activeamp.config import ConfigError, apply_overrides, from_dict, load_yaml, to_dict


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    hidden: tuple[int, ...] = (20, 20)
    family: Literal["bnn", "deterministic"] = "bnn"


@dataclass(frozen=True)
class Outer:
    name: str = "run"
    seed: int = 1
    path: Path | None = None
    inner: Inner = field(default_factory=Inner)
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"seed: must be >= 0, got {self.seed}")


def test_nested_from_dict_and_roundtrip() -> None:
    cfg = from_dict(Outer, {"seed": 3, "inner": {"hidden": [8, 16, 32], "lr": 1}, "path": "a/b"})
    assert cfg.inner.hidden == (8, 16, 32)
    assert isinstance(cfg.inner.lr, float) and cfg.inner.lr == 1.0
    assert cfg.path == Path("a/b")
    assert from_dict(Outer, to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"sede": 1}, "unknown key sede; allowed: inner, name, options, path, seed"),
        ({"inner": {"lrr": 1}}, "unknown key inner.lrr"),
        ({"seed": "x"}, "seed: expected an integer, got 'x'"),
        ({"seed": True}, "seed: expected an integer"),
        ({"inner": {"family": "gp"}}, "inner.family: 'gp' is not one of 'bnn', 'deterministic'"),
        ({"inner": {"hidden": [8, "a"]}}, "inner.hidden[1]: expected an integer"),
        ({"inner": 3}, "inner: expected a mapping"),
        ({"seed": -2}, "seed: must be >= 0, got -2"),
    ],
)
def test_errors_name_key_and_value(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_dict(Outer, data)


def test_overrides_are_yaml_parsed_and_nested() -> None:
    out = apply_overrides({"inner": {"lr": 1.0}}, ["inner.lr=3e-4", "inner.hidden=[4, 4]", "name=x", "seed=7"])
    cfg = from_dict(Outer, out)
    assert cfg.inner.lr == pytest.approx(3e-4)
    assert cfg.inner.hidden == (4, 4)
    assert (cfg.name, cfg.seed) == ("x", 7)
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["novalue"])
    with pytest.raises(ConfigError, match="'name' is not a section"):
        apply_overrides({"name": "a"}, ["name.x=1"])


def test_load_yaml_errors_name_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        load_yaml(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("3\n")
    with pytest.raises(ConfigError, match="scalar.yaml: expected a mapping"):
        load_yaml(scalar)
    with pytest.raises(ConfigError, match="missing.yaml: cannot read"):
        load_yaml(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_yaml(tmp_path / "empty.yaml") == {}


def test_errors_inside_optional_nested_sections_name_the_inner_key() -> None:
    from activeamp.loop.active import ActiveConfig

    with pytest.raises(ConfigError, match="^boosting.steps\\[0\\]: repeat count in 'loss\\*x' is not an integer"):
        ActiveConfig.from_dict({"boosting": {"steps": ["loss*x"]}})
    with pytest.raises(ConfigError, match="unknown key boosting.stepz"):
        ActiveConfig.from_dict({"boosting": {"stepz": []}})


@dataclass(frozen=True)
class Tuned:
    inner: Inner = field(default_factory=lambda: Inner(lr=0.5, hidden=(64,)))
    nested: Outer = field(default_factory=lambda: Outer(name="tuned", inner=Inner(lr=0.25)))
    options: dict = field(default_factory=lambda: {"a": 1, "b": 2})


def test_a_partial_section_keeps_the_other_keys_of_its_factory_default() -> None:
    cfg = from_dict(Tuned, {"inner": {"family": "deterministic"}, "nested": {"seed": 5, "inner": {"hidden": [3]}}})
    assert cfg.inner == Inner(lr=0.5, hidden=(64,), family="deterministic")  # not Inner's own lr and hidden
    assert cfg.nested.name == "tuned" and cfg.nested.seed == 5
    assert cfg.nested.inner == Inner(lr=0.25, hidden=(3,))
    assert from_dict(Tuned, {"options": {"c": 3}}).options == {"c": 3}  # plain mappings are replaced, not merged


def test_run_overrides_keep_the_precise_defaults_of_their_section() -> None:
    from activeamp.loop.settings import ActiveConfig

    default = ActiveConfig()
    cfg = ActiveConfig.from_yaml(None, ["trainer.num_cpus=1", "surrogate.lr=1e-3", "acquisition.score=weighted"])
    assert cfg.trainer.num_cpus == 1 and cfg.trainer.round_steps == default.trainer.round_steps == 10_000
    assert cfg.surrogate.lr == 1e-3 and cfg.surrogate.max_steps == default.surrogate.max_steps == 20_000
    assert cfg.acquisition.score == "weighted" and cfg.acquisition.batch_size == default.acquisition.batch_size == 4000
