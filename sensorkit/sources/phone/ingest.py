"""Guards every ingest endpoint shares: tokens, rate limits, bounded queues, counted rejects.

Bad input is never fatal: it is rejected with a reason, counted per reason, and logged -
the first time, then at most once per ``log_every_s`` per reason with the running count,
so a flood cannot flood the log too.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class TokenBucket:
    """Sustained ``rate_per_s`` with bursts of ``burst``; ``allow()`` is O(1)."""

    def __init__(self, rate_per_s: float, burst: int, now: float | None = None) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._tokens = float(burst)
        self._t = time.monotonic() if now is None else now

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate_per_s)
        self._t = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class RejectLog:
    """Counts rejected input per reason and logs it without flooding."""

    name: str
    log_every_s: float = 10.0
    counts: Counter[str] = field(default_factory=Counter)
    _last_logged: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reject(self, reason: str, detail: str = "", peer: str | None = None) -> None:
        """Count one rejected message; ``detail`` must never contain secrets."""
        self.counts[reason] += 1
        now = time.monotonic()
        last = self._last_logged.get(reason)
        if last is None or now - last >= self.log_every_s:
            self._last_logged[reason] = now
            who = f" from {peer}" if peer else ""
            log.warning("%s: rejected input%s: %s%s (%d so far)", self.name, who, reason,
                        f": {detail[:200]}" if detail else "", self.counts[reason])


def read_secret(env: str | None, file: Path | None, what: str) -> str | None:
    """A secret from ``file`` or ``$env`` (:func:`sensorkit.config.secrets.read_secret`)."""
    # Imported here: the config package imports the phone settings.
    from sensorkit.config.secrets import read_secret as shared

    return shared(env, file, what)


def load_token(env: str | None, file: Path | None, what: str) -> str | None:
    """The ingest token, or None when none is configured; a short token is a config error."""
    from sensorkit.config.secrets import read_secret as shared

    return shared(env, file, f"{what} token", min_chars=8)


def token_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; no token configured accepts everything."""
    if expected is None:
        return True
    if given is None:
        return False
    # surrogatepass: aiohttp hands non-UTF-8 header bytes over as lone surrogates (a 500 otherwise).
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))
