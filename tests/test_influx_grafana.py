"""The Grafana dashboards: InfluxQL queries return data from a real influxd; Flux reads the same schema."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sensorkit.store.influx import InfluxSettings, InfluxSink
from tests.support.influx_data import make_info, make_items
from tests.support.influx_readback import write_items

GRAFANA = Path(__file__).resolve().parents[1] / "grafana"


def load(flavour: str) -> dict:
    return json.loads((GRAFANA / f"sensorkit-{flavour}.json").read_text())


def targets(dash: dict) -> list[tuple[str, str]]:
    """(where, query) of every query in a dashboard: panels, variables and annotations."""
    out = [(p["title"], t["query"]) for p in dash["panels"] for t in p.get("targets", [])]
    out += [(f"variable {v['name']}", v["query"]) for v in dash["templating"]["list"] if v["type"] == "query"]
    out += [(f"annotation {a['name']}", a["query"]) for a in dash["annotations"]["list"]]
    return out


def test_the_committed_dashboards_are_what_the_builder_makes(tmp_path) -> None:
    subprocess.run([sys.executable, str(GRAFANA / "build_dashboards.py"), str(tmp_path)], check=True,
                   capture_output=True)
    for flavour in ("influxql", "flux"):
        name = f"sensorkit-{flavour}.json"
        assert (tmp_path / name).read_text() == (GRAFANA / name).read_text(), f"run build_dashboards.py ({name})"


def test_both_flavours_have_the_same_panels_and_every_panel_queries_something() -> None:
    ql, fx = load("influxql"), load("flux")
    assert [p["title"] for p in ql["panels"]] == [p["title"] for p in fx["panels"]]
    for p in ql["panels"]:
        assert p["type"] == "row" or p["targets"], p["title"]
    titles = {p["title"] for p in ql["panels"]}
    assert {"Runner overview", "Per-step metrics", "Fatigue and cues"} <= titles


@pytest.fixture(scope="module")
def written_session(influxd, tmp_path_factory):
    influxd.query('CREATE DATABASE "grafana"')
    info = make_info(session_id="grafana-demo")
    items = make_items(info, duration_s=8.0)
    settings = InfluxSettings(enabled=True, api="v1", url=influxd.url, database="grafana", raw_imu="off",
                              spool_dir=tmp_path_factory.mktemp("spool"))
    asyncio.run(write_items(InfluxSink(settings, info), items))
    return info


def grafana_macros(query: str, start_ns: int, end_ns: int) -> str:
    """What Grafana substitutes before sending a query (all runners, this session)."""
    return (query.replace("$timeFilter", f"time >= {start_ns} AND time <= {end_ns}")
            .replace("$__interval", "1s").replace("$runner", "(alice|bob)")
            .replace("$session", "grafana-demo"))


@pytest.mark.servers
@pytest.mark.parametrize("where, query", targets(load("influxql")), ids=lambda x: x[:40])
def test_every_influxql_query_returns_data(influxd, written_session, where, query) -> None:
    start_ns = int(written_session.start_unix_s * 1e9) - 60 * 10**9
    q = grafana_macros(query, start_ns, start_ns + 3600 * 10**9)
    result = influxd.query(q, db="grafana")["results"][0]
    assert "error" not in result, f"{where}: {result.get('error')}\n{q}"
    values = [v for s in result.get("series", []) for row in s["values"] for v in row[1:] if v is not None]
    assert values, f"{where} returned no data:\n{q}"


@pytest.mark.servers
def test_every_flux_field_exists_in_what_the_sink_writes(influxd, written_session) -> None:
    result = influxd.query("SHOW FIELD KEYS", db="grafana")["results"][0]
    written = {(s["name"], row[0]) for s in result["series"] for row in s["values"]}
    tags = influxd.query("SHOW TAG KEYS", db="grafana")["results"][0]
    written_tags = {row[0] for s in tags["series"] for row in s["values"]}
    for where, query in targets(load("flux")):
        measurements = re.findall(r'r\._measurement == "(\w+)"', query)
        fields = re.findall(r'r\._field == "(\w+)"', query)
        for m in measurements:
            for f in fields:
                assert (m, f) in written, f"{where}: {m}.{f} is never written"
        for tag in re.findall(r'r\.(\w+) =~', query) + re.findall(r'tag: "(\w+)"', query):
            assert tag in written_tags, f"{where}: tag {tag} is never written"
