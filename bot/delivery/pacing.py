"""Pacing of everything the bot posts on its own: one rate budget per process, reminders first.

Discord's global limit (50 requests/s) is per bot, across all its processes; interaction responses and
follow-ups are not bound to it, so the bot's own posts — reminders, notices, practice posts and server-event
calls — may use all of it. Each process paces at its shards' share of that budget
(`bot.core.sharding.budget_share`), and within a process one `RateGate` hands out the slots: whenever a slot
comes up, a waiting reminder or notice takes it before any waiting server-event call (events are not
time-critical; a reminder is).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time as wall_time
from collections.abc import Awaitable, Callable
from enum import IntEnum
from typing import Generic, TypeVar

# Discord's global limit: requests per second per bot, every process together.
GLOBAL_LIMIT = 50.0
# Discord counts requests as they arrive, in any one-second window; a request that is delayed on the way
# (a busy event loop, the network) and one that is not can land closer together than they were started.
# Pacing a little under the limit keeps such pairs inside it: 50 starts span 1.04 s instead of 1.0 s.
JITTER_HEADROOM = 0.96


class Priority(IntEnum):
    """Who takes a free slot first (lower goes first)."""

    REMINDER = 0  # reminders, cancellation notices, practice posts: due at a minute
    EVENT = 1  # server-event creates, edits, deletes and listings: kept up to date eventually


T = TypeVar("T")


class SlotQueue(Generic[T]):
    """The waiters for a slot, best first: by priority, then in arrival order. Pure (no clock, no loop)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, T]] = []
        self._order = itertools.count()

    def push(self, priority: Priority, item: T) -> None:
        heapq.heappush(self._heap, (int(priority), next(self._order), item))

    def pop(self) -> T:
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return len(self._heap)

    def waiting(self, priority: Priority) -> int:
        return sum(1 for p, _, _ in self._heap if p == priority)


class RateGate:
    """At most `rate` starts per second for the whole process, handed out by priority.

    `wait(priority)` returns when the caller may start its request. The slot is chosen when it comes up, not
    when the caller arrives: a reminder queued while an event call waits for the next slot still goes first.
    `now` and `sleep` are injectable so the order can be tested without a clock."""

    def __init__(
        self,
        rate: float,
        *,
        positions: int = 1,
        owned: frozenset[int] | None = None,
        now: Callable[[], float] = wall_time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        owned = frozenset(range(positions)) if owned is None else owned
        if positions < 1 or not owned or not owned <= frozenset(range(positions)):
            raise ValueError("owned positions must be a non-empty subset of range(positions)")
        self.rate = rate
        # The bot's slots lie on one grid of wall-clock instants, `grid_rate` per second for every process
        # together; slot i belongs to position i % positions (a shard), and this process uses its shards' slots
        # only. Processes that own disjoint shards therefore interleave instead of landing together, so all of
        # them in any one-second window never start more than the bot's budget.
        self.positions = positions
        self.owned = owned
        self.grid_rate = rate * positions / len(owned)
        self._now = now
        self._sleep = sleep
        self._last = -1  # index of the last slot handed out
        self._waiters: SlotQueue[tuple[Priority, asyncio.Future[None]]] = SlotQueue()
        self._dispatcher: asyncio.Task[None] | None = None
        self.granted: dict[Priority, int] = {p: 0 for p in Priority}
        # Priorities that pass without pacing (benchmarks let a first event sync run unthrottled in set-up).
        self.unpaced: set[Priority] = set()

    def next_slot(self, now: float) -> int:
        """The index of the first slot of this process at or after `now` and after the last one handed out."""
        index = max(math.ceil(now * self.grid_rate - 1e-9), self._last + 1)
        while index % self.positions not in self.owned:
            index += 1
        return index

    def waiting(self, priority: Priority) -> int:
        return self._waiters.waiting(priority)

    async def wait(self, priority: Priority = Priority.REMINDER) -> None:
        if priority in self.unpaced:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.push(priority, (priority, future))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="rate-gate")
        await future

    async def _dispatch(self) -> None:
        while len(self._waiters):
            slot = self.next_slot(self._now())
            delay = slot / self.grid_rate - self._now()
            if delay > 0:
                await self._sleep(delay)
            else:
                await self._sleep(0)  # let callers arriving in this same instant queue up before choosing
            while len(self._waiters):
                priority, future = self._waiters.pop()
                if future.done():  # its caller was cancelled (stopping): the slot goes to the next
                    continue
                future.set_result(None)
                self.granted[priority] += 1
                self._last = slot
                break


# The pace of one process that owns every shard: the whole budget, less the jitter headroom (48 requests/s).
PROCESS_RATE = GLOBAL_LIMIT * JITTER_HEADROOM
