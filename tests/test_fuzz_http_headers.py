"""The HTTP endpoints sensorkit serves (web dashboard, Sensor Logger push) fuzzed at the byte
level: whatever bytes a client puts in its credentials or request path, the answer is a refusal,
never a server error, and the endpoint goes on serving; whatever a browser sends over the
dashboard's WebSocket, the socket goes on serving.

Found this way: aiohttp hands non-UTF-8 header bytes over as lone surrogates, and comparing
them with the token raised UnicodeEncodeError (a 500 and a traceback per request).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorkit.dashboard import DashboardSettings
from sensorkit.dashboard.server import MAX_WS_MESSAGE_BYTES, DashboardServer
from sensorkit.dashboard.state import DashboardState
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.phone import SensorLoggerHttpSettings, build_phone_source

TOKEN = "test-token-0123456789abcdef"
FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
REFUSED = {400, 401}
"""400: aiohttp's own parser refuses control characters in a header; 401: our token check."""
# Header values: any byte but the ones that end a header line.
header_value = st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


async def status_of(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    return int(line.split()[1])


def request(method: bytes, path: bytes, port: int, headers: list[bytes], body: bytes = b"") -> bytes:
    head = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port, *headers,
            b"Content-Length: %d" % len(body), b"Connection: close"]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def dashboard_answers(probe: Callable[[int], Awaitable[None]]) -> None:
    s = DashboardSettings(port=0)
    async with DashboardServer(s, DashboardState(s, title="fuzz"), token=TOKEN) as server:
        await probe(server.port)
        ok = await status_of(server.port, request(b"GET", b"/api/snapshot", server.port,
                                                  [b"Authorization: Bearer " + TOKEN.encode()]))
        assert ok == 200, "the dashboard stopped serving"


@FUZZ
@given(auth=header_value, cookie=header_value, body=st.binary(max_size=200))
def test_any_credential_bytes_get_a_refusal_from_the_dashboard(auth: bytes, cookie: bytes, body: bytes) -> None:
    async def probe(port: int) -> None:
        got = await status_of(port, request(b"GET", b"/api/snapshot", port, [b"Authorization: Bearer " + auth]))
        assert got in REFUSED
        got = await status_of(port, request(b"GET", b"/", port, [b"Cookie: sensorkit_dashboard=" + cookie]))
        assert got in REFUSED
        origin = b"Origin: http://127.0.0.1:%d" % port
        form = [origin, b"Content-Type: application/x-www-form-urlencoded"]
        got = await status_of(port, request(b"POST", b"/login", port, form, b"token=" + body))
        assert got in (401, 413, 429)  # wrong token, too long, or too many failures

    asyncio.run(dashboard_answers(probe))


@FUZZ
@given(auth=header_value, other=header_value)
def test_any_token_bytes_get_a_refusal_from_the_phone_endpoint(auth: bytes, other: bytes,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SK_FUZZ_PHONE_TOKEN", TOKEN)
    phone = SensorLoggerHttpSettings.model_validate(
        {"app": "sensorlogger_http", "runner": "ann", "port": 0, "token_env": "SK_FUZZ_PHONE_TOKEN"})

    async def run() -> None:
        source = build_phone_source(phone, HostClock())
        async with source:
            url = urlsplit(source.url)  # type: ignore[attr-defined]
            assert url.port is not None
            for headers in ([b"Authorization: Bearer " + auth], [b"X-Sensorkit-Token: " + other]):
                got = await status_of(url.port, request(b"POST", url.path.encode() or b"/", url.port, headers, b"{}"))
                assert got in REFUSED, got
            ok = [b"Authorization: Bearer " + TOKEN.encode()]
            assert await status_of(url.port, request(b"POST", url.path.encode() or b"/", url.port, ok, b"{}")) < 500

    asyncio.run(run())


@pytest.mark.parametrize("header", [b"Authorization: Bearer \xff\xfe", b"Cookie: sensorkit_dashboard=\xc3("])
def test_a_non_utf8_credential_is_refused_not_a_server_error(header: bytes) -> None:
    async def probe(port: int) -> None:
        assert await status_of(port, request(b"GET", b"/api/snapshot", port, [header])) == 401

    asyncio.run(dashboard_answers(probe))


# Path bytes: anything but the space and line ends that delimit the request line.
path_bytes = st.binary(min_size=0, max_size=60).map(
    lambda b: b"/" + b.replace(b" ", b"").replace(b"\r", b"").replace(b"\n", b""))


@FUZZ
@given(paths=st.lists(path_bytes, min_size=1, max_size=5))
def test_any_request_path_gets_an_answer_that_is_not_a_server_error(paths: list[bytes]) -> None:
    async def probe(port: int) -> None:
        auth = [b"Authorization: Bearer " + TOKEN.encode()]
        for path in paths:
            for method in (b"GET", b"POST"):
                assert await status_of(port, request(method, path, port, auth)) < 500, path

    asyncio.run(dashboard_answers(probe))


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)
ws_message = (st.text(max_size=300) | json_values.map(json.dumps)
              | st.builds(lambda k, c: c * k, st.integers(1, 50) | st.integers(1000, 1300),  # past json's stack
                          st.sampled_from(["[", "{\"a\":", "[{"]))
              | st.dictionaries(st.just("type"), json_values).map(json.dumps))


def _junk(text: str) -> bool:
    """Within the size limit (bigger closes the socket by design) and not a resync request."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_WS_MESSAGE_BYTES:
        return False
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return True
    return not (isinstance(doc, dict) and doc.get("type") == "resync")


@FUZZ
@given(messages=st.lists(ws_message.filter(_junk), min_size=1, max_size=8))
def test_whatever_a_browser_sends_the_websocket_goes_on_serving(messages: list[str]) -> None:
    async def run() -> None:
        s = DashboardSettings(port=0)
        async with (DashboardServer(s, DashboardState(s, title="fuzz"), token=None) as server,
                    aiohttp.ClientSession() as http, http.ws_connect(server.url + "ws") as ws):
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            before = server.resyncs
            for m in messages:
                await ws.send_str(m)
            await ws.send_str('{"type": "resync"}')
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            assert server.resyncs == before + 1

    asyncio.run(run())
