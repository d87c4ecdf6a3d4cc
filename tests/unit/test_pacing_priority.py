"""One rate budget per process, reminders first: the slot order, without a clock (time is a number the test
moves), and the split of Discord's global budget over the processes' shards."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from bot.core.sharding import ShardPlan, budget_share, slot_grid
from bot.delivery.pacing import GLOBAL_LIMIT, PROCESS_RATE, Priority, RateGate, SlotQueue, note_sent, pacing_trace


class FakeTime:
    """`now`/`sleep` for the gate: a sleep moves the number and lets every other ready task run once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_reminders_leave_the_queue_before_events_whatever_the_arrival_order() -> None:
    queue: SlotQueue[str] = SlotQueue()
    queue.push(Priority.EVENT, "event 1")
    queue.push(Priority.REMINDER, "reminder 1")
    queue.push(Priority.EVENT, "event 2")
    queue.push(Priority.REMINDER, "reminder 2")
    assert queue.waiting(Priority.EVENT) == 2 and queue.waiting(Priority.REMINDER) == 2
    assert [queue.pop() for _ in range(len(queue))] == ["reminder 1", "reminder 2", "event 1", "event 2"]


async def test_events_wait_while_reminders_are_queued() -> None:
    time = FakeTime()
    gate = RateGate(10.0, now=time, sleep=time.sleep)
    order: list[str] = []

    async def take(priority: Priority, name: str) -> None:
        await gate.wait(priority)
        order.append(name)

    await gate.wait(Priority.REMINDER)  # the slot at 0.0 is taken: the next comes up at 0.1
    event = asyncio.create_task(take(Priority.EVENT, "event"))
    await asyncio.sleep(0)  # the event call waits for the next slot…
    assert gate.waiting(Priority.EVENT) == 1
    reminders = [asyncio.create_task(take(Priority.REMINDER, f"reminder {i}")) for i in range(3)]
    await asyncio.gather(event, *reminders)
    # …and the reminders queued while it waited take that slot and the ones after it first.
    assert order == ["reminder 0", "reminder 1", "reminder 2", "event"]
    assert gate.granted == {Priority.REMINDER: 4, Priority.EVENT: 1}
    assert time.now == pytest.approx(0.4)  # one slot each, at the gate's rate: no slot lost to the reordering


async def test_an_event_alone_is_not_held_back() -> None:
    time = FakeTime()
    gate = RateGate(10.0, now=time, sleep=time.sleep)
    await gate.wait(Priority.EVENT)
    await gate.wait(Priority.EVENT)
    assert time.now == pytest.approx(0.1)  # the budget is the events' when no reminder waits


async def test_a_cancelled_waiter_gives_its_slot_to_the_next() -> None:
    time = FakeTime()
    gate = RateGate(10.0, now=time, sleep=time.sleep)
    await gate.wait()
    gone = asyncio.create_task(gate.wait(Priority.REMINDER))
    await asyncio.sleep(0)
    gone.cancel()
    await gate.wait(Priority.EVENT)
    assert time.now == pytest.approx(0.1)
    assert gate.granted == {Priority.REMINDER: 1, Priority.EVENT: 1}


def test_the_processes_shares_add_up_to_the_whole_budget() -> None:
    assert GLOBAL_LIMIT == 50.0
    assert 47.6 <= PROCESS_RATE < GLOBAL_LIMIT  # within 5% of the limit: 1,000 posts take ≤ 1.05 × 20 s
    assert budget_share(None, PROCESS_RATE) == PROCESS_RATE
    shares = [budget_share(ShardPlan(ids, 8), PROCESS_RATE) for ids in [(0, 1, 2, 3), (4, 5), (6,), (7,)]]
    assert shares[0] == pytest.approx(PROCESS_RATE / 2)
    assert sum(shares) == pytest.approx(PROCESS_RATE)


async def _starts(gate: RateGate, time: FakeTime, count: int) -> list[float]:
    starts = []
    for _ in range(count):
        await gate.wait()
        starts.append(time.now)
    return starts


@pytest.mark.parametrize("layout", [[(0, 1), (2, 3), (4, 5), (6, 7)], [(0, 1, 2, 3), (4, 5), (6,), (7,)]])
async def test_processes_with_disjoint_shards_take_turns_and_never_exceed_the_budget_together(
    layout: list[tuple[int, ...]],
) -> None:
    # Every process paces at its share, and on its own that is enough only on average: four processes at 12/s
    # each, started at unrelated instants, can put 13 starts each in one second (52 > 50, a 429). On the one
    # grid of slots they interleave, so all of them together start at most ⌈48⌉ + 1 = 49 in any second.
    starts: list[float] = []
    for offset, ids in enumerate(layout):
        plan = ShardPlan(ids, 8)
        time = FakeTime()
        time.now = 1_000.0 + offset * 0.0137  # processes start at unrelated instants
        positions, owned = slot_grid(plan)
        gate = RateGate(budget_share(plan, PROCESS_RATE), positions=positions, owned=owned, now=time, sleep=time.sleep)
        starts += await _starts(gate, time, int(5 * gate.rate))
    starts.sort()
    assert len(set(starts)) == len(starts)  # no two processes ever share a slot
    busiest = max(sum(1 for s in starts if start <= s <= start + 1.0) for start in starts)
    assert busiest <= 49 < GLOBAL_LIMIT
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) == pytest.approx(1 / PROCESS_RATE, rel=1e-6)  # evenly spread over the whole bot


async def test_a_process_that_owns_every_shard_uses_every_slot() -> None:
    time = FakeTime()
    gate = RateGate(PROCESS_RATE, now=time, sleep=time.sleep)
    assert gate.grid_rate == PROCESS_RATE and gate.cap == 48
    assert await _starts(gate, time, 5) == pytest.approx([t / PROCESS_RATE for t in range(5)])
    with pytest.raises(ValueError, match="subset"):
        RateGate(10.0, positions=4, owned=frozenset({5}))


async def _late_writes(gate: RateGate, time: FakeTime, rng: random.Random, per_sender: int) -> list[float]:
    """Four send workers through `gate` on a busy loop; returns when each request was written."""
    written: list[float] = []

    async def sender() -> None:
        for _ in range(per_sender):
            async with gate.slot():
                for _ in range(rng.randint(0, 3)):  # the request's own way to the socket, on the busy loop
                    await asyncio.sleep(0)
                note_sent()  # its headers are written now
                written.append(time.now)

    async def busy_loop(until: asyncio.Future[list[None]]) -> None:
        while not until.done():
            if rng.random() < 0.3:
                time.now += rng.uniform(0.0, 0.06)  # a stretch of other work before the loop comes back
            await asyncio.sleep(0)

    everyone = asyncio.gather(*(sender() for _ in range(4)))  # a queue, as the send workers keep it
    await asyncio.gather(everyone, busy_loop(everyone))
    return sorted(written)


async def test_late_writes_never_put_more_than_the_cap_in_any_second() -> None:
    # A busy event loop resumes a granted caller late, and its request reaches the socket later still: loop
    # work of 0–60 ms runs between the grant and the write. Stamped as granted, four processes at 12/s would
    # look perfect; written late, a request lands next to the following on-time one. The window counts
    # requests when they are written.
    rng = random.Random(7)
    writes: list[float] = []
    for offset, ids in enumerate([(0, 1), (2, 3), (4, 5), (6, 7)]):
        plan = ShardPlan(ids, 8)
        time = FakeTime()
        time.now = 1_000.0 + offset * 0.0137
        positions, owned = slot_grid(plan)
        gate = RateGate(budget_share(plan, PROCESS_RATE), positions=positions, owned=owned, now=time, sleep=time.sleep)
        assert gate.cap == 12
        own = await _late_writes(gate, time, rng, 15)
        assert max(sum(1 for s in own if start <= s < start + 1.0) for start in own) <= gate.cap
        # The rate is kept but for the delays: this loop holds each request ~40 ms on average before it is
        # written, and a slot freed by a write comes back a second after that write.
        assert own[-1] - own[0] <= (len(own) / gate.rate) * 1.3
        writes += own
    writes.sort()
    assert max(sum(1 for s in writes if start <= s < start + 1.0) for start in writes) <= 48


async def test_no_slot_is_granted_while_the_connection_is_held_and_the_hold_does_not_release_a_burst() -> None:
    # Discord's global 429 makes discord.py hold every request of the process for Retry-After. Slots granted
    # during the hold would all go out together when it ends; the gate grants none until it is over.
    time = FakeTime()
    over = asyncio.Event()
    over.set()
    gate = RateGate(10.0, now=time, sleep=time.sleep, held=lambda: None if over.is_set() else over.wait())
    starts: list[float] = []

    held = asyncio.Event()

    async def sender() -> None:
        for _ in range(20):
            await gate.wait()
            starts.append(time.now)
            if len(starts) == 5:
                over.clear()  # this request got the 429: held for a second
                held.set()

    async def release() -> None:
        await asyncio.wait_for(held.wait(), 5)
        held_at = time.now
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(starts) == 5  # nothing granted while held, however long the loop spins
        time.now = held_at + 1.0
        over.set()

    await asyncio.gather(sender(), release())
    assert starts[5] >= starts[4] + 1.0
    after = [s for s in starts if s >= starts[5]]
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(after))  # paced again, not a burst


async def test_a_request_is_stamped_when_it_goes_out() -> None:
    # The real HTTP path: an aiohttp session with the gate's trace, against a local server.
    from aiohttp import ClientSession, web

    from tests.unit.local_http import local_server

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/", hello)
    clock = FakeTime()
    gate = RateGate(5.0, now=clock, sleep=clock.sleep)
    async with local_server(app) as base, ClientSession(trace_configs=[pacing_trace()]) as session:
        async with gate.slot():
            clock.now = 0.5  # the loop was busy between the grant and the request
            async with session.get(f"{base}/") as response:
                assert await response.text() == "ok"
            clock.now = 0.9  # the slot ends later still: the request was seen, so this is not its stamp
        async with session.get(f"{base}/") as response:  # holds no slot: not counted
            await response.read()
        async with gate.slot():  # a body: stamped once, as its first chunk goes (with the headers)
            clock.now = 0.6
            async with session.post(f"{base}/", json={"content": "x" * 100}) as response:
                assert response.status == 200
            clock.now = 0.95
    assert list(gate._starts) == [0.5, 0.6]
    assert gate._unsent == 0
    assert gate.window_free(1.0) == 1.0 and gate.cap == 5
