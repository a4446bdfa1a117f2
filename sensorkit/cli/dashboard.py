"""`sensorkit dashboard`: the coach's central dashboard of every runner on an MQTT broker (team mode).

Each runner's gateway runs ``sensorkit run`` (or ``demo``) with ``[mqtt] enabled = true``;
this command subscribes to the same broker and serves one page showing them all. Secrets
never come from the command line: the broker password from ``--mqtt-password-env`` /
``--mqtt-password-file`` (or the config's ``[mqtt]``), the dashboard token from
``--token-env`` / ``--token-file`` (or the config's ``[dashboard]``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sensorkit.mqtt.settings import MqttSettings

SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="web dashboard of every runner published on an MQTT broker (team mode)",
                       description="Subscribe to the runners' gateways on an MQTT broker and serve the live "
                       "dashboard (default http://127.0.0.1:8765/). Inside `demo` and `run` the dashboard is "
                       "part of the session instead ([dashboard] in the config).")
    p.add_argument("--config", help="TOML config whose [mqtt] and [dashboard] sections are used")
    p.add_argument("--mqtt", metavar="URL", help="broker as mqtt://[user@]host[:port][/topic-prefix] "
                   "(mqtts:// for TLS); default: the config's [mqtt], else mqtt://127.0.0.1:1883")
    p.add_argument("--mqtt-password-env", metavar="VAR", help="environment variable holding the broker password")
    p.add_argument("--mqtt-password-file", metavar="FILE", type=Path, help="file whose first line is the password")
    p.add_argument("--mqtt-ca-file", metavar="FILE", type=Path, help="CA certificate to verify the broker (TLS)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; anything else requires a token)")
    p.add_argument("--port", type=int, help="port to listen on (default 8765; 0: any free port)")
    p.add_argument("--token-env", metavar="VAR", help="environment variable holding the dashboard access token")
    p.add_argument("--token-file", metavar="FILE", type=Path, help="file whose first line is the access token")
    p.add_argument("--title", default="team", help="title shown in the page header")
    p.set_defaults(func=run)


def mqtt_from_url(url: str, base: MqttSettings) -> MqttSettings:
    """``base`` with the broker, user and topic prefix of ``url``; a password in the URL is refused."""
    from urllib.parse import unquote, urlsplit

    from pydantic import ValidationError

    from sensorkit.errors import ConfigError
    from sensorkit.mqtt.settings import MqttSettings

    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ConfigError(f"--mqtt {url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
    if parts.password is not None:
        raise ConfigError("--mqtt: do not put the password in the URL (process lists and shell history show it); "
                          "use --mqtt-password-env VAR or --mqtt-password-file FILE")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"--mqtt {url!r}: invalid port") from None
    update: dict[str, Any] = {"enabled": True, "host": parts.hostname, "tls": SCHEMES[parts.scheme], "port": port}
    if parts.username:
        update["username"] = unquote(parts.username)
    if parts.path.strip("/"):
        update["topic_prefix"] = parts.path.strip("/")
    try:
        return MqttSettings.model_validate({**base.model_dump(), **update})
    except ValidationError as exc:
        raise ConfigError(f"--mqtt {url!r}: {exc.errors()[0]['msg']}") from None


def _with(model: Any, changes: dict[str, Any], what: str) -> Any:
    """``model`` with the options given on the command line (None: not given)."""
    from pydantic import ValidationError

    from sensorkit.errors import ConfigError

    given = {k: v for k, v in changes.items() if v is not None}
    for a, b in (("password_env", "password_file"), ("token_env", "token_file")):
        if a in given or b in given:  # one source of a secret replaces the config's other one
            given = {a: None, b: None, **given}
    if not given:
        return model
    try:
        return type(model).model_validate({**model.model_dump(), **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{what}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def run(args: argparse.Namespace) -> int:
    import asyncio

    from sensorkit.config import Config, load_config
    from sensorkit.dashboard import run_team_dashboard
    from sensorkit.pipeline.signals import run_with_signals

    cfg = load_config(args.config) if args.config else Config()
    mqtt = mqtt_from_url(args.mqtt, cfg.mqtt) if args.mqtt else cfg.mqtt
    mqtt = _with(mqtt, {"password_env": args.mqtt_password_env, "password_file": args.mqtt_password_file,
                        "ca_file": args.mqtt_ca_file}, "mqtt")
    settings = _with(cfg.dashboard, {"host": args.host, "port": args.port, "token_env": args.token_env,
                                     "token_file": args.token_file}, "dashboard")
    asyncio.run(run_with_signals(lambda stop: run_team_dashboard(settings, mqtt, stop, title=args.title)))
    return 0
