"""Bounded channels with an explicit policy when full and counters anyone can read.

Every queue in sensorkit is one of these: the dashboard and status topic show their
``stats()`` so a slow sink or an overloaded host is visible, never silent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class OverflowPolicy(StrEnum):
    """What ``send`` does when the channel is full."""

    BLOCK = "block"
    """Wait for room: backpressure. For replay and for sinks that must not lose data."""
    DROP_OLDEST = "drop_oldest"
    """Discard the oldest item and count it. For live views where fresh beats complete."""
    DROP_NEWEST = "drop_newest"
    """Discard the new item and count it."""


class ChannelClosed(Exception):
    """Sending on a closed channel."""


@dataclass(frozen=True, slots=True)
class ChannelStats:
    name: str
    maxsize: int
    fill: int
    max_fill: int
    sent: int
    received: int
    dropped: int
    policy: OverflowPolicy


class Channel(Generic[T]):
    """A bounded FIFO for one consumer; iterate it with ``async for`` until closed and drained.

    ``on_drop`` is called (synchronously) with each discarded item so the owner can turn a
    lost sample block into a recorded gap.

    Waiting is done on plain futures, one per waiting task, woken all at once like an
    :class:`asyncio.Event`'s: a push only checks whether anyone waits, where an Event costs a
    Python call per item on each side (hundreds of items per second per runner).
    """

    def __init__(
        self,
        name: str,
        maxsize: int,
        policy: OverflowPolicy = OverflowPolicy.BLOCK,
        on_drop: Callable[[T], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.name = name
        self.maxsize = maxsize
        self.policy = policy
        self._blocks = policy is OverflowPolicy.BLOCK  # read per item: an enum member read costs ~10x a bool
        self._on_drop = on_drop
        self._items: collections.deque[T] = collections.deque()
        self._closed = False
        self._readers: list[asyncio.Future[None]] = []  # waiting for an item (or the close)
        self._writers: list[asyncio.Future[None]] = []  # waiting for room (or the close)
        self._sent = self._received = self._dropped = self._max_fill = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> ChannelStats:
        return ChannelStats(self.name, self.maxsize, len(self._items), self._max_fill,
                            self._sent, self._received, self._dropped, self.policy)

    def _push(self, item: T) -> None:
        items = self._items
        items.append(item)
        self._sent += 1
        fill = len(items)
        if fill > self._max_fill:
            self._max_fill = fill
        if self._readers:
            _wake(self._readers)

    def _drop(self, item: T) -> None:
        self._dropped += 1
        if self._on_drop is not None:
            self._on_drop(item)

    def send_nowait(self, item: T) -> bool:
        """Send without waiting; returns False if the item (or an older one) was dropped.

        With the BLOCK policy a full channel raises :class:`asyncio.QueueFull`.
        """
        if self._closed:
            raise ChannelClosed(self.name)
        items = self._items
        if len(items) < self.maxsize:
            self._push(item)
            return True
        if self.policy is OverflowPolicy.DROP_OLDEST:
            self._drop(items.popleft())
            self._push(item)
            return False
        if self.policy is OverflowPolicy.DROP_NEWEST:
            self._drop(item)
            return False
        raise asyncio.QueueFull(self.name)

    def offer(self, item: T) -> bool:
        """:meth:`send_nowait` unless :meth:`send` would wait; False then, and nothing was sent.

        The producer's fast path in one call: ``await send(item)`` only when this returns False.
        """
        items = self._items
        if len(items) >= self.maxsize:
            if self._blocks:
                return False
            self.send_nowait(item)  # drops and counts by the policy
            return True
        if self._closed:
            raise ChannelClosed(self.name)
        self._push(item)
        return True

    def would_block(self) -> bool:
        """Whether :meth:`send` would wait (a full channel under the BLOCK policy).

        When it would not, :meth:`send_nowait` does the same without the coroutine, which costs
        more than the push itself at hundreds of items per second.
        """
        return self._blocks and len(self._items) >= self.maxsize

    async def send(self, item: T) -> None:
        """Send, waiting for room only under the BLOCK policy."""
        while self.would_block():
            if self._closed:
                raise ChannelClosed(self.name)
            await _wait(self._writers)
        self.send_nowait(item)

    def close(self) -> None:
        """No more items will be sent; the consumer drains what is queued, then stops."""
        self._closed = True
        if self._readers:
            _wake(self._readers)
        if self._writers:
            _wake(self._writers)

    async def receive(self) -> T:
        """Next item; raises :class:`StopAsyncIteration` once closed and empty."""
        items = self._items
        while not items:
            if self._closed:
                raise StopAsyncIteration
            await _wait(self._readers)
        item = items.popleft()
        self._received += 1
        if self._writers and len(items) < self.maxsize:
            _wake(self._writers)
        return item

    def receive_nowait(self) -> list[T]:
        """Everything queued right now (possibly nothing), without waiting."""
        items = list(self._items)
        self._items.clear()
        self._received += len(items)
        if self._writers:
            _wake(self._writers)
        return items

    def __aiter__(self) -> AsyncIterator[T]:
        return _Items(self)

    def batches(self, limit: int | None = None) -> AsyncIterator[list[T]]:
        """``async for`` in lists: each wait for an item also takes what is queued behind it.

        Up to ``limit`` items per list (None: all). Taking them is what ``receive`` followed by
        ``receive_nowait`` does, in one step.
        """
        return _Batches(self, limit)


class _Items(AsyncIterator[T]):
    """``async for`` over a channel: one coroutine per item (an async generator costs two frames)."""

    __slots__ = ("_channel",)

    def __init__(self, channel: Channel[T]) -> None:
        self._channel = channel

    def __anext__(self) -> Awaitable[T]:
        return self._channel.receive()  # the coroutine itself: no second frame per item


class _Batches(AsyncIterator[list[T]]):
    __slots__ = ("_channel", "_limit")

    def __init__(self, channel: Channel[T], limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be >= 1")
        self._channel = channel
        self._limit = limit

    async def __anext__(self) -> list[T]:
        ch = self._channel
        items = ch._items
        while not items:
            if ch._closed:
                raise StopAsyncIteration
            await _wait(ch._readers)
        limit = self._limit
        if limit == 1:
            batch = [items.popleft()]
        elif limit is None or len(items) <= limit:
            batch = list(items)
            items.clear()
        else:
            batch = [items.popleft() for _ in range(limit)]
        ch._received += len(batch)
        if ch._writers and len(items) < ch.maxsize:
            _wake(ch._writers)
        return batch


def _wake(waiters: list[asyncio.Future[None]]) -> None:
    """Wake every waiting task, in the order they began to wait (as ``Event.set`` does)."""
    for fut in waiters:
        if not fut.done():
            fut.set_result(None)
    waiters.clear()


async def _wait(waiters: list[asyncio.Future[None]]) -> None:
    fut = asyncio.get_running_loop().create_future()
    waiters.append(fut)
    try:
        await fut
    finally:  # cancelled: leave the list (a wake-up clears it otherwise)
        if not fut.done() or fut.cancelled():
            with contextlib.suppress(ValueError):
                waiters.remove(fut)
