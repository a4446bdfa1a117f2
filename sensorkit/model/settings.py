"""How every settings section of the config file validates, and the rule for bind addresses."""

from __future__ import annotations

import ipaddress

from pydantic import ConfigDict

SETTINGS = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
"""Unknown keys are errors (a typo must not silently fall back to a default), sections are
immutable once loaded, and ``inf``/``nan`` are refused: a recording's meta.json cannot hold
them, so replay could not re-validate the run's own settings."""


def is_loopback(host: str) -> bool:
    """True for names and addresses only this machine can reach: anything else needs a token."""
    if host.lower() in {"localhost", "localhost.localdomain", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
