"""Emulated phone apps speaking the real protocols, for tests of the phone sources.

* :class:`FakePhyphox` - phyphox's remote-access web server (``/config``, ``/time``, ``/get``
  with incremental thresholds and 8-digit numbers, ``/control``), sampling on its own clock.
* :class:`SensorLoggerPhone` - Sensor Logger's push messages, sent by HTTP POST or MQTT publish,
  with optional reordering, duplicates and iOS sign conventions.
* :class:`HyperImuPhone` - HyperIMU's CSV lines over UDP or TCP.

Every emulator samples a known motion on a grid of *host* times (``k / rate_hz`` on the test's
:class:`HostClock`) and stamps it with its own drifting phone clock, so a test can compare what
sensorkit emits against the truth.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiomqtt
import numpy as np
from aiohttp import web

from sensorkit.pipeline.clock import HostClock

G = 9.80665
EPOCH_S = 1_700_000_000.0


def motion(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True specific force (g, Android frame, phone upright in an armband) and rate (deg/s)."""
    w = 2 * np.pi * 2.8 * np.asarray(t, dtype=float)
    acc = np.stack([0.3 * np.sin(w), 0.2 * np.cos(w), 1.0 + 0.8 * np.sin(w)], axis=1)
    gyr = np.stack([40 * np.cos(w), 25 * np.sin(w), 10 * np.sin(w / 2)], axis=1)
    return acc, gyr


@dataclass
class PhoneClock:
    """A phone's wall clock: offset from the host timeline and drift in ppm."""

    offset_s: float = EPOCH_S
    drift_ppm: float = 30.0

    def device_s(self, host_s: np.ndarray | float) -> np.ndarray:
        return self.offset_s + np.asarray(host_s, dtype=float) * (1 - self.drift_ppm * 1e-6)


@dataclass
class SampleGrid:
    """Samples at ``k / rate_hz`` host time, handed out as they come due."""

    clock: HostClock
    rate_hz: float = 100.0
    next_k: int = 0
    start_k: int | None = None

    def due(self) -> np.ndarray:
        k_now = math.floor(self.clock.now_s() * self.rate_hz)
        if self.start_k is None:
            self.start_k = self.next_k = k_now
        ks = np.arange(self.next_k, k_now + 1)
        self.next_k = k_now + 1
        return ks / self.rate_hz


# --------------------------------------------------------------------------------------------
# phyphox


def _fmt(v: float) -> str:
    return "null" if not math.isfinite(v) else format(v, ".7E")  # 8 significant digits, as phyphox


class FakePhyphox:
    """phyphox remote access for the 'Acceleration with g' + 'Gyroscope' raw sensors."""

    def __init__(self, clock: HostClock, rate_hz: float = 100.0, phone: PhoneClock | None = None,
                 with_time_endpoint: bool = True) -> None:
        self.clock = clock
        self.phone = phone or PhoneClock()
        self.grid = SampleGrid(clock, rate_hz)
        self.with_time_endpoint = with_time_endpoint
        self.session = "a1b2c3"
        self.measuring = False
        names = ("acc_time", "accX", "accY", "accZ", "gyr_time", "gyrX", "gyrY", "gyrZ")
        self.buffers: dict[str, list[float]] = {n: [] for n in names}
        self.events: list[dict[str, Any]] = []
        self.truth_s: list[float] = []
        self.exp_time_s = 0.0  # experiment time at the last START
        self.start_host_s = 0.0
        self.requests = 0
        self.garbage: bytes | None = None  # answer /get with this instead, once
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakePhyphox:
        app = web.Application()
        app.router.add_get("/config", self._config)
        app.router.add_get("/time", self._time)
        app.router.add_get("/get", self._get)
        app.router.add_get("/control", self._control)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner:
            await self._runner.cleanup()

    def start(self) -> None:
        now = self.clock.now_s()
        self.measuring = True
        self.start_host_s = now
        self.grid.start_k = None
        self.grid.due()
        self.events.append({"event": "START", "experimentTime": self.exp_time_s,
                            "systemTime": float(self.phone.device_s(now))})

    def pause(self) -> None:
        self._sample()
        now = self.clock.now_s()
        self.exp_time_s += now - self.start_host_s
        self.measuring = False
        self.events.append({"event": "PAUSE", "experimentTime": self.exp_time_s,
                            "systemTime": float(self.phone.device_s(now))})

    def _sample(self) -> None:
        if not self.measuring:
            return
        host_t = self.grid.due()
        if not host_t.size:
            return
        exp_t = self.exp_time_s + (host_t - self.start_host_s)
        acc, gyr = motion(host_t)
        self.truth_s.extend(host_t.tolist())
        b = self.buffers
        b["acc_time"].extend(exp_t.tolist())
        b["gyr_time"].extend((exp_t + 0.0015).tolist())
        for i, ax in enumerate("XYZ"):
            b[f"acc{ax}"].extend((acc[:, i] * G).tolist())
            b[f"gyr{ax}"].extend(np.radians(gyr[:, i]).tolist())

    async def _config(self, request: web.Request) -> web.Response:
        inputs = [
            {"source": "accelerometer",
             "outputs": [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"t": "acc_time"}]},
            {"source": "gyroscope",
             "outputs": [{"x": "gyrX"}, {"y": "gyrY"}, {"z": "gyrZ"}, {"t": "gyr_time"}]},
        ]
        doc = {"crc32": "deadbeef", "title": "Raw", "localTitle": "Raw", "category": "Raw Sensors",
               "localCategory": "Raw Sensors", "buffers": [{"name": n, "size": 0} for n in self.buffers],
               "inputs": inputs, "export": []}
        return web.json_response(doc)

    async def _time(self, request: web.Request) -> web.Response:
        if not self.with_time_endpoint:
            return web.Response(status=404)
        return web.json_response(self.events)

    async def _control(self, request: web.Request) -> web.Response:
        cmd = request.query.get("cmd")
        if cmd == "start":
            self.start()
        elif cmd == "stop":
            self.pause()
        return web.json_response({"result": cmd in ("start", "stop")})

    async def _get(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.garbage is not None:
            body, self.garbage = self.garbage, None
            return web.Response(body=body, content_type="application/json")
        self._sample()
        parts = []
        for name, value in request.query.items():
            if name not in self.buffers:
                continue
            data = self.buffers[name]
            if value == "":
                mode, vals = "single", data[-1:]
            elif value == "full":
                mode, vals = "full", data
            else:
                th_s, _, ref = value.partition("|")
                th = float(th_s)
                th += 10 ** math.floor(math.log10(abs(th) / 1e7)) if th != 0 else 0.0
                ref_data = self.buffers[ref or name]
                mode = "partial"
                vals = [v for v, r in zip(data, ref_data, strict=False) if r > th]
            numbers = ",".join(_fmt(v) for v in vals)
            parts.append(f'"{name}":{{"size":0,"updateMode":"{mode}", "buffer":[{numbers}]}}')
        status = (f'"status":{{"session":"{self.session}", "measuring":{str(self.measuring).lower()}, '
                  f'"timedRun":false, "countDown":0}}')
        return web.Response(text="{\"buffer\":{\n" + ",\n".join(parts) + "\n},\n" + status + "\n}\n",
                            content_type="application/json")


# --------------------------------------------------------------------------------------------
# Sensor Logger


@dataclass
class SensorLoggerPhone:
    """Builds Sensor Logger push messages from the true motion, batch by batch."""

    clock: HostClock
    rate_hz: float = 100.0
    phone: PhoneClock = field(default_factory=PhoneClock)
    platform: str = "android"
    device_id: str = "0f6c3d3e-phone-a"
    session_id: str = "2024-05-01_10-00-00"
    gps_origin: tuple[float, float] | None = (48.1372, 11.5755)
    gps_speed_mps: float = 3.0
    message_id: int = 0
    truth_s: list[float] = field(default_factory=list)
    grid: SampleGrid | None = None
    _last_fix_s: float = -1.0

    def __post_init__(self) -> None:
        self.grid = SampleGrid(self.clock, self.rate_hz)

    def next_message(self) -> dict[str, Any]:
        """Everything sampled since the previous message, in the app's JSON shape."""
        assert self.grid is not None
        t = self.grid.due()
        self.truth_s.extend(t.tolist())
        acc, gyr = motion(t)
        grav = np.tile([0.0, 0.0, 1.0], (t.size, 1))
        sign = -1.0 if self.platform == "ios" else 1.0
        ns = np.round(self.phone.device_s(t) * 1e9).astype(np.int64)
        ns_g = ns + 1_500_000  # gyro ticks 1.5 ms later
        payload: list[dict[str, Any]] = []
        for i in range(t.size):
            lin = (acc[i] - grav[i]) * G * sign
            payload.append({"name": "accelerometer", "time": int(ns[i]),
                            "values": {"z": lin[2], "y": lin[1], "x": lin[0]}, "accuracy": 3})
            gv = grav[i] * G * sign
            payload.append({"name": "gravity", "time": int(ns[i]),
                            "values": {"z": gv[2], "y": gv[1], "x": gv[0]}})
            if self.platform == "android":
                ta = acc[i] * G
                payload.append({"name": "totalacceleration", "time": int(ns[i]),
                                "values": {"z": ta[2], "y": ta[1], "x": ta[0]}})
            gr = np.radians(gyr[i])
            payload.append({"name": "gyroscope", "time": int(ns_g[i]),
                            "values": {"z": gr[2], "y": gr[1], "x": gr[0]}})
        now = self.clock.now_s()
        if self.gps_origin and t.size and now - self._last_fix_s >= 1.0:
            self._last_fix_s = now
            north_m = self.gps_speed_mps * now
            payload.append({"name": "location", "time": int(self.phone.device_s(now) * 1e9),
                            "values": {"latitude": self.gps_origin[0] + north_m / 111_195.0,
                                       "longitude": self.gps_origin[1], "altitude": 520.0,
                                       "speed": self.gps_speed_mps, "speedAccuracy": 0.5, "bearing": 0.0,
                                       "horizontalAccuracy": 4.0, "verticalAccuracy": 3.0}})
            payload.append({"name": "battery", "time": int(self.phone.device_s(now) * 1e9),
                            "values": {"batteryLevel": 0.81, "batteryState": "unplugged"}})
        msg = {"messageId": self.message_id, "sessionId": self.session_id, "deviceId": self.device_id,
               "payload": payload}
        self.message_id += 1
        return msg


async def push_http(phone: SensorLoggerPhone, url: str, duration_s: float, period_s: float = 0.2,
                    token: str | None = None, shuffle: bool = False, duplicate_every: int = 0,
                    seed: int = 1) -> list[int]:
    """Run the app's HTTP push for ``duration_s``; returns the HTTP status of every POST.

    ``shuffle`` delays every third message by a period (so the next overtakes it);
    ``duplicate_every`` re-sends every n-th message (the app retries after a timeout).
    """
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    statuses: list[int] = []
    held: list[bytes] = []
    async with aiohttp.ClientSession(headers=headers) as http:
        async def post(body: bytes) -> None:
            async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                statuses.append(r.status)

        end = phone.clock.now_s() + duration_s
        while phone.clock.now_s() < end:
            await asyncio.sleep(period_s * rng.uniform(0.8, 1.2))
            body = json.dumps(phone.next_message()).encode()
            if shuffle and phone.message_id % 3 == 0:
                held.append(body)
                continue
            await post(body)
            for b in held:
                await post(b)
            held.clear()
            if duplicate_every and phone.message_id % duplicate_every == 0:
                await post(body)
        for b in held:
            await post(b)
    return statuses


async def publish_mqtt(phone: SensorLoggerPhone, host: str, port: int, topic: str, duration_s: float,
                       period_s: float = 0.2, extra: Sequence[bytes] = ()) -> int:
    """Run the app's MQTT publish (QoS 0) for ``duration_s``; ``extra`` payloads go first."""
    sent = 0
    async with aiomqtt.Client(host, port) as client:
        for payload in extra:
            await client.publish(topic, payload, qos=0)
        end = phone.clock.now_s() + duration_s
        while phone.clock.now_s() < end:
            await asyncio.sleep(period_s)
            await client.publish(topic, json.dumps(phone.next_message()).encode(), qos=0)
            sent += 1
    return sent


# --------------------------------------------------------------------------------------------
# HyperIMU


@dataclass
class HyperImuPhone:
    """HyperIMU with accelerometer + gyroscope, timestamp (ms) on, CR LF line ends."""

    clock: HostClock
    rate_hz: float = 100.0
    phone: PhoneClock = field(default_factory=PhoneClock)
    timestamp: bool = True
    truth_s: list[float] = field(default_factory=list)
    grid: SampleGrid | None = None

    def __post_init__(self) -> None:
        self.grid = SampleGrid(self.clock, self.rate_hz)

    def lines(self) -> list[bytes]:
        assert self.grid is not None
        t = self.grid.due()
        self.truth_s.extend(t.tolist())
        acc, gyr = motion(t)
        ms = np.round(self.phone.device_s(t) * 1e3).astype(np.int64)
        out = []
        for i in range(t.size):
            vals = [*(acc[i] * G), *np.radians(gyr[i])]
            head = f"{ms[i]}," if self.timestamp else ""
            out.append((head + ",".join(f"{v:.6f}" for v in vals) + "\r\n").encode())
        return out


async def send_udp(phone: HyperImuPhone, port: int, duration_s: float, tick_s: float = 0.01,
                   extra: Sequence[bytes] = ()) -> int:
    """One datagram per sample, like the app; ``extra`` datagrams are sent first."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                       remote_addr=("127.0.0.1", port))
    sent = 0
    try:
        for d in extra:
            transport.sendto(d)
        end = phone.clock.now_s() + duration_s
        while phone.clock.now_s() < end:
            await asyncio.sleep(tick_s)
            for line in phone.lines():
                transport.sendto(line)
                sent += 1
    finally:
        transport.close()
    return sent


async def send_tcp(phone: HyperImuPhone, port: int, duration_s: float, tick_s: float = 0.01,
                   extra: bytes = b"") -> int:
    """A line stream over one TCP connection; ``extra`` bytes are written first."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        if extra:
            writer.write(extra)
        end = phone.clock.now_s() + duration_s
        while phone.clock.now_s() < end:
            await asyncio.sleep(tick_s)
            lines = phone.lines()
            writer.write(b"".join(lines))
            sent += len(lines)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
    return sent


# --------------------------------------------------------------------------------------------
# Recorded exports, written the way each app writes them


def recorded_motion(duration_s: float, rate_hz: float = 100.0, pause: tuple[float, float] | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample times (s from the start) and the true acc (g) / gyro (deg/s) of a recording."""
    t = np.arange(0.0, duration_s, 1 / rate_hz)
    if pause:
        t = t[(t < pause[0]) | (t >= pause[1])]
    acc, gyr = motion(t)
    return t, acc, gyr


def write_sensorlogger_export(path: Any, duration_s: float = 20.0, *, platform: str = "android",
                              start_unix_s: float = EPOCH_S, zipped: bool = True,
                              pause: tuple[float, float] | None = None) -> Any:
    """A Sensor Logger zip export (CSV per sensor, ``time`` in ns, ``z,y,x`` order, Metadata.csv)."""
    import io as _io
    import zipfile
    from pathlib import Path

    t, acc, gyr = recorded_motion(duration_s, pause=pause)
    ns = np.round((start_unix_s + t) * 1e9).astype(np.int64)
    sign = -1.0 if platform == "ios" else 1.0
    grav = np.tile([0.0, 0.0, 1.0], (t.size, 1))

    def table(values: np.ndarray, times: np.ndarray) -> str:
        out = _io.StringIO()
        out.write("time,seconds_elapsed,z,y,x\n")
        for i in range(times.size):
            v = values[i]
            out.write(f"{times[i]},{(times[i] - ns[0]) / 1e9:.6f},{float(v[2])!r},{float(v[1])!r},{float(v[0])!r}\n")
        return out.getvalue()

    files = {
        "Accelerometer.csv": table((acc - grav) * G * sign, ns),
        "Gravity.csv": table(grav * G * sign, ns),
        "Gyroscope.csv": table(np.radians(gyr), ns + 2_000_000),
        "Metadata.csv": "version,device name,recording time,platform,appVersion\n"
                        f"4,Pixel 7,2024-05-01_10-00-00,{platform},1.40\n",
    }
    if platform == "android":
        files["TotalAcceleration.csv"] = table(acc * G, ns)
    loc = _io.StringIO()
    loc.write("time,seconds_elapsed,bearingAccuracy,speedAccuracy,verticalAccuracy,horizontalAccuracy,"
              "speed,bearing,altitude,longitude,latitude\n")
    for k in range(int(duration_s)):
        lat = 48.1372 + 3.0 * k / 111_195.0
        loc.write(f"{int((start_unix_s + k) * 1e9)},{k},0,0.5,3,4.0,3.0,0,520,11.5755,{lat}\n")
    files["Location.csv"] = loc.getvalue()
    p = Path(path)
    if zipped:
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in files.items():
                z.writestr(name, text)
    else:
        p.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (p / name).write_text(text)
    return p


def write_sensorlogger_json(path: Any, duration_s: float = 5.0, start_unix_s: float = EPOCH_S) -> Any:
    """Sensor Logger's JSON export: one array of records, values as strings."""
    t, acc, gyr = recorded_motion(duration_s)
    recs: list[dict[str, str]] = []
    for sensor, vals, dt in (("TotalAcceleration", acc * G, 0.0), ("Gyroscope", np.radians(gyr), 0.002)):
        for i in range(t.size):
            recs.append({"sensor": sensor, "time": str(int((start_unix_s + t[i] + dt) * 1e9)),
                         "seconds_elapsed": str(t[i]), "z": str(vals[i, 2]), "y": str(vals[i, 1]),
                         "x": str(vals[i, 0])})
    path.write_text(json.dumps(recs))
    return path


def write_phyphox_export(path: Any, duration_s: float = 20.0, *, start_unix_s: float = EPOCH_S,
                         pause: tuple[float, float] | None = None, dialect: str = "comma") -> Any:
    """phyphox's CSV zip: one set per sensor, quoted headers, 0.000000000E0 numbers, meta/time.csv.

    A pause stops experiment time, as phyphox does; ``dialect`` is ``comma``, ``tab`` or
    ``semicolon`` (decimal comma).
    """
    import zipfile

    sep, dec = {"comma": (",", "."), "tab": ("\t", "."), "semicolon": (";", ",")}[dialect]
    t, acc, gyr = recorded_motion(duration_s, pause=pause)
    exp_t = t.copy()
    events = [("START", 0.0, start_unix_s)]
    if pause:
        after = t >= pause[1]
        exp_t[after] -= pause[1] - pause[0]
        events += [("PAUSE", pause[0], start_unix_s + pause[0]), ("START", pause[0], start_unix_s + pause[1])]

    def num(v: float) -> str:
        return format(v, ".9E").replace("E+0", "E").replace("E+", "E").replace("E-0", "E-").replace(".", dec)

    def set_csv(head: list[str], cols: list[np.ndarray]) -> str:
        lines = [sep.join(f'"{h}"' for h in head)]
        lines += [sep.join(num(float(c[i])) for c in cols) for i in range(cols[0].size)]
        return "\n".join(lines) + "\n"

    acc_ms2 = acc * G
    gyr_rad = np.radians(gyr)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Accelerometer.csv", set_csv(
            ["Time (s)", "Acceleration x (m/s^2)", "Acceleration y (m/s^2)", "Acceleration z (m/s^2)",
             "Absolute acceleration (m/s^2)"],
            [exp_t, acc_ms2[:, 0], acc_ms2[:, 1], acc_ms2[:, 2], np.linalg.norm(acc_ms2, axis=1)]))
        z.writestr("Gyroscope.csv", set_csv(
            ["Time (s)", "Gyroscope x (rad/s)", "Gyroscope y (rad/s)", "Gyroscope z (rad/s)",
             "Absolute (rad/s)"],
            [exp_t + 0.0015, gyr_rad[:, 0], gyr_rad[:, 1], gyr_rad[:, 2], np.linalg.norm(gyr_rad, axis=1)]))
        z.writestr("meta/device.csv", f'"property"{sep}"value"\n"deviceModel"{sep}"Pixel 7"\n'
                                      f'"deviceBrand"{sep}"google"\n')
        z.writestr("meta/time.csv", f'"event"{sep}"experiment time"{sep}"system time"{sep}"system time text"\n'
                   + "".join(f'"{e}"{sep}{num(x)}{sep}{s:.3f}{sep}"-"\n' for e, x, s in events))
    return path


def write_hyperimu_log(path: Any, duration_s: float = 10.0, *, timestamps: bool = False,
                       start_unix_s: float = EPOCH_S) -> Any:
    """A HyperIMU log: '@' header lines, then accelerometer + gyroscope lines ending with a comma."""
    t, acc, gyr = recorded_motion(duration_s)
    lines = ["@ HyperIMU - ianovir - 2013", "@ Date: Sat Aug 02 17:32:42 CEST 2014",
             "@Sensors: LSM6DSO Accelerometer - LSM6DSO Gyroscope", "@ SamplingTime: 10ms", ""]
    for i in range(t.size):
        vals = [*(acc[i] * G), *np.radians(gyr[i])]
        head = f"{round((start_unix_s + t[i]) * 1000)}," if timestamps else ""
        lines.append(head + ",".join(f"{v:.7g}" for v in vals) + ",")
    path.write_text("\n".join(lines) + "\n")
    return path
