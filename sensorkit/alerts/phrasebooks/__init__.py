"""Cue phrase books, one TOML file per language (data, not code)."""
