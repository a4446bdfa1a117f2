"""What went wrong with the broker, by type, and how long to wait before trying again.

Network trouble (refused, unreachable, dropped) is retried with exponential backoff; a
refused login or a TLS failure is a configuration problem: retried slowly and logged as an
error that says what to fix. aiomqtt wraps socket/TLS errors into ``MqttError`` with the
message only, so TLS failures are recognised by their message.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from enum import StrEnum

import aiomqtt

from sensorkit.errors import PublishError

AUTH_CODES = frozenset({4, 5, 134, 135, 140})
"""CONNACK codes: v3.1.1 bad credentials / not authorised; v5 bad user name or password,
not authorised, bad authentication method."""


class Failure(StrEnum):
    AUTH = "auth"
    TLS = "tls"
    NETWORK = "network"


def _code(exc: aiomqtt.MqttCodeError) -> int | None:
    rc = exc.rc
    if rc is None:
        return None
    return rc if isinstance(rc, int) else int(rc.value)


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, aiomqtt.MqttCodeError) and _code(exc) in AUTH_CODES:
        return Failure.AUTH
    text = str(exc).lower()
    if any(k in text for k in ("certificate", "ssl", "tls", "wrong_version_number", "hostname mismatch")):
        return Failure.TLS
    return Failure.NETWORK


def explain(exc: BaseException, where: str, username: str | None) -> str:
    """A log/error line that says what to fix (never the password)."""
    kind = classify(exc)
    if kind is Failure.AUTH:
        who = f"user {username!r}" if username else "an anonymous client"
        return (f"MQTT broker {where} refused {who}: {exc} (check mqtt.username and the password in "
                "mqtt.password_env / mqtt.password_file)")
    if kind is Failure.TLS:
        return f"TLS with MQTT broker {where} failed: {exc} (check mqtt.ca_file, the host name and the port)"
    return f"MQTT broker {where} not reachable: {exc}"


def as_publish_error(exc: BaseException, where: str, username: str | None) -> PublishError:
    return PublishError(explain(exc, where, username))


class Backoff:
    """Delay before the next attempt, chosen by the failure type; jittered so gateways spread out."""

    def __init__(self, min_s: float, max_s: float, config_retry_s: float) -> None:
        self.min_s, self.max_s, self.config_retry_s = min_s, max_s, config_retry_s
        self._failures = 0

    def reset(self) -> None:
        self._failures = 0

    def next_delay_s(self, failure: Failure) -> float:
        if failure is not Failure.NETWORK:
            return self.config_retry_s
        delay = min(self.max_s, self.min_s * 2**self._failures)
        self._failures += 1
        return delay * random.uniform(0.8, 1.2)


async def tls_probe(host: str, port: int, context: ssl.SSLContext, timeout_s: float) -> None:
    """Do one TLS handshake ourselves before paho does.

    paho-mqtt leaves the socket of a failed handshake unclosed; probing first keeps that leak
    out and gives the same clear error. Raises ``aiomqtt.MqttError`` like a connect would.
    """
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout_s)
    except ssl.SSLError as exc:
        raise aiomqtt.MqttError(f"TLS handshake failed: {exc}") from exc
    except (OSError, TimeoutError) as exc:
        raise aiomqtt.MqttError(str(exc) or type(exc).__name__) from exc
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
