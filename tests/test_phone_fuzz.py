"""Every phone parser and the timing stage, fuzzed: bad input is an error or a counted skip, never a crash.

Short runs here (CI); ``python -m bench.phone_fuzz`` runs >= 100,000 cases per parser.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorkit.errors import DecodeError
from sensorkit.model import PhoneWear, Placement, SampleBlock, SensorInfo
from sensorkit.sources.phone.aligner import PhoneAligner
from sensorkit.sources.phone.batch import Channel, ChannelData, PhoneBatch
from sensorkit.sources.phone.hyperimu_protocol import LineFormat, parse_lines, split_lines
from sensorkit.sources.phone.phyphox_protocol import (
    DEFAULT_LAYOUT,
    TimeMap,
    extract,
    layout_from_config,
    parse_get,
    parse_time,
)
from sensorkit.sources.phone.sensorlogger import decode_message

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_SLOW = settings(FUZZ, max_examples=40)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda c: st.one_of(st.lists(c, max_size=5),
                                                             st.dictionaries(st.text(max_size=10), c, max_size=5)),
                           max_leaves=30)
names = st.sampled_from(["accelerometer", "totalacceleration", "gravity", "gyroscope", "magnetometer",
                         "location", "battery", "orientation", "", "ACCELEROMETER"])
readings = st.fixed_dictionaries(
    {"name": st.one_of(names, json_scalars),
     "time": st.one_of(st.integers(-(2**64), 2**64), json_scalars),
     "values": st.one_of(st.dictionaries(st.sampled_from(["x", "y", "z", "latitude", "longitude", "speed",
                                                          "horizontalAccuracy", "batteryLevel"]),
                                         json_scalars, max_size=8), json_values)})
messages = st.fixed_dictionaries({"messageId": st.one_of(st.integers(-5, 2**40), json_scalars),
                                  "sessionId": json_scalars, "deviceId": json_scalars,
                                  "payload": st.one_of(st.lists(readings, max_size=20), json_values)})


def _dumps(doc: Any) -> str:
    return json.dumps(doc, allow_nan=True)


def check_batch(batch: PhoneBatch) -> None:
    for data in batch.channels.values():
        assert data.values.shape == (len(data), 3)
        assert np.isfinite(data.values).all() and np.isfinite(data.device_s).all()


def prop_sensorlogger_bytes(raw: bytes) -> None:
    try:
        batch, skipped = decode_message(raw)
    except DecodeError:
        return
    check_batch(batch)
    assert skipped >= 0


def prop_sensorlogger_wrong_types(doc: dict[str, Any], platform: Any) -> None:
    try:
        batch, _ = decode_message(_dumps(doc), platform=platform)
    except DecodeError:
        return
    check_batch(batch)


line_formats = st.sampled_from([LineFormat(), LineFormat(("accelerometer",), timestamp=False, mac_address=True),
                                LineFormat(("gyroscope", "other", "accelerometer"), gps=True)])


def prop_hyperimu_bytes(lines: list[bytes], fmt: LineFormat) -> None:
    parsed = parse_lines(split_lines(b"\r\n".join(lines), fmt.separator), fmt)
    assert parsed.values.shape == (len(parsed), 3 * len(fmt.sensors))
    assert np.isfinite(parsed.values).all()
    assert parsed.bad_lines + len(parsed) <= len(lines) + sum(x.count(b"\r\n") for x in lines) + 1


numeric_lines = st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=4)),
                         max_size=12).map(lambda xs: ",".join(map(str, xs)).encode())


def prop_hyperimu_near_valid(lines: list[bytes]) -> None:
    fmt = LineFormat()
    parsed = parse_lines(lines, fmt)
    assert np.isfinite(parsed.values).all()
    if parsed.device_s is not None:
        assert parsed.device_s.shape == (len(parsed),)


def prop_phyphox_answers(raw: bytes) -> None:
    for parse in (parse_get, layout_from_config, parse_time):
        with contextlib.suppress(DecodeError):
            parse(raw)


get_answers = st.fixed_dictionaries({
    "buffer": st.dictionaries(st.sampled_from(["acc_time", "accX", "accY", "accZ", "gyr_time", "gyrX", "other"]),
                              st.fixed_dictionaries({"size": st.integers(0, 10),
                                                     "updateMode": st.sampled_from(["single", "partial", "full"]),
                                                     "buffer": st.lists(st.one_of(st.none(), st.floats()),
                                                                        max_size=30)}), max_size=7),
    "status": st.fixed_dictionaries({"session": st.text(max_size=5), "measuring": st.booleans()}),
})


def prop_phyphox_extract(doc: dict[str, Any]) -> None:
    resp = parse_get(_dumps(doc))
    thresholds: dict[str, float | None] = dict.fromkeys(DEFAULT_LAYOUT.time_buffers)
    check_batch(extract(resp, DEFAULT_LAYOUT, thresholds, TimeMap()))


INFO = SensorInfo("f/phone", "f", Placement.PHONE, 100.0, phone_wear=PhoneWear.HAND)
chunks = st.lists(st.tuples(
    st.floats(-1e10, 1e10), st.integers(1, 30), st.floats(1e-4, 0.1), st.floats(0, 100), st.integers(0, 3)),
    min_size=1, max_size=25)


def prop_aligner(steps: list[tuple]) -> None:
    """Random clocks, jumps, overlaps, repeats and stalls: blocks stay strictly increasing."""
    al = PhoneAligner(INFO)
    out: list = []
    arrival = 0.0
    for k, (t0, n, dt, stall, msg_id) in enumerate(steps):
        arrival += 0.05 + stall * (k % 3 == 0)
        t = t0 + np.arange(n) * dt
        batch = PhoneBatch({Channel.ACC: ChannelData(t, np.ones((n, 3))),
                            Channel.GYR: ChannelData(t + dt / 2, np.ones((n, 3)))}, message_id=msg_id)
        out += al.add(batch, arrival)
        out += al.tick(arrival + 0.01)
    out += al.flush()
    blocks = [i for i in out if isinstance(i, SampleBlock)]
    if blocks:
        times = np.concatenate([b.time_s for b in blocks])
        assert np.isfinite(times).all() and np.all(np.diff(times) > 0)


PROPERTIES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "sensorlogger_bytes": (prop_sensorlogger_bytes, (st.binary(max_size=2000),)),
    "sensorlogger_wrong_types": (prop_sensorlogger_wrong_types, (messages, st.sampled_from(["android", "ios"]))),
    "hyperimu_bytes": (prop_hyperimu_bytes, (st.lists(st.binary(max_size=200), max_size=10), line_formats)),
    "hyperimu_near_valid": (prop_hyperimu_near_valid, (st.lists(numeric_lines, max_size=10),)),
    "phyphox_answers": (prop_phyphox_answers,
                        (st.one_of(st.binary(max_size=1000), json_values.map(lambda v: _dumps(v).encode())),)),
    "phyphox_extract": (prop_phyphox_extract, (get_answers,)),
    "aligner": (prop_aligner, (chunks,)),
}
"""Property -> (check, strategies); the bench runs the same checks with far more cases."""


def fuzz_test(name: str, config: settings) -> Any:
    prop, strategies = PROPERTIES[name]
    return config(given(*strategies)(prop))


test_sensorlogger_decoder_survives_any_bytes = fuzz_test("sensorlogger_bytes", FUZZ)
test_sensorlogger_decoder_survives_wrong_types = fuzz_test("sensorlogger_wrong_types", FUZZ_SLOW)
test_hyperimu_lines_never_raise = fuzz_test("hyperimu_bytes", FUZZ)
test_hyperimu_near_valid_lines_never_raise = fuzz_test("hyperimu_near_valid", FUZZ)
test_phyphox_answers_parse_or_raise_decode_error = fuzz_test("phyphox_answers", FUZZ)
test_phyphox_extract_handles_ragged_and_null_buffers = fuzz_test("phyphox_extract", FUZZ)
test_aligner_output_is_ordered_and_finite_whatever_the_phone_sends = fuzz_test("aligner", FUZZ)
