"""TOML configuration: one validated model, errors that name the key and the value."""

from sensorkit.config.load import demo_config, load_config, parse_config
from sensorkit.config.schema import Config

__all__ = ["Config", "demo_config", "load_config", "parse_config"]
