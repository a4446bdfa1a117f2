"""Builds the two Grafana dashboards from one panel list, so InfluxQL and Flux never drift apart.

Run ``python grafana/build_dashboards.py [OUT_DIR]`` after changing a panel; it rewrites
``sensorkit-influxql.json`` (InfluxDB 1.x, or 2.x through its InfluxQL/DBRP endpoint) and
``sensorkit-flux.json`` (InfluxDB 2.x / Cloud with a Flux datasource). The schema they read is
docs/influxdb.md.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILTER_QL = '"runner" =~ /^$runner$/ AND "session" =~ /^$session$/'
FILTER_FLUX = "r.runner =~ /^${runner:regex}$/ and r.session =~ /^${session:regex}$/"


@dataclass(frozen=True)
class Panel:
    title: str
    measurement: str
    fields: tuple[str, ...]
    kind: str = "timeseries"  # timeseries | stat | gauge | table
    unit: str = "none"
    group_by: tuple[str, ...] = ("runner",)
    agg: str = "mean"
    width: int = 12
    height: int = 8
    extra: dict[str, object] = field(default_factory=dict)


ROWS: list[tuple[str, list[Panel]]] = [
    ("Runner overview", [
        Panel("Cadence", "rolling", ("cadence_spm",), "stat", "none", agg="last", width=4, height=5),
        Panel("Ground contact", "rolling", ("contact_time_ms",), "stat", "ms", agg="last", width=4, height=5),
        Panel("Speed", "rolling", ("speed_mps",), "stat", "velocityms", agg="last", width=4, height=5),
        Panel("Distance", "rolling", ("distance_m",), "stat", "lengthm", agg="last", width=4, height=5),
        Panel("Fatigue score", "fatigue", ("score",), "gauge", "none", agg="last", width=4, height=5,
              extra={"min": 0, "max": 100}),
        Panel("Balance (left share of contact)", "rolling", ("balance_left_pct",), "stat", "percent",
              agg="last", width=4, height=5),
        Panel("Cadence and speed (rolling, 1 Hz)", "rolling", ("cadence_spm", "speed_mps"), width=24),
    ]),
    ("Per-step metrics", [
        Panel("Ground contact and flight time", "steps", ("contact_time_ms", "flight_time_ms"), unit="ms",
              group_by=("runner", "side")),
        Panel("Impact and loading rate", "steps", ("impact_g", "loading_rate_gps"),
              group_by=("runner", "side")),
        Panel("Vertical oscillation", "steps", ("vertical_oscillation_cm",), unit="lengthcm"),
        Panel("Trunk lean at contact", "steps", ("trunk_lean_deg",), unit="degree"),
        Panel("Foot strike (share of steps)", "rolling", ("rearfoot_pct", "midfoot_pct", "forefoot_pct"),
              unit="percent"),
        Panel("Strike angle", "steps", ("strike_angle_deg",), unit="degree", group_by=("runner", "side")),
    ]),
    ("Fatigue and cues", [
        Panel("Fatigue score", "fatigue", ("score",), width=12),
        Panel("Posture (trunk lean)", "posture", ("trunk_lean_deg", "lateral_lean_deg"), unit="degree"),
        Panel("Cues spoken", "cues", ("text", "metric", "value", "baseline"), "table", group_by=("runner", "kind"),
              agg="raw", width=24),
    ]),
    ("Sensors", [
        Panel("Battery", "health", ("battery_pct",), unit="percent", group_by=("sensor",), agg="last", width=8),
        Panel("Lost samples", "health", ("lost_samples",), group_by=("sensor",), agg="max", width=8),
        Panel("Clock residual", "health", ("clock_residual_ms",), unit="ms", group_by=("sensor",), width=8),
    ]),
]


def influxql(p: Panel) -> list[dict[str, object]]:
    """One raw InfluxQL target per panel (fields as columns)."""
    if p.agg == "raw":
        cols = ", ".join(f'"{f}"' for f in p.fields) + ", " + ", ".join(f'"{t}"' for t in p.group_by)
        q = f'SELECT {cols} FROM "{p.measurement}" WHERE {FILTER_QL} AND $timeFilter ORDER BY time DESC LIMIT 200'
        return [{"refId": "A", "rawQuery": True, "resultFormat": "table", "query": q}]
    sel = ", ".join(f'{p.agg}("{f}") AS "{f}"' for f in p.fields)
    group = ", ".join(f'"{t}"' for t in p.group_by)
    if p.kind == "timeseries":
        group = f"time($__interval), {group}"
        tail = " fill(null)"
    else:
        tail = ""
    q = f'SELECT {sel} FROM "{p.measurement}" WHERE {FILTER_QL} AND $timeFilter GROUP BY {group}{tail}'
    alias = "$col " + " ".join(f"$tag_{t}" for t in p.group_by)
    return [{"refId": "A", "rawQuery": True, "resultFormat": "time_series", "query": q, "alias": alias}]


def flux(p: Panel) -> list[dict[str, object]]:
    fields = " or ".join(f'r._field == "{f}"' for f in p.fields)
    keep = ", ".join(f'"{c}"' for c in ("_time", "_value", "_field", *p.group_by))
    head = (f'from(bucket: "${{bucket}}")\n  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n'
            f'  |> filter(fn: (r) => r._measurement == "{p.measurement}" and ({fields}))\n'
            f"  |> filter(fn: (r) => {FILTER_FLUX})\n")
    if p.agg == "raw":
        q = (head + "  |> pivot(rowKey: [\"_time\"], columnKey: [\"_field\"], valueColumn: \"_value\")\n"
             "  |> group()\n  |> sort(columns: [\"_time\"], desc: true)\n  |> limit(n: 200)")
    elif p.kind == "timeseries":
        q = (head + f"  |> aggregateWindow(every: v.windowPeriod, fn: {p.agg}, createEmpty: false)\n"
             f"  |> keep(columns: [{keep}])")
    else:
        q = head + f"  |> {p.agg}()\n  |> keep(columns: [{keep}])"
    return [{"refId": "A", "query": q}]


def panel_json(p: Panel, pid: int, x: int, y: int, ds: dict[str, str], flavour: str) -> dict[str, object]:
    targets = influxql(p) if flavour == "influxql" else flux(p)
    for t in targets:
        t["datasource"] = ds
    defaults: dict[str, object] = {"unit": p.unit}
    defaults |= {k: v for k, v in p.extra.items()}
    out: dict[str, object] = {
        "id": pid, "type": p.kind, "title": p.title, "datasource": ds,
        "gridPos": {"h": p.height, "w": p.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": targets,
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
        if p.kind in ("stat", "gauge") else {},
    }
    return out


def dashboard(flavour: str) -> dict[str, object]:
    ds = {"type": "influxdb", "uid": "${DS}"}
    panels: list[dict[str, object]] = []
    pid, y = 1, 0
    for title, row in ROWS:
        panels.append({"id": pid, "type": "row", "title": title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        pid, y, x, row_h = pid + 1, y + 1, 0, 0
        for p in row:
            if x + p.width > 24:
                x, y, row_h = 0, y + row_h, 0
            panels.append(panel_json(p, pid, x, y, ds, flavour))
            pid, x, row_h = pid + 1, x + p.width, max(row_h, p.height)
        y += row_h
    if flavour == "influxql":
        runner_q = 'SHOW TAG VALUES FROM "rolling" WITH KEY = "runner"'
        session_q = 'SHOW TAG VALUES FROM "markers" WITH KEY = "session" WHERE "runner" =~ /^$runner$/'
        cue_ann = f'SELECT "text" FROM "cues" WHERE {FILTER_QL} AND $timeFilter'
        marker_ann = f'SELECT "kind" FROM "markers" WHERE {FILTER_QL} AND $timeFilter'
        extra_vars: list[dict[str, object]] = []
    else:
        runner_q = ('import "influxdata/influxdb/schema"\n'
                    'schema.tagValues(bucket: "${bucket}", tag: "runner", start: -30d)')
        session_q = ('import "influxdata/influxdb/schema"\nschema.tagValues(bucket: "${bucket}", tag: "session", '
                     'predicate: (r) => r.runner =~ /^${runner:regex}$/, start: -30d)')
        cue_ann = ('from(bucket: "${bucket}") |> range(start: v.timeRangeStart, stop: v.timeRangeStop)'
                   f' |> filter(fn: (r) => r._measurement == "cues" and r._field == "text" and {FILTER_FLUX})')
        marker_ann = ('from(bucket: "${bucket}") |> range(start: v.timeRangeStart, stop: v.timeRangeStop)'
                      f' |> filter(fn: (r) => r._measurement == "markers" and r._field == "kind" and {FILTER_FLUX})')
        extra_vars = [{"name": "bucket", "label": "Bucket", "type": "textbox", "query": "sensorkit",
                       "current": {"text": "sensorkit", "value": "sensorkit"}}]
    variables: list[dict[str, object]] = [
        {"name": "DS", "label": "Data source", "type": "datasource", "query": "influxdb",
         "regex": "", "current": {}},
        *extra_vars,
        {"name": "runner", "label": "Runner", "type": "query", "datasource": ds, "query": runner_q,
         "definition": runner_q, "multi": True, "includeAll": True, "refresh": 2, "sort": 1, "current": {}},
        {"name": "session", "label": "Session", "type": "query", "datasource": ds, "query": session_q,
         "definition": session_q, "multi": True, "includeAll": True, "refresh": 2, "sort": 2, "current": {}},
    ]
    annotations = [
        {"name": "Cues", "datasource": ds, "enable": True, "iconColor": "orange", "query": cue_ann,
         "target": {"query": cue_ann, "rawQuery": True, "refId": "Anno"}, "textColumn": "text"},
        {"name": "Session start/stop", "datasource": ds, "enable": True, "iconColor": "blue",
         "query": marker_ann, "target": {"query": marker_ann, "rawQuery": True, "refId": "Anno"},
         "textColumn": "kind"},
    ]
    lang = "InfluxQL (InfluxDB 1.x)" if flavour == "influxql" else "Flux (InfluxDB 2.x / Cloud)"
    return {
        "__inputs": [{"name": "DS", "label": "InfluxDB", "type": "datasource", "pluginId": "influxdb",
                      "pluginName": "InfluxDB", "description": f"An InfluxDB data source using {lang}"}],
        "uid": f"sensorkit-{flavour}",
        "title": f"sensorkit: runners ({'InfluxQL' if flavour == 'influxql' else 'Flux'})",
        "description": f"Live running form, per-step metrics, fatigue and cues written by sensorkit. Queries: {lang}.",
        "tags": ["sensorkit", "running"], "timezone": "browser", "editable": True, "graphTooltip": 1,
        "schemaVersion": 39, "version": 1, "refresh": "5s", "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": variables}, "annotations": {"list": annotations}, "panels": panels, "links": [],
    }


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for flavour in ("influxql", "flux"):
        path = out_dir / f"sensorkit-{flavour}.json"
        path.write_text(json.dumps(dashboard(flavour), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
