"""Fatigue-driven form cues: personal baselines, drift, fatigue score, cue rules and audio.

The coordinator wires one :class:`CueEngine` per runner (a RecordStage) with
:func:`build_cue_engine`, and the audio sink with :func:`sensorkit.alerts.audio.build_audio_sink`.
"""

from __future__ import annotations

from sensorkit.alerts.engine import CueEngine
from sensorkit.alerts.phrases import PhraseBook, available_languages, load_phrasebook
from sensorkit.alerts.settings import AlertsSettings, MetricSettings, RuleSettings


def build_cue_engine(runner: str, settings: AlertsSettings | None = None) -> CueEngine:
    """One runner's cue engine from the ``[alerts]`` section (defaults if None)."""
    return CueEngine(runner, settings or AlertsSettings())


__all__ = [
    "AlertsSettings",
    "CueEngine",
    "MetricSettings",
    "PhraseBook",
    "RuleSettings",
    "available_languages",
    "build_cue_engine",
    "load_phrasebook",
]
