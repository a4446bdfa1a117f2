"""Secrets come from the environment or a file named in the config, never from argv or logs."""

from __future__ import annotations

import os
from pathlib import Path

from sensorkit.errors import ConfigError


def read_secret(env: str | None, file: Path | None, what: str) -> str | None:
    """The secret from ``$env`` or from ``file`` (first line, stripped); None if neither is set."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{what}: environment variable {env} is not set")
        return value
    if file:
        try:
            return Path(file).read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise ConfigError(f"{what}: cannot read secret file {file}") from exc
    return None
