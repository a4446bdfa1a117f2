"""The event/metric bus: fans every item out to the sinks that asked for its type."""

from __future__ import annotations

from sensorkit.model import BusItem
from sensorkit.pipeline.channel import Channel, ChannelStats, OverflowPolicy


class Bus:
    """One bounded channel per subscriber; each subscriber's policy decides who waits.

    A BLOCK subscriber (the recording) applies backpressure to the runners; drop-policy
    subscribers (live views) never slow anything down.
    """

    def __init__(self) -> None:
        self._subs: list[tuple[tuple[type, ...], Channel[BusItem]]] = []
        self._routes: dict[type, tuple[tuple[Channel[BusItem], ...], tuple[Channel[BusItem], ...]]] = {}
        """Per item type: the channels that take it, and those of them that can make a sender wait."""

    def subscribe(
        self, name: str, accepts: tuple[type, ...], maxsize: int, policy: OverflowPolicy
    ) -> Channel[BusItem]:
        channel: Channel[BusItem] = Channel(f"sink:{name}", maxsize, policy)
        self._subs.append((accepts, channel))
        self._routes.clear()
        return channel

    def _route(self, cls: type) -> tuple[tuple[Channel[BusItem], ...], tuple[Channel[BusItem], ...]]:
        takers = tuple(channel for accepts, channel in self._subs if issubclass(cls, accepts))
        route = self._routes[cls] = (takers, tuple(c for c in takers if c.policy is OverflowPolicy.BLOCK))
        return route

    def offer(self, item: BusItem) -> bool:
        """Hand ``item`` to its subscribers now, unless one of them would make the sender wait.

        False: nothing was sent; ``await publish(item)`` then. A runner publishes a few hundred
        items a second, and most go through here without a coroutine.
        """
        takers, blocking = self._routes.get(type(item)) or self._route(type(item))
        if len(takers) == 1:  # the usual case: one sink takes it (the recording)
            return takers[0].offer(item)
        for channel in blocking:
            if channel.would_block():
                return False
        for channel in takers:
            channel.send_nowait(item)
        return True

    async def publish(self, item: BusItem) -> None:
        """Hand ``item`` to its subscribers, waiting for room where a BLOCK subscriber is full."""
        for channel in (self._routes.get(type(item)) or self._route(type(item)))[0]:
            if not channel.offer(item):
                await channel.send(item)

    def close(self) -> None:
        for _, channel in self._subs:
            channel.close()

    def stats(self) -> list[ChannelStats]:
        return [channel.stats() for _, channel in self._subs]
