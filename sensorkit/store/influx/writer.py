"""The writer seam: ships line-protocol bytes to one server, v1 or v2 API behind one protocol."""

from __future__ import annotations

import asyncio
import socket
import ssl
from types import TracebackType
from typing import Protocol, Self

from sensorkit.errors import StoreError
from sensorkit.store.influx.errors import (
    InfluxAuthError,
    InfluxNotFound,
    InfluxRejected,
    InfluxUnavailable,
    InfluxUnreachable,
)
from sensorkit.store.influx.settings import InfluxApi, InfluxSettings


class Writer(Protocol):
    """An open connection to one InfluxDB target.

    ``check`` verifies credentials and that the database/bucket exists (raises the typed
    errors of :mod:`sensorkit.store.influx.errors`); ``write`` sends newline-separated line
    protocol with nanosecond timestamps and raises the same errors.
    """

    target: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def check(self) -> None: ...

    async def write(self, data: bytes) -> None: ...


def http_error(target: str, status: int, message: str, what: str) -> StoreError:
    """Map an HTTP status from a write or check to the error type that says what to do next."""
    detail = f" ({message.strip()})" if message.strip() else ""
    if status in (401, 403):
        return InfluxAuthError(f"{target} refused our credentials when {what}{detail}: check the "
                               f"token or user/password (read from the environment variable or file "
                               f"named in [influx])")
    if status == 404:
        return InfluxNotFound(f"{target}: not found when {what}{detail}")
    if status in (400, 413, 422):
        return InfluxRejected(f"{target} rejected the data when {what} (HTTP {status}){detail}")
    return InfluxUnavailable(f"{target} answered HTTP {status} when {what}{detail}")


def transport_error(target: str, exc: BaseException, what: str) -> StoreError:
    """Map a connection-level failure; an unresolvable host is a configuration mistake."""
    import aiohttp  # here, not at the top: a session without InfluxDB never loads the HTTP stack (~13 MB)

    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror):
        return InfluxUnreachable(f"{target}: cannot resolve the host name when {what} ({exc.os_error}); "
                                 f"check [influx] url")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError):
        return InfluxUnreachable(f"{target}: TLS failed when {what} ({exc}); check the URL scheme and "
                                 f"certificate, or set verify_tls = false for a self-signed test server")
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return InfluxUnavailable(f"{target}: no answer within the timeout when {what}")
    return InfluxUnavailable(f"{target}: cannot connect when {what} ({exc})")


def make_writer(settings: InfluxSettings) -> Writer:
    """The writer for ``settings.api`` (not yet open: use it as an async context manager)."""
    if settings.api is InfluxApi.V1:
        from sensorkit.store.influx.v1 import V1Writer

        return V1Writer(settings)
    from sensorkit.store.influx.v2 import V2Writer

    return V2Writer(settings)
