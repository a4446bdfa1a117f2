"""A whole `sensorkit run` with every secret configured never shows one anywhere.

A real subprocess at DEBUG log level, with a TLS + password MQTT broker, an InfluxDB 1.x that
requires a password, a phone endpoint and a dashboard that each require a token, and a
simulated runner: the phone pushes with its token (header and URL), a browser-like client
reads the dashboard with its token, then SIGTERM. No secret may appear in stdout, stderr,
any file the run wrote (the recording's meta.json keeps the config!), the dashboard's
responses, the MQTT messages or the points in InfluxDB.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from sensorkit.pipeline.clock import HostClock
from tests.support.phone_apps import SensorLoggerPhone, push_http
from tests.support.servers import InfluxD, Mosquitto, free_port, wait_for_port

pytestmark = [pytest.mark.servers, pytest.mark.slow]

DASH_TOKEN = "dash-Tok3n-never-shown-5f1c9a7e2b"
PHONE_TOKEN = "phone-Tok3n-never-shown-8d0e4c"
UNUSED_INFLUX_TOKEN = "influx-Tok3n-never-shown-b7a2"


def config_text(tmp: Path, broker: Mosquitto, influx: InfluxD, dash_port: int, phone_port: int,
                dash_token_file: Path, mqtt_pw_file: Path) -> str:
    return f"""
[session]
name = "sec"

[simulator]
runners = 1
duration_s = 600

[recording]
directory = "{tmp / 'rec'}"
flush_interval_s = 0.2

[audio]
output = "wav"
wav_dir = "{tmp / 'cues'}"
cache_dir = "{tmp / 'cue-cache'}"

[mqtt]
enabled = true
host = "127.0.0.1"
port = {broker.tls_port}
tls = true
ca_file = "{broker.ca_file}"
username = "{broker.username}"
password_file = "{mqtt_pw_file}"

[influx]
enabled = true
api = "v1"
url = "{influx.url}"
database = "sk_secrets"
username = "{influx.admin_user}"
password_env = "SK_TEST_INFLUX_PW"
spool_dir = "{tmp / 'spool'}"
raw_imu = "downsampled"

[dashboard]
enabled = true
port = {dash_port}
token_file = "{dash_token_file}"

[[runners]]
name = "pia"

  [[runners.phones]]
  app = "sensorlogger_http"
  port = {phone_port}
  token_env = "SK_TEST_PHONE_TOKEN"
"""


async def use_endpoints(dash: str, phone_url: str) -> dict[str, str]:
    """Play the phone and the coach's browser; returns every response body the dashboard sent."""
    bodies: dict[str, str] = {}
    phone = SensorLoggerPhone(HostClock(), gps_origin=None)
    statuses = await push_http(phone, phone_url, 3.0, token=PHONE_TOKEN)
    assert statuses and set(statuses) == {200}, statuses
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # unsafe: an IP host
        body = json.dumps(phone.next_message()).encode()
        async with http.post(f"{phone_url}?token={PHONE_TOKEN}", data=body) as r:  # apps that only take a URL
            assert r.status == 200
        async with http.post(phone_url, data=body, headers={"Authorization": "Bearer wrong-token-123"}) as r:
            assert r.status == 401
        async with http.get(dash) as r:
            assert r.status == 401
            bodies["/ (no token)"] = await r.text()
        async with http.post(dash + "login", data={"token": "wrong-token-wrong-token"}) as r:
            bodies["/login (wrong)"] = await r.text()
        async with http.post(dash + "login", data={"token": DASH_TOKEN}) as r:
            assert r.status == 200  # followed the redirect to the page, with the cookie
            bodies["/ (signed in)"] = await r.text()
        for path in ["static/app.js", "api/snapshot"]:
            async with http.get(dash + path) as r:
                assert r.status == 200, path
                bodies[path] = await r.text()
        for cookie in http.cookie_jar:
            bodies[f"cookie {cookie.key}"] = cookie.value
        async with http.ws_connect(dash + "ws") as ws:
            bodies["ws"] = json.dumps(await ws.receive_json(timeout=10))
    return bodies


def files_under(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots if root.exists() for p in root.rglob("*") if p.is_file()}


def test_no_secret_reaches_logs_output_files_pages_messages_or_the_database(
        tmp_path: Path, mosquitto: Mosquitto, influxd_auth: InfluxD) -> None:
    influx = influxd_auth
    influx.query("CREATE DATABASE sk_secrets")
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    dash_token_file, mqtt_pw_file = secrets_dir / "dashboard", secrets_dir / "mqtt"
    for f, value in ((dash_token_file, DASH_TOKEN), (mqtt_pw_file, mosquitto.password)):
        f.write_text(value + "\n")
        f.chmod(0o600)
    secrets = {"dashboard token": DASH_TOKEN, "phone token": PHONE_TOKEN, "mqtt password": mosquitto.password,
               "influx password": influx.admin_password, "influx token": UNUSED_INFLUX_TOKEN}
    dash_port, phone_port = free_port(), free_port()
    work = tmp_path / "work"
    work.mkdir()
    cfg = work / "run.toml"
    cfg.write_text(config_text(work, mosquitto, influx, dash_port, phone_port, dash_token_file, mqtt_pw_file))
    env = {**os.environ, "SK_TEST_INFLUX_PW": influx.admin_password, "SK_TEST_PHONE_TOKEN": PHONE_TOKEN,
           "INFLUX_TOKEN": UNUSED_INFLUX_TOKEN, "XDG_CACHE_HOME": str(work / "cache"),
           "XDG_STATE_HOME": str(work / "state")}
    # Everything the broker carries during the run, read on its plain listener.
    spy = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-t", "#", "-v"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out_file, err_file = tmp_path / "stdout", tmp_path / "stderr"  # files: DEBUG output would fill a pipe
    with out_file.open("wb") as o, err_file.open("wb") as e:
        proc = subprocess.Popen([sys.executable, "-m", "sensorkit", "--log-level", "DEBUG", "run", "--config",
                                 str(cfg), "--no-terminal"], cwd=work, env=env, stdout=o, stderr=e)
    try:
        wait_for_port(dash_port, 120.0)
        wait_for_port(phone_port, 30.0)
        bodies = asyncio.run(use_endpoints(f"http://127.0.0.1:{dash_port}/",
                                           f"http://127.0.0.1:{phone_port}/sensorlogger"))
        time.sleep(2.0)  # metrics, cues and status reach MQTT and InfluxDB
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    finally:
        proc.kill()
        proc.wait()
        spy.terminate()
        broker_traffic, _ = spy.communicate(timeout=10)
    out, err = out_file.read_bytes(), err_file.read_bytes()
    log = err.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert "DEBUG" in log and "Traceback" not in log
    assert b"sensorkit/v1/runner/" in broker_traffic  # the spy really saw the gateway's messages
    rows = influx.query("SELECT * FROM /.*/ LIMIT 2000", db="sk_secrets")
    assert rows["results"][0].get("series"), "nothing reached InfluxDB"
    places: dict[str, bytes] = {"stdout": out, "stderr": err, "mqtt": broker_traffic,
                                "influx": json.dumps(rows).encode(),
                                **{f"dashboard {k}": v.encode() for k, v in bodies.items()},
                                **files_under(work)}
    recordings = [p for p in places if p.endswith("meta.json")]
    assert recordings, sorted(places)  # the recording (which keeps the config) was scanned
    meta = places[recordings[0]]
    assert b"SK_TEST_PHONE_TOKEN" in meta and b"SK_TEST_INFLUX_PW" in meta  # names kept, values not
    assert "dashboard cookie sensorkit_dashboard" in places and "dashboard ws" in places
    leaks = [(what, where) for what, value in secrets.items() for where, data in places.items()
             if value.encode() in data]
    assert not leaks, leaks
