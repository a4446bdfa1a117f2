"""Configuration: a wrong key or value is reported with the file, the key path and the value."""

from pathlib import Path

import pytest

from sensorkit.config import demo_config, load_config
from sensorkit.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "run.toml"
    p.write_text(text)
    return p


def test_the_embedded_demo_config_is_valid() -> None:
    cfg = demo_config()
    assert cfg.session.name


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""))
    assert cfg.recording.enabled and cfg.recording.directory == Path("recordings")
    assert cfg.runners == [] and cfg.simulator is None
    assert not cfg.mqtt.enabled and not cfg.influx.enabled


def test_a_bad_value_names_file_key_path_and_value(tmp_path: Path) -> None:
    p = write(tmp_path, '[[runners]]\nname = "ann"\nbody_mass_kg = -3\n')
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert str(p) in msg and "runners[0].body_mass_kg" in msg and "-3" in msg


def test_an_unknown_key_is_rejected_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"session\.recording_dri: unknown key"):
        load_config(write(tmp_path, '[session]\nrecording_dri = "x"\n'))


def test_duplicate_runner_names_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="repeated: ann"):
        load_config(write(tmp_path, '[[runners]]\nname = "ann"\n[[runners]]\nname = "ann"\n'))


def test_a_runner_name_that_would_break_topics_or_paths_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"runners\[0\]\.name = 'a/b'"):
        load_config(write(tmp_path, '[[runners]]\nname = "a/b"\n'))


def test_broken_toml_says_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        load_config(write(tmp_path, '[session]\nname = \n'))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "nope.toml")


def test_recording_can_be_switched_off(tmp_path: Path) -> None:
    assert not load_config(write(tmp_path, "[recording]\nenabled = false\n")).recording.enabled


def test_a_phone_belongs_to_the_runner_it_is_listed_under(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[[runners]]\nname = "ann"\n  [[runners.phones]]\napp = "hyperimu"\n'))
    assert cfg.runners[0].phones[0].runner == "ann"


def test_a_phone_error_names_only_the_chosen_apps_keys(tmp_path: Path) -> None:
    text = '[[runners]]\nname = "ann"\n  [[runners.phones]]\napp = "phyphox"\nwear = "ankle"\n'
    with pytest.raises(ConfigError, match=r"runners\[0\]\.phones\[0\]\.phyphox\.wear = 'ankle'"):
        load_config(write(tmp_path, text))
