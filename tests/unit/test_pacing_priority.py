"""One rate budget per process, reminders first: the slot order, without a clock (time is a number the test
moves), and the split of Discord's global budget over the processes' shards."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.core.sharding import ShardPlan, budget_share, slot_grid
from bot.delivery.pacing import GLOBAL_LIMIT, PROCESS_RATE, Priority, RateGate, SlotQueue


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


def test_a_process_that_owns_every_shard_uses_every_slot() -> None:
    time = FakeTime()
    gate = RateGate(PROCESS_RATE, now=time, sleep=time.sleep)
    assert gate.grid_rate == PROCESS_RATE
    assert [gate.next_slot(t / PROCESS_RATE) for t in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="subset"):
        RateGate(10.0, positions=4, owned=frozenset({5}))
