"""Security defaults: secrets only from the environment or files, never argv or logs; listening
endpoints on loopback unless configured otherwise, and then only with a token.

The end-to-end check that a whole `sensorkit run` with every secret configured never shows
one in its logs, output, recording or dashboard is in tests/test_security_run.py.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import logging
import os
import socket
import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import BaseModel

import sensorkit
import sensorkit.config.secrets as secrets_module
from sensorkit.cli.main import build_parser
from sensorkit.config import Config, parse_config
from sensorkit.config.secrets import read_secret
from sensorkit.dashboard.server import DashboardServer
from sensorkit.dashboard.settings import DashboardSettings
from sensorkit.dashboard.state import DashboardState
from sensorkit.errors import ConfigError
from sensorkit.mqtt.settings import MqttSettings
from sensorkit.pipeline.clock import HostClock
from sensorkit.sources.phone import HyperImuSettings, SensorLoggerHttpSettings, build_phone_source
from sensorkit.sources.phone.ingest import load_token
from sensorkit.sources.phone.ingest import read_secret as phone_read_secret
from sensorkit.store.influx.settings import InfluxSettings

SECRET = "Zq8-unlikely-secret-value-4711"
TOKEN = "t0ken-for-the-security-tests-0123456789"
PACKAGE = Path(sensorkit.__file__).resolve().parent


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    f = tmp_path / "secret"
    f.write_text(SECRET + "\nsecond line is ignored\n")
    f.chmod(0o600)
    return f


# -- one way to read a secret ------------------------------------------------------------------


def test_a_secret_comes_from_the_first_line_of_a_file_or_from_the_environment(
        secret_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SK_SEC_TEST", f"  {SECRET}-env \n")
    assert read_secret("SK_SEC_TEST", None, "test token") == SECRET + "-env"
    assert read_secret(None, secret_file, "test token") == SECRET
    assert read_secret("SK_SEC_TEST", secret_file, "test token") == SECRET  # the named file wins
    assert read_secret(None, None, "test token") is None


def test_a_missing_or_empty_secret_is_a_config_error_that_never_shows_a_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SK_SEC_UNSET", raising=False)
    with pytest.raises(ConfigError, match="environment variable SK_SEC_UNSET is not set"):
        read_secret("SK_SEC_UNSET", None, "mqtt password")
    assert read_secret("SK_SEC_UNSET", None, "influx token", env_optional=True) is None
    monkeypatch.setenv("SK_SEC_EMPTY", "  ")
    with pytest.raises(ConfigError, match="SK_SEC_EMPTY is empty"):
        read_secret("SK_SEC_EMPTY", None, "mqtt password")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=r"password file .* is empty"):
        read_secret(None, empty, "mqtt password")
    with pytest.raises(ConfigError, match="cannot read the password file"):
        read_secret(None, tmp_path / "missing", "mqtt password")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe" + SECRET.encode())
    with pytest.raises(ConfigError) as exc:
        read_secret(None, binary, "mqtt password")
    assert SECRET not in str(exc.value) and SECRET not in repr(exc.value.__cause__)


def test_a_short_token_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SK_SEC_SHORT", "abc123x")
    with pytest.raises(ConfigError, match="too short") as exc:
        read_secret("SK_SEC_SHORT", None, "phone token", min_chars=8)
    assert "abc123x" not in str(exc.value)


def test_a_secret_file_others_can_read_is_used_with_a_warning(
        secret_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=secrets_module.__name__):
        assert read_secret(None, secret_file, "mqtt password") == SECRET
        assert not caplog.records
        secret_file.chmod(0o644)
        assert read_secret(None, secret_file, "mqtt password") == SECRET
    assert "chmod 600" in caplog.text and SECRET not in caplog.text


def test_every_component_reads_its_secrets_through_the_one_reader(
        secret_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """InfluxDB, MQTT, the dashboard and the phone endpoints share sensorkit.config.secrets."""
    calls: list[str] = []
    real = secrets_module.read_secret

    def spy(env: str | None, file: object, what: str, **kw: typing.Any) -> str | None:
        calls.append(what)
        return real(env, file, what, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(secrets_module, "read_secret", spy)
    assert InfluxSettings(token_file=secret_file).token() == SECRET
    assert InfluxSettings(password_file=secret_file).password() == SECRET
    assert MqttSettings(username="u", password_file=secret_file).password() == SECRET
    monkeypatch.setenv("SK_SEC_DASH", TOKEN)
    assert DashboardSettings(token_env="SK_SEC_DASH").token() == TOKEN
    assert load_token(None, secret_file, "phone ann/phone") == SECRET
    assert phone_read_secret(None, secret_file, "phone ann/phone broker") == SECRET
    assert calls == ["influx token", "influx password", "mqtt password", "dashboard token",
                     "phone ann/phone token", "phone ann/phone broker"]


def _env_reads(tree: ast.AST) -> Iterator[ast.Call | ast.Subscript]:
    """``os.environ.get(x)``, ``os.getenv(x)`` and ``os.environ[x]`` in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            if f.attr == "getenv" or (f.attr == "get" and isinstance(f.value, ast.Attribute)
                                      and f.value.attr == "environ"):
                yield node
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "environ":
            yield node


def test_no_module_but_the_secret_reader_reads_a_configured_environment_variable() -> None:
    """Reading a variable whose NAME comes from the config is how secrets are read: only
    sensorkit/config/secrets.py may do it; elsewhere only fixed names such as XDG_* are read."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == Path(secrets_module.__file__).resolve():
            continue
        for node in _env_reads(ast.parse(path.read_text(encoding="utf-8"))):
            key = node.args[0] if isinstance(node, ast.Call) and node.args else getattr(node, "slice", None)
            fixed = isinstance(key, ast.Constant) and isinstance(key.value, str)
            if not fixed or any(w in key.value.upper() for w in ("TOKEN", "PASSW", "SECRET", "KEY")):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not offenders, f"secrets read outside sensorkit.config.secrets: {offenders}"


# -- secrets never in the config file or on the command line ------------------------------------

SECRETISH = ("token", "password", "passwd", "secret", "api_key", "apikey", "credential")


def _model_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, typing.Any]]:
    for name, field in model.model_fields.items():
        yield prefix + name, field.annotation
        for arg in [field.annotation, *typing.get_args(field.annotation)]:
            for inner in [arg, *typing.get_args(arg)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    yield from _model_fields(inner, f"{prefix}{name}.")


def _phone_models() -> list[type[BaseModel]]:
    from sensorkit.sources.phone import settings as phone_settings

    return [m for m in vars(phone_settings).values()
            if isinstance(m, type) and issubclass(m, BaseModel) and "app" in m.model_fields]


def test_no_config_key_can_hold_a_secret_itself() -> None:
    """Every secret-looking key names where the secret is (`*_env`, `*_file`), never the secret."""
    fields = list(_model_fields(Config))
    for model in _phone_models():
        fields += list(_model_fields(model, f"runners.phones[{model.__name__}]."))
    assert len(fields) > 100  # the walk really went through every section
    inline = [name for name, _ in fields
              if any(w in name.rsplit(".", 1)[-1].lower() for w in SECRETISH)
              and not name.endswith(("_env", "_file"))]
    assert not inline, f"config keys that would hold a secret inline: {inline}"
    for section in ("mqtt", "influx", "dashboard"):
        with pytest.raises(ConfigError, match="unknown key"):
            parse_config({section: {"password": SECRET}})
        with pytest.raises(ConfigError, match="unknown key"):
            parse_config({section: {"token": SECRET}})


def _all_options(parser: argparse.ArgumentParser, path: str = "sensorkit") -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_options(sub, f"{path} {name}")
        else:
            yield path, action


def test_no_command_line_option_takes_a_secret() -> None:
    """Process lists and shell history show arguments: options may only name a variable or a file."""
    options = list(_all_options(build_parser()))
    commands = {path for path, _ in options}
    assert {"sensorkit demo", "sensorkit run", "sensorkit dashboard", "sensorkit export"} <= commands
    bad, checked = [], []
    for path, action in options:
        text = " ".join([action.dest, *action.option_strings, str(action.metavar or "")]).lower()
        if not any(w in text for w in SECRETISH):
            continue
        checked.append(action.dest)
        names_a_place = action.dest.endswith(("_env", "_file")) or action.dest in {"config"}
        if not names_a_place:
            bad.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert not bad, f"options that could carry a secret: {bad}"
    assert {"token_env", "token_file", "mqtt_password_env", "password_file"} <= set(checked)


# -- listening endpoints -----------------------------------------------------------------------


def lan_address() -> str | None:
    """An address of this machine that other machines could reach (None if it has none)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        addr = str(s.getsockname()[0])
        if not addr.startswith("127."):
            return addr
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if not addr.startswith("127."):
                return addr
    return None


LAN = lan_address()
needs_lan = pytest.mark.skipif(LAN is None, reason="this machine has no non-loopback IPv4 address")


async def http_status(url: str, *, token: str | None = None, method: str = "GET", body: bytes = b"") -> int | None:
    """The HTTP status, or None when the connection is refused (nobody listens there)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with aiohttp.ClientSession() as http, \
                http.request(method, url, headers=headers, data=body, timeout=aiohttp.ClientTimeout(total=10)) as r:
            return r.status
    except aiohttp.ClientConnectorError:
        return None


@contextlib.asynccontextmanager
async def dashboard(host: str, token: str | None) -> AsyncIterator[int]:
    settings = DashboardSettings(host=host, port=0)
    async with DashboardServer(settings, DashboardState(settings), token=token) as server:
        yield server.port


def test_every_endpoint_listens_on_loopback_by_default() -> None:
    assert DashboardSettings().host == "127.0.0.1"
    assert SensorLoggerHttpSettings(app="sensorlogger_http", runner="ann").host == "127.0.0.1"
    assert HyperImuSettings(app="hyperimu", runner="ann").host == "127.0.0.1"
    assert Config().dashboard.host == "127.0.0.1"


def test_an_endpoint_beyond_loopback_refuses_to_start_without_a_token() -> None:
    with pytest.raises(ConfigError, match="needs an access token"):
        DashboardSettings(host="0.0.0.0").token()
    with pytest.raises(ConfigError, match="needs an access token"):
        DashboardServer(DashboardSettings(host="0.0.0.0"), DashboardState(), token=None)
    with pytest.raises(ConfigError, match="token_env or token_file"):
        parse_config({"runners": [{"name": "ann", "phones": [{"app": "sensorlogger_http", "host": "0.0.0.0"}]}]})
    with pytest.raises(ConfigError, match="allowed_senders"):
        parse_config({"runners": [{"name": "ann", "phones": [{"app": "hyperimu", "host": "0.0.0.0"}]}]})


@needs_lan
async def test_the_default_dashboard_cannot_be_reached_from_the_network() -> None:
    async with dashboard("127.0.0.1", None) as port:
        assert await http_status(f"http://127.0.0.1:{port}/api/snapshot") == 200
        assert await http_status(f"http://{LAN}:{port}/api/snapshot") is None


@needs_lan
async def test_a_dashboard_on_the_network_answers_only_with_its_token() -> None:
    async with dashboard("0.0.0.0", TOKEN) as port:
        url = f"http://{LAN}:{port}/api/snapshot"
        assert await http_status(url) == 401
        assert await http_status(url, token=TOKEN[:-1]) == 401
        assert await http_status(url, token=TOKEN) == 200


@contextlib.asynccontextmanager
async def phone_endpoint(**kw: typing.Any) -> AsyncIterator[int]:
    settings = SensorLoggerHttpSettings(app="sensorlogger_http", runner="ann", port=0, **kw)
    source = build_phone_source(settings, HostClock())
    async with source:
        yield source.port  # type: ignore[attr-defined]


@needs_lan
async def test_the_default_phone_endpoint_cannot_be_reached_from_the_network() -> None:
    async with phone_endpoint() as port:
        assert await http_status(f"http://127.0.0.1:{port}/sensorlogger") == 200
        assert await http_status(f"http://{LAN}:{port}/sensorlogger") is None


@needs_lan
async def test_a_phone_endpoint_on_the_network_answers_only_with_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SK_SEC_PHONE", TOKEN)
    async with phone_endpoint(host="0.0.0.0", token_env="SK_SEC_PHONE") as port:
        url = f"http://{LAN}:{port}/sensorlogger"
        assert await http_status(url) == 401
        assert await http_status(url, method="POST", body=b'{"messageId": 1, "payload": []}') == 401
        assert await http_status(url, token="wrong-token-123") == 401
        assert await http_status(url, token=TOKEN) == 200


@needs_lan
async def test_a_hyperimu_socket_on_the_network_hears_only_allowed_senders() -> None:
    """HyperIMU cannot send a token, so off loopback an allowlist of senders stands in for one."""
    from sensorkit.model import SampleBlock

    line = b"1700000000000,0.1,0.2,9.8,0.01,0.02,0.03\r\n"
    for allowed, expect_samples in (("127.0.0.1/32", False), (f"{LAN}/32", True)):
        settings = HyperImuSettings(app="hyperimu", runner="ann", host="0.0.0.0", port=0,
                                    allowed_senders=[allowed])  # type: ignore[list-item]
        source = build_phone_source(settings, HostClock())
        got: list[object] = []
        async with source:
            port = source.port  # type: ignore[attr-defined]

            async def read(source: typing.Any = source, got: list[object] = got) -> None:
                async for item in source.items():
                    got.append(item)

            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(read())
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind((LAN, 0))
                    for i in range(300):
                        s.sendto(line.replace(b"1700000000000", str(1700000000000 + 10 * i).encode()),
                                 (LAN, port))
                        await asyncio.sleep(0.002)
                await asyncio.sleep(1.5)
                task.cancel()
        samples = sum(len(i) for i in got if isinstance(i, SampleBlock))
        assert (samples > 0) is expect_samples, (allowed, samples)
        if not expect_samples:
            assert source.stats().rejected.get("sender not allowed", 0) > 0, source.stats().rejected  # type: ignore[attr-defined]


def test_the_secret_reader_is_importable_without_the_config_package_cycle() -> None:
    """Settings modules import it lazily; it must itself import nothing that imports them."""
    tree = ast.parse(Path(secrets_module.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
               {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in imported if m and m.startswith("sensorkit")} <= {"sensorkit.errors"}
    assert os.fspath(Path(secrets_module.__file__)).endswith(os.path.join("config", "secrets.py"))
