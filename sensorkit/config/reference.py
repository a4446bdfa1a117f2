"""The README's configuration reference, generated from the models that validate the config."""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sensorkit.config.schema import Config, RunnerSettings

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def _models_in(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models_in(arg)]


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:  # a validated type: name what is written
        return _type_name(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return "table"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " / ".join(f"`{m.value}`" for m in tp)
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


def _default(f: FieldInfo, instance: BaseModel | None = None, name: str = "") -> str:
    if instance is not None:
        value = getattr(instance, name)
    elif f.default is PydanticUndefined and f.default_factory is None:
        return "required"
    else:
        value = f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "(table)"
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "unset"
    if isinstance(value, dict | list) and not value:
        return "empty"
    return f"`{value!s}`".replace("|", "\\|")


def _heading(path: str, is_list: bool, variant: str) -> str:
    h = f"[[{path}]]" if is_list else f"[{path}]"
    return f"{h} with app = \"{variant}\"" if variant else h


def _defaults_of(model: type[BaseModel]) -> BaseModel | None:
    try:
        return model()
    except ValueError:  # has required keys
        return None


def _table(model: type[BaseModel], path: str, is_list: bool = False, variant: str = "",
           instance: BaseModel | None = None, seen: dict[type, str] | None = None) -> list[str]:
    seen = {} if seen is None else seen
    rows = [f"#### `{_heading(path, is_list, variant)}`", ""]
    if model in seen and instance is not None:
        values = ", ".join(f"`{k}` = {_default(f, instance, k)}" for k, f in model.model_fields.items())
        return [*rows, f"Same keys as `[{seen[model]}]`, with these defaults: {values}.", ""]
    seen[model] = path
    if model.__doc__:
        rows += [model.__doc__.strip().splitlines()[0], ""]
    rows += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    nested: list[tuple[type[BaseModel], str, bool, str, BaseModel | None]] = []
    for name, f in model.model_fields.items():
        sub = [m for m in _models_in(f.annotation) if m is not model]
        if sub and all(issubclass(m, BaseModel) for m in sub):
            for m in sub:
                app = m.model_fields.get("app")
                variant = _variant(app) if len(sub) > 1 and app is not None else ""
                sub_list = typing.get_origin(f.annotation) is list
                sub_inst = getattr(instance, name) if instance is not None and not sub_list else None
                nested.append((m, f"{path}.{name}", sub_list, variant,
                               sub_inst if isinstance(sub_inst, m) else None))
            if typing.get_origin(f.annotation) is list or len(sub) > 1:
                rows.append(f"| `{name}` | list of tables | {_default(f, instance, name)} | {f.description or ''} |")
                continue
            if f.annotation is not None and not typing.get_args(f.annotation):
                continue
        desc = (f.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{name}` | {_type_name(f.annotation)} | {_default(f, instance, name)} | {desc} |")
    rows.append("")
    if rows[-2].startswith("| ---"):  # a container of sub-tables only: no table of its own
        rows = []
    for m, sub_path, sub_list, variant, sub_inst in nested:
        rows += _table(m, sub_path, sub_list, variant, sub_inst, seen)
    return rows


def _variant(app: FieldInfo) -> str:
    args = typing.get_args(app.annotation)
    return str(args[0]) if args else ""


def markdown_reference() -> str:
    """Markdown tables of every section and key, in file order."""
    lines: list[str] = []
    for name, f in Config.model_fields.items():
        models = _models_in(f.annotation)
        if name == "runners":
            lines += _table(RunnerSettings, "runners", is_list=True)
        elif models:
            lines += _table(models[0], name, instance=_defaults_of(models[0]))
    return "\n".join(lines).rstrip() + "\n"
