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

    def subscribe(
        self, name: str, accepts: tuple[type, ...], maxsize: int, policy: OverflowPolicy
    ) -> Channel[BusItem]:
        channel: Channel[BusItem] = Channel(f"sink:{name}", maxsize, policy)
        self._subs.append((accepts, channel))
        return channel

    async def publish(self, item: BusItem) -> None:
        for accepts, channel in self._subs:
            if isinstance(item, accepts):
                if channel.would_block():
                    await channel.send(item)
                else:
                    channel.send_nowait(item)

    def close(self) -> None:
        for _, channel in self._subs:
            channel.close()

    def stats(self) -> list[ChannelStats]:
        return [channel.stats() for _, channel in self._subs]
