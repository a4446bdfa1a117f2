"""Team mode: every runner's gateway publishes over MQTT; this subscriber shows them all.

The broker is the scale-out engine: gateways (a laptop, a Raspberry Pi, a phone near each
runner) publish with :class:`sensorkit.mqtt.MqttSink`, and one central dashboard subscribes
to the same topics, decoded with the same schema module (:mod:`sensorkit.mqtt.schema`).
Anything the broker hands over is untrusted: oversized, undecodable or inconsistent messages
are dropped and counted by reason, never crash the dashboard.

A runner counts as live when its own retained status is ``online`` and so is its gateway's
(an abruptly lost gateway only leaves its last will, on the gateway topic).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
from types import TracebackType
from typing import Any, Self

import aiomqtt
from pydantic import ValidationError

from sensorkit.dashboard.state import DashboardState
from sensorkit.mqtt.errors import Backoff, Failure, as_publish_error, classify, explain, tls_probe
from sensorkit.mqtt.schema import (
    PAYLOAD_OF_KIND,
    CuePayload,
    FatiguePayload,
    GatewayStatusPayload,
    MetricsPayload,
    RunnerStatusPayload,
    StepPayload,
    decode,
    parse_topic,
    subscription,
)
from sensorkit.mqtt.settings import MqttSettings, client_options

log = logging.getLogger(__name__)

MAX_GATEWAYS = 256
MAX_QUEUED_MESSAGES = 4096
SEEN_CUES = 1024


class MqttFeed:
    """Subscribes to ``<prefix>/v1/#`` and files every payload into a :class:`DashboardState`.

    ``async with MqttFeed(...) as feed`` connects once (a refused login or a TLS problem is a
    clear error at start-up); ``run()`` then reads and reconnects until cancelled.
    """

    def __init__(self, settings: MqttSettings, state: DashboardState, *, password: str | None = None,
                 max_payload_bytes: int = 65536) -> None:
        self.settings = settings
        self.state = state
        self._password = password
        self.max_payload_bytes = max_payload_bytes
        self.messages = 0
        self.rejected: collections.Counter[str] = collections.Counter()
        self.connects = 0
        self.connected = False
        self.last_error = ""
        self._client: aiomqtt.Client | None = None
        self._gateways: dict[str, dict[str, Any]] = {}
        self._runner_online: dict[str, tuple[str, bool]] = {}
        self._seen_cues: collections.OrderedDict[tuple[str, str, float, str], None] = collections.OrderedDict()
        scheme = "mqtts" if settings.tls else "mqtt"
        self.broker = f"{scheme}://{settings.host}:{settings.port_or_default()}"
        """Where we subscribe, as shown in the page: no user name, no password."""
        self._publish_status()

    # -- connection ----------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        return client_options(self.settings, identifier=f"sensorkit-dashboard-{os.getpid()}",
                              password=self._password) | {"max_queued_incoming_messages": MAX_QUEUED_MESSAGES}

    async def _connect(self) -> aiomqtt.Client:
        options = self._options()
        if options["tls_context"] is not None:
            await tls_probe(self.settings.host, self.settings.port_or_default(), options["tls_context"],
                            self.settings.connect_timeout_s)
        client = aiomqtt.Client(**options)
        await client.__aenter__()
        try:
            for topic in subscription(self.settings.topic_prefix):
                await client.subscribe(topic, qos=1)
        except BaseException:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
            raise
        return client

    async def __aenter__(self) -> Self:
        try:
            self._client = await self._connect()
        except aiomqtt.MqttError as exc:
            if classify(exc) is not Failure.NETWORK:
                raise as_publish_error(exc, self.settings.describe(), self.settings.username) from exc
            self.last_error = explain(exc, self.settings.describe(), self.settings.username)
            log.warning("%s; the dashboard shows runners once it is", self.last_error)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.__aexit__(None, None, None)
            self._client = None
        self.connected = False

    async def run(self) -> None:
        """Read messages until cancelled, reconnecting with a backoff chosen by the failure type."""
        s = self.settings
        backoff = Backoff(s.reconnect_min_s, s.reconnect_max_s, s.config_retry_s)
        while True:
            delay = s.reconnect_min_s
            try:
                if self._client is None:
                    self._client = await self._connect()
                self.connects += 1
                self.connected = True
                self._publish_status()
                backoff.reset()
                log.info("dashboard: subscribed to %s/%s/# on %s", s.topic_prefix, "v1", self.broker)
                async for message in self._client.messages:
                    payload = message.payload
                    self.handle(str(message.topic), payload if isinstance(payload, bytes | bytearray) else b"")
            except aiomqtt.MqttError as exc:
                failure = classify(exc)
                self.last_error = explain(exc, s.describe(), s.username)
                delay = backoff.next_delay_s(failure)
                level = logging.ERROR if failure is not Failure.NETWORK else logging.WARNING
                log.log(level, "dashboard: %s; retrying in %.1f s", self.last_error, delay)
            finally:
                if self._client is not None:
                    with contextlib.suppress(Exception):
                        await self._client.__aexit__(None, None, None)
                    self._client = None
                self.connected = False
                self._publish_status()
            await asyncio.sleep(delay)

    # -- messages ------------------------------------------------------------------------------

    def _reject(self, reason: str) -> None:
        self.rejected[reason] += 1
        if self.rejected[reason] in (1, 10, 100, 1000) or self.rejected[reason] % 10_000 == 0:
            log.warning("dashboard: dropped MQTT message(s): %s (%d so far)", reason, self.rejected[reason])

    def handle(self, topic: str, payload: bytes | bytearray) -> None:
        """File one message; never raises for anything a broker can deliver."""
        self.messages += 1
        try:
            self._handle(topic, bytes(payload))
        except Exception:  # a bug must not end the subscription; it is counted and logged
            self._reject("internal error")
            log.exception("dashboard: failed to handle a message on %r", topic[:200])
        self._publish_status()

    def _handle(self, topic: str, payload: bytes) -> None:
        ref = parse_topic(topic, self.settings.topic_prefix)
        if ref is None:
            self._reject("unknown topic")
            return
        if not payload:
            return  # a cleared retained message
        if len(payload) > self.max_payload_bytes:
            self._reject("too large")
            return
        try:
            p = decode(payload)
        except ValidationError:
            self._reject("invalid payload")
            return
        if not isinstance(p, PAYLOAD_OF_KIND[ref.kind]):
            self._reject("payload does not match topic")
            return
        if isinstance(p, GatewayStatusPayload):
            if p.gateway != ref.name:
                self._reject("payload does not match topic")
                return
            self._gateway(p)
            return
        if p.runner != ref.name:
            self._reject("payload does not match topic")
            return
        if isinstance(p, MetricsPayload):
            self.state.metrics(p.runner, p.unix_s, p.model_dump())
        elif isinstance(p, FatiguePayload):
            self.state.fatigue_state(p.runner, p.unix_s, p.score, p.baseline_ready, p.components)
        elif isinstance(p, CuePayload):
            self._cue(p)
        elif isinstance(p, StepPayload):
            self.state.step(p.runner, p.unix_s, p.strike_class.value)
        elif isinstance(p, RunnerStatusPayload):
            self._runner_status(p)

    def _cue(self, p: CuePayload) -> None:
        key = (p.runner, p.session_id, p.time_s, p.kind.value)
        if key in self._seen_cues:  # QoS 1 may deliver a cue twice
            return
        self._seen_cues[key] = None
        while len(self._seen_cues) > SEEN_CUES:
            self._seen_cues.popitem(last=False)
        self.state.cue(p.runner, p.unix_s, p.model_dump())

    def _gateway_online(self, gateway: str) -> bool:
        g = self._gateways.get(gateway)
        return True if g is None else bool(g["online"])

    def _runner_status(self, p: RunnerStatusPayload) -> None:
        own = p.state == "online"
        self._runner_online[p.runner] = (p.gateway, own)
        for sensor in p.sensors:
            self.state.sensor(p.runner, sensor.model_dump())
        self.state.runner_status(p.runner, online=own and self._gateway_online(p.gateway), gateway=p.gateway,
                                 queues=[q.model_dump() for q in p.queues])

    def _gateway(self, p: GatewayStatusPayload) -> None:
        if p.gateway not in self._gateways and len(self._gateways) >= MAX_GATEWAYS:
            self._reject("too many gateways")
            return
        pub = p.publisher.model_dump() if p.publisher is not None else None
        self._gateways[p.gateway] = {"online": p.state == "online", "software_version": p.software_version[:40],
                                     "session_id": p.session_id[:80], "runners": len(p.runners),
                                     "publisher": pub}
        for runner, (gateway, own) in self._runner_online.items():
            if gateway == p.gateway:
                self.state.runner_status(runner, online=own and p.state == "online", gateway=gateway)

    def _publish_status(self) -> None:
        self.state.extra_status["mqtt"] = {
            "broker": self.broker, "prefix": self.settings.topic_prefix, "connected": self.connected,
            "connects": self.connects, "messages": self.messages, "rejected": dict(self.rejected),
            "gateways": self._gateways,
        }
