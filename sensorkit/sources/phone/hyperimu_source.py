"""HyperIMU: CSV lines over UDP (one datagram per sample) or TCP (a line stream).

The app cannot send a token, so a socket bound off loopback only accepts the addresses in
``allowed_senders``. Lines are parsed at the edge (they are tiny); every malformed line,
oversized line, flood or stranger is counted and logged without flooding the log.

Without the app's timestamp option, sample times are counted at the nominal rate and fitted
to arrival time like a device clock with a large drift allowance (phone sensor rates are
only nominal); losses then cannot be seen, so turn timestamps on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import replace

import numpy as np

from sensorkit.errors import SourceError
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.clock_sync import ClockSyncSettings
from sensorkit.sources.phone.hyperimu_protocol import LineFormat, parse_lines, split_lines, to_batch
from sensorkit.sources.phone.ingest import TokenBucket
from sensorkit.sources.phone.settings import HyperImuSettings
from sensorkit.sources.phone.source_base import PhoneSourceBase, aligner_settings

log = logging.getLogger(__name__)


def line_format(settings: HyperImuSettings) -> LineFormat:
    return LineFormat(tuple(settings.sensors), settings.timestamp, settings.mac_address, settings.gps,
                      b"\r\n" if settings.line_end == "crlf" else b"#")


class _Datagrams(asyncio.DatagramProtocol):
    """Callbacks end here: hand the bytes and the arrival time to the source."""

    def __init__(self, source: HyperImuSource) -> None:
        self.source = source

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.source.on_data(data, str(addr[0]), self.source.clock.now_s())

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: UDP error: %s", self.source.info.sensor_id, exc)


class HyperImuSource(PhoneSourceBase):
    """One phone streaming to its own UDP or TCP port."""

    settings: HyperImuSettings

    def __init__(self, settings: HyperImuSettings, clock: HostClock) -> None:
        align = aligner_settings(settings)
        if not settings.timestamp:
            align = replace(align, clock=ClockSyncSettings(max_drift_ppm=50_000.0))
        super().__init__(settings, clock, align, queue_size=settings.queue_messages)
        self.format = line_format(settings)
        self._bucket = TokenBucket(settings.max_messages_per_s, settings.burst_messages)
        self._allowed = [ipaddress.ip_network(n) for n in settings.allowed_senders]
        self._counter = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self.port = settings.port

    def _allowed_peer(self, host: str) -> bool:
        if not self._allowed:
            return True  # loopback-only binding (enforced by the settings)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self._allowed)

    async def _open(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        try:
            if s.transport == "udp":
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(self), local_addr=(s.host, s.port))
                self._udp = transport
                self.port = int(transport.get_extra_info("sockname")[1])
            else:
                self._tcp = await asyncio.start_server(self._on_connection, s.host, s.port,
                                                       limit=s.max_line_bytes)
                self.port = int(self._tcp.sockets[0].getsockname()[1])
        except OSError as exc:
            raise SourceError(f"{self.info.sensor_id}: cannot listen on {s.transport} {s.host}:{s.port}: "
                              f"{exc.strerror or exc}") from exc
        log.info("%s: HyperIMU %s on %s:%d", self.info.sensor_id, s.transport.upper(), s.host, self.port)

    async def _close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for w in list(self._conns):
                w.close()
            await self._tcp.wait_closed()
            self._tcp = None

    # -- the edge --------------------------------------------------------------------------

    def on_data(self, data: bytes, peer: str, arrival_s: float) -> None:
        """One datagram or line; parse, stamp, queue. Never raises."""
        if not self._allowed_peer(peer):
            self.rejects.reject("sender not allowed", "", peer)
            return
        if not self._bucket.allow():
            self.rejects.reject("rate limited", f"more than {self.settings.max_messages_per_s}/s", peer)
            return
        if len(data) > self.settings.max_line_bytes * 16:
            self.rejects.reject("too large", f"{len(data)} bytes", peer)
            return
        parsed = parse_lines(split_lines(data, self.format.separator), self.format)
        if parsed.bad_lines:
            self.rejects.reject("malformed", f"{parsed.bad_lines} bad line(s): {parsed.first_error}", peer)
        n = len(parsed)
        if n == 0:
            return
        if parsed.device_s is not None:
            device_s = parsed.device_s
        else:
            device_s = (self._counter + np.arange(n)) / self.settings.sampling_rate_hz
            self._counter += n
        self._accept(to_batch(parsed, device_s, self.format), arrival_s, peer)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if peer else "?"
        if not self._allowed_peer(host) or len(self._conns) >= self.settings.max_connections:
            reason = "sender not allowed" if not self._allowed_peer(host) else "too many connections"
            self.rejects.reject(reason, "", host)
            writer.close()
            return
        self._conns.add(writer)
        try:
            while True:
                try:
                    line = await reader.readuntil(self.format.separator)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        self.on_data(exc.partial, host, self.clock.now_s())
                    break
                except asyncio.LimitOverrunError:
                    self.rejects.reject("too large", "line longer than max_line_bytes; closing", host)
                    break
                self.on_data(line, host, self.clock.now_s())
        except ConnectionError:
            pass
        finally:
            self._conns.discard(writer)
            writer.close()
