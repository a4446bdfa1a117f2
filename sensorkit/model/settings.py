"""How every settings section of the config file validates."""

from __future__ import annotations

from pydantic import ConfigDict

SETTINGS = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
"""Unknown keys are errors (a typo must not silently fall back to a default), sections are
immutable once loaded, and ``inf``/``nan`` are refused: a recording's meta.json cannot hold
them, so replay could not re-validate the run's own settings."""
