"""Line protocol and schema: escaping, exact floats, vectorised == per-point, downsampling, timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from sensorkit.model import Cue, CueKind, SampleBlock, StepMetrics
from sensorkit.model.records import Side
from sensorkit.store.influx.lineproto import format_columns, format_field, format_point, tag_set
from sensorkit.store.influx.schema import PointEncoder, start_ns
from sensorkit.store.influx.settings import InfluxSettings, RawImuMode
from tests.support.influx_data import make_info


def parse_line(line: str) -> tuple[str, str, int]:
    """(series, fields, ts) of one of our lines (no escaped spaces in series/fields used here)."""
    series, fields, ts = line.rsplit(" ", 2)
    return series, fields, int(ts)


def test_keys_and_strings_are_escaped_so_the_line_stays_parseable() -> None:
    tags = tag_set({"runner": "Anna Lena, Jr.", "session": "a=b", "device": ""})
    assert tags == r",runner=Anna\ Lena\,\ Jr.,session=a\=b"  # sorted, empty tag left out
    assert tag_set({"device": "pod\\v2\\"}) == ",device=pod\\v2"  # backslash as is, trailing one dropped
    assert format_field('say "hi"\\ now') == r'"say \"hi\"\\ now"'
    assert format_field("two\nlines") == '"two lines"'


def test_field_types_are_explicit_and_unrepresentable_values_are_left_out() -> None:
    assert format_field(3) == "3i"
    assert format_field(True) == "true"
    assert format_field(0.1) == "0.1"
    assert format_field(float("nan")) is None
    assert format_field(None) is None
    assert format_point("m", "", {"a": None, "b": float("inf")}, 1) is None
    assert format_point("m", ",t=x", {"a": None, "b": 2.5}, 7) == "m,t=x b=2.5 7"


def test_vectorised_block_formatting_equals_the_per_point_path_value_for_value() -> None:
    rng = np.random.default_rng(3)
    cols = [rng.normal(0, 100, 500) for _ in range(6)]
    cols[2][::37] = 1.0  # integral floats must stay floats
    cols[3][5] = 1e-7
    cols[4][9] = -2.5e21
    ts = np.arange(500, dtype=np.int64) * 5_000_000 + 1_700_000_000_123_456_789
    names = ["ax", "ay", "az", "gx", "gy", "gz"]
    data, n = format_columns("imu", ",runner=a", names, cols, ts)
    lines = data.decode().splitlines()
    assert n == len(lines) == 500
    for i, line in enumerate(lines):
        series, fields, t = parse_line(line)
        assert series == "imu,runner=a" and t == ts[i]
        values = dict(kv.split("=") for kv in fields.split(","))
        assert list(values) == names
        assert [float(values[k]) for k in names] == [c[i] for c in cols]  # exact round trip
        assert all("i" not in v for v in values.values())  # floats, never integers


def test_a_non_finite_sample_loses_only_its_own_field() -> None:
    cols = [np.array([1.0, np.nan, 3.0]), np.array([4.0, 5.0, np.inf])]
    ts = np.array([10, 20, 30], dtype=np.int64)
    data, n = format_columns("imu", "", ["ax", "ay"], cols, ts)
    got = sorted(data.decode().splitlines(), key=lambda x: int(x.rsplit(" ", 1)[1]))
    assert n == 3
    assert got == ["imu ax=1.0,ay=4.0 10", "imu ay=5.0 20", "imu ax=3.0 30"] or got == [
        "imu ax=1,ay=4 10", "imu ay=5.0 20", "imu ax=3.0 30"]


def test_timestamps_come_from_the_host_timeline_in_integer_nanoseconds() -> None:
    info = make_info(start_unix_s=1_700_000_000.123456)
    enc = PointEncoder(info, RawImuMode.FULL)
    assert start_ns(info) == 1_700_000_000_123_456_000
    step = StepMetrics("alice", 12.5, Side.LEFT, cadence_spm=170)
    line = enc.encode_bytes(step).data.decode().strip()  # type: ignore[union-attr]
    series, fields, ts = parse_line(line)
    assert ts == 1_700_000_012_623_456_000
    assert series == "steps,runner=alice,session=s-test,side=left"
    assert "cadence_spm=170.0" in fields  # an int handed to a float field stays a float field
    assert 'strike_class="unknown"' in fields and "impact_saturated=false" in fields


def test_cues_keep_their_kind_as_a_tag_and_text_as_a_field() -> None:
    enc = PointEncoder(make_info(), RawImuMode.OFF)
    cue = Cue("bob", 3.0, CueKind.OVERSTRIDE, "Shorter steps", 2, 8.0, 2.9)
    line = enc.encode_bytes(cue).data.decode().strip()  # type: ignore[union-attr]
    assert line.startswith("cues,kind=overstride,runner=bob,session=s-test ")
    assert 'text="Shorter steps"' in line and "priority=2i" in line


def test_numeric_only_mode_drops_string_fields_for_stores_that_cannot_keep_them() -> None:
    enc = PointEncoder(make_info(), RawImuMode.OFF, numeric_fields_only=True)
    cue = Cue("bob", 3.0, CueKind.OVERSTRIDE, "Shorter steps", 2, 8.0, 2.9)
    _, fields, _ = parse_line(enc.encode_bytes(cue).data.decode().strip())  # type: ignore[union-attr]
    assert '"' not in fields and "priority=2i" in fields


def block(sensor_id: str, t: np.ndarray) -> SampleBlock:
    return SampleBlock(sensor_id, t, np.column_stack([t, t, t]), np.zeros((len(t), 3)))


@pytest.mark.parametrize("chunk", [1, 7, 50, 1000])
def test_downsampling_keeps_the_first_sample_of_each_interval_whatever_the_chunking(chunk: int) -> None:
    info = make_info()
    t = np.arange(0, 10, 1 / 208)  # 208 Hz pod, 10 Hz target
    enc = PointEncoder(info, RawImuMode.DOWNSAMPLED, raw_imu_rate_hz=10.0)
    stamps = []
    for i in range(0, len(t), chunk):
        out = enc.encode_bytes(block("alice/lower_back", t[i: i + chunk]))
        if out is not None:
            stamps += [parse_line(x)[2] for x in out.data.decode().splitlines()]
    buckets = np.floor(t * 10)
    first = t[np.r_[True, buckets[1:] != buckets[:-1]]]
    assert stamps == [enc.ts_ns(x) for x in first]
    assert len(stamps) == 100


def test_raw_imu_off_writes_no_samples_and_the_sink_does_not_even_subscribe_to_them() -> None:
    from sensorkit.store.influx.sink import accepted_types

    enc = PointEncoder(make_info(), RawImuMode.OFF)
    assert enc.encode_bytes(block("alice/lower_back", np.arange(10) / 100)) is None
    assert SampleBlock not in accepted_types(InfluxSettings(raw_imu=RawImuMode.OFF))
    assert SampleBlock in accepted_types(InfluxSettings(raw_imu=RawImuMode.FULL))


def test_settings_reject_a_url_that_is_not_http() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must look like http"):
        InfluxSettings(url="localhost:8086")
    with pytest.raises(ValidationError):
        InfluxSettings(token="abc")  # type: ignore[call-arg]  # secrets never in the config


def test_secrets_come_from_a_file_or_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SK_TEST_TOKEN", "from-env")
    assert InfluxSettings(token_env="SK_TEST_TOKEN").token() == "from-env"
    f = tmp_path / "token"
    f.write_text("from-file\n")
    assert InfluxSettings(token_env="SK_TEST_TOKEN", token_file=f).token() == "from-file"
    from sensorkit.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot read the token file"):
        InfluxSettings(token_file=tmp_path / "missing").token()


def test_the_sink_is_a_pipeline_sink_that_never_blocks_the_bus() -> None:
    from sensorkit.pipeline.channel import OverflowPolicy
    from sensorkit.pipeline.contracts import Sink
    from sensorkit.store.influx import InfluxSink, make_influx_sink

    sink = InfluxSink(InfluxSettings(enabled=True), make_info())
    assert isinstance(sink, Sink)
    assert sink.policy is not OverflowPolicy.BLOCK
    assert make_influx_sink(InfluxSettings(), make_info()) is None  # disabled by default
