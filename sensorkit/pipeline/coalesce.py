"""Coalescing a runner's backlog: consecutive blocks of one sensor become one block.

A runner's stages cost mostly per call, not per sample: an 8-sample block costs nearly what a
1-s block does. When the host falls behind, a runner finds several blocks of each pod queued;
processing each pod's queued blocks as one block lets it catch up at a fraction of the cost,
so an overload shortens its own backlog instead of growing it. The records do not change: the
metrics stage is block-invariant for blocks up to half its ``stale_s`` (the replay grid relies
on the same property), and the span of a joined block is capped below that.

Only what is already queued is joined: on a host that keeps up every block goes through alone
and nothing waits for more data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sensorkit.model import SampleBlock

T = TypeVar("T")


def _joinable(last: SampleBlock, block: SampleBlock, first_start_s: float, max_span_s: float) -> bool:
    return (block.end_s - first_start_s <= max_span_s
            and block.start_s > last.end_s  # time keeps increasing inside the joined block
            and (block.gyr_dps is None) is (last.gyr_dps is None)
            and (block.mag_ut is None) is (last.mag_ut is None))


def coalesce(items: Sequence[T], max_span_s: float) -> tuple[list[T | SampleBlock], int]:
    """``items`` with each sensor's consecutive sample blocks joined, and how many were absorbed.

    A joined block takes the place of its last block: the order in which the data became known,
    as the replay grid orders its blocks. Any other item of the same sensor (a gap, a speed
    reading, health) ends the run, as do empty blocks, time going backwards, a change of
    channels and a span over ``max_span_s``; items of other sensors in between do not, since
    every stage keeps per-sensor state and orders sensors by data time.
    """
    # Most backlogs hold at most one block per sensor (a replay's grid tick: one per pod): then
    # nothing can join, and the item-by-item bookkeeping below would only rebuild the list.
    seen: set[str] = set()
    for item in items:
        if isinstance(item, SampleBlock):
            if item.sensor_id in seen:
                break
            seen.add(item.sensor_id)
    else:
        return list(items), 0
    slots: list[T | SampleBlock | None] = []
    runs: list[tuple[list[int], list[SampleBlock]]] = []  # (the blocks' slots, the blocks)
    open_run: dict[str, tuple[list[int], list[SampleBlock]]] = {}
    for item in items:
        sid = getattr(item, "sensor_id", None)
        if not isinstance(item, SampleBlock) or not len(item):
            if isinstance(sid, str):
                open_run.pop(sid, None)
            slots.append(item)
            continue
        run = open_run.get(item.sensor_id)
        if run is None or not _joinable(run[1][-1], item, run[1][0].start_s, max_span_s):
            run = open_run[item.sensor_id] = ([], [])
            runs.append(run)
        run[0].append(len(slots))
        run[1].append(item)
        slots.append(item)
    absorbed = 0
    for where, blocks in runs:
        if len(blocks) > 1:
            for i in where[:-1]:
                slots[i] = None
            slots[where[-1]] = SampleBlock.concat(blocks)
            absorbed += len(blocks) - 1
    return [x for x in slots if x is not None], absorbed
