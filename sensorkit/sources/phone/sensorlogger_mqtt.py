"""Sensor Logger MQTT publish, read back from the broker with aiomqtt.

The app publishes the same JSON as its HTTP push, QoS 0, over websockets only - so the
broker needs a websockets listener for the phone; sensorkit itself subscribes over plain
TCP or TLS. The broker is the security boundary (user/password, TLS); sensorkit still
bounds message size and rate and rejects garbage with a counted reason.

The connection lives inside ``items()``: when the broker goes away the loop keeps releasing
held samples and reporting health, and reconnects with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator

import aiomqtt

from sensorkit.errors import DecodeError
from sensorkit.model import SourceItem
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.phone.ingest import TokenBucket, read_secret
from sensorkit.sources.phone.sensorlogger import decode_message
from sensorkit.sources.phone.settings import SensorLoggerMqttSettings
from sensorkit.sources.phone.source_base import PhoneSourceBase

log = logging.getLogger(__name__)


class SensorLoggerMqttSource(PhoneSourceBase):
    """One phone's messages on ``topic`` (optionally only those with ``device_id``)."""

    settings: SensorLoggerMqttSettings

    def __init__(self, settings: SensorLoggerMqttSettings, clock: HostClock) -> None:
        super().__init__(settings, clock)
        self._bucket = TokenBucket(settings.max_messages_per_s, settings.burst_messages)
        self._password: str | None = None
        self._tls: ssl.SSLContext | None = None
        self.connected = False

    async def _open(self) -> None:
        s = self.settings
        self._password = read_secret(s.password_env, s.password_file, f"phone {self.info.sensor_id} broker")
        if s.tls:
            self._tls = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        return aiomqtt.Client(s.broker_host, s.broker_port, username=s.username, password=self._password,
                              identifier=s.client_id, tls_context=self._tls, timeout=10.0,
                              max_queued_incoming_messages=s.burst_messages * 4)

    def _on_message(self, message: aiomqtt.Message) -> list[SourceItem]:
        s = self.settings
        arrival = self.clock.now_s()
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            self.rejects.reject("malformed", f"payload of type {type(payload).__name__}")
            return []
        if len(payload) > s.max_payload_bytes:
            self.rejects.reject("too large", f"{len(payload)} bytes")
            return []
        if not self._bucket.allow():
            self.rejects.reject("rate limited", f"more than {s.max_messages_per_s}/s")
            return []
        try:
            batch, skipped = decode_message(bytes(payload), platform=s.platform, max_readings=s.max_readings)
        except DecodeError as exc:
            self.rejects.reject("malformed", str(exc))
            return []
        if skipped:
            self.rejects.reject("invalid readings", f"{skipped} readings skipped")
        if s.device_id is not None and batch.device_id != s.device_id:
            return []  # other phones share the topic: not an error
        return self._process(batch, arrival)

    async def _run(self) -> AsyncIterator[SourceItem]:
        s = self.settings
        backoff_s = 0.5
        while True:
            try:
                async with self._client() as client:
                    await client.subscribe(s.topic, qos=0)
                    self.connected = True
                    backoff_s = 0.5
                    log.info("%s: subscribed to %r on %s:%d", self.info.sensor_id, s.topic,
                             s.broker_host, s.broker_port)
                    async for item in self._consume(client):
                        yield item
            except aiomqtt.MqttError as exc:
                self.connected = False
                self.reconnects += 1
                log.warning("%s: MQTT broker %s:%d: %s; retrying in %.1f s", self.info.sensor_id,
                            s.broker_host, s.broker_port, exc, backoff_s)
            async for item in self._idle(backoff_s):
                yield item
            backoff_s = min(2 * backoff_s, s.reconnect_max_s)

    async def _consume(self, client: aiomqtt.Client) -> AsyncIterator[SourceItem]:
        """Messages until the connection drops (MqttError).

        The wait for the next message is never cancelled by the periodic tick: cancelling
        aiomqtt's ``__anext__`` just as a message arrives would lose that message. The one
        pending read is owned here and cancelled on the way out.
        """
        messages = aiter(client.messages)
        pending: asyncio.Future[aiomqtt.Message] | None = None
        try:
            while True:
                out: list[SourceItem] = []
                if pending is None:
                    pending = asyncio.ensure_future(anext(messages))
                done, _ = await asyncio.wait({pending}, timeout=self._tick_s)
                if done:
                    message = pending.result()  # MqttError when the broker went away
                    pending = None
                    out += self._on_message(message)
                out += self._periodic()
                for item in out:
                    yield item
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await pending

    async def _idle(self, duration_s: float) -> AsyncIterator[SourceItem]:
        """Wait, still releasing held samples and reporting health (as disconnected)."""
        end = self.clock.now_s() + duration_s
        while self.clock.now_s() < end:
            await asyncio.sleep(min(self._tick_s, max(0.0, end - self.clock.now_s())))
            for item in self._periodic():
                yield item
