"""MQTT publishing of cues, metrics, fatigue and status (topics/payloads in :mod:`.schema`).

The coordinator builds the sink with :func:`build_mqtt_sink` from the ``[mqtt]`` section.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sensorkit.model import SessionInfo
from sensorkit.mqtt.settings import MqttSettings, client_options
from sensorkit.mqtt.sink import MqttDelivery, MqttSink
from sensorkit.pipeline.channel import ChannelStats


def build_mqtt_sink(settings: MqttSettings, info: SessionInfo, *, clock: Callable[[], float] | None = None,
                    queue_stats: Callable[[], Sequence[ChannelStats]] | None = None) -> MqttSink | None:
    """The MQTT sink for a session, or None when ``[mqtt] enabled = false``.

    Reads the password now (a missing secret is a ConfigError before anything starts).
    ``clock`` is the session's host clock (``HostClock.now_s``) for live runs; None for
    replays and accelerated simulations (cue expiry then follows the data time).
    ``queue_stats`` (e.g. ``lambda: session.stats().channels``) adds the pipeline's queues
    to the retained status.
    """
    if not settings.enabled:
        return None
    settings.tls_context()  # fail early on unreadable TLS files
    return MqttSink(settings, runners=[r.name for r in info.runners], session_id=info.session_id,
                    start_unix_s=info.start_unix_s, clock=clock, password=settings.password(),
                    queue_stats=queue_stats)


__all__ = ["MqttDelivery", "MqttSettings", "MqttSink", "build_mqtt_sink", "client_options"]
