"""Read a whole database back from real servers into the shape of ``expected_points``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from sensorkit.model import BusItem
from sensorkit.pipeline.channel import Channel
from sensorkit.store.influx.sink import InfluxSink
from tests.support.influx_data import Key
from tests.support.servers import InfluxD, VictoriaMetrics


def influx_points(server: InfluxD, db: str, where: str = "") -> dict[Key, dict[str, Any]]:
    """Every point of ``db`` via InfluxQL: (measurement, tags, ts ns) -> non-null fields."""
    result = server.query(f"SELECT * FROM /.*/ {where} GROUP BY *", db=db)["results"][0]
    assert "error" not in result, result
    out: dict[Key, dict[str, Any]] = {}
    for series in result.get("series", []):
        tags = tuple(sorted((k, v) for k, v in series.get("tags", {}).items() if v != ""))
        cols = series["columns"]
        for row in series["values"]:
            fields = {c: v for c, v in zip(cols[1:], row[1:], strict=True) if v is not None}
            out[(series["name"], tags, int(row[0]))] = fields
    return out


def vm_points(vm: VictoriaMetrics, match: str, expect: int, timeout_s: float = 20.0) -> dict[Key, float]:
    """Every sample matching ``match`` via /api/v1/export once ``expect`` samples are visible."""
    deadline = time.monotonic() + timeout_s
    while True:
        out: dict[Key, float] = {}
        for line in vm.export(match):
            metric = dict(line["metric"])
            name = metric.pop("__name__")
            tags = tuple(sorted(metric.items()))
            for v, t in zip(line["values"], line["timestamps"], strict=True):
                out[(name, tags, int(t))] = v
        if len(out) >= expect or time.monotonic() > deadline:
            return out
        time.sleep(0.25)


async def write_items(sink: InfluxSink, items: Sequence[BusItem], *, pace_s: float = 0.0) -> None:
    """Feed items to the sink the way the session's bus does (its own bounded channel)."""
    channel: Channel[BusItem] = Channel(f"sink:{sink.name}", sink.queue_size, sink.policy)

    async def feed() -> None:
        for i, item in enumerate(items):
            if isinstance(item, sink.accepts):
                channel.send_nowait(item)
            if pace_s and i % 50 == 0:
                await asyncio.sleep(pace_s)
            elif i % 500 == 0:
                await asyncio.sleep(0)
        channel.close()

    async with sink, asyncio.TaskGroup() as tg:
        tg.create_task(feed())
        tg.create_task(sink.consume(channel))
