"""User-settable MQTT publishing: the ``[mqtt]`` config section, and client options from it."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from pathlib import Path
from typing import Any, Literal

import aiomqtt
from pydantic import BaseModel, Field, field_validator

from sensorkit.errors import ConfigError
from sensorkit.model.settings import SETTINGS, is_loopback
from sensorkit.mqtt.schema import DEFAULT_PREFIX

log = logging.getLogger(__name__)


class MqttSettings(BaseModel):
    """Publish cues, metrics and status to an MQTT broker (section ``[mqtt]``)."""

    model_config = SETTINGS

    enabled: bool = Field(False, description="Publish to an MQTT broker.")
    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int | None = Field(None, ge=1, le=65535,
                             description="Broker port; default 8883 with TLS, else 1883.")
    topic_prefix: str = Field(DEFAULT_PREFIX, pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
                              description="First topic levels: `<prefix>/v1/runner/<runner>/<kind>`.")
    gateway: str = Field("", description="This gateway's name in topics and status; default the host name.")
    client_id: str = Field("", description="MQTT client id; default `sensorkit-<gateway>-<pid>`.")
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT version. With 5, cues carry a message "
                                            "expiry so the broker never delivers them late either.")
    username: str | None = Field(None, description="User name for password authentication.")
    password_env: str | None = Field(None, description="Environment variable holding the password.")
    password_file: Path | None = Field(None, description="File whose first line is the password.")
    tls: bool = Field(False, description="Connect with TLS (the server certificate is verified).")
    ca_file: Path | None = Field(None, description="CA certificate(s) to verify the broker; default the "
                                 "system's trust store.")
    cert_file: Path | None = Field(None, description="Client certificate for mutual TLS (optional).")
    key_file: Path | None = Field(None, description="Key of `cert_file`.")
    keepalive_s: int = Field(15, ge=5, le=600, description="MQTT keepalive; the broker sends the gateway's "
                             "last will about 1.5x this long after the gateway vanishes.")
    connect_timeout_s: float = Field(10.0, gt=0, description="Give up a connection attempt after this.")
    publish_timeout_s: float = Field(5.0, gt=0, description="A QoS 1 cue not acknowledged within this is "
                                     "treated as a lost connection and retried after reconnecting.")
    reconnect_min_s: float = Field(0.5, gt=0, description="First reconnect delay after a network error; "
                                   "doubles per failure.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest reconnect delay after network errors.")
    config_retry_s: float = Field(60.0, gt=0, description="Retry delay after the broker refused our "
                                  "credentials or TLS failed (a configuration problem; logged as an error).")
    publish_metrics: bool = Field(True, description="Publish rolling metrics (`.../metrics`).")
    publish_fatigue: bool = Field(True, description="Publish fatigue states (`.../fatigue`).")
    publish_steps: bool = Field(False, description="Publish every step (`.../steps`): ~3 messages/s/runner.")
    status_interval_s: float = Field(5.0, gt=0, description="Retained status is refreshed at most this "
                                     "often when sensor health changes.")
    cue_queue_size: int = Field(64, ge=1, description="Cues waiting for the broker; beyond it the oldest "
                                "is dropped (counted). Expired cues are dropped, never published late.")
    queue_size: int = Field(1024, ge=1, description="Metrics/fatigue/steps messages waiting for the broker; "
                            "beyond it the oldest is dropped (counted).")
    flush_timeout_s: float = Field(5.0, ge=0, description="At shutdown, time allowed to publish what is "
                                   "queued and the offline status.")

    @field_validator("gateway")
    @classmethod
    def _gateway(cls, v: str) -> str:
        if any(c in v for c in "/+#"):
            raise ValueError("gateway must not contain '/', '+' or '#'")
        return v

    def port_or_default(self) -> int:
        return self.port or (8883 if self.tls else 1883)

    def gateway_name(self) -> str:
        return self.gateway or socket.gethostname().split(".")[0] or "gateway"

    def password(self) -> str | None:
        """The password from ``password_file`` or ``$password_env`` (never logged)."""
        # Imported here: sensorkit.config imports this module to compose the [mqtt] section.
        from sensorkit.config.secrets import read_secret

        password = read_secret(self.password_env, self.password_file, "mqtt password")
        if password is not None and not self.tls and not is_loopback(self.host):
            log.warning("mqtt: the password goes to %s in clear text: set tls = true (and the broker's "
                        "TLS listener) on any network you do not own", self.describe())
        return password

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        try:
            ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            if self.cert_file is not None:
                ctx.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"mqtt TLS files: {exc}") from exc
        return ctx

    def describe(self) -> str:
        """Where we connect, for log lines (no secrets)."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port_or_default()}"


def client_options(settings: MqttSettings, *, identifier: str | None = None, will: aiomqtt.Will | None = None,
                   password: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``aiomqtt.Client`` (publishers and subscribers use the same)."""
    if settings.username is None and password is not None:
        raise ConfigError("mqtt: a password is configured but no username")
    default_id = f"sensorkit-{settings.gateway_name()}-{os.getpid()}"
    return {
        "hostname": settings.host,
        "port": settings.port_or_default(),
        "username": settings.username,
        "password": password,
        "identifier": identifier or settings.client_id or default_id,
        "protocol": aiomqtt.ProtocolVersion.V5 if settings.protocol == "5" else aiomqtt.ProtocolVersion.V311,
        "will": will,
        "keepalive": settings.keepalive_s,
        "timeout": settings.connect_timeout_s,
        "tls_context": settings.tls_context(),
        # Small packets go out at once: Nagle + delayed ACK would hold a cue for ~40 ms.
        "socket_options": [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    }
