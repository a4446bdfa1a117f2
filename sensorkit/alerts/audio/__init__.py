"""Audio cues: cached espeak-ng phrases and numpy earcons, played or written as WAV files."""

from __future__ import annotations

from collections.abc import Callable

from sensorkit.alerts.audio.settings import AudioSettings
from sensorkit.alerts.audio.sink import AudioDelivery, AudioSink, AudioStats
from sensorkit.alerts.phrases import load_phrasebook
from sensorkit.alerts.settings import AlertsSettings


def build_audio_sink(settings: AudioSettings | None = None, alerts: AlertsSettings | None = None, *,
                     clock: Callable[[], float] | None = None) -> AudioSink | None:
    """The audio sink from ``[audio]`` (wording/language from ``[alerts]``); None when disabled.

    ``clock`` is the session's host clock (``HostClock.now_s``) for live runs; leave it None for
    replays and accelerated simulations, where expiry follows the data time.
    """
    settings = settings or AudioSettings()
    alerts = alerts or AlertsSettings()
    if not settings.enabled:
        return None
    return AudioSink(settings, load_phrasebook(alerts.language, alerts.phrases), clock=clock)


__all__ = ["AudioDelivery", "AudioSettings", "AudioSink", "AudioStats", "build_audio_sink"]
