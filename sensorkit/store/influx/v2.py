"""InfluxDB 2.x/3.x/Cloud through influxdb-client's asyncio API (``/api/v2/write``).

Also works with v2-write-compatible stores such as VictoriaMetrics, which do not serve the
buckets API: there the bucket cannot be verified at start-up and a log line says so.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

import aiohttp
from influxdb_client import WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.client.write_api_async import WriteApiAsync
from influxdb_client.service.buckets_service import BucketsService

from sensorkit.store.influx.errors import InfluxNotFound
from sensorkit.store.influx.settings import InfluxSettings
from sensorkit.store.influx.writer import http_error, transport_error

log = logging.getLogger(__name__)


class V2Writer:
    """One ``InfluxDBClientAsync`` and its write API; an async context manager."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self.target = settings.target
        self._client: InfluxDBClientAsync | None = None
        self._write_api: WriteApiAsync | None = None

    async def __aenter__(self) -> Self:
        if self._client is not None:
            raise RuntimeError("V2Writer is already open")
        s = self.settings
        self._client = InfluxDBClientAsync(
            url=s.url, token=s.token() or "", org=s.org, timeout=int(s.timeout_s * 1000),
            verify_ssl=s.verify_tls)
        self._write_api = self._client.write_api()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = self._write_api = None

    @property
    def client(self) -> InfluxDBClientAsync:
        if self._client is None:
            raise RuntimeError("V2Writer is not open: use `async with`")
        return self._client

    async def write(self, data: bytes) -> None:
        if self._write_api is None:
            raise RuntimeError("V2Writer is not open: use `async with`")
        what = "writing points"
        try:
            # org "" is sent as an empty parameter (InfluxDB 3 and VictoriaMetrics ignore it);
            # None would make the client refuse to send at all.
            await self._write_api.write(bucket=self.settings.bucket, org=self.settings.org, record=data,
                                        write_precision=WritePrecision.NS)  # type: ignore[arg-type]
        except InfluxDBError as exc:
            status = getattr(exc, "status", None) or (exc.response.status if exc.response else 0)
            if not status:
                raise transport_error(self.target, exc, what) from exc
            raise http_error(self.target, int(status), _message(exc), what) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(self.target, exc, what) from exc

    async def check(self) -> None:
        """Credentials and bucket through ``GET /api/v2/buckets?name=``; unverifiable on stores without it."""
        s = self.settings
        what = "looking up the bucket"
        kwargs = {"name": s.bucket} | ({"org": s.org} if s.org else {})
        try:
            buckets = await BucketsService(self.client.api_client).get_buckets_async(**kwargs)
        except InfluxDBError as exc:
            status = int(getattr(exc, "status", 0) or 0)
            message = _message(exc)
            if (status == 404 and "not found" not in message.lower()) or "unsupported path" in message:
                log.info("%s does not serve the buckets API (%s); bucket and token cannot be checked "
                         "before the first write", self.target, message.strip()[:80] or "404")
                return
            if not status:
                raise transport_error(self.target, exc, what) from exc
            raise http_error(self.target, status, message, what) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(self.target, exc, what) from exc
        names = {b.name for b in (buckets.buckets or [])}
        if s.bucket not in names:
            raise InfluxNotFound(f"{self.target}: bucket {s.bucket!r} does not exist (or the token may "
                                 f"not read it); create it with: influx bucket create -n {s.bucket}")


def _message(exc: InfluxDBError) -> str:
    """The server's words: the JSON ``message`` of InfluxDB, or the plain-text body of others."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    text = exc.message or ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    if not text or text.startswith(("b'", 'b"')):
        text = body or ""
    return str(text).strip()[:300]
