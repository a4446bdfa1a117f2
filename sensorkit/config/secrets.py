"""Secrets come from the environment or a file named in the config, never from argv or logs.

The one way sensorkit reads a token or a password (InfluxDB, MQTT, the dashboard, phone
ingest endpoints all call :func:`read_secret`), so every secret follows the same rules:

* a file named in the config wins over an environment variable (it is the deliberate choice
  when both are set, e.g. a default ``token_env`` plus an explicit ``token_file``);
* the file's first line is the secret (surrounding white space stripped); a file that
  others can read is used, with a warning;
* an environment variable named but not set, or an empty secret, is a :class:`ConfigError`
  unless the caller says the variable is optional (``env_optional``: a default name such as
  ``INFLUX_TOKEN`` that a server without authentication does not need);
* error messages name the variable or the file, never the value.

This module imports nothing from sensorkit but the errors, so packages that the config
composes may import it lazily (inside a function) without an import cycle.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sensorkit.errors import ConfigError

log = logging.getLogger(__name__)

TOKEN_HINT = "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`"


def read_secret(env: str | None, file: str | os.PathLike[str] | None, what: str, *,
                env_optional: bool = False, min_chars: int = 0) -> str | None:
    """The secret from ``file`` (first line) or ``$env``; None if neither is configured.

    ``what`` names the secret in messages ("influx token", "mqtt password"); ``min_chars``
    refuses secrets too short to resist guessing (tokens that guard a listening endpoint).
    """
    if file:
        value = _from_file(Path(file).expanduser(), what)
    elif env:
        raw = os.environ.get(env)
        if raw is None or not raw.strip():
            if env_optional:
                return None
            state = "is not set" if raw is None else "is empty"
            raise ConfigError(f"{what}: environment variable {env} {state}")
        value = raw.strip()
    else:
        return None
    if len(value) < min_chars:
        raise ConfigError(f"{what} is too short: use at least {min_chars} random characters ({TOKEN_HINT})")
    return value


def _from_file(path: Path, what: str) -> str:
    noun = what.split()[-1] if what.split() else "secret"
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read the {noun} file {str(path)!r}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:  # not chained: the exception object holds the file's bytes
        raise ConfigError(f"{what}: the {noun} file {str(path)!r} is not UTF-8 text") from None
    lines = text.splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        raise ConfigError(f"{what}: the {noun} file {str(path)!r} is empty (the first line is the {noun})")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s: %s is readable by other users of this machine; `chmod 600` it", what, path)
    return value
