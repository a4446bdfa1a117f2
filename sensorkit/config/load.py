"""Read TOML into the validated :class:`~sensorkit.config.schema.Config`.

Every error names the file, the dotted key path and the offending value, e.g.
``run.toml: runners[0].pods[1].placement = 'neck': Input should be 'lower_back', ...``.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sensorkit.config.schema import Config
from sensorkit.errors import ConfigError


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        where = _key_path(tuple(err["loc"]))
        if err["type"] == "missing":
            lines.append(f"{source}: {where}: required key is missing")
        elif err["type"] == "extra_forbidden":
            lines.append(f"{source}: {where}: unknown key (check the spelling; see README, Configuration)")
        else:
            lines.append(f"{source}: {where} = {err.get('input')!r}: {err['msg']}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from exc


def load_config(path: str | Path) -> Config:
    """Load and validate a TOML config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:  # TOML is UTF-8 by definition
        raise ConfigError(f"{p}: not UTF-8 text (byte {exc.start}); save the config as UTF-8") from None
    return parse_config(_parse_toml(text, str(p)), str(p))


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc


def demo_config() -> Config:
    """The embedded defaults `sensorkit demo` runs on: no sensors, no servers."""
    text = resources.files("sensorkit.config").joinpath("demo.toml").read_text(encoding="utf-8")
    return parse_config(_parse_toml(text, "demo.toml (embedded)"), "demo.toml (embedded)")
