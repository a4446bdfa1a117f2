"""InfluxDB 1.x: ``/write`` with line protocol and ``/query`` with InfluxQL, over aiohttp.

influxdb-client speaks only the v2 API (``/api/v2/write``), which InfluxDB 1.x serves from 1.8
on; 1.x before that (the Debian 1.6 package, many Raspberry Pi installs) needs ``/write``.
"""

from __future__ import annotations

import base64
import json
import logging
from types import TracebackType
from typing import Any, Self

import aiohttp

from sensorkit.store.influx.errors import InfluxNotFound, InfluxUnreachable
from sensorkit.store.influx.settings import InfluxSettings
from sensorkit.store.influx.writer import http_error, transport_error

log = logging.getLogger(__name__)


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class V1Writer:
    """Writes to and queries one InfluxDB 1.x database; an async context manager."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self.target = settings.target
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("V1Writer is already open")
        s = self.settings
        password, token = s.password(), s.token()
        headers = {}
        if s.username:
            basic = base64.b64encode(f"{s.username}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        elif token:  # InfluxDB 2/3's v1-compatible endpoints take a token instead
            headers["Authorization"] = f"Token {token}"
        self._session = aiohttp.ClientSession(
            base_url=s.url + "/", headers=headers,
            timeout=aiohttp.ClientTimeout(total=s.timeout_s),
            connector=aiohttp.TCPConnector(ssl=bool(s.verify_tls)))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("V1Writer is not open: use `async with`")
        return self._session

    async def write(self, data: bytes) -> None:
        params = {"db": self.settings.database, "precision": "ns"}
        if self.settings.retention_policy:
            params["rp"] = self.settings.retention_policy
        what = "writing points"
        try:
            async with self._http.post("write", params=params, data=data) as resp:
                if resp.status != 204:
                    raise http_error(self.target, resp.status, _error_text(await resp.text()), what)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(self.target, exc, what) from exc

    async def query(self, q: str, *, epoch: str = "ns", database: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the ``results`` list (one per statement) or raises the typed errors."""
        params = {"q": q, "epoch": epoch, "db": database or self.settings.database}
        what = f"running {q.split()[0].upper() if q.split() else 'a'} query"
        try:
            async with self._http.post("query", data=params) as resp:
                body = await resp.text()
                if resp.status != 200:
                    raise http_error(self.target, resp.status, _error_text(body), what)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(self.target, exc, what) from exc
        results = _results(body)
        if results is None:
            raise InfluxUnreachable(f"{self.target} answered {what} with something other than InfluxDB's "
                                    f"JSON ({body[:80]!r}): check [influx] url and api")
        for r in results:
            if "error" in r:
                raise http_error(self.target, 400, r["error"], what)
        return results

    async def check(self) -> None:
        s = self.settings
        results = await self.query("SHOW DATABASES")
        names = _first_column(results)
        if s.database not in names:
            raise InfluxNotFound(
                f"{self.target}: database {s.database!r} does not exist (or user {s.username!r} may not "
                f"see it); create it with: CREATE DATABASE {quote_ident(s.database)}")
        if s.retention_policy:
            results = await self.query(f"SHOW RETENTION POLICIES ON {quote_ident(s.database)}")
            rps = _first_column(results)
            if s.retention_policy not in rps:
                raise InfluxNotFound(f"{self.target}: retention policy {s.retention_policy!r} does not "
                                     f"exist; existing: {sorted(rps)}")
        log.debug("%s: database present, credentials accepted", self.target)


def _results(body: str) -> list[dict[str, Any]] | None:
    """The ``results`` list of a /query answer; None when the body is not that shape."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    results = doc.get("results", []) if isinstance(doc, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        return None
    return results


def _first_column(results: list[dict[str, Any]]) -> set[Any]:
    """First column of every row of the first statement's series (names from SHOW ...)."""
    series = results[0].get("series", []) if results else []
    return {row[0] for s in series if isinstance(s, dict)
            for row in s.get("values", []) if isinstance(row, list) and row}


def _error_text(body: str) -> str:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return body[:300]
    return str(parsed.get("error", body))[:300] if isinstance(parsed, dict) else body[:300]
