"""The three apps' wire formats, decoded from examples in the apps' own documentation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensorkit.errors import DecodeError
from sensorkit.sources.phone.batch import Channel
from sensorkit.sources.phone.hyperimu_protocol import LineFormat, parse_lines, split_lines, timestamp_to_s, to_batch
from sensorkit.sources.phone.phyphox_protocol import (
    DEFAULT_LAYOUT,
    extract,
    get_query,
    layout_from_config,
    parse_get,
    parse_time,
)
from sensorkit.sources.phone.sensorlogger import decode_message

G = 9.80665


def test_hyperimu_readme_line_three_sensors() -> None:
    """HIMUServer README: '0.123,0.586,0.2637,0.259,-0.5963,9.815,5.36,0.00,0.00 <CR><LF>'."""
    fmt = LineFormat(("gyroscope", "accelerometer", "magnetometer"), timestamp=False)
    parsed = parse_lines(split_lines(b"0.123,0.586,0.2637,0.259,-0.5963,9.815,5.36,0.00,0.00\r\n", fmt.separator), fmt)
    assert len(parsed) == 1 and parsed.bad_lines == 0
    batch = to_batch(parsed, np.array([0.0]), fmt)
    np.testing.assert_allclose(batch.channels[Channel.GYR].values, np.degrees([[0.123, 0.586, 0.2637]]))
    np.testing.assert_allclose(batch.channels[Channel.ACC].values, [[0.259 / G, -0.5963 / G, 9.815 / G]])
    np.testing.assert_allclose(batch.channels[Channel.MAG].values, [[5.36, 0, 0]])


def test_hyperimu_prefixes_suffixes_and_hash_terminator() -> None:
    fmt = LineFormat(("accelerometer",), timestamp=True, mac_address=True, gps=True, separator=b"#")
    data = (b"1714557600123,AA:BB:CC:DD:EE:FF,0,0,9.80665,48.1,11.5,520,$GPGGA,1,2#"
            b"1714557600133,AA:BB:CC:DD:EE:FF,0,0,9.80665,0,0,0#garbage,line#")
    parsed = parse_lines(split_lines(data, fmt.separator), fmt)
    assert len(parsed) == 2 and parsed.bad_lines == 1
    assert parsed.device_s is not None
    np.testing.assert_allclose(parsed.device_s, [1714557600.123, 1714557600.133])
    assert [(f.latitude_deg, f.longitude_deg) for f in parsed.fixes] == [(48.1, 11.5)]  # (0, 0) is no fix
    assert timestamp_to_s(1.7e18) == pytest.approx(1.7e9) and timestamp_to_s(1.7e15) == pytest.approx(1.7e9)


def test_sensorlogger_push_message_as_documented() -> None:
    """PUSHING.md schema; values in m/s^2, rad/s, uT; time in UTC epoch ns."""
    msg = {"messageId": 0, "sessionId": "identifier", "deviceId": "identifier", "payload": [
        {"name": "accelerometer", "time": 1698501144401773000, "values": {"z": -0.1038, "y": -0.00096, "x": 0.0611}},
        {"name": "gravity", "time": 1698501144401773000, "values": {"z": 9.80665, "y": 0.0, "x": 0.0}},
        {"name": "gyroscope", "time": 1698501144402773000, "values": {"z": 0.0, "y": 0.0, "x": 1.0}},
        {"name": "location", "time": 1698501145514000000,
         "values": {"latitude": 51.5, "longitude": -0.12, "speed": -1, "horizontalAccuracy": 15.1}},
        {"name": "battery", "time": 1698501145514000000, "values": {"batteryLevel": 0.5}},
        {"name": "camera", "time": 1698501145514000000, "values": {"image": "...", "imageFormat": "jpg"}},
    ]}
    batch, skipped = decode_message(json.dumps(msg))
    assert skipped == 0 and batch.message_id == 0 and batch.battery_pct == 50.0
    assert batch.channels[Channel.LINEAR_ACC].device_s[0] == pytest.approx(1698501144.401773)
    np.testing.assert_allclose(batch.channels[Channel.GRAVITY].values, [[0, 0, 1.0]])
    np.testing.assert_allclose(batch.channels[Channel.GYR].values, [[np.degrees(1.0), 0, 0]])
    fix = batch.fixes[0]
    assert (fix.latitude_deg, fix.speed_mps, fix.accuracy_m) == (51.5, None, 15.1)  # negative speed: invalid
    ios, _ = decode_message(json.dumps(msg), platform="ios")
    np.testing.assert_allclose(ios.channels[Channel.GRAVITY].values, [[0, 0, -1.0]])


@pytest.mark.parametrize("raw", [b"", b"{}", b'{"messageId": 1}', b'{"messageId": 1, "payload": {}}', b"\xff"])
def test_sensorlogger_non_messages_are_decode_errors(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_message(raw)


def test_phyphox_config_time_and_incremental_get() -> None:
    cfg = {"inputs": [
        {"source": "accelerometer", "outputs": [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"t": "acc_time"}]},
        {"source": "location", "outputs": [{"lat": "locLat"}, {"lon": "locLon"}, {"v": "locV"},
                                           {"t": "locTime"}, {"accuracy": "locAccuracy"}]},
        {"source": "light", "outputs": [{"x": "illum"}]}]}
    layout = layout_from_config(json.dumps(cfg))
    assert [s.t for s in layout.sets] == ["acc_time"] and layout.gps and layout.gps.speed == "locV"
    thresholds: dict[str, float | None] = dict.fromkeys(layout.time_buffers)
    assert get_query(layout, thresholds)[:2] == [("acc_time", ""), ("accX", "")]  # join: last value only
    thresholds["acc_time"] = 12.5
    assert ("accX", "12.5|acc_time") in get_query(layout, thresholds)

    time_map = parse_time(json.dumps([
        {"event": "START", "experimentTime": 0.0, "systemTime": 1700000000.0},
        {"event": "PAUSE", "experimentTime": 10.0, "systemTime": 1700000010.0},
        {"event": "START", "experimentTime": 10.0, "systemTime": 1700000030.0}]))
    np.testing.assert_allclose(time_map.to_system(np.array([5.0, 12.0])), [1700000005.0, 1700000032.0])

    answer = (b'{"buffer":{\n"acc_time":{"size":0,"updateMode":"partial", "buffer":[1.26E1,1.261E1,1.262E1]},\n'
              b'"accX":{"size":0,"updateMode":"partial", "buffer":[9.80665E0,null,0E0]},\n'
              b'"accY":{"size":0,"updateMode":"partial", "buffer":[0E0,0E0,0E0]},\n'
              b'"accZ":{"size":0,"updateMode":"partial", "buffer":[0E0,0E0]}\n},\n'
              b'"status":{"session":"5e1f", "measuring":true, "timedRun":false, "countDown":0}\n}\n')
    resp = parse_get(answer)
    assert resp.status.measuring and resp.status.session == "5e1f"
    batch = extract(resp, layout, thresholds, time_map)
    acc = batch.channels[Channel.ACC]
    # ragged buffers are cut to the shortest; the null sample is dropped; times mapped past the pause
    np.testing.assert_allclose(acc.device_s, [1700000032.6])
    np.testing.assert_allclose(acc.values, [[1.0, 0, 0]])
    assert thresholds["acc_time"] == pytest.approx(12.62)


def test_phyphox_config_without_accelerometer_is_refused() -> None:
    with pytest.raises(DecodeError, match="no accelerometer"):
        layout_from_config(b'{"inputs": [{"source": "light", "outputs": [{"x": "illum"}]}]}')
    assert DEFAULT_LAYOUT.sets[0].xyz == ("accX", "accY", "accZ")


def test_a_value_that_would_overflow_in_the_unit_conversion_is_an_invalid_reading() -> None:
    """1e308 rad/s is a finite float but inf deg/s: counted as invalid, never an inf sample or a warning."""
    msg = {"messageId": 0, "sessionId": "s", "deviceId": "d", "payload": [
        {"name": "gyroscope", "time": 1698501144402773000, "values": {"z": 0.0, "y": 0.0, "x": 1e308}},
        {"name": "accelerometer", "time": 1698501144402773000, "values": {"z": 9.8, "y": 0.0, "x": 0.0}}]}
    batch, skipped = decode_message(json.dumps(msg))
    assert skipped == 1 and Channel.GYR not in batch.channels
    assert [len(c) for c in batch.channels.values()] == [1]  # the accelerometer reading is kept
    fmt = LineFormat(("gyroscope",), timestamp=False)
    parsed = parse_lines(split_lines(b"1e308,0,0\r\n0.1,0.2,0.3\r\n", fmt.separator), fmt)
    assert len(parsed) == 1 and parsed.bad_lines == 1 and "out-of-range" in (parsed.first_error or "")
