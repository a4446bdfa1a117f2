"""The publisher's own bounded queues: drop the oldest when full, count everything."""

from __future__ import annotations

import collections
from typing import Generic, TypeVar

from sensorkit.mqtt.schema import QueueStatus
from sensorkit.pipeline.channel import OverflowPolicy

T = TypeVar("T")


class DropOldest(Generic[T]):
    """A bounded FIFO that discards its oldest item when full, with ChannelStats-like counters."""

    def __init__(self, name: str, maxsize: int) -> None:
        self.name, self.maxsize = name, maxsize
        self._items: collections.deque[T] = collections.deque()
        self.sent = self.received = self.dropped = self.max_fill = 0

    def __len__(self) -> int:
        return len(self._items)

    def push(self, item: T) -> None:
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self.sent += 1
        self.max_fill = max(self.max_fill, len(self._items))

    def push_front(self, item: T) -> None:
        self._items.appendleft(item)

    def pop(self) -> T | None:
        if not self._items:
            return None
        self.received += 1
        return self._items.popleft()

    def status(self) -> QueueStatus:
        return QueueStatus(name=self.name, maxsize=self.maxsize, fill=len(self._items),
                           max_fill=self.max_fill, sent=self.sent, received=self.received,
                           dropped=self.dropped,
                           policy=OverflowPolicy.DROP_OLDEST.value)
