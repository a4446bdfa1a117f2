"""Bounded channels: each overflow policy does what it says and counts it."""

import asyncio

import pytest

from sensorkit.pipeline.channel import Channel, ChannelClosed, OverflowPolicy


async def test_drop_oldest_keeps_the_newest_items_and_counts_drops() -> None:
    dropped: list[int] = []
    ch: Channel[int] = Channel("t", 3, OverflowPolicy.DROP_OLDEST, on_drop=dropped.append)
    for i in range(5):
        ch.send_nowait(i)
    ch.close()
    assert [x async for x in ch] == [2, 3, 4]
    assert dropped == [0, 1]
    st = ch.stats()
    assert (st.sent, st.received, st.dropped, st.max_fill) == (5, 3, 2, 3)


async def test_drop_newest_keeps_the_oldest_items() -> None:
    ch: Channel[int] = Channel("t", 2, OverflowPolicy.DROP_NEWEST)
    assert [ch.send_nowait(i) for i in range(4)] == [True, True, False, False]
    ch.close()
    assert [x async for x in ch] == [0, 1]
    assert ch.stats().dropped == 2


async def test_block_waits_for_room_and_loses_nothing() -> None:
    ch: Channel[int] = Channel("t", 2, OverflowPolicy.BLOCK)
    received: list[int] = []

    async def consumer() -> None:
        async for x in ch:
            received.append(x)
            await asyncio.sleep(0)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(consumer())
        for i in range(50):
            await ch.send(i)
            assert len(ch) <= 2
        ch.close()
    assert received == list(range(50))
    assert ch.stats().dropped == 0


async def test_block_policy_send_nowait_on_full_raises() -> None:
    ch: Channel[int] = Channel("t", 1, OverflowPolicy.BLOCK)
    ch.send_nowait(1)
    with pytest.raises(asyncio.QueueFull):
        ch.send_nowait(2)


async def test_closed_channel_drains_then_ends_and_refuses_sends() -> None:
    ch: Channel[int] = Channel("t", 4)
    ch.send_nowait(1)
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.send_nowait(2)
    assert [x async for x in ch] == [1]


def test_only_a_full_blocking_channel_would_make_send_wait() -> None:
    block: Channel[int] = Channel("b", 1, OverflowPolicy.BLOCK)
    drop: Channel[int] = Channel("d", 1, OverflowPolicy.DROP_NEWEST)
    assert not block.would_block() and not drop.would_block()
    block.send_nowait(1)
    drop.send_nowait(1)
    assert block.would_block()
    assert not drop.would_block()  # a dropping channel never waits
    assert block.receive_nowait() == [1]
    assert not block.would_block()
