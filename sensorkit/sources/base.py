"""The one source interface: BLE pods, phones, the simulator and replay all look like this.

A source is an async context manager (it owns its connection, file or task) that yields
:data:`sensorkit.model.SourceItem` on the session's host timeline. The pipeline cannot tell
sources apart, so tests and replay exercise the exact path live data takes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from sensorkit.model import SensorInfo, SourceItem


@runtime_checkable
class Source(Protocol):
    """Yields sample blocks, gaps, speed readings and health for the sensors it lists.

    ``items()`` ends when the source is exhausted (a file, a finite simulation) and is
    cancelled by the session on shutdown; the source cleans up in ``__aexit__``.

    Data a source has already accepted (a reorder window, a notification queue, a message it
    acknowledged) must not be lost on shutdown: catch :class:`asyncio.CancelledError` inside
    ``items()``, yield what is held, then re-raise. The session keeps taking items until then.
    """

    @property
    def sensors(self) -> Sequence[SensorInfo]: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def items(self) -> AsyncIterator[SourceItem]: ...
