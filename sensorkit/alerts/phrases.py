"""Cue wording per language, loaded from TOML phrase books shipped as package data.

A phrase book is ``sensorkit/alerts/phrasebooks/<language>.toml`` (or any TOML file given by
path) with a ``voice`` for espeak-ng and a ``[phrases]`` table with one entry per cue kind.
Adding a language is adding a file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sensorkit.errors import ConfigError
from sensorkit.model import CueKind


@dataclass(frozen=True, slots=True)
class PhraseBook:
    language: str
    voice: str
    phrases: dict[CueKind, str]

    def text(self, kind: CueKind) -> str:
        return self.phrases[kind]


def available_languages() -> list[str]:
    root = resources.files("sensorkit.alerts.phrasebooks")
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


def load_phrasebook(language: str, overrides: dict[str, str] | None = None) -> PhraseBook:
    """The phrase book for ``language`` (a shipped code or a path to a TOML file)."""
    if language.endswith(".toml"):
        path = Path(language)
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"alerts.language: cannot read phrase book {path}: {exc}") from exc
        where = str(path)
    else:
        res = resources.files("sensorkit.alerts.phrasebooks").joinpath(f"{language}.toml")
        if not res.is_file():
            raise ConfigError(f"alerts.language: no phrase book for {language!r} "
                              f"(shipped: {', '.join(available_languages())}; or give a .toml path)")
        raw = res.read_text(encoding="utf-8")
        where = f"{language}.toml"
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"phrase book {where}: {exc}") from exc
    table = {**doc.get("phrases", {}), **(overrides or {})}
    missing = [k.value for k in CueKind
               if not isinstance(table.get(k.value), str) or not table[k.value].strip()]
    if missing:
        raise ConfigError(f"phrase book {where}: missing phrases for {', '.join(missing)}")
    lang = str(doc.get("language", language))
    return PhraseBook(lang, str(doc.get("voice", lang)), {k: table[k.value].strip() for k in CueKind})
