"""Stream timing without radios: unwrapping, reordering, loss counting, clock alignment, merging,
backoff choice, error wrapping and the configuration model."""

from __future__ import annotations

import random

import numpy as np
import pytest
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakDeviceNotFoundError
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sensorkit.ble.assembler import PodAssembler
from sensorkit.ble.emulation.polar import encode_delta_frame
from sensorkit.ble.errors import Backoff, wrap_ble_error
from sensorkit.ble.profiles import polar_pmd
from sensorkit.ble.profiles.base import ImuPacket, StreamFormat, StreamSpec, Timing
from sensorkit.ble.settings import PodSettings, RunnerPods
from sensorkit.ble.source import BlePodSource, sensor_info
from sensorkit.ble.timing import HeldPacket, Resequencer, StreamMerger, StreamTimer, Unwrapper
from sensorkit.errors import AdapterError, ConfigError, ProtocolError, SensorUnavailableError, SourceError
from sensorkit.model import Gap, Placement, SampleBlock
from sensorkit.pipeline.clock import HostClock

RATE = 100.0


def diy_packet(seq: int, first_index: int, n: int = 4, wrap_us: bool = True) -> ImuPacket:
    t_us = round(first_index / RATE * 1e6) % (2**32 if wrap_us else 2**63)
    acc = np.zeros((n, 3))
    acc[:, 0] = np.arange(first_index, first_index + n)
    return ImuPacket("imu", acc_g=acc, gyr_dps=np.zeros((n, 3)), device_time_s=t_us / 1e6, sequence=seq % 65536)


def seq_spec() -> StreamSpec:
    return StreamSpec(RATE, Timing.SEQUENCE, clock_wrap_s=2**32 / 1e6, sequence_wrap=65536)


def test_unwrapper_follows_counters_through_wraps_and_small_disorder() -> None:
    u = Unwrapper(65536)
    raw = [65534, 65535, 1, 0, 2, 3]
    assert [u(r) for r in raw] == [65534, 65535, 65537, 65536, 65538, 65539]
    assert Unwrapper(None)(5) == 5


def test_resequencer_restores_swapped_neighbours_and_drops_stragglers() -> None:
    r = Resequencer(depth=1)
    p = ImuPacket("imu", acc_g=np.zeros((1, 3)))

    def held(k: float) -> HeldPacket:
        return HeldPacket(k, p, 0.0, k, k)

    out = [h.key for k in (1, 3, 2, 4) for h in r.push(held(k))]
    assert out == [1, 2, 3]
    assert r.push(held(0)) == [] and r.late == 1
    assert [h.key for h in r.flush()] == [4]


def test_sequence_loss_becomes_a_counted_gap_never_filled_in() -> None:
    timer = StreamTimer(seq_spec(), reorder_depth=0)
    timed = []
    arrival = 0.0
    for seq in (0, 1, 2, 5, 6):  # packets 3 and 4 never arrive
        arrival += 0.04
        timed += timer.push(diy_packet(seq, seq * 4), arrival)
    assert [t.lost_before for t in timed] == [0, 0, 0, 8, 0]
    assert timer.lost_samples == 8
    host = np.concatenate([t.host_s for t in timed])
    assert np.all(np.diff(host) > 0) and len(host) == 20  # 5 packets x 4 samples, nothing invented


def test_reordered_packets_come_out_in_order_without_false_loss() -> None:
    timer = StreamTimer(seq_spec(), reorder_depth=1)
    order = [0, 1, 3, 2, 4, 5, 7, 6, 8]
    timed = []
    for i, seq in enumerate(order):
        timed += timer.push(diy_packet(seq, seq * 4), 0.04 * (i + 1))
    timed += timer.flush()
    firsts = [int(t.packet.acc_g[0, 0]) for t in timed if t.packet.acc_g is not None]
    assert firsts == [s * 4 for s in range(9)]
    assert timer.lost_samples == 0 and timer.late_packets == 0


def test_duplicates_are_dropped_and_counted() -> None:
    timer = StreamTimer(seq_spec(), reorder_depth=0)
    out = []
    for i, seq in enumerate((0, 1, 1, 2)):
        out += timer.push(diy_packet(seq, seq * 4), 0.04 * (i + 1))
    assert len(out) == 3 and timer.late_packets == 1


def test_device_clock_wrap_is_not_mistaken_for_loss() -> None:
    spec = StreamSpec(RATE, Timing.DEVICE_CLOCK, clock_wrap_s=2**32 / 1000.0)
    timer = StreamTimer(spec, reorder_depth=0)
    wrap_ms = 2**32
    start = wrap_ms - 80  # 80 ms before the u32 millisecond counter wraps
    out = []
    for i in range(6):
        t_ms = (start + i * 40) % wrap_ms
        p = ImuPacket("imu", acc_g=np.zeros((4, 3)), device_time_s=t_ms / 1000.0, ref_index=0)
        out += timer.push(p, 0.04 * (i + 1))
    assert timer.lost_samples == 0 and len(out) == 6


def test_clock_alignment_removes_drift_and_jitter() -> None:
    """A pod 40 ppm fast with 0-30 ms arrival jitter lands within a few ms of the truth."""
    rng = np.random.default_rng(1)
    timer = StreamTimer(seq_spec(), reorder_depth=0)
    errors = []
    for seq in range(0, 2500):  # 100 s of 4-sample packets
        idx = seq * 4
        true_last = (idx + 3) / RATE
        dev_first_us = round(((idx / RATE) * (1 + 40e-6) + 123.0) * 1e6) % 2**32
        p = ImuPacket("imu", acc_g=np.zeros((4, 3)), device_time_s=dev_first_us / 1e6, sequence=seq % 65536)
        (t,) = timer.push(p, true_last + 0.004 + rng.uniform(0, 0.03))
        if seq > 500:
            errors.append(t.host_s - (np.arange(idx, idx + 4) / RATE))
    err = np.abs(np.concatenate(errors))
    assert np.percentile(err, 99) < 0.006
    assert timer.sync.stats().residual_ms is not None


def test_arrival_timed_streams_detect_long_silences_as_loss() -> None:
    timer = StreamTimer(StreamSpec(RATE, Timing.ARRIVAL))
    p = ImuPacket("acc", acc_g=np.zeros((3, 3)))
    arrivals = [0.03 * i for i in range(1, 11)] + [0.03 * 10 + 0.3]  # then 300 ms of silence
    out = [t for a in arrivals for t in timer.push(p, a)]
    assert out[-1].lost_before == round(0.3 * RATE) - 3


def test_merger_pairs_by_time_and_marks_missing_partners_nan() -> None:
    m = StreamMerger(period_s=0.01, hold_s=0.2)
    t = np.arange(10) * 0.01
    m.add_primary(t, np.ones((10, 3)))
    m.add_secondary(t[:5] + 0.001, np.full((5, 3), 7.0))
    out = m.release(now_s=1.0)
    assert out is not None and out.gyr_dps is not None
    assert np.all(out.gyr_dps[:5] == 7.0) and np.all(np.isnan(out.gyr_dps[5:]))
    assert m.unmatched == 5


def test_assembler_records_a_disconnect_as_one_gap() -> None:
    a = PodAssembler("r/left_foot", reorder_depth=0)
    fmt = StreamFormat({"imu": seq_spec()}, has_gyro=True)
    a.start(fmt)
    out = []
    for seq in range(5):
        out += a.push(diy_packet(seq, seq * 4), 0.04 * (seq + 1))
    out += a.stop(0.25)
    a.start(fmt)  # reconnected: sequence numbers restart, the device clock ran on
    for seq in range(3):
        out += a.push(diy_packet(seq, 100 + seq * 4), 1.04 + 0.04 * seq)
    gaps = [o for o in out if isinstance(o, Gap)]
    assert len(gaps) == 1 and gaps[0].reason == "disconnected"
    assert gaps[0].lost_samples == 100 - 20
    assert all(isinstance(o, SampleBlock) for o in out if not isinstance(o, Gap))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-32768, 32767), st.integers(-32768, 32767), st.integers(-32768, 32767)),
        min_size=1,
        max_size=40,
    )
)
def test_pmd_delta_encoder_roundtrips_through_the_decoder(rows: list[tuple[int, int, int]]) -> None:
    samples = np.array(rows, dtype=np.int64)
    decoded = polar_pmd.decode_delta_frames(encode_delta_frame(samples), 3, 16)
    np.testing.assert_array_equal(decoded, samples)


def test_backoff_depends_on_what_went_wrong() -> None:
    b = Backoff(min_s=0.2, max_s=15.0)
    rng = random.Random(0)
    dropped = [b.delay_s(None, 0, rng) for _ in range(50)]
    missing = [b.delay_s(SensorUnavailableError("x"), 0, rng) for _ in range(50)]
    other = [b.delay_s(SourceError("x"), 0, rng) for _ in range(50)]
    assert max(dropped) <= 0.2 < min(other) * 2
    assert max(dropped) < max(missing) < max(other)
    assert len(set(dropped)) > 40  # jittered, not lock-step
    assert max(b.delay_s(SourceError("x"), 30, rng) for _ in range(20)) <= 15.0


def test_third_party_errors_are_wrapped_by_kind() -> None:
    no_bt = BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF)
    assert isinstance(wrap_ble_error(no_bt, "scan"), AdapterError)
    assert isinstance(wrap_ble_error(FileNotFoundError(2, "no dbus"), "scan"), AdapterError)
    assert isinstance(wrap_ble_error(BleakDeviceNotFoundError("AA"), "connect"), SensorUnavailableError)
    assert isinstance(wrap_ble_error(TimeoutError(), "connect"), SensorUnavailableError)
    assert isinstance(wrap_ble_error(ProtocolError("x"), "start"), ProtocolError)
    assert "BlueZ" in str(wrap_ble_error(FileNotFoundError(2, "x"), "scan"))


def test_pod_settings_validate_what_users_type() -> None:
    pod = PodSettings(name="Polar Sense B5A1", placement=Placement.LOWER_BACK)
    assert pod.profile is None and pod.label == "Polar Sense B5A1"
    with pytest.raises(ValidationError, match="address or a name"):
        PodSettings(placement=Placement.LEFT_FOOT)
    with pytest.raises(ValidationError, match="unknown profile"):
        PodSettings(name="x", placement=Placement.LEFT_FOOT, profile="garmin")
    with pytest.raises(ValidationError):
        PodSettings(name="x", placement=Placement.LEFT_FOOT, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="share a placement"):
        RunnerPods(runner="a", pods=[pod, PodSettings(address="AA:BB", placement=Placement.LOWER_BACK)])
    with pytest.raises(ValidationError, match="worn on the body"):
        PodSettings(name="x", placement=Placement.PHONE)
    with pytest.raises(ConfigError, match="share a placement"):
        BlePodSource("a", [pod, PodSettings(address="AA:BB", placement=Placement.LOWER_BACK)], HostClock())
    info = sensor_info("alice", PodSettings(address="AA", placement=Placement.LEFT_FOOT, profile="diy", rate_hz=200))
    assert info.sensor_id == "alice/left_foot" and info.sampling_rate_hz == 208 and info.has_gyro


def test_a_device_reboot_restarts_the_clock_instead_of_claiming_loss_or_duplicates() -> None:
    """A DIY pod's µs counter restarts at 0 after a reboot: that is a clock jump, not 20 minutes
    of lost samples, and the packets after it are not duplicates."""
    timer = StreamTimer(seq_spec(), reorder_depth=1)
    out = []
    for seq in range(10):  # ~1300 s after the pod's boot
        out += timer.push(diy_packet(seq, 270_000 + seq * 4), 10.0 + 0.04 * seq)
    for seq in range(10):  # rebooted: time from 0 again, same link
        out += timer.push(diy_packet(seq, 100 + seq * 4), 11.0 + 0.04 * seq)
    out += timer.flush()
    assert len(out) == 20 and timer.clock_resets == 1
    assert timer.lost_samples == 0 and timer.late_packets == 0
    assert sum(t.clock_jump for t in out) == 1
    host = np.concatenate([t.host_s for t in out])
    assert np.all(np.diff(host) > 0)
