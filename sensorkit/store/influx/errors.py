"""What can go wrong talking to InfluxDB, sorted by what the sink should do about it.

At start-up every one of these is fatal except :class:`InfluxUnavailable` (the server is merely
down: the session runs and spools). During a session only :class:`InfluxRejected` drops a
batch (it is moved aside, never retried); everything else is spooled and retried.
"""

from __future__ import annotations

from sensorkit.errors import StoreError


class InfluxUnavailable(StoreError):
    """The server did not answer, timed out or reported a server-side error: retry later."""


class InfluxUnreachable(StoreError):
    """The URL cannot work at all (host name does not resolve, TLS handshake refused)."""


class InfluxAuthError(StoreError):
    """The token or user/password was refused."""


class InfluxNotFound(StoreError):
    """The bucket, organization, database or retention policy does not exist."""


class InfluxRejected(StoreError):
    """The server refused the data itself (malformed, too large, type conflict): retrying cannot help."""
