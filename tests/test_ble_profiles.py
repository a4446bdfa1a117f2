"""Profile decoders on golden byte vectors from the vendors' own sources, and fuzzed.

Where a vendor publishes test vectors they are copied here with their origin; the expected
values are the vendor's. Every decoder must turn arbitrary bytes into samples or a
DecodeError, never anything else.
"""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorkit.ble import uuids
from sensorkit.ble.profiles import (
    PROFILES,
    detect_from_advertisement,
    detect_from_services,
    diy_pod,
    metamotion,
    movesense,
    polar_pmd,
    rsc,
    thingy52,
)
from sensorkit.ble.profiles.base import StreamRequest
from sensorkit.errors import DecodeError

# -- Polar PMD ------------------------------------------------------------------------------
# polar-ble-sdk, AccDataTest.kt "process acc raw data frame type 1": timestamp 2000000000 ns
H10_RAW_TYPE1 = bytes.fromhex("02 00 94 35 77 00 00 00 00 01") + bytes.fromhex(
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03"
    "F9 FF FF FF E5 03 F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03"
    "FA FF FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03"
    "F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03"
    "FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03"
    "F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03"
    "F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03"
    "F7 FF FE FF E6 03"
)
# AccDataTest.kt "process acc compressed data type 0": factor 2.44e-4, 1 reference + 56 deltas
ACC_COMPRESSED_TYPE0 = bytes.fromhex("02 00 94 35 77 00 00 00 00 80") + bytes.fromhex(
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF"
    "EE 4B E4 B1 FB 12 B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3"
    "CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03"
    "BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27"
    "9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 E0 0D FD 2D 77 4B"
    "7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B"
    "4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F"
    "1F CB DA E3 C7 A2 76 F9"
)
# AccDataTest.kt "process acc compressed data type 1": one 6-bit delta block
ACC_COMPRESSED_TYPE1 = bytes.fromhex("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")
# GyrDataTest.kt "process gyro compressed data type 0" and "... type 1" (float bit patterns)
GYRO_COMPRESSED_TYPE0 = bytes.fromhex("05 FF FF FF FF FF FF FF 7F 80 EA FF 08 00 0D 00 03 01 DF 00")
GYRO_COMPRESSED_TYPE1 = bytes.fromhex(
    "05 00 94 35 77 00 00 00 00 81 00 00 80 3F 00 00 20 41 00 00 A0 41 1C 0100 00 A0 01 00 00 08 CD CC EC 0D"
)


def _reference_delta_decode(payload: bytes, channels: int, resolution: int) -> list[list[int]]:
    """Bit-by-bit port of BlePMDClient.parseDeltaFramesAll, the vendor's reference algorithm."""
    size = -(-resolution // 8)
    ref = [int.from_bytes(payload[c * size : (c + 1) * size], "little", signed=True) for c in range(channels)]
    out = [ref]
    i = channels * size
    while i < len(payload):
        width, count = payload[i], payload[i + 1]
        i += 2
        nbytes = -(-(width * count * channels) // 8)
        bits = [(b >> k) & 1 for b in payload[i : i + nbytes] for k in range(8)]
        pos = 0
        for _ in range(count):
            row = []
            for c in range(channels):
                v = sum(bits[pos + k] << k for k in range(width))
                if v & (1 << (width - 1)):
                    v -= 1 << width
                pos += width
                row.append(out[-1][c] + v)
            out.append(row)
        i += nbytes
    return out


def test_h10_raw_type1_frame_is_milli_g_stamped_at_its_last_sample() -> None:
    p = polar_pmd.decode_frame(H10_RAW_TYPE1, {})
    assert p is not None and p.acc_g is not None
    assert len(p) == 36
    np.testing.assert_allclose(p.acc_g[0], [-0.009, -0.001, 0.999])
    np.testing.assert_allclose(p.acc_g[1], [-0.008, -0.002, 0.997])
    assert p.device_time_s == pytest.approx(2.0) and p.ref_index == -1


def test_compressed_type0_acc_matches_vendor_values_and_reference_algorithm() -> None:
    factor = 2.44e-4
    p = polar_pmd.decode_frame(ACC_COMPRESSED_TYPE0, {polar_pmd.ACC: factor})
    assert p is not None and p.acc_g is not None
    assert len(p) == 57
    s0 = np.array([1905, 27376, -29282])
    np.testing.assert_allclose(p.acc_g[0], s0 * factor)
    np.testing.assert_allclose(p.acc_g[1], (s0 + np.array([190, -105, -85])) * factor)
    reference = np.array(_reference_delta_decode(ACC_COMPRESSED_TYPE0[10:], 3, 16))
    np.testing.assert_allclose(p.acc_g, reference * factor)
    assert np.all(np.abs(p.acc_g) <= 8.0)  # the vendor's range check


def test_compressed_type1_acc_without_factor_is_milli_g() -> None:
    p = polar_pmd.decode_frame(ACC_COMPRESSED_TYPE1, {})
    assert p is not None and p.acc_g is not None
    np.testing.assert_allclose(p.acc_g * 1000, [[-15, 20, 1008], [-20, 17, 1008]])


def test_gyro_compressed_type0_and_float_type1() -> None:
    p0 = polar_pmd.decode_frame(GYRO_COMPRESSED_TYPE0, {polar_pmd.GYRO: 1.0})
    assert p0 is not None and p0.gyr_dps is not None and p0.stream == "gyr"
    np.testing.assert_allclose(p0.gyr_dps, [[-22, 8, 13], [-23, 11, 16]])
    assert p0.device_time_s == pytest.approx(9223372036854775807 * 1e-9)

    def f(bits: int) -> float:
        return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]

    expected = [
        [f(0x3F800000), f(0x41200000), f(0x41A00000)],
        [f(0x3F800000 + 0x1A00000), f(0x41200000 + 0x0800000), f(0x41A00000 + 0xFDECCCCD)],
    ]
    for factor in (1.0, 0.5):
        p1 = polar_pmd.decode_frame(GYRO_COMPRESSED_TYPE1, {polar_pmd.GYRO: factor})
        assert p1 is not None and p1.gyr_dps is not None
        np.testing.assert_allclose(p1.gyr_dps, np.array(expected) * factor, rtol=1e-6)


def test_other_measurement_types_are_ignored_not_errors() -> None:
    ecg = bytes([polar_pmd.ECG]) + bytes(8) + bytes([0]) + bytes(9)
    assert polar_pmd.decode_frame(ecg, {}) is None


def test_pmd_control_point_vectors() -> None:
    # PmdSettingTest.kt testPmdSettingsWithRange (Verity Sense gyro-like settings)
    settings_bytes = bytes.fromhex("00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03")
    assert polar_pmd.parse_settings(settings_bytes) == {0: [52], 1: [16], 2: [245, 500, 1000, 2000], 4: [3]}
    # BlePmdClientControlPointResponseTest.kt
    ok = polar_pmd.parse_response(bytes.fromhex("F0 01 02 00 00 FF FF FF"))
    assert (ok.op, ok.measurement, ok.status, ok.more, ok.params) == (1, 2, 0, False, b"\xff\xff\xff")
    bad = polar_pmd.parse_response(bytes.fromhex("F0 01 06 07 00"))
    assert bad.status == 7 and bad.status_name == "invalid resolution" and bad.params == b""
    # devices.md: start ACC at 200 Hz, 16 bit, ±8 g
    selected = {polar_pmd.RATE: 200, polar_pmd.RESOLUTION: 16, polar_pmd.RANGE: 8}
    cmd = polar_pmd.start_command(polar_pmd.ACC, selected)
    assert cmd == bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
    # H10 feature read answers 0F 05 ...: ECG and ACC
    assert polar_pmd.parse_features(bytes.fromhex("0F 05 00")) == {polar_pmd.ECG, polar_pmd.ACC}
    factor = polar_pmd.factor_of(polar_pmd.parse_settings(bytes([5, 1]) + struct.pack("<f", 0.244)))
    assert factor == pytest.approx(0.244)


# -- Movesense ------------------------------------------------------------------------------


def test_movesense_acc_is_m_per_s2_stamped_at_first_sample() -> None:
    vectors = [(0.0, 0.0, 9.80665), (9.80665, 0.0, -4.903325)]
    payload = struct.pack("<I", 123456) + struct.pack("<6f", *[v for xyz in vectors for v in xyz])
    p = movesense.decode_acc(payload)
    np.testing.assert_allclose(p.acc_g, [[0, 0, 1], [1, 0, -0.5]], rtol=1e-6)
    assert p.device_time_s == pytest.approx(123.456) and p.ref_index == 0


def test_movesense_imu6_puts_all_acc_before_all_gyro() -> None:
    acc = [(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)]
    gyr = [(10.0, 20.0, 30.0), (40.0, 50.0, 60.0)]
    note = (
        bytes([2, movesense.REFERENCE])
        + struct.pack("<I", 5)
        + struct.pack("<12f", *[v for xyz in acc + gyr for v in xyz])
    )
    driver = movesense.MovesenseDriver(StreamRequest())
    (p,) = driver.decode(uuids.MOVESENSE_DATA, note)
    np.testing.assert_allclose(p.acc_g * 9.80665, acc, rtol=1e-6)
    np.testing.assert_allclose(p.gyr_dps, gyr)
    # A one-sample IMU6 notification as a third-party client reads it: acc at 6, gyro at 18.
    one = bytes([2, movesense.REFERENCE]) + struct.pack("<I7f", 9, 0, 0, 9.80665, 0.5, 1.5, 2.5, 0)[:-4]
    (q,) = driver.decode(uuids.MOVESENSE_DATA, one)
    assert struct.unpack_from("<f", one, 22)[0] == pytest.approx(q.gyr_dps[0, 1])


def test_movesense_command_and_result() -> None:
    assert movesense.subscribe_command(99, "/Meas/IMU6/104") == b"\x01\x63/Meas/IMU6/104"
    assert movesense.parse_result(bytes([1, 99, 200, 0])) == (99, 200)
    driver = movesense.MovesenseDriver(StreamRequest())
    assert driver.decode(uuids.MOVESENSE_DATA, bytes([1, 99, 200, 0])) == []


# -- MetaMotion -----------------------------------------------------------------------------


def test_metawear_vectors_from_the_vendor_sdk_tests() -> None:
    # test_accelerometer_bmi160.py: ±4 g single sample, ±8 g packed three samples
    a = metamotion.decode_packet(bytes.fromhex("03 04 16 c4 94 a2 2a d0"), 4, 2000)
    assert a is not None and a.acc_g is not None
    np.testing.assert_allclose(a.acc_g, [[-1.872, -2.919, -1.495]], atol=1e-3)
    packed = bytes.fromhex("03 1c 62 b7 53 0d e9 fd 16 d0 4d 0e 57 02 8a ff a1 05 0a 01")
    b = metamotion.decode_packet(packed, 8, 2000)
    assert b is not None and b.acc_g is not None
    np.testing.assert_allclose(
        b.acc_g, [[-4.539, 0.833, -0.131], [-2.995, 0.894, 0.146], [-0.029, 0.352, 0.065]], atol=1e-3
    )
    # test_gyro_bmi160.py: ±500 deg/s single, ±1000 deg/s packed
    g = metamotion.decode_packet(bytes.fromhex("13 05 3e 43 ff 7f 00 80"), 16, 500)
    assert g is not None and g.gyr_dps is not None
    np.testing.assert_allclose(g.gyr_dps, [[262.409, 499.497, -499.512]], atol=1e-3)
    packed_gyro = bytes.fromhex("13 07 09 15 ad 26 08 de 8a 1a 0d 26 65 e4 8d 20 ac 27 73 ec")
    gp = metamotion.decode_packet(packed_gyro, 16, 1000)
    assert gp is not None and gp.gyr_dps is not None
    np.testing.assert_allclose(
        gp.gyr_dps,
        [[164.177, 301.860, -265.122], [207.134, 296.982, -215.457], [254.055, 309.634, -152.591]],
        atol=1e-3,
    )
    assert metamotion.decode_packet(bytes.fromhex("03 9a 2b 00"), 4, 2000) is None  # step counter


# -- Thingy:52 ------------------------------------------------------------------------------


def test_thingy_raw_fixed_point_formats_from_firmware() -> None:
    data = struct.pack("<9h", 1024, -512, 0, 32, -3200, 0, 16, 800, -16)
    p = thingy52.decode_raw(data)
    np.testing.assert_allclose(p.acc_g, [[1, -0.5, 0]])
    np.testing.assert_allclose(p.gyr_dps, [[1, -100, 0]])
    np.testing.assert_allclose(p.mag_ut, [[1, 50, -1]])
    cfg = struct.pack("<HHHHB", 1000, 500, 500, 60, 0)
    assert struct.unpack("<HHHHB", thingy52.config_with_rate(cfg, 200)) == (1000, 500, 500, 200, 0)


# -- RSC ------------------------------------------------------------------------------------


def test_rsc_vectors_from_polar_sdk_tests() -> None:
    # BleRscClientTest.kt: all fields present
    r = rsc.decode_measurement(bytes([0x07, 0x34, 0x12, 0x56, 0x89, 0x07, 0x04, 0x03, 0x02, 0x01]))
    assert r.speed_mps == pytest.approx(4660 / 256)
    assert (r.cadence_per_min, r.running) == (86, True)
    assert r.stride_length_m == pytest.approx(19.29) and r.distance_m == pytest.approx(1690906.0)
    plain = rsc.decode_measurement(bytes([0x00, 0x0A, 0x00, 0x14]))
    assert (plain.speed_mps, plain.cadence_per_min, plain.stride_length_m, plain.distance_m) == (
        10 / 256,
        20,
        None,
        None,
    )
    with pytest.raises(DecodeError):
        rsc.decode_measurement(bytes([0x03, 0x0A, 0x00, 0x14, 0x01]))  # flags promise more


# -- DIY pod --------------------------------------------------------------------------------


def test_diy_packet_layout() -> None:
    raw = np.array([[2048, 0, -2048, 16384, 0, -16384]], dtype=np.int16)
    data = diy_pod.encode_packet(0x1234, 0xDEADBEEF, raw)
    assert data[:6] == bytes.fromhex("34 12 EF BE AD DE") and len(data) == 18
    p = diy_pod.decode_packet(data, 16, 2000)
    np.testing.assert_allclose(p.acc_g, [[1, 0, -1]])
    np.testing.assert_allclose(p.gyr_dps, [[1000, 0, -1000]])
    assert p.sequence == 0x1234 and p.device_time_s == pytest.approx(0xDEADBEEF / 1e6)


def test_diy_start_exchange_roundtrip_and_mtu_rule() -> None:
    cfg = diy_pod.DiyConfig(208, 16, 2000, 8)
    assert diy_pod.parse_start_command(diy_pod.start_command(cfg)) == diy_pod.DiyConfig(208, 16, 2000)
    assert diy_pod.parse_start_response(diy_pod.start_response(0, cfg)) == (0, cfg)
    assert diy_pod.samples_per_packet(23, 208) == 1
    assert diy_pod.samples_per_packet(247, 208) == 8
    assert 6 + 12 * diy_pod.samples_per_packet(247, 416) <= 244


# -- detection ------------------------------------------------------------------------------


def test_detection_by_name_first_because_pmd_is_not_advertised() -> None:
    assert detect_from_advertisement("Polar H10 1A2B3C4D", []) == "polar_h10"
    assert detect_from_advertisement("Polar Sense B5A1", []) == "polar_verity"
    assert detect_from_advertisement(None, [uuids.RSC_SERVICE]) == "rsc"
    assert detect_from_advertisement("Kettle", []) is None
    assert detect_from_services("Polar Sense B5A1", [uuids.PMD_SERVICE]) == "polar_verity"
    assert detect_from_services("whatever", [uuids.PMD_SERVICE, uuids.BATTERY_SERVICE]) == "polar_h10"
    assert detect_from_services(None, [uuids.DIY_SERVICE]) == "diy"


# -- fuzzing --------------------------------------------------------------------------------


def _drivers_with_uuids() -> list[tuple[str, str]]:
    out = []
    for name, cls in PROFILES.items():
        for u in cls.info.data_uuids:
            out.append((name, u))
    return out


@pytest.mark.parametrize(("profile", "uuid"), _drivers_with_uuids())
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=260))
def test_decoders_raise_only_decode_error(profile: str, uuid: str, data: bytes) -> None:
    driver = PROFILES[profile](StreamRequest())
    try:
        out = driver.decode(uuid, data)
    except DecodeError:
        return
    for item in out:
        for arr in (getattr(item, "acc_g", None), getattr(item, "gyr_dps", None)):
            if arr is not None:
                assert arr.ndim == 2 and arr.shape[1] == 3


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=10, max_size=260), factor=st.floats(0.001, 10.0))
def test_pmd_frames_with_valid_headers_fuzzed(data: bytes, factor: float) -> None:
    framed = bytes([polar_pmd.ACC]) + data[1:9] + bytes([data[9] & 0x83]) + data[10:]
    with contextlib.suppress(DecodeError):
        polar_pmd.decode_frame(framed, {polar_pmd.ACC: factor})
