"""Sensor Logger's MQTT path through a real mosquitto broker started by the test."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest

from sensorkit.model import SampleBlock, SensorHealth
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.phone import SensorLoggerMqttSettings, build_phone_source
from tests.support.phone_apps import SensorLoggerPhone, publish_mqtt
from tests.test_phone_sources import check_aligned, run_source, samples

pytestmark = pytest.mark.servers


def mqtt_settings(broker: Any, **kw: Any) -> SensorLoggerMqttSettings:
    base = {"app": "sensorlogger_mqtt", "runner": "dan", "broker_host": broker.host,
            "broker_port": broker.port, "topic": "sensor-logger", "reconnect_max_s": 0.5}
    return SensorLoggerMqttSettings.model_validate(base | kw)


async def test_mqtt_messages_are_aligned_and_garbage_is_counted(mosquitto: Any) -> None:
    clock = HostClock()
    source = build_phone_source(mqtt_settings(mosquitto, device_id="0f6c3d3e-phone-a",
                                              max_payload_bytes=256 * 1024), clock)
    phone = SensorLoggerPhone(clock, gps_origin=None)
    other = SensorLoggerPhone(clock, device_id="someone-else", gps_origin=None)
    garbage = [b"\x00\x01garbage", b"{" * 10, json.dumps({"messageId": -1, "payload": []}).encode(),
               b"x" * (300 * 1024), json.dumps(other.next_message()).encode()]

    async def drive(src: Any) -> int:
        await asyncio.sleep(0.5)  # subscribed before the phone publishes (QoS 0 is not kept)
        return await publish_mqtt(phone, mosquitto.host, mosquitto.port, "sensor-logger", 2.5, extra=garbage)

    items, sent = await run_source(source, drive)
    assert sent > 5
    check_aligned(samples(items), phone.truth_s)
    rejected = source.stats().rejected
    assert rejected["malformed"] == 3 and rejected["too large"] == 1  # the other phone is ignored quietly


async def test_broker_restart_is_survived(mosquitto: Any) -> None:
    clock = HostClock()
    source = build_phone_source(mqtt_settings(mosquitto, health_interval_s=0.2), clock)
    phone = SensorLoggerPhone(clock, gps_origin=None)

    async def drive(src: Any) -> None:
        await asyncio.sleep(0.5)
        await publish_mqtt(phone, mosquitto.host, mosquitto.port, "sensor-logger", 1.0)
        mosquitto.stop()
        await asyncio.sleep(1.0)
        mosquitto.start()
        for _ in range(50):  # wait until sensorkit has resubscribed
            await asyncio.sleep(0.1)
            if src.connected:
                break
        await asyncio.sleep(0.3)
        await publish_mqtt(phone, mosquitto.host, mosquitto.port, "sensor-logger", 1.0)

    items, _ = await run_source(source, drive)
    assert source.reconnects >= 1
    block = samples(items)
    truth = np.asarray(phone.truth_s)
    # nothing the broker delivered was lost; samples published while it was down never existed
    assert len(block) >= 150 and np.all(np.diff(block.time_s) > 0)
    assert np.isin(np.round(block.time_s, 2), np.round(truth, 2)).mean() > 0.95
    assert any(isinstance(i, SampleBlock) and i.start_s > truth[0] + 2.0 for i in items)
    health = [i for i in items if isinstance(i, SensorHealth)]
    assert any(not h.connected for h in health) and health[-1].reconnects >= 1
