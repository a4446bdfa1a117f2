"""Cost of phone ingest: parsing, clock sync, timing stage, and the live HTTP endpoint.

Run: ``python -m bench.phone_ingest [--seconds 60]``

* decode: Sensor Logger push messages (200 ms batches of a 100 Hz phone: accelerometer,
  gravity, total acceleration, gyroscope = 80 readings) -> PhoneBatch;
* align: those batches through the timing stage (clock fit, reorder, resampling, gaps);
* hyperimu: CSV lines (acc + gyro + timestamp) -> PhoneBatch;
* clock_sync: ClockSync.align per packet;
* http: messages/s through the real aiohttp endpoint from a local client (one process).

Headline: CPU share of one core to ingest one 100 Hz phone (decode + align) in real time.
Writes bench/results/phone_ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import aiohttp
import numpy as np

from sensorkit.model import PhoneWear, Placement, SensorInfo
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.clock_sync import ClockSync
from sensorkit.sources.phone import SensorLoggerHttpSettings, build_phone_source
from sensorkit.sources.phone.aligner import PhoneAligner
from sensorkit.sources.phone.hyperimu_protocol import LineFormat, parse_lines, to_batch
from sensorkit.sources.phone.sensorlogger import decode_message
from tests.support.phone_apps import EPOCH_S, G, motion

RESULTS = Path(__file__).resolve().parent / "results" / "phone_ingest.json"


def sensorlogger_messages(seconds: float, period_s: float = 0.2, rate_hz: float = 100.0) -> list[bytes]:
    out = []
    n = round(period_s * rate_hz)
    for k in range(int(seconds / period_s)):
        t = (k * n + np.arange(n)) / rate_hz
        acc, gyr = motion(t)
        ns = ((EPOCH_S + t) * 1e9).astype(np.int64)
        payload = []
        for i in range(n):
            for name, v in (("accelerometer", (acc[i] - [0, 0, 1]) * G), ("gravity", np.array([0, 0, G])),
                            ("totalacceleration", acc[i] * G), ("gyroscope", np.radians(gyr[i]))):
                payload.append({"name": name, "time": int(ns[i]), "values": {"z": v[2], "y": v[1], "x": v[0]}})
        out.append(json.dumps({"messageId": k, "sessionId": "s", "deviceId": "d", "payload": payload}).encode())
    return out


def timed(fn, reps: int = 1) -> float:  # type: ignore[no-untyped-def]
    t0 = time.process_time()
    for _ in range(reps):
        fn()
    return (time.process_time() - t0) / reps


async def http_rate(messages: list[bytes]) -> float:
    clock = HostClock()
    settings = SensorLoggerHttpSettings(app="sensorlogger_http", runner="b", port=0, max_messages_per_s=1e6,
                                        burst_messages=10**6, queue_messages=10**6)
    source = build_phone_source(settings, clock)
    async with source:
        url = source.url  # type: ignore[attr-defined]
        async with aiohttp.ClientSession() as http:
            t0 = time.perf_counter()
            for body in messages:
                async with http.post(url, data=body) as r:
                    assert r.status == 200
            dt = time.perf_counter() - t0
    return len(messages) / dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="phone recording length to process")
    args = ap.parse_args()
    msgs = sensorlogger_messages(args.seconds)
    decode_s = timed(lambda: [decode_message(m) for m in msgs])
    batches = [decode_message(m)[0] for m in msgs]
    info = SensorInfo("b/phone", "b", Placement.PHONE, 100.0, phone_wear=PhoneWear.ARMBAND)

    def align() -> None:
        al = PhoneAligner(info)
        for k, b in enumerate(batches):
            al.add(b, 0.2 * (k + 1) + 0.01)
        al.flush()

    align_s = timed(align)
    fmt = LineFormat()
    t = np.arange(int(args.seconds * 100)) / 100
    acc, gyr = motion(t)
    lines = [f"{int((EPOCH_S + t[i]) * 1e3)},{','.join(f'{v:.6f}' for v in (*acc[i] * G, *np.radians(gyr[i])))}"
             .encode() for i in range(t.size)]
    himu_s = timed(lambda: [to_batch(p, p.device_s, fmt) for p in (parse_lines([ln], fmt) for ln in lines)
                            if p.device_s is not None])
    sync = ClockSync()
    pk_t = np.arange(int(args.seconds * 50)) * 0.02
    rng = np.random.default_rng(0)
    arr = pk_t + rng.exponential(0.02, pk_t.size)
    sync_s = timed(lambda: [sync.align([EPOCH_S + x], a) for x, a in zip(pk_t, arr, strict=True)])
    rate = asyncio.run(http_rate(msgs[: min(len(msgs), 300)]))
    phone_core_pct = 100 * (decode_s + align_s) / args.seconds
    rows = {
        "seconds_of_phone_data": args.seconds,
        "sensorlogger_decode_us_per_message": 1e6 * decode_s / len(msgs),
        "align_us_per_message": 1e6 * align_s / len(msgs),
        "hyperimu_us_per_line": 1e6 * himu_s / len(lines),
        "clock_sync_us_per_packet": 1e6 * sync_s / pk_t.size,
        "http_endpoint_messages_per_s": rate,
        "core_pct_per_100hz_sensorlogger_phone": phone_core_pct,
        "core_pct_per_100hz_hyperimu_phone": 100 * himu_s / args.seconds,
    }
    for k, v in rows.items():
        print(f"{k:42s} {v:12.1f}")
    print(f"headline: one 100 Hz Sensor Logger phone costs {phone_core_pct:.1f} % of a core "
          f"(decode + align); HTTP endpoint takes {rate:.0f} messages/s (a phone sends 5/s)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
