"""Team mode's MQTT input fuzzed with structure: whatever a broker delivers to the coach's dashboard.

Valid messages of every kind (metrics, fatigue, cues, steps, runner and gateway status) are
built from random records, then mutated at the JSON level (a value replaced by a NaN, a huge
number, a string, a list...; a field dropped or added; the schema tag changed) and sent on
a matching or a wrong topic, many in a row into one feed. Properties: the feed never raises,
its safety net for bugs ("internal error") never fires, and what the page receives is always
strict JSON (no NaN), small, and bounded in the number of runners.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorkit.dashboard.settings import DashboardSettings
from sensorkit.dashboard.state import DashboardState
from sensorkit.dashboard.team import MqttFeed
from sensorkit.model import Cue, CueKind, FatigueState, Placement, RollingMetrics, Side, StepMetrics, StrikeClass
from sensorkit.mqtt import MqttSettings
from sensorkit.mqtt.schema import (
    GatewayStatusPayload,
    Kind,
    RunnerStatusPayload,
    SensorStatus,
    gateway_topic,
    payload_of,
    runner_topic,
)

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PREFIX = "club"
START = 1.7e9

names = st.one_of(st.sampled_from(["ann", "bob", "c-3", "Zoë", "a/b", "50%", "+", "#"]),
                  st.text(min_size=1, max_size=12))
times = st.floats(0, 1e5)
odd = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                st.text(max_size=20), st.sampled_from(["online", "offline", "left", "unknown", "sensorkit.cue/1"]),
                st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.floats(), max_size=3),
                st.just("x" * 5000))


@st.composite
def messages(draw: Any) -> tuple[str, bytes]:
    """A valid message on its own topic."""
    runner, t = draw(names), draw(times)
    kind = draw(st.sampled_from(["metrics", "fatigue", "cue", "step", "runner_status", "gateway_status"]))
    if kind == "metrics":
        record: Any = RollingMetrics(runner, t, 10.0, draw(st.integers(0, 60)), cadence_spm=draw(st.floats(100, 220)),
                                     trunk_lean_deg=draw(st.floats(-10, 30)), impact_g=draw(st.floats(0, 16)))
    elif kind == "fatigue":
        record = FatigueState(runner, t, draw(st.floats(0, 100)), draw(st.booleans()),
                              draw(st.dictionaries(st.sampled_from(["trunk_lean_deg", "cadence_spm", "x"]),
                                                   st.floats(0, 100), max_size=3)))
    elif kind == "cue":
        record = Cue(runner, t, draw(st.sampled_from(list(CueKind))), draw(st.text(max_size=40)),
                     draw(st.integers(0, 9)), t + draw(st.floats(0, 30)), t)
    elif kind == "step":
        record = StepMetrics(runner, t, draw(st.sampled_from(list(Side))), cadence_spm=draw(st.floats(100, 220)),
                             strike_class=draw(st.sampled_from(list(StrikeClass))))
    elif kind == "runner_status":
        gateway = draw(names)
        sensors = [SensorStatus(sensor_id=f"{runner}/{p.value}", placement=p, time_s=t, connected=draw(st.booleans()),
                                battery_pct=draw(st.none() | st.floats(0, 100)))
                   for p in draw(st.lists(st.sampled_from(list(Placement)), max_size=3, unique=True))]
        p = RunnerStatusPayload(runner=runner, gateway=gateway, state=draw(st.sampled_from(["online", "offline"])),
                                unix_s=START + t, time_s=t, sensors=sensors)
        return runner_topic(runner, Kind.STATUS, PREFIX), p.to_json()
    else:
        p = GatewayStatusPayload(gateway=runner, state=draw(st.sampled_from(["online", "offline"])),
                                 unix_s=draw(st.none() | st.just(START + t)), runners=[runner])
        return gateway_topic(runner, PREFIX), p.to_json()
    payload = payload_of(record, session_id="s", start_unix_s=START)
    return runner_topic(runner, Kind(kind if kind != "step" else "steps"), PREFIX), payload.to_json()


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: Any) -> tuple[str, bytes]:
    topic, payload = draw(messages())
    how = draw(st.sampled_from(["none", "value", "value", "drop", "add", "schema", "topic", "bytes"]))
    doc = json.loads(payload)
    if how in ("value", "drop", "add"):
        path = draw(st.sampled_from(_paths(doc)))
        node = doc
        for p in path[:-1]:
            node = node[p]
        if how == "value":
            node[path[-1]] = draw(odd)
        elif how == "drop":
            del node[path[-1]]
        elif isinstance(node, dict):
            node[draw(st.text(max_size=8))] = draw(odd)
    elif how == "schema":
        doc["schema"] = draw(st.sampled_from(["sensorkit.cue/2", "sensorkit.metrics/1", "sensorkit.step/1",
                                              "sensorkit.fatigue/1", "", "x"]))
    elif how == "topic":
        topic = draw(st.sampled_from([f"{PREFIX}/v1/runner/ann/metrics", f"{PREFIX}/v1/runner/ann",
                                      f"{PREFIX}/v2/runner/ann/metrics", f"{PREFIX}/v1/gateway/g/metrics",
                                      f"{PREFIX}/v1/runner//metrics", f"{PREFIX}/v1/runner/%ZZ/cue",
                                      f"{PREFIX}/v1/runner/a/b/c/cue", "other/v1/runner/ann/cue", PREFIX]))
    if how == "bytes":
        raw = payload
        i = draw(st.integers(0, len(raw)))
        return topic, raw[:i] + draw(st.binary(max_size=8)) + raw[i + 1:]
    return topic, json.dumps(doc, allow_nan=True).encode()


def prop_feed(batch: list[tuple[str, bytes]]) -> None:
    settings_ = DashboardSettings(max_runners=8)
    state = DashboardState(settings_, mode="team")
    feed = MqttFeed(MqttSettings(enabled=True, topic_prefix=PREFIX), state, max_payload_bytes=4096)
    for topic, payload in batch:
        feed.handle(topic, payload)
    assert feed.rejected.get("internal error", 0) == 0, feed.rejected
    snapshot = state.snapshot()
    text = json.dumps(snapshot, allow_nan=False)  # what the server sends; NaN would break the page
    assert len(snapshot["runners"]) <= settings_.max_runners
    assert len(text) < 2_000_000
    delta = state.delta(0, with_system=True)
    if delta is not None:
        json.dumps(delta, allow_nan=False)
    for runner in snapshot["runners"]:
        for value in _numbers(runner):
            assert math.isfinite(value)


def _numbers(doc: Any) -> list[float]:
    if isinstance(doc, bool):
        return []
    if isinstance(doc, int | float):
        return [float(doc)]
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in _numbers(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in _numbers(v)]
    return []


def prop_valid_messages_show(batch: list[tuple[str, bytes]]) -> None:
    """Unmutated messages are all accepted (none rejected), and every runner named appears."""
    state = DashboardState(DashboardSettings(max_runners=1000), mode="team")
    feed = MqttFeed(MqttSettings(enabled=True, topic_prefix=PREFIX), state, max_payload_bytes=65536)
    for topic, payload in batch:
        feed.handle(topic, payload)
    assert not feed.rejected, feed.rejected
    shown = {r["name"] for r in state.snapshot()["runners"]}
    metrics = {json.loads(p)["runner"] for _, p in batch if json.loads(p)["schema"] == "sensorkit.metrics/1"}
    assert metrics <= shown
    json.dumps(state.snapshot(), allow_nan=False)


PROPERTIES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "mqtt_team_valid": (prop_valid_messages_show, (st.lists(messages(), min_size=1, max_size=15),)),
    "mqtt_team_mutated": (prop_feed, (st.lists(mutated(), min_size=1, max_size=25),)),
}


def fuzz_test(name: str, config: settings) -> Any:
    prop, strategies = PROPERTIES[name]
    return config(given(*strategies)(prop))


test_valid_gateway_messages_of_every_kind_are_accepted = fuzz_test("mqtt_team_valid", FUZZ)
test_whatever_a_broker_delivers_never_breaks_the_feed_or_the_page = fuzz_test("mqtt_team_mutated", FUZZ)


def test_the_message_generator_covers_every_kind() -> None:
    seen: set[str] = set()

    # Derandomized: the same draws every run, so a kind the generator can make is always seen
    # (60 random draws missed one of the six now and then: a flaky test, not a finding).
    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(messages())
    def collect(message: tuple[str, bytes]) -> None:
        seen.add(json.loads(message[1])["schema"])

    collect()
    assert len(seen) == 6, seen
