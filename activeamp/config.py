"""Typed configuration: frozen dataclasses built from YAML or dicts, with validation and dotted overrides."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

__all__ = ["ConfigError", "apply_overrides", "from_dict", "load_config", "load_yaml", "parse_override", "to_dict"]

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key and the value."""


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` to the annotated type ``tp`` or raise :class:`ConfigError` naming ``where``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        errors: list[tuple[Any, ConfigError]] = []
        for arg in options:
            try:
                return _convert(value, arg, where)
            except ConfigError as err:
                errors.append((arg, err))
        # One real alternative (X | None), or a mapping meant for the one dataclass alternative: its own
        # message names the inner key and value, which "does not match" would hide.
        nested = [err for arg, err in errors if dataclasses.is_dataclass(arg) and isinstance(value, Mapping)]
        if len(options) == 1 or len(nested) == 1:
            raise (errors[0][1] if len(options) == 1 else nested[0]) from None
        raise ConfigError(f"{where}: {value!r} does not match {_type_name(tp)}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(repr(a) for a in args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, where=where)
    if origin in (tuple, list, Sequence) or tp in (tuple, list):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} entries, got {len(value)}")
            items = [_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))]
        else:
            inner = args[0] if args else Any
            items = [_convert(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple or tp is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # PyYAML reads "1e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    return value


def _with_section(message: str, where: str) -> str:
    """``message`` of a section's own check, prefixed so that it names the full key path ``where.<field>``.

    Checks name their field relative to some section ("steps[0]: ...", "loss.threshold: ...",
    "acquisition.batch_size: ..."); the part of ``where`` the message does not already start with is added.
    """
    if not where or message.startswith("unknown key"):
        return message
    parts = where.split(".")
    for i in range(len(parts)):
        tail = ".".join(parts[i:])
        if message.startswith((f"{tail}.", f"{tail}:", f"{tail}[")):
            return ".".join(parts[:i] + [message]) if i else message
    return f"{where}.{message}"


def from_dict(cls: type[T], data: Mapping[str, Any], *, where: str = "") -> T:
    """Build the (frozen) dataclass ``cls`` from ``data``, validating every key.

    Nested dataclasses are built from nested mappings. After construction, the dataclass's own
    ``__post_init__`` may validate values further (and should raise :class:`ConfigError`).

    Raises
    ------
    ConfigError
        For unknown keys (the message lists the allowed ones) and values of the wrong type.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(prefix + k for k in unknown)}; "
            f"allowed: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        kwargs[name] = _convert(_with_section_defaults(fields[name], value), hints[name], key)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        named = _with_section(str(err), where)
        if named != str(err):
            raise ConfigError(named) from None
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where or cls.__name__}: {err}") from None


def _merged(default: Any, value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` on top of the dataclass instance ``default``'s init fields (nested dataclass sections merged too)."""
    out = {f.name: getattr(default, f.name) for f in dataclasses.fields(default) if f.init}
    for name, given in value.items():
        current = out.get(name)
        nested = dataclasses.is_dataclass(current) and isinstance(given, Mapping)
        out[name] = _merged(current, given) if nested else given
    return {name: to_dict(v) for name, v in out.items()}


def _with_section_defaults(field: dataclasses.Field, value: Any) -> Any:
    """A partial mapping for a section whose default is built by a factory (e.g. an active run's precise surrogate,
    ``surrogate.max_steps: 20000``) keeps that default's other keys, not the section class's own defaults."""
    if not isinstance(value, Mapping) or field.default_factory is dataclasses.MISSING:
        return value
    default = field.default_factory()
    return _merged(default, value) if dataclasses.is_dataclass(default) else value


def to_dict(config: Any) -> dict[str, Any]:
    """Plain, YAML-serialisable dict of a (nested) config dataclass (tuples become lists)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return plain(config)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into its key path and a YAML-parsed value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. training.lr=1e-3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted ``KEY=VALUE`` overrides applied (values parsed as YAML)."""
    out: dict[str, Any] = _deep_copy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
            node = child
        node[path[-1]] = value
    return out


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """A config of type ``cls`` from a YAML file (or the defaults) with ``KEY=VALUE`` overrides applied.

    ``cls.from_dict`` is used when the class defines one, :func:`from_dict` otherwise; errors are
    prefixed with the file name, e.g. ``run.yaml: surrogate.lr: must be > 0, got 0.0``.
    """
    if path is not None:
        path = Path(path).expanduser()
    data = apply_overrides(load_yaml(path) if path is not None else {}, list(overrides))
    build = getattr(cls, "from_dict", None)
    try:
        return build(data) if callable(build) else from_dict(cls, data)
    except ConfigError as err:
        if path is None:
            raise
        raise ConfigError(f"{path}: {err}") from None
