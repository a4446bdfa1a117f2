"""The two seams of the pipeline besides sources: per-runner stages and sinks."""

from __future__ import annotations

from collections.abc import AsyncIterable
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from sensorkit.model import BusItem, Record
from sensorkit.pipeline.channel import OverflowPolicy


@runtime_checkable
class RecordStage(Protocol):
    """A pure, synchronous per-runner stage: metrics fusion, cue rules.

    ``update`` sees every item that reaches the runner (source items and the records of
    earlier stages) and returns new records; ``finish`` flushes at end of stream. Stages
    never await, so they run in the runner's task with no queue between them.
    """

    def update(self, item: BusItem) -> list[Record]: ...

    def finish(self) -> list[Record]: ...


@runtime_checkable
class Sink(Protocol):
    """Consumes bus items on its own bounded channel; an async context manager.

    ``accepts`` lists the item types it wants (others never reach its queue); ``policy`` and
    ``queue_size`` say what happens when it falls behind. ``consume`` returns when the bus
    closes and every queued item is handled; ``__aexit__`` flushes and releases resources.
    """

    name: str
    accepts: tuple[type, ...]
    policy: OverflowPolicy
    queue_size: int

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def consume(self, items: AsyncIterable[BusItem]) -> None: ...
