"""MqttSink: publishes cues, metrics, fatigue and status; never blocks the pipeline.

``consume`` only files items into bounded queues (cues: drop-oldest, expired cues are
dropped at publish time; metrics/fatigue/steps: drop-oldest) and keeps the latest sensor
health per runner. One connection task, owned by ``consume``'s task group, runs the
reconnect loop: connect, publish retained ``online`` status, then drain the queues (cues
first, QoS 1) while a watcher task notices a lost connection. Failures are classified by
type (see :mod:`sensorkit.mqtt.errors`) to choose the backoff. A cue whose QoS 1 publish was
interrupted is sent again after reconnecting, unless it has expired by then.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import sensorkit
from sensorkit.alerts.expiry import CueClock
from sensorkit.model import BusItem, Cue, FatigueState, RollingMetrics, SensorHealth, StepMetrics, to_row
from sensorkit.mqtt.errors import Backoff, Failure, as_publish_error, classify, explain, tls_probe
from sensorkit.mqtt.queue import DropOldest
from sensorkit.mqtt.schema import (
    QOS,
    GatewayStatusPayload,
    Kind,
    PublisherStatus,
    QueueStatus,
    RunnerStatusPayload,
    SensorStatus,
    gateway_topic,
    kind_of,
    payload_of,
    runner_topic,
)
from sensorkit.mqtt.settings import MqttSettings, client_options
from sensorkit.pipeline.channel import ChannelStats, OverflowPolicy

log = logging.getLogger(__name__)
MAX_INFLIGHT_CUES = 16
"""QoS 1 cues awaiting their PUBACK at once (paho allows 20 in flight by default)."""


@dataclass(frozen=True, slots=True)
class MqttDelivery:
    """A cue the broker acknowledged, with host times when live (else None).

    The cue reached the sink at ``queued_s``, was handed to the client at ``sent_s`` and
    acknowledged at ``published_s``.
    """

    cue: Cue
    published_s: float | None
    queued_s: float | None = None
    sent_s: float | None = None


def _queue_status(c: ChannelStats) -> QueueStatus:
    return QueueStatus(name=c.name, maxsize=c.maxsize, fill=c.fill, max_fill=c.max_fill, sent=c.sent,
                       received=c.received, dropped=c.dropped, policy=c.policy.value)


def _first_mqtt_error(eg: BaseExceptionGroup[Any]) -> aiomqtt.MqttError | None:
    for exc in eg.exceptions:
        if isinstance(exc, aiomqtt.MqttError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_mqtt_error(exc)
            if found is not None:
                return found
    return None


class MqttSink:
    """A Sink publishing to one broker; see :mod:`sensorkit.mqtt.schema` for topics and payloads."""

    name = "mqtt"
    policy = OverflowPolicy.DROP_OLDEST
    queue_size = 4096

    def __init__(self, settings: MqttSettings, *, runners: Sequence[str] = (), session_id: str = "",
                 start_unix_s: float | None = None, clock: Callable[[], float] | None = None,
                 password: str | None = None,
                 queue_stats: Callable[[], Sequence[ChannelStats]] | None = None) -> None:
        self.settings = s = settings
        self.gateway = s.gateway_name()
        self.session_id = session_id
        self.start_unix_s = time.time() if start_unix_s is None else start_unix_s
        self.clock = CueClock(clock)
        self._password = password
        self._queue_stats = queue_stats
        self.accepts: tuple[type, ...] = (Cue, SensorHealth, FatigueState, RollingMetrics) + (
            (StepMetrics,) if s.publish_steps else ())
        self._cues: DropOldest[tuple[Cue, float | None]] = DropOldest("mqtt:cues", s.cue_queue_size)
        self._data: DropOldest[tuple[str, bytes]] = DropOldest("mqtt:data", s.queue_size)
        self._runners: list[str] = list(dict.fromkeys(runners))
        self._health: dict[str, dict[str, SensorHealth]] = {r: {} for r in self._runners}
        self._last_time: dict[str, float] = {}
        self._dirty: set[str] = set(self._runners)
        self._status_due = 0.0
        self._wake = asyncio.Event()
        self._closing = False
        self._first_client: aiomqtt.Client | None = None
        self._inflight: dict[int, tuple[Cue, float | None]] = {}
        self.connected = False
        self.connects = 0
        self.cues_published = self.cues_stale = self.messages_published = 0
        self.last_error = ""
        self.deliveries: collections.deque[MqttDelivery] = collections.deque(maxlen=10000)
        self._props_v5 = s.protocol == "5"

    # -- lifecycle ---------------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        will = aiomqtt.Will(
            gateway_topic(self.gateway, self.settings.topic_prefix),
            GatewayStatusPayload(gateway=self.gateway, state="offline", session_id=self.session_id,
                                 runners=self._runners, software_version=sensorkit.__version__).to_json(),
            qos=1, retain=True)
        return client_options(self.settings, will=will, password=self._password)

    async def _connect(self) -> aiomqtt.Client:
        options = self._options()
        if options["tls_context"] is not None:
            await tls_probe(self.settings.host, self.settings.port_or_default(), options["tls_context"],
                            self.settings.connect_timeout_s)
        client = aiomqtt.Client(**options)
        client.pending_calls_threshold = MAX_INFLIGHT_CUES + 8  # our window is deliberate, not a backlog
        await client.__aenter__()
        return client

    async def __aenter__(self) -> Self:
        """Connect once now so a refused login or a TLS problem is a clear error at start-up."""
        try:
            client = await self._connect()
        except aiomqtt.MqttError as exc:
            if classify(exc) is not Failure.NETWORK:
                raise as_publish_error(exc, self.settings.describe(), self.settings.username) from exc
            self.last_error = explain(exc, self.settings.describe(), self.settings.username)
            log.warning("%s; publishing will start when it is", self.last_error)
        else:
            self._first_client = client
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._closing = True
        if self._first_client is not None:  # consume never ran
            with contextlib.suppress(Exception):
                await self._first_client.__aexit__(None, None, None)
            self._first_client = None

    async def consume(self, items: AsyncIterable[BusItem]) -> None:
        async with asyncio.TaskGroup() as tg:
            conn = tg.create_task(self._connection_loop(), name="mqtt-connection")
            try:
                async for item in items:
                    self._intake(item)
            finally:
                self._closing = True
                self._wake.set()
                done, _ = await asyncio.wait({conn}, timeout=self.settings.flush_timeout_s)
                if not done:
                    log.warning("MQTT: gave up flushing after %.1f s; %d cues and %d messages not sent",
                                self.settings.flush_timeout_s, len(self._cues), len(self._data))
                    conn.cancel()

    # -- intake (never awaits) ---------------------------------------------------------------

    def _note_runner(self, runner: str) -> None:
        if runner not in self._health:
            self._runners.append(runner)
            self._health[runner] = {}
            self._dirty.add(runner)

    def _intake(self, item: BusItem) -> None:
        t = getattr(item, "time_s", None)
        if isinstance(t, float | int):
            self.clock.see(float(t))
        s = self.settings
        if isinstance(item, Cue):
            self._note_runner(item.runner)
            self._cues.push((item, self.clock.host_s()))
        elif isinstance(item, SensorHealth):
            self._note_runner(item.runner)
            self._health[item.runner][item.sensor_id] = item
            self._last_time[item.runner] = item.time_s
            self._dirty.add(item.runner)
        elif isinstance(item, RollingMetrics | FatigueState | StepMetrics):
            self._note_runner(item.runner)
            self._last_time[item.runner] = item.time_s
            wanted = {RollingMetrics: s.publish_metrics, FatigueState: s.publish_fatigue,
                      StepMetrics: s.publish_steps}[type(item)]
            if not wanted:
                return
            payload = payload_of(item, session_id=self.session_id, start_unix_s=self.start_unix_s)
            self._data.push((runner_topic(item.runner, kind_of(item), s.topic_prefix), payload.to_json()))
        else:
            return
        self._wake.set()

    # -- connection --------------------------------------------------------------------------

    async def _connection_loop(self) -> None:
        s = self.settings
        backoff = Backoff(s.reconnect_min_s, s.reconnect_max_s, s.config_retry_s)
        client, self._first_client = self._first_client, None
        while True:
            try:
                if client is None:
                    client = await self._connect()
                self.connects += 1
                backoff.reset()
                log.info("MQTT connected to %s as gateway %s", s.describe(), self.gateway)
                try:
                    done = await self._serve(client)
                finally:
                    self.connected = False
                    with contextlib.suppress(Exception):
                        await client.__aexit__(None, None, None)
                    client = None
                if done:
                    return
            except aiomqtt.MqttError as exc:
                client = None
                failure = classify(exc)
                self.last_error = explain(exc, s.describe(), s.username)
                delay = backoff.next_delay_s(failure)
                level = logging.ERROR if failure is not Failure.NETWORK else logging.WARNING
                log.log(level, "%s; retrying in %.1f s", self.last_error, delay)
                await asyncio.sleep(delay)
            except Exception:  # a bug here must not stop the session: log, wait, start over
                client = None
                log.exception("MQTT publisher failed; restarting it")
                await asyncio.sleep(s.reconnect_max_s)

    async def _serve(self, client: aiomqtt.Client) -> bool:
        """Publish until closing and flushed (True) or the connection fails (raises MqttError)."""
        try:
            async with asyncio.TaskGroup() as tg:
                watcher = tg.create_task(self._watch(client), name="mqtt-watch")
                self.connected = True
                await self._publish_status(client, online=True, everyone=True)
                done = await self._pump(client, tg)
                watcher.cancel()
                return done
        except BaseExceptionGroup as eg:
            err = _first_mqtt_error(eg)
            if err is not None:
                raise err from None
            raise

    @staticmethod
    async def _watch(client: aiomqtt.Client) -> None:
        """Raises MqttError as soon as the connection is lost (aiomqtt's documented signal)."""
        async for _ in client.messages:
            pass

    async def _pump(self, client: aiomqtt.Client, tg: asyncio.TaskGroup) -> bool:
        # Cues whose publish the last disconnect interrupted go first, oldest first.
        for retry in sorted(self._inflight.values(), key=lambda c: c[0].time_s, reverse=True):
            self._cues.push_front(retry)
        self._inflight.clear()
        window = asyncio.Semaphore(MAX_INFLIGHT_CUES)
        while True:
            self._wake.clear()
            queued = self._cues.pop()
            if queued is not None:
                await window.acquire()  # QoS 1 acks are awaited concurrently, in order on the wire
                self._inflight[id(queued[0])] = queued
                tg.create_task(self._publish_cue(client, queued, window), name="mqtt-cue")
                continue
            msg = self._data.pop()
            if msg is not None:
                await client.publish(msg[0], msg[1], qos=0, timeout=self.settings.publish_timeout_s)
                self.messages_published += 1
                continue
            if self._closing:
                for _ in range(MAX_INFLIGHT_CUES):  # every cue acknowledged before going offline
                    await window.acquire()
                await self._publish_status(client, online=False, everyone=True)
                return True
            now = time.monotonic()
            if self._dirty and now >= self._status_due:
                await self._publish_status(client, online=True, everyone=False)
                continue
            timeout = max(self._status_due - now, 0.05) if self._dirty else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _publish_cue(self, client: aiomqtt.Client, queued: tuple[Cue, float | None],
                           window: asyncio.Semaphore) -> None:
        try:
            await self._publish_one_cue(client, *queued)
        finally:
            window.release()

    async def _publish_one_cue(self, client: aiomqtt.Client, cue: Cue, queued_s: float | None) -> None:
        now = self.clock.now_s()
        if now > cue.expires_s:
            self._inflight.pop(id(cue), None)
            self.cues_stale += 1
            log.info("MQTT: dropped %s cue for %s: expired %.1f s ago", cue.kind.value, cue.runner,
                     now - cue.expires_s)
            return
        props = None
        if self._props_v5:
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = max(1, math.ceil(cue.expires_s - now))
        payload = payload_of(cue, session_id=self.session_id, start_unix_s=self.start_unix_s)
        topic = runner_topic(cue.runner, Kind.CUE, self.settings.topic_prefix)
        sent_s = self.clock.host_s()
        await client.publish(topic, payload.to_json(), qos=QOS[Kind.CUE], properties=props,
                             timeout=self.settings.publish_timeout_s)
        self._inflight.pop(id(cue), None)
        self.cues_published += 1
        self.deliveries.append(MqttDelivery(cue, self.clock.host_s(), queued_s, sent_s))

    # -- status ------------------------------------------------------------------------------

    def publisher_status(self) -> PublisherStatus:
        return PublisherStatus(connects=self.connects, cues_published=self.cues_published,
                               cues_dropped_stale=self.cues_stale, cues_dropped_full=self._cues.dropped,
                               messages_published=self.messages_published,
                               messages_dropped=self._data.dropped)

    def _queues(self) -> list[QueueStatus]:
        pipeline = [_queue_status(c) for c in self._queue_stats()] if self._queue_stats else []
        return [*pipeline, self._cues.status(), self._data.status()]

    async def _publish_status(self, client: aiomqtt.Client, *, online: bool, everyone: bool) -> None:
        s = self.settings
        state = "online" if online else "offline"
        unix_s = time.time()
        queues = self._queues()
        runners = list(self._runners) if everyone else [r for r in self._runners if r in self._dirty]
        self._dirty.clear()
        self._status_due = time.monotonic() + s.status_interval_s
        for runner in runners:
            sensors = [SensorStatus.model_validate(to_row(h)) for h in self._health[runner].values()]
            mine = [q for q in queues if q.name == f"runner:{runner}"]
            payload = RunnerStatusPayload(runner=runner, gateway=self.gateway, session_id=self.session_id,
                                          state=state, unix_s=unix_s, time_s=self._last_time.get(runner),
                                          sensors=sensors, queues=mine)
            await client.publish(runner_topic(runner, Kind.STATUS, s.topic_prefix), payload.to_json(),
                                 qos=QOS[Kind.STATUS], retain=True, timeout=s.publish_timeout_s)
        gw = GatewayStatusPayload(gateway=self.gateway, state=state, unix_s=unix_s,
                                  session_id=self.session_id, runners=list(self._runners),
                                  software_version=sensorkit.__version__,
                                  publisher=self.publisher_status(), queues=queues)
        await client.publish(gateway_topic(self.gateway, s.topic_prefix), gw.to_json(), qos=QOS[Kind.STATUS],
                             retain=True, timeout=s.publish_timeout_s)
