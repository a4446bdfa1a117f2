"""The [alerts] settings: defaults, partial overrides, validation, and wording as data."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from sensorkit.alerts import AlertsSettings, CueEngine, available_languages, load_phrasebook
from sensorkit.alerts.synthetic import Drift, StreamSpec, rolling_stream
from sensorkit.errors import ConfigError
from sensorkit.model import Cue, CueKind


def test_an_empty_section_gives_working_defaults_for_every_rule() -> None:
    s = AlertsSettings()
    for kind in CueKind:
        rule = s.rules.get(kind)
        assert rule.enabled and rule.triggers and rule.min_duration_s > 0 and rule.cooldown_s > 0


def test_a_partial_table_keeps_the_rules_other_defaults() -> None:
    doc = tomllib.loads("""
        language = "de"
        [rules.trunk_lean]
        cooldown_s = 120
        [metrics.impact_g]
        weight = 0.5
    """)
    s = AlertsSettings.model_validate(doc)
    assert s.rules.trunk_lean.cooldown_s == 120
    assert s.rules.trunk_lean.triggers == AlertsSettings().rules.trunk_lean.triggers
    assert s.rules.trunk_lean.priority == AlertsSettings().rules.trunk_lean.priority
    assert s.metrics.impact_g.weight == 0.5 and s.metrics.impact_g.unit == "percent"


@pytest.mark.parametrize("doc", [
    {"rules": {"impact": {"triggers": {"impact": 10}}}},
    {"phrases": {"lean": "Up!"}},
    {"rules": {"trunk_lean": {"cooldown": 10}}},
    {"max_cues_per_minute": 0},
])
def test_invalid_settings_are_rejected_with_the_key_named(doc) -> None:
    with pytest.raises(ValidationError) as err:
        AlertsSettings.model_validate(doc)
    assert any(part in str(err.value) for part in ("impact", "lean", "cooldown", "max_cues_per_minute"))


def test_every_shipped_language_has_every_phrase() -> None:
    langs = available_languages()
    assert {"en", "de"} <= set(langs)
    for lang in langs:
        book = load_phrasebook(lang)
        assert set(book.phrases) == set(CueKind) and book.voice


def test_cues_are_worded_in_the_configured_language_and_overrides_win() -> None:
    s = AlertsSettings(language="de", phrases={"impact": "Leise laufen"})
    engine = CueEngine("r1", s)
    items = rolling_stream(StreamSpec(1300, [Drift("trunk_lean_deg", 900, 4.0), Drift("impact_g", 900, 30.0)],
                                      noise_scale=0.0))
    cues = [r for it in items for r in engine.update(it) if isinstance(r, Cue)]
    texts = {c.kind: c.text for c in cues}
    assert texts[CueKind.TRUNK_LEAN] == "Aufrecht laufen"
    assert texts[CueKind.IMPACT] == "Leise laufen"
    assert all(c.language == "de" for c in cues)


def test_a_phrase_book_can_be_a_users_own_file(tmp_path) -> None:
    path = tmp_path / "nl.toml"
    path.write_text('language = "nl"\nvoice = "nl"\n[phrases]\n' + "".join(
        f'{k.value} = "{k.value} nl"\n' for k in CueKind), encoding="utf-8")
    assert load_phrasebook(str(path)).text(CueKind.FATIGUE) == "fatigue nl"


def test_unknown_or_incomplete_phrase_books_are_clear_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"no phrase book for 'xx'.*shipped: de, en"):
        load_phrasebook("xx")
    bad = tmp_path / "bad.toml"
    bad.write_text('[phrases]\ntrunk_lean = "Up"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="missing phrases for overstride"):
        load_phrasebook(str(bad))
