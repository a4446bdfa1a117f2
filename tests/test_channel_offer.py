"""The fast paths: ``Channel.offer`` and ``Bus.offer`` send at once or not at all; ``batches``.

The offers do what ``send``/``publish`` would do whenever that would not wait, and leave the
waiting case to them; ``batches`` hands over what ``receive`` then ``receive_nowait`` would;
cancelled waiters leave a channel usable.
"""

import asyncio

import pytest

from sensorkit.pipeline.bus import Bus
from sensorkit.pipeline.channel import Channel, ChannelClosed, OverflowPolicy


def test_offer_on_a_blocking_channel_sends_while_there_is_room_and_refuses_when_full() -> None:
    ch: Channel[int] = Channel("b", 2, OverflowPolicy.BLOCK)
    assert ch.offer(1) and ch.offer(2)
    assert not ch.offer(3)  # send() would wait: nothing sent, nothing counted
    st = ch.stats()
    assert (st.sent, st.fill, st.max_fill, st.dropped) == (2, 2, 2, 0)
    assert ch.receive_nowait() == [1, 2]
    assert ch.offer(3)
    assert ch.receive_nowait() == [3]


@pytest.mark.parametrize(("policy", "kept", "dropped"), [
    (OverflowPolicy.DROP_OLDEST, [2, 3], [1]),
    (OverflowPolicy.DROP_NEWEST, [1, 2], [3]),
])
def test_offer_on_a_dropping_channel_applies_its_policy(policy: OverflowPolicy, kept: list[int],
                                                         dropped: list[int]) -> None:
    lost: list[int] = []
    ch: Channel[int] = Channel("d", 2, policy, on_drop=lost.append)
    assert ch.offer(1) and ch.offer(2) and ch.offer(3)  # a dropping channel never makes anyone wait
    assert ch.receive_nowait() == kept
    assert lost == dropped
    assert ch.stats().dropped == 1


def test_offer_on_a_closed_channel_raises() -> None:
    ch: Channel[int] = Channel("c", 2)
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.offer(1)


async def test_a_full_closed_blocking_channel_refuses_the_offer_and_send_raises() -> None:
    ch: Channel[int] = Channel("c", 1)
    ch.offer(1)
    ch.close()
    assert not ch.offer(2)
    with pytest.raises(ChannelClosed):
        await ch.send(2)


async def test_bus_offer_is_all_or_nothing_across_subscribers() -> None:
    bus = Bus()
    view = bus.subscribe("view", (int,), 4, OverflowPolicy.DROP_OLDEST)
    rec = bus.subscribe("rec", (int,), 1, OverflowPolicy.BLOCK)
    other = bus.subscribe("other", (str,), 4, OverflowPolicy.BLOCK)
    assert bus.offer(1)
    assert not bus.offer(2)  # rec is full: nobody gets 2 yet
    assert (len(view), len(rec), len(other)) == (1, 1, 0)
    assert bus.offer("s") and len(other) == 1  # other types go their own way

    async def drain() -> None:
        await asyncio.sleep(0)
        rec.receive_nowait()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(drain())
        await bus.publish(2)  # waits for room in rec, then both have it
    assert view.receive_nowait() == [1, 2]
    assert rec.receive_nowait() == [2]


async def test_a_cancelled_receiver_leaves_the_channel_usable() -> None:
    ch: Channel[int] = Channel("r", 2)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await ch.receive()
    ch.send_nowait(7)
    assert await ch.receive() == 7
    waiting = asyncio.ensure_future(anext(aiter(ch)))
    await asyncio.sleep(0)
    ch.send_nowait(8)
    assert await waiting == 8


async def test_a_cancelled_sender_leaves_the_channel_usable() -> None:
    ch: Channel[int] = Channel("s", 1)
    await ch.send(1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await ch.send(2)
    assert ch.receive_nowait() == [1]

    async def late_reader() -> None:
        await asyncio.sleep(0)
        assert await ch.receive() == 3

    async with asyncio.TaskGroup() as tg:
        tg.create_task(late_reader())
        await ch.send(3)
        await ch.send(4)  # waits for late_reader's receive
    assert ch.receive_nowait() == [4]
    assert ch.stats().sent == 3


async def test_batches_take_what_is_queued_behind_the_first_item_and_wake_waiting_senders() -> None:
    ch: Channel[int] = Channel("b", 3)
    got: list[list[int]] = []

    async def consumer() -> None:
        async for batch in ch.batches():
            got.append(batch)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(consumer())
        for i in range(3):
            ch.send_nowait(i)
        await ch.send(3)  # full: waits until the consumer takes the batch
        await asyncio.sleep(0)
        ch.close()
    assert got == [[0, 1, 2], [3]]
    st = ch.stats()
    assert (st.sent, st.received, st.max_fill, st.fill) == (4, 4, 3, 0)


async def test_batches_of_at_most_limit_items() -> None:
    ch: Channel[int] = Channel("l", 8)
    for i in range(5):
        ch.send_nowait(i)
    ch.close()
    assert [b async for b in ch.batches(2)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="limit"):
        ch.batches(0)
