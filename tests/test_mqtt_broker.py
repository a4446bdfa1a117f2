"""MqttSink against a real mosquitto: payloads, QoS 1 cues, retained status, last will, TLS +
password, clear errors, and a broker restart mid-session."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiomqtt
import pytest

from sensorkit.errors import PublishError
from sensorkit.model import Cue, CueKind, FatigueState, Placement, RollingMetrics, SensorHealth
from sensorkit.mqtt import MqttSettings, MqttSink
from sensorkit.mqtt.schema import (
    CuePayload,
    FatiguePayload,
    GatewayStatusPayload,
    Kind,
    MetricsPayload,
    RunnerStatusPayload,
    decode,
    parse_topic,
)
from tests.support.servers import Mosquitto, free_port, start_mosquitto

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One broker for this module (each test has its own topic prefix, so retained state never leaks)."""
    b = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return "t-" + request.node.name.split("[")[0][-40:].replace("_", "-")


class Feed:
    """The bus side of a sink: the test pushes items, ``close`` ends the stream."""

    def __init__(self) -> None:
        self._q: asyncio.Queue[Any] = asyncio.Queue()

    def put(self, *items: Any) -> None:
        for item in items:
            self._q.put_nowait(item)

    def close(self) -> None:
        self._q.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[Any]:
        while (item := await self._q.get()) is not None:
            yield item


class Watcher:
    """A subscriber that keeps reconnecting (a coach's dashboard) and records what it sees."""

    def __init__(self, port: int, prefix: str) -> None:
        self.port = port
        self.prefix = prefix
        self.seen: list[tuple[str, Any, int, bool]] = []
        self.connects = 0

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, protocol=aiomqtt.ProtocolVersion.V5) as c:
                    await c.subscribe(f"{self.prefix}/v1/#", qos=1)
                    self.connects += 1
                    async for m in c.messages:
                        self.seen.append((m.topic.value, decode(m.payload), m.qos, m.retain))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)

    def payloads(self, kind: Kind, scope: str = "runner") -> list[Any]:
        refs = [(parse_topic(t, self.prefix), p) for t, p, _, _ in self.seen]
        return [p for r, p in refs if r is not None and r.kind is kind and r.scope == scope]

    async def until(self, pred: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if result := pred():
                return result
            await asyncio.sleep(0.02)
        raise AssertionError(f"condition not met within {timeout_s} s; seen {[t for t, *_ in self.seen]}")


@contextlib.asynccontextmanager
async def watching(port: int, prefix: str) -> AsyncIterator[Watcher]:
    w = Watcher(port, prefix)
    task = asyncio.create_task(w.run())
    try:
        await w.until(lambda: w.connects > 0)
        yield w
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def running(sink: MqttSink) -> AsyncIterator[Feed]:
    feed = Feed()
    async with sink:
        consumer = asyncio.create_task(sink.consume(feed))
        try:
            yield feed
        finally:
            feed.close()
            await asyncio.wait_for(consumer, 15)


def settings(port: int, prefix: str, **kw: Any) -> MqttSettings:
    base = {"enabled": True, "port": port, "topic_prefix": prefix, "gateway": "gw1", "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.5}
    return MqttSettings(**{**base, **kw})


def cue(t: float, kind: CueKind = CueKind.TRUNK_LEAN, expiry_s: float = 15.0) -> Cue:
    return Cue("ann", t, kind, "Stand tall", 4, t + expiry_s, t, "trunk_lean_deg", 11.0, 8.0)


async def test_metrics_fatigue_cues_and_retained_status_reach_subscribers(broker, prefix) -> None:
    sink = MqttSink(settings(broker.port, prefix), runners=["ann"], session_id="s1", start_unix_s=1000.0)
    async with watching(broker.port, prefix) as w, running(sink) as feed:
        feed.put(SensorHealth("ann", "ann/lower_back", Placement.LOWER_BACK, 1.0, True, packets=5,
                              battery_pct=77.0),
                 RollingMetrics("ann", 2.0, 10.0, 28, cadence_spm=172.0, speed_mps=3.1),
                 FatigueState("ann", 2.0, 12.5, True, {"cadence_spm": 20.0}),
                 cue(3.0))
        c = await w.until(lambda: w.payloads(Kind.CUE))
        await w.until(lambda: w.payloads(Kind.METRICS) and w.payloads(Kind.FATIGUE))
        await w.until(lambda: any(s.sensors for s in w.payloads(Kind.STATUS)))
    assert isinstance(c[0], CuePayload) and c[0].kind is CueKind.TRUNK_LEAN and c[0].session_id == "s1"
    assert c[0].unix_s == 1003.0 and c[0].expires_unix_s == 1018.0
    m = w.payloads(Kind.METRICS)[0]
    assert isinstance(m, MetricsPayload) and m.cadence_spm == 172.0 and m.speed_mps == 3.1
    f = w.payloads(Kind.FATIGUE)[0]
    assert isinstance(f, FatiguePayload) and f.components == {"cadence_spm": 20.0}
    status = [s for s in w.payloads(Kind.STATUS) if s.sensors][-1]
    assert isinstance(status, RunnerStatusPayload) and status.sensors[0].battery_pct == 77.0
    assert sink.cues_published == 1 and sink.publisher_status().cues_dropped_stale == 0

    # After a clean shutdown a newcomer finds retained offline statuses, and the cue was QoS 1.
    assert [q for t, _, q, _ in w.seen if t.endswith("/cue")] == [1]
    async with watching(broker.port, prefix) as late:
        gw = await late.until(lambda: late.payloads(Kind.STATUS, "gateway"))
        runner = await late.until(lambda: late.payloads(Kind.STATUS))
    assert isinstance(gw[0], GatewayStatusPayload) and gw[0].state == "offline" and gw[0].runners == ["ann"]
    assert runner[0].state == "offline" and all(retained for *_, retained in late.seen)
    assert gw[0].publisher is not None and gw[0].publisher.cues_published == 1


WILL_CHILD = """
import asyncio, sys
from sensorkit.mqtt import MqttSettings, MqttSink

async def main():
    s = MqttSettings(enabled=True, port=int(sys.argv[1]), topic_prefix=sys.argv[2], gateway="doomed",
                     keepalive_s=60)
    async with MqttSink(s, runners=["ann"]) as sink:
        async def forever():
            await asyncio.Event().wait()
            yield None
        await sink.consume(forever())

asyncio.run(main())
"""


async def test_the_last_will_marks_an_abruptly_lost_gateway_offline(broker, prefix) -> None:
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", WILL_CHILD, str(broker.port),
                                                 prefix)
    try:
        async with watching(broker.port, prefix) as w:
            def gateway_states() -> list[str]:
                return [p.state for p in w.payloads(Kind.STATUS, "gateway") if p.gateway == "doomed"]
            await w.until(lambda: "online" in gateway_states(), timeout_s=20)
            child.kill()  # no clean disconnect: only the broker's will can tell the coach
            await w.until(lambda: gateway_states()[-1:] == ["offline"], timeout_s=10)
        will = [p for p in w.payloads(Kind.STATUS, "gateway") if p.gateway == "doomed"][-1]
        assert will.unix_s is None and will.runners == ["ann"]
    finally:
        if child.returncode is None:
            child.kill()
        await asyncio.wait_for(child.wait(), 10)


async def test_tls_with_password_from_the_environment(broker, prefix, monkeypatch) -> None:
    monkeypatch.setenv("SK_TEST_MQTT_PASSWORD", broker.password)
    s = settings(broker.tls_port, prefix, tls=True, ca_file=broker.ca_file, username=broker.username,
                 password_env="SK_TEST_MQTT_PASSWORD")
    sink = MqttSink(s, runners=["ann"], password=s.password())
    async with watching(broker.port, prefix) as w, running(sink) as feed:
        feed.put(cue(5.0))
        await w.until(lambda: w.payloads(Kind.CUE))
    assert sink.connects == 1 and sink.cues_published == 1


async def test_a_wrong_password_is_a_clear_error_that_does_not_leak_it(broker, prefix) -> None:
    s = settings(broker.tls_port, prefix, tls=True, ca_file=broker.ca_file, username=broker.username)
    with pytest.raises(PublishError) as err:
        async with MqttSink(s, password="not-the-password-123"):
            pass
    msg = str(err.value)
    assert "refused user 'runner'" in msg and "mqtt.password_env" in msg
    assert "not-the-password-123" not in msg


async def test_an_untrusted_broker_certificate_is_a_clear_error(broker, prefix) -> None:
    s = settings(broker.tls_port, prefix, tls=True, username=broker.username)  # system CAs only
    with pytest.raises(PublishError, match=r"TLS with MQTT broker mqtts://runner@127\.0\.0\.1.*certificate"):
        async with MqttSink(s, password=broker.password):
            pass


async def test_no_broker_at_start_is_not_fatal_queues_stay_bounded_and_shutdown_too() -> None:
    sink = MqttSink(settings(free_port(), "unused", flush_timeout_s=0.5, cue_queue_size=2, queue_size=3),
                    runners=["ann"])
    started = time.monotonic()
    async with running(sink) as feed:
        feed.put(*(cue(float(t)) for t in range(5)))
        feed.put(*(RollingMetrics("ann", float(t), 10.0, 28, cadence_spm=170.0) for t in range(10)))
        await asyncio.sleep(0.2)
        status = sink.publisher_status()
    assert time.monotonic() - started < 5
    assert sink.connects == 0 and sink.cues_published == 0 and "not reachable" in sink.last_error
    assert status.cues_dropped_full == 3 and status.messages_dropped == 7


async def test_broker_restart_mid_session_reconnects_resumes_and_drops_expired_cues(broker, prefix) -> None:
    # The sink retries after ~1 s, so the watcher (50 ms retries) is back before anything is re-sent.
    sink = MqttSink(settings(broker.port, prefix, reconnect_min_s=1.0, reconnect_max_s=1.0), runners=["ann"])
    async with watching(broker.port, prefix) as w, running(sink) as feed:
        feed.put(cue(10.0, CueKind.TRUNK_LEAN))
        await w.until(lambda: w.payloads(Kind.CUE))
        broker.stop()
        await w.until(lambda: not sink.connected)
        # During the outage: one cue expires (data time moves on to 50 s), one is still fresh.
        feed.put(cue(20.0, CueKind.IMPACT), FatigueState("ann", 50.0, 10.0, True),
                 cue(50.0, CueKind.OVERSTRIDE))
        broker.start()
        await w.until(lambda: w.connects >= 2)
        await w.until(lambda: len(w.payloads(Kind.CUE)) >= 2)
        await w.until(lambda: [p.state for p in w.payloads(Kind.STATUS, "gateway")][-1:] == ["online"])
        feed.put(cue(60.0, CueKind.FATIGUE))
        await w.until(lambda: len(w.payloads(Kind.CUE)) >= 3)
    kinds = [p.kind for p in w.payloads(Kind.CUE)]
    assert kinds == [CueKind.TRUNK_LEAN, CueKind.OVERSTRIDE, CueKind.FATIGUE]
    assert sink.connects == 2 and sink.cues_stale == 1 and sink.cues_published == 3


@pytest.mark.parametrize(("host", "tls", "warned"), [("192.168.1.5", False, True), ("192.168.1.5", True, False),
                                                     ("127.0.0.1", False, False)])
def test_a_password_sent_in_clear_text_off_this_machine_is_warned_about(
        host: str, tls: bool, warned: bool, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret-pass\n", encoding="utf-8")
    secret.chmod(0o600)
    s = MqttSettings(enabled=True, host=host, tls=tls, username="runner", password_file=secret)
    with caplog.at_level("WARNING", logger="sensorkit.mqtt.settings"):
        assert s.password() == "s3cret-pass"
    assert ("clear text" in caplog.text) == warned
    assert "s3cret-pass" not in caplog.text
