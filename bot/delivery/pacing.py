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
import contextlib
import heapq
import itertools
import math
import time as wall_time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from enum import IntEnum
from typing import Generic, TypeVar

import aiohttp

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


# Starts are counted in any window of this length, as Discord counts them.
WINDOW = 1.0
# How many of its own slots a process may still use after the loop let them pass.
CATCH_UP = 2


class _Ticket:
    """A granted slot, until its request goes out."""

    __slots__ = ("body_pending", "gate", "sent")

    def __init__(self, gate: RateGate) -> None:
        self.gate = gate
        self.sent = False
        self.body_pending = False  # headers buffered, waiting to go out with the body


# The slot the current task holds (set by `RateGate.slot`, read by `note_sent` inside the HTTP call).
_TICKET: ContextVar[_Ticket | None] = ContextVar("studybot_rate_ticket", default=None)


def note_sent() -> None:
    """The current task's request is going out now: if it holds a slot, stamp it (a request retried after a
    429 goes out again: each time is stamped)."""
    ticket = _TICKET.get()
    if ticket is not None:
        ticket.body_pending = False
        ticket.gate._stamp(ticket)


def without_body(headers: Mapping[str, str]) -> bool:
    """Does a request with these headers have no body (so it leaves with its headers, not its first chunk)?"""
    length = headers.get("Content-Length")
    return (length is None or length == "0") and "Transfer-Encoding" not in headers


def pacing_trace() -> aiohttp.TraceConfig:
    """The HTTP side of the window, for the bot's aiohttp session (discord.py's `http_trace`): calls
    `note_sent` when a request's bytes really leave. aiohttp buffers the headers of a request with a body and
    sends them with its first chunk, from a task of its own (Python < 3.12) that a busy loop may run much
    later — measured at 10,000 reminders: requests whose headers were "sent" over 0.6 s all arrived within
    20 ms. So a request with a body is stamped at its first chunk, one without at its headers."""
    trace = aiohttp.TraceConfig()

    async def on_headers_sent(session: object, context: object, params: aiohttp.TraceRequestHeadersSentParams) -> None:
        if without_body(params.headers):
            note_sent()
        elif (ticket := _TICKET.get()) is not None:
            ticket.body_pending = True

    async def on_chunk_sent(session: object, context: object, params: aiohttp.TraceRequestChunkSentParams) -> None:
        ticket = _TICKET.get()
        if ticket is not None and ticket.body_pending:
            note_sent()

    trace.on_request_headers_sent.append(on_headers_sent)
    trace.on_request_chunk_sent.append(on_chunk_sent)
    return trace


class RateGate:
    """At most `rate` starts per second for the whole process, handed out by priority.

    `wait(priority)` returns when the caller may start its request. The slot is chosen when it comes up, not
    when the caller arrives: a reminder queued while an event call waits for the next slot still goes first.
    `now` and `sleep` are injectable so the order can be tested without a clock.

    Two rules together:

    - **the grid** spreads the starts: slots are wall-clock instants shared by every process (below). A slot
      that a busy loop let pass is still granted if it is at most `CATCH_UP` of this process's slots behind
      (a short delay costs no rate), never more (a long stall is not followed by a burst);
    - **the window** is the guarantee. A paced request is stamped when it really goes out: the HTTP layer calls
      `note_sent()` as the request's headers are written (`pacing_trace`), and a
      request never seen going out is stamped when its slot ends (later than it went, never earlier). A busy
      event loop can hold a granted request for a while and then write several at once; so no slot is
      granted while the requests written in the last second, plus the ones granted but not written yet,
      already make `cap` (⌊rate⌋). Each process then puts at most its cap in *any* one-second window, however
      late its loop runs, and all processes together stay within the sum of their caps (48 of Discord's 50).

    Use `async with gate.slot(priority):` around the request.
    """

    def __init__(
        self,
        rate: float,
        *,
        positions: int = 1,
        owned: frozenset[int] | None = None,
        now: Callable[[], float] = wall_time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        held: Callable[[], Awaitable[object] | None] | None = None,
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
        self.cap = max(1, math.floor(rate + 1e-9))  # starts in any one-second window
        self._starts: deque[float] = deque()  # when paced requests went out, the last second's
        self._unsent = 0  # granted, not gone out yet
        # `held()`: None while requests may go out, else an awaitable that ends when they may again — Discord's
        # answer to a global 429 holds every request of the process (discord.py's own cooldown). Granting slots
        # meanwhile would queue them behind the hold, and the hold's end would release them all at once.
        self._held = held
        self._waiters: SlotQueue[tuple[Priority, asyncio.Future[None]]] = SlotQueue()
        self._dispatcher: asyncio.Task[None] | None = None
        self.granted: dict[Priority, int] = {p: 0 for p in Priority}
        # Priorities that pass without pacing (benchmarks let a first event sync run unthrottled in set-up).
        self.unpaced: set[Priority] = set()

    def next_slot(self, now: float) -> int:
        """The index of this process's first slot after the last one handed out and at most `CATCH_UP` of its
        slots behind `now`."""
        index = max(math.ceil((now - CATCH_UP / self.rate) * self.grid_rate - 1e-9), self._last + 1)
        while index % self.positions not in self.owned:
            index += 1
        return index

    def window_free(self, now: float) -> float | None:
        """The first instant at or after `now` when one more request stays within the cap; None while requests
        granted a slot but not gone out yet fill the window on their own."""
        starts = self._starts
        while starts and starts[0] <= now - WINDOW:
            starts.popleft()
        over = len(starts) + self._unsent - self.cap  # ≥ 0: that many + 1 stamps must leave the window
        if over < 0:
            return now
        if over >= len(starts):
            return None
        return starts[over] + WINDOW

    def waiting(self, priority: Priority) -> int:
        return self._waiters.waiting(priority)

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority = Priority.REMINDER) -> AsyncIterator[None]:
        """Hold a slot for the request made inside the block."""
        if priority in self.unpaced:
            yield
            return
        await self._acquire(priority)
        ticket = _Ticket(self)
        token = _TICKET.set(ticket)
        try:
            yield
        finally:
            _TICKET.reset(token)
            if not ticket.sent:  # never seen going out: counted as going out now (if at all, it went earlier)
                self._stamp(ticket)

    async def wait(self, priority: Priority = Priority.REMINDER) -> None:
        """A slot for a request that is not made (tests, and callers that only need the pace): it counts
        as going out now."""
        async with self.slot(priority):
            pass

    def _stamp(self, ticket: _Ticket) -> None:
        if not ticket.sent:
            ticket.sent = True
            self._unsent -= 1
        self._starts.append(self._now())

    async def _acquire(self, priority: Priority) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.push(priority, (priority, future))
        if self._dispatcher is None or self._dispatcher.done():  # a busy spell starts: at the next slot
            self._last = max(self._last, math.ceil(self._now() * self.grid_rate - 1e-9) - 1)
            self._dispatcher = asyncio.create_task(self._dispatch(), name="rate-gate")
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted, then cancelled: the slot is not used
                self._unsent -= 1
            raise

    async def _dispatch(self) -> None:
        while len(self._waiters):
            now = self._now()
            slot = self.next_slot(now)
            free = self.window_free(now)
            if free is None:  # requests granted earlier have not gone out yet: they come first
                await self._sleep(0.001)
                continue
            delay = max(slot / self.grid_rate, free) - now
            if delay > 0:
                await self._sleep(delay)
            else:
                await self._sleep(0)  # let callers arriving in this same instant queue up before choosing
            if self._held is not None and (hold := self._held()) is not None:
                await hold
                # the slots that went by during the hold are gone (not a burst at its end): on from the next
                self._last = max(self._last, math.ceil(self._now() * self.grid_rate - 1e-9) - 1)
                continue
            now = self._now()
            if (free := self.window_free(now)) is None or free > now + 1e-9:
                continue  # a request granted earlier went out meanwhile and filled the window: choose again
            while len(self._waiters):
                priority, future = self._waiters.pop()
                if future.done():  # its caller was cancelled (stopping): the slot goes to the next
                    continue
                future.set_result(None)
                self._unsent += 1
                self.granted[priority] += 1
                self._last = slot
                break


# The pace of one process that owns every shard: the whole budget, less the jitter headroom (48 requests/s).
PROCESS_RATE = GLOBAL_LIMIT * JITTER_HEADROOM
