"""Every BLE decoder and the stream timing behind it, fuzzed with structure.

Random bytes mostly die at the first length check (tests/test_ble_profiles.py does that);
these strategies build VALID frames of every profile from random samples, then mutate them
(cut, extend, flip a bit, overwrite a header byte), and build packet STREAMS with drops,
duplicates, swaps, counter and clock jumps and reconnects. Properties:

* a valid frame decodes to exactly the samples it was built from;
* any frame decodes to well-formed, finite samples or raises DecodeError (counted, skipped);
* a stream's blocks run strictly forward in host time, every value finite, every gap sane.

Short runs here; ``python -m bench.fuzz_all`` runs >= 100,000 cases per property.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorkit.ble import uuids
from sensorkit.ble.assembler import PodAssembler
from sensorkit.ble.emulation.polar import encode_delta_frame
from sensorkit.ble.profiles import PROFILES, diy_pod, metamotion, polar_pmd, thingy52
from sensorkit.ble.profiles.base import (
    STANDARD_GRAVITY,
    ImuPacket,
    SpeedReading,
    StreamFormat,
    StreamRequest,
    StreamSpec,
    Timing,
)
from sensorkit.errors import DecodeError
from sensorkit.model import Gap, SampleBlock

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

i16 = st.integers(-32768, 32767)


def rows(n_min: int = 1, n_max: int = 24, width: int = 3, values: Any = i16) -> Any:
    return st.integers(n_min, n_max).flatmap(
        lambda n: st.lists(st.lists(values, min_size=width, max_size=width), min_size=n, max_size=n))


# -- valid frames: (profile, uuid, bytes, expected acc, expected gyr) ----------------------------

def _pmd_header(mtype: int, ts_ns: int, ftype: int) -> bytes:
    return bytes([mtype]) + struct.pack("<Q", ts_ns) + bytes([ftype])


def pmd_deltas(samples: np.ndarray, resolution_bits: int, block_sizes: list[int]) -> bytes:
    """A reference sample and delta blocks of the given sizes, each in the narrowest width
    (written from the PMD description independently of the emulator's encoder)."""
    s = np.asarray(samples, dtype=np.int64)
    size = (resolution_bits + 7) // 8
    out = bytearray(b"".join(int(v).to_bytes(size, "little", signed=True) for v in s[0]))
    deltas = np.diff(s, axis=0)
    if resolution_bits == 32:  # the device's Int32 arithmetic wraps
        deltas = (deltas + 2**31) % 2**32 - 2**31
    i = 0
    for count in block_sizes:
        block = deltas[i:i + count]
        i += count
        if not len(block):
            break
        lo, hi = int(block.min()), int(block.max())
        width = next(w for w in range(1, 33) if -(1 << (w - 1)) <= lo and hi < (1 << (w - 1)))
        values = block.reshape(-1) & ((1 << width) - 1)
        bits = ((values[:, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(-1)
        out += bytes([width, len(block)]) + np.packbits(bits, bitorder="little").tobytes()
    return bytes(out)


def block_sizes(n: int) -> Any:
    """How n-1 deltas are split into blocks (the H10 and Verity use one or several)."""
    return st.lists(st.integers(1, 255), min_size=1, max_size=4).map(lambda xs: [*xs, max(n, 1)])


@st.composite
def valid_frames(draw: Any) -> tuple[str, str, bytes, np.ndarray | None, np.ndarray | None]:
    kind = draw(st.sampled_from(["diy", "pmd_raw8", "pmd_raw16", "pmd_raw24", "pmd_delta0", "pmd_delta1",
                                 "pmd_gyro0", "pmd_gyro_float", "movesense_acc", "movesense_imu6",
                                 "metamotion_acc", "metamotion_gyro_packed", "thingy", "rsc"]))
    ts = draw(st.integers(0, 2**63 - 1))
    if kind == "diy":
        raw = np.array(draw(rows(width=6)), dtype=np.int64)
        data = diy_pod.encode_packet(draw(st.integers(0, 65535)), draw(st.integers(0, 2**32 - 1)), raw)
        return "diy", uuids.DIY_DATA, data, raw[:, :3] * 16 / 32768, raw[:, 3:] * 2000 / 32768
    if kind.startswith("pmd_raw"):
        width = {"pmd_raw8": 1, "pmd_raw16": 2, "pmd_raw24": 3}[kind]
        lim = 2 ** (8 * width - 1)
        raw = np.array(draw(rows(values=st.integers(-lim, lim - 1))), dtype=np.int64)
        body = b"".join(int(v).to_bytes(width, "little", signed=True) for v in raw.reshape(-1))
        return "polar_h10", uuids.PMD_DATA, _pmd_header(polar_pmd.ACC, ts, width - 1) + body, raw / 1000, None
    if kind in ("pmd_delta0", "pmd_delta1"):
        raw = np.array(draw(rows()), dtype=np.int64)
        enc = int(kind[-1])
        body = encode_delta_frame(raw) if draw(st.booleans()) else pmd_deltas(raw, 16, draw(block_sizes(len(raw))))
        data = _pmd_header(polar_pmd.ACC, ts, 0x80 | enc) + body
        return "polar_verity", uuids.PMD_DATA, data, raw / (1.0 if enc == 0 else 1000.0), None
    if kind == "pmd_gyro0":
        raw = np.array(draw(rows()), dtype=np.int64)
        body = pmd_deltas(raw, 16, draw(block_sizes(len(raw))))
        return "polar_verity", uuids.PMD_DATA, _pmd_header(polar_pmd.GYRO, ts, 0x80) + body, None, raw.astype(float)
    if kind == "pmd_gyro_float":
        vals = np.array(draw(rows(values=st.floats(-2000, 2000, width=32))), dtype=np.float32)
        bits = vals.view(np.int32).astype(np.int64)
        data = _pmd_header(polar_pmd.GYRO, ts, 0x81) + pmd_deltas(bits, 32, draw(block_sizes(len(bits))))
        return "polar_verity", uuids.PMD_DATA, data, None, vals.astype(np.float64)
    if kind.startswith("movesense"):
        acc = np.array(draw(rows(values=st.floats(-160, 160, width=32))), dtype=np.float32)
        head = bytes([2, 99]) + struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
        if kind == "movesense_acc":
            return "movesense_acc", uuids.MOVESENSE_DATA, head + acc.astype("<f4").tobytes(), \
                acc / STANDARD_GRAVITY, None
        gyr = np.array(draw(st.lists(st.lists(st.floats(-2000, 2000, width=32), min_size=3, max_size=3),
                                     min_size=len(acc), max_size=len(acc))), dtype=np.float32)
        body = acc.astype("<f4").tobytes() + gyr.astype("<f4").tobytes()
        return "movesense", uuids.MOVESENSE_DATA, head + body, acc / STANDARD_GRAVITY, gyr.astype(np.float64)
    if kind == "metamotion_acc":
        raw = np.array(draw(rows(1, 1)), dtype=np.int64)
        data = bytes([metamotion.ACC_MODULE, metamotion.ACC_DATA]) + raw.astype("<i2").tobytes()
        return "metamotion", uuids.METAWEAR_NOTIFY, data, raw / metamotion.acc_lsb_per_g(16.0), None
    if kind == "metamotion_gyro_packed":
        raw = np.array(draw(rows(3, 3)), dtype=np.int64)
        data = bytes([metamotion.GYRO_MODULE, metamotion.GYRO_PACKED]) + raw.astype("<i2").tobytes()
        return "metamotion", uuids.METAWEAR_NOTIFY, data, None, raw / metamotion.GYRO_LSB_PER_DPS[2000]
    if kind == "thingy":
        raw = np.array(draw(rows(1, 1, width=9)), dtype=np.int64)
        return "thingy52", uuids.THINGY_RAW, raw.astype("<i2").tobytes(), raw[:, :3] / thingy52.ACC_LSB_PER_G, \
            raw[:, 3:6] / thingy52.GYR_LSB_PER_DPS
    flags = draw(st.integers(0, 7))
    data = bytes([flags]) + struct.pack("<HB", draw(st.integers(0, 65535)), draw(st.integers(0, 255)))
    if flags & 1:
        data += struct.pack("<H", draw(st.integers(0, 65535)))
    if flags & 2:
        data += struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
    return "rsc", uuids.RSC_MEASUREMENT, data, None, None


mutations = st.one_of(
    st.tuples(st.just("cut"), st.floats(0, 1), st.just(b"")),
    st.tuples(st.just("extend"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(0, 7).map(lambda b: bytes([1 << b]))),
    st.tuples(st.just("overwrite"), st.floats(0, 0.3), st.binary(min_size=1, max_size=2)),
)


def mutate(data: bytes, how: str, where: float, what: bytes) -> bytes:
    i = min(int(where * len(data)), max(len(data) - 1, 0))
    if how == "cut":
        return data[:i]
    if how == "extend":
        return data + what
    if how == "flip" and data:
        return data[:i] + bytes([data[i] ^ what[0]]) + data[i + 1:]
    return data[:i] + what + data[i + len(what):]


def decode(profile: str, uuid: str, data: bytes) -> list[Any]:
    return PROFILES[profile](StreamRequest()).decode(uuid, data)


def check_well_formed(items: list[Any]) -> None:
    for item in items:
        if isinstance(item, SpeedReading):
            assert np.isfinite(item.speed_mps) and item.speed_mps >= 0
            continue
        assert isinstance(item, ImuPacket)
        n = None
        for arr in (item.acc_g, item.gyr_dps, item.mag_ut):
            if arr is None:
                continue
            assert arr.ndim == 2 and arr.shape[1] == 3 and arr.shape[0] >= 1
            assert np.isfinite(arr).all(), "a decoder let a non-finite sample through"
            n = arr.shape[0] if n is None else n
        assert n is not None, "a packet without samples"
        if item.device_time_s is not None:
            assert np.isfinite(item.device_time_s)


def prop_valid_frames_round_trip(frame: tuple[str, str, bytes, np.ndarray | None, np.ndarray | None]) -> None:
    profile, uuid, data, acc, gyr = frame
    (item,) = decode(profile, uuid, data)
    check_well_formed([item])
    if isinstance(item, SpeedReading):
        assert item.speed_mps == struct.unpack_from("<H", data, 1)[0] / 256
        return
    for got, want in ((item.acc_g, acc), (item.gyr_dps, gyr)):
        if want is not None:
            assert got is not None and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def prop_mutated_frames(frame: tuple[str, str, bytes, Any, Any], mutation: tuple[str, float, bytes]) -> None:
    profile, uuid, data, _, _ = frame
    try:
        items = decode(profile, uuid, mutate(data, *mutation))
    except DecodeError:
        return
    check_well_formed(items)


# -- streams of packets through the pod's timing and assembly -----------------------------------

RATE = 100.0
SPECS = {
    "sequence": StreamSpec(RATE, Timing.SEQUENCE, clock_wrap_s=2**32 / 1e6, sequence_wrap=65536),
    "device_clock": StreamSpec(RATE, Timing.DEVICE_CLOCK, clock_wrap_s=2**32 / 1e3),
    "arrival": StreamSpec(RATE, Timing.ARRIVAL),
}
events = st.lists(st.tuples(
    st.sampled_from(["ok"] * 8 + ["drop", "dup", "swap", "seq_jump", "clock_jump", "reconnect", "stall", "burst"]),
    st.integers(1, 12),          # samples in the packet
    st.integers(-5000, 5000),    # size of a jump (samples) or a stall (ms)
), min_size=1, max_size=80)


def prop_stream(timing: str, steps: list[tuple[str, int, int]], reorder_depth: int) -> None:
    spec = SPECS[timing]
    a = PodAssembler("r/left_foot", reorder_depth=reorder_depth)
    fmt = StreamFormat({"imu": spec}, has_gyro=True)
    a.start(fmt)
    index, seq, clock_offset, arrival = 1_000, 0, 0, 10.0
    packets: list[tuple[ImuPacket, float]] = []
    out: list[Any] = []

    def flush_pending() -> None:
        for p, t in packets:
            out.extend(a.push(p, t))
        packets.clear()

    for kind, n, size in steps:
        if kind == "reconnect":
            flush_pending()
            out.extend(a.stop(arrival))
            arrival += abs(size) / 1000
            a.start(fmt)
            seq = 0
            continue
        if kind == "seq_jump":
            seq += size
        if kind == "clock_jump":
            clock_offset += size
        arrival += n / RATE + (abs(size) / 1000 if kind == "stall" else 0.0) - (n / RATE if kind == "burst" else 0.0)
        t_dev = (index + clock_offset) / RATE
        if spec.clock_wrap_s:
            t_dev %= spec.clock_wrap_s
        acc = np.zeros((n, 3))
        acc[:, 0] = np.arange(index, index + n)
        packet = ImuPacket("imu", acc_g=acc, gyr_dps=np.zeros((n, 3)),
                           device_time_s=None if timing == "arrival" else t_dev,
                           sequence=seq % 65536 if timing == "sequence" else None)
        index += n
        seq += 1
        if kind == "drop":
            continue
        packets.append((packet, arrival))
        if kind == "dup":
            packets.append((packet, arrival + 0.001))
        if kind == "swap" and len(packets) >= 2:
            (p1, t1), (p2, t2) = packets[-2], packets[-1]
            packets[-2:] = [(p2, t1), (p1, t2)]
        if len(packets) > 2:
            flush_pending()
    flush_pending()
    out.extend(a.stop(arrival + 1.0))
    last = -np.inf
    for item in out:
        if isinstance(item, SampleBlock):
            assert np.isfinite(item.time_s).all() and np.isfinite(item.acc_g).all()
            assert item.time_s[0] > last and np.all(np.diff(item.time_s) > 0), "host time ran backwards"
            last = float(item.time_s[-1])
        else:
            assert isinstance(item, Gap)
            assert item.end_s >= item.start_s and (item.lost_samples or 0) >= 0
            assert item.start_s <= last + 1e-9  # a gap starts at the last sample before it
    assert a.stats.lost_samples >= 0 and a.stats.samples == sum(len(i) for i in out if isinstance(i, SampleBlock))


PROPERTIES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "ble_valid_frames_round_trip": (prop_valid_frames_round_trip, (valid_frames(),)),
    "ble_mutated_frames": (prop_mutated_frames, (valid_frames(), mutations)),
    "ble_stream_timing": (prop_stream, (st.sampled_from(sorted(SPECS)), events, st.integers(0, 3))),
}
"""Property -> (check, strategies); bench/fuzz_all.py runs the same with far more cases."""


def fuzz_test(name: str, config: settings) -> Any:
    prop, strategies = PROPERTIES[name]
    return config(given(*strategies)(prop))


test_a_valid_frame_of_every_profile_decodes_to_its_samples = fuzz_test("ble_valid_frames_round_trip", FUZZ)
test_a_mutated_frame_decodes_cleanly_or_is_a_decode_error = fuzz_test("ble_mutated_frames", FUZZ)
test_any_packet_stream_gives_forward_finite_blocks_and_sane_gaps = fuzz_test(
    "ble_stream_timing", settings(FUZZ, max_examples=100))


def test_a_corrupted_float_gyro_frame_is_a_decode_error_not_nan_samples() -> None:
    """Found by the fuzzer: a bit flip in a Verity float gyro frame decoded to NaN/inf deg/s,
    which would have reached the AHRS and poisoned its state."""
    vals = np.array([[1.0, -2.0, 3.0], [np.nan, 0.0, 1.0], [np.inf, 0.0, 0.0]], dtype=np.float32)
    bits = vals.view(np.int32).astype(np.int64)
    frame = _pmd_header(polar_pmd.GYRO, 0, 0x81) + pmd_deltas(bits, 32, [2])
    try:
        items = decode("polar_verity", uuids.PMD_DATA, frame)
    except DecodeError:
        return
    check_well_formed(items)


def test_a_signalling_nan_in_a_float_gyro_frame_is_a_decode_error_without_a_warning() -> None:
    """Found by the long fuzz run: converting a signalling-NaN bit pattern raised numpy's
    'invalid value' RuntimeWarning inside the decoder (an error wherever warnings are)."""
    bits = np.array([[0x7F800001, 0, 0], [0, 0, 0]], dtype=np.int64)  # float32 signalling NaN
    frame = _pmd_header(polar_pmd.GYRO, 0, 0x81) + pmd_deltas(bits, 32, [1])
    try:
        items = decode("polar_verity", uuids.PMD_DATA, frame)
    except DecodeError:
        return
    check_well_formed(items)
