"""Phone timing stage: ordered, de-duplicated, gap-marked blocks on the host timeline."""

from __future__ import annotations

import numpy as np
import pytest

from sensorkit.model import Gap, PhoneWear, Placement, SampleBlock, SensorHealth, SensorInfo, SpeedSample
from sensorkit.sources.phone.aligner import AlignerSettings, PhoneAligner
from sensorkit.sources.phone.batch import Channel, ChannelData, GpsFix, PhoneBatch

INFO = SensorInfo("ann/phone", "ann", Placement.PHONE, 100.0, device="test", phone_wear=PhoneWear.ARMBAND)
EPOCH = 1.7e9


def signal(t: np.ndarray) -> np.ndarray:
    """A 2.8 Hz 'running' wave per axis: easy to check after resampling."""
    w = 2 * np.pi * 2.8 * t
    return np.stack([np.sin(w), np.cos(w), 1 + 0.5 * np.sin(w / 2)], axis=1)


def messages(duration_s: float = 20.0, period_s: float = 0.2, rate_hz: float = 100.0, jitter_ms: float = 30.0,
             seed: int = 0, drift_ppm: float = 40.0, pause: tuple[float, float] | None = None,
             ) -> list[tuple[float, PhoneBatch, np.ndarray]]:
    """(arrival_s, batch, true host times of its acc samples), in arrival order."""
    rng = np.random.default_rng(seed)
    t_acc = np.arange(0.5, duration_s, 1 / rate_hz)
    t_gyr = t_acc + 0.002
    if pause:
        t_acc = t_acc[(t_acc < pause[0]) | (t_acc >= pause[1])]
        t_gyr = t_gyr[(t_gyr < pause[0]) | (t_gyr >= pause[1])]
    dev = lambda t: EPOCH + t * (1 - drift_ppm * 1e-6)  # noqa: E731
    out = []
    win_acc = np.floor((t_acc - 0.5) / period_s + 1e-6).astype(int)  # each sample in exactly one message
    win_gyr = np.floor((t_gyr - 0.5) / period_s + 1e-6).astype(int)
    for k in range(int(np.ceil((duration_s - 0.5) / period_s))):
        a, g = win_acc == k, win_gyr == k
        if not a.any():
            continue
        batch = PhoneBatch({Channel.ACC: ChannelData(dev(t_acc[a]), signal(t_acc[a])),
                            Channel.GYR: ChannelData(dev(t_gyr[g]), 100 * signal(t_gyr[g]))},
                           message_id=k, session_id="s1")
        sent = max(t_acc[a].max(), t_gyr[g].max() if g.any() else 0)
        arrival = float(sent + rng.exponential(jitter_ms / 1e3))
        out.append((arrival, batch, t_acc[a]))
    out.sort(key=lambda m: m[0])
    return out


def run(msgs: list[tuple[float, PhoneBatch, np.ndarray]], aligner: PhoneAligner | None = None) -> tuple[
        PhoneAligner, list]:
    al = aligner or PhoneAligner(INFO)
    items: list = []
    for arrival, batch, _ in msgs:
        items += al.add(batch, arrival)
    items += al.flush()
    return al, items


def blocks(items: list) -> SampleBlock:
    return SampleBlock.concat([i for i in items if isinstance(i, SampleBlock)])


def test_clean_stream_is_complete_ordered_and_aligned() -> None:
    msgs = messages()
    al, items = run(msgs)
    b = blocks(items)
    truth = np.concatenate([m[2] for m in msgs])
    assert len(b) == truth.size
    assert np.all(np.diff(b.time_s) > 0)
    assert not [i for i in items if isinstance(i, Gap)]
    truth.sort()
    late = truth > 5.0  # after the clock fit has settled
    assert np.abs(b.time_s[late] - truth[late]).max() < 0.005
    # gyro resampled onto acc timestamps: close to the true wave (2 ms offset, 100 Hz)
    assert b.gyr_dps is not None
    np.testing.assert_allclose(b.gyr_dps, 100 * signal(truth), atol=3.0)
    np.testing.assert_allclose(b.acc_g, signal(truth))
    assert al.counters.duplicate_messages == 0


def test_reordered_messages_are_merged_in_order() -> None:
    msgs = messages(jitter_ms=80.0, seed=3)  # latencies differ by more than the message period
    order = [m[1].message_id for m in msgs]
    assert order != sorted(order)
    al, items = run(msgs)
    b = blocks(items)
    assert np.all(np.diff(b.time_s) > 0)
    total = sum(m[2].size for m in msgs)
    assert len(b) + al.counters.late_samples == total
    assert al.counters.late_samples < total * 0.02


def test_duplicate_messages_and_samples_are_dropped_and_counted() -> None:
    msgs = messages(duration_s=10)
    dup_msgs = msgs + [(msgs[i][0] + 0.05, msgs[i][1], msgs[i][2]) for i in range(0, len(msgs), 5)]
    dup_msgs.sort(key=lambda m: m[0])
    al, items = run(dup_msgs)
    assert al.counters.duplicate_messages == len(range(0, len(msgs), 5))
    assert len(blocks(items)) == sum(m[2].size for m in msgs)
    # the same samples again under a new message id: dropped as duplicate samples
    al2 = PhoneAligner(INFO)
    a0, b0, _ = msgs[0]
    al2.add(b0, a0)
    again = PhoneBatch(b0.channels, message_id=999, session_id="s1")
    al2.add(again, a0 + 0.01)
    assert al2.counters.duplicate_samples == len(b0.channels[Channel.ACC])


def test_pause_becomes_a_gap_with_lost_sample_estimate() -> None:
    msgs = messages(duration_s=12, pause=(6.0, 7.0))
    _, items = run(msgs)
    gaps = [i for i in items if isinstance(i, Gap)]
    assert len(gaps) == 1
    assert gaps[0].start_s == pytest.approx(5.99, abs=0.01)
    assert gaps[0].end_s == pytest.approx(7.0, abs=0.01)
    assert gaps[0].lost_samples == pytest.approx(100, abs=2)
    # items come out in time order: the gap sits between the blocks around it
    times = [i.start_s for i in items if isinstance(i, Gap | SampleBlock)]
    assert times == sorted(times)


def test_a_stalled_link_delivers_its_backlog_without_loss() -> None:
    """Wi-Fi stalls 3 s, then the queued messages arrive in a burst: late, but nothing is dropped."""
    msgs = []
    for k, (arrival, batch, true) in enumerate(messages(duration_s=20, jitter_ms=10.0, seed=9)):
        if 8.0 <= true[-1] < 11.0:
            arrival = 11.05 + 0.001 * k  # held back by the link, then sent in order
        msgs.append((arrival, batch, true))
    msgs.sort(key=lambda m: m[0])
    al = PhoneAligner(INFO)
    items: list = []
    now = 0.0
    for arrival, batch, _ in msgs:
        while now + 0.1 < arrival:  # the source ticks while the link is silent
            now += 0.1
            items += al.tick(now)
        now = arrival
        items += al.add(batch, arrival)
    items += al.flush()
    truth = np.sort(np.concatenate([m[2] for m in msgs]))
    b = blocks(items)
    assert len(b) == truth.size and al.counters.late_samples == 0
    assert np.all(np.diff(b.time_s) > 0)
    assert not [i for i in items if isinstance(i, Gap)]


def test_linear_acceleration_plus_gravity_makes_specific_force() -> None:
    """iOS-style: no total acceleration, only user acceleration and gravity."""
    t = np.arange(0, 5, 0.01)
    grav = np.tile([0.0, 0.0, 1.0], (t.size, 1))
    lin = 0.3 * signal(t)
    al = PhoneAligner(INFO)
    items = []
    for k in range(0, t.size, 20):
        sl = slice(k, k + 20)
        batch = PhoneBatch({Channel.LINEAR_ACC: ChannelData(EPOCH + t[sl], lin[sl]),
                            Channel.GRAVITY: ChannelData(EPOCH + t[sl] + 0.001, grav[sl])}, message_id=k)
        items += al.add(batch, float(t[sl][-1] + 0.01))
    items += al.flush()
    b = blocks(items)
    assert len(b) == t.size
    np.testing.assert_allclose(b.acc_g[:, 2], (lin + grav)[:, 2], atol=0.02)


def test_clock_jump_is_refitted_with_a_gap() -> None:
    msgs = messages(duration_s=30, seed=5)
    for _, batch, true in msgs:
        if true[0] >= 15.0:
            for ch in batch.channels.values():
                object.__setattr__(ch, "device_s", ch.device_s + 3600.0)  # NTP step forward
    al, items = run(msgs)
    assert al.counters.clock_jumps == 1
    gaps = [i for i in items if isinstance(i, Gap)]
    assert [g.reason for g in gaps] == ["phone clock jump"]
    b = blocks(items)
    assert np.all(np.diff(b.time_s) > 0)
    truth = np.sort(np.concatenate([m[2] for m in msgs]))
    assert len(b) == truth.size  # nothing lost: held messages were re-mapped on the new clock
    after = b.time_s > 16.0
    assert after.sum() > 1000
    # after the jump the samples are aligned again (compare with the nearest true time)
    nearest = truth[np.clip(np.searchsorted(truth, b.time_s[after]), 0, truth.size - 1)]
    assert np.median(np.abs(nearest - b.time_s[after])) < 0.006


def test_gps_fixes_become_speed_and_distance_with_jumps_rejected() -> None:
    al = PhoneAligner(INFO)
    lat0, lon0 = 48.0, 11.0
    m_per_deg_lat = 111_195.0
    items = []
    for k in range(30):
        lat = lat0 + k * 3.0 / m_per_deg_lat  # 3 m/s north
        if k == 10:
            lat += 0.01  # a 1.1 km jump: impossible
        fix = GpsFix(EPOCH + k, lat, lon0, speed_mps=None, accuracy_m=5.0)
        acc = ChannelData(EPOCH + k + np.arange(100) / 100, np.tile([0, 0, 1.0], (100, 1)))
        items += al.add(PhoneBatch({Channel.ACC: acc}, (fix,), message_id=k), float(k + 1.0))
    items += al.flush()
    speeds = [i for i in items if isinstance(i, SpeedSample)]
    assert len(speeds) == 29 and al.counters.gps_rejected == 1
    assert all(s.source == "gps" for s in speeds)
    assert speeds[-1].distance_m == pytest.approx(29 * 3.0, rel=0.02)
    assert np.median([s.speed_mps for s in speeds[1:]]) == pytest.approx(3.0, rel=0.02)


def test_health_reports_counters_and_clock_residual() -> None:
    al, _ = run(messages(duration_s=10))
    h = al.health(10.0, True, decode_errors=2)
    assert isinstance(h, SensorHealth)
    assert h.samples > 900 and h.packets > 40 and h.decode_errors == 2
    assert h.clock_residual_ms is not None and h.clock_residual_ms < 20


def test_flood_is_bounded() -> None:
    al = PhoneAligner(INFO, AlignerSettings(max_buffered_samples=1000, hold_s=1e6))
    t = EPOCH + np.arange(5000) / 100
    al.add(PhoneBatch({Channel.ACC: ChannelData(t, np.zeros((5000, 3)))}), 50.0)
    assert al.counters.overflow_samples == 4000
