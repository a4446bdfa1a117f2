"""``sensorkit export REC --influx URL``: a recording lands in a real influxd point for point."""

from __future__ import annotations

import asyncio

import pytest

from sensorkit.cli.main import main
from sensorkit.model import BusItem
from sensorkit.pipeline.channel import Channel, OverflowPolicy
from sensorkit.store.recording import RecordingReader
from sensorkit.store.recording.sink import RecordingSink
from tests.support.influx_data import expected_points, make_info, make_items
from tests.support.influx_readback import influx_points
from tests.support.servers import free_port

pytestmark = pytest.mark.servers


def record(path, info, items) -> None:
    async def go() -> None:
        sink = RecordingSink(path, info)
        channel: Channel[BusItem] = Channel("rec", 64, OverflowPolicy.BLOCK)

        async def feed() -> None:
            for item in items:
                if isinstance(item, sink.accepts):
                    await channel.send(item)
            channel.close()

        async with sink, asyncio.TaskGroup() as tg:
            tg.create_task(feed())
            tg.create_task(sink.consume(channel))

    asyncio.run(go())


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    info = make_info(session_id="recorded-run")
    path = tmp_path_factory.mktemp("rec") / "run.skrec"
    record(path, info, make_items(info, duration_s=3.0))
    return path


def test_export_writes_what_the_recording_holds(influxd, recording, tmp_path, monkeypatch, capsys) -> None:
    influxd.query('CREATE DATABASE "exported"')
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))  # keep the spool folder inside the test
    code = main(["export", str(recording), "--influx", influxd.url, "--api", "v1", "--database", "exported"])
    assert code == 0
    with RecordingReader(recording) as reader:
        items: list = [r for t in reader.tables for r in reader.records(t)]
        items += [reader.samples(sid) for sid in reader.sensor_ids]
        want = expected_points(reader.info, items)
    got = influx_points(influxd, "exported")
    assert got == want
    out = capsys.readouterr().out
    assert f"{len(want)} points" in out and "database 'exported'" in out


def test_export_settings_can_come_from_the_config_file(influxd, recording, tmp_path, monkeypatch) -> None:
    influxd.query('CREATE DATABASE "fromconfig"')
    conf = tmp_path / "sensorkit.toml"
    conf.write_text(f'[influx]\napi = "v1"\nurl = "{influxd.url}"\ndatabase = "fromconfig"\n'
                    f'raw_imu = "off"\nspool_dir = "{tmp_path / "spool"}"\n')
    assert main(["export", str(recording), "--config", str(conf), "--influx"]) == 0
    got = influx_points(influxd, "fromconfig")
    assert got and not any(k[0] == "imu" for k in got)


def test_export_to_a_missing_database_says_so_and_fails(
        influxd, recording, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    code = main(["export", str(recording), "--influx", influxd.url, "--api", "v1", "--database", "nope"])
    assert code == 1
    assert "database 'nope' does not exist" in capsys.readouterr().err


def test_export_to_a_server_that_is_down_fails_instead_of_spooling(recording, tmp_path, monkeypatch,
                                                                   capsys) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    code = main(["export", str(recording), "--influx", f"http://127.0.0.1:{free_port()}", "--api", "v1"])
    assert code == 1
    assert "cannot connect" in capsys.readouterr().err


def test_export_without_a_target_is_a_usage_error(recording) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["export", str(recording)])
    assert exc.value.code == 2


def test_a_bad_setting_names_the_key(recording, capsys) -> None:
    code = main(["export", str(recording), "--influx", "localhost:8086"])
    assert code == 2
    assert "url" in capsys.readouterr().err


def test_every_record_type_of_the_session_is_exported(recording) -> None:
    # Guard for the test above: the recording really holds records of every kind the schema maps.
    with RecordingReader(recording) as reader:
        tables = set(reader.tables)
    assert {"steps", "rolling", "cues", "fatigue", "health", "markers", "events"} <= tables
    info = make_info()
    assert expected_points(info, make_items(info, 1.0))  # non-empty reference
