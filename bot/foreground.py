"""Commands first: work nobody is waiting on steps aside while a command is being answered.

The bot's event loop is shared by everything: a leader's `/week`, 200 check-in presses in the first minute of a
session, pictures being uploaded. asyncio runs ready work first come, first served, so a command that arrives in
the middle of a check-in rush waits behind every press that came before it (bench/practice.py measured `/week`'s
p99 doubling during a 200-press second). A press has Discord's whole 3 s to be answered and is answered in about
0.1 s; a person who typed a command is waiting on it.

So the loop has a foreground: every interaction the bot answers the ordinary way is *open* from the moment its
gateway event is parsed until its first answer (the interaction callback) leaves, as seen by the HTTP session's
trace (`watch`). Background steps — a check-in press, the check-in writer's transaction, a picture's upload —
call `await turn()` first. With nothing open and nobody queued, `turn()` returns at once (no cost in the common
case). Otherwise the step queues, and queued steps are let go **one per turn of the loop** once nothing is open,
so a command arriving meanwhile waits for one step, not for a backlog. No step waits longer than `MAX_WAIT`
(a command that never answers, or a stream of commands, cannot hold presses near Discord's 3 s): past it, the
queue is let go one per turn regardless.

There is one foreground per event loop (`foreground()`), shared by every bot and service on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.delivery.pacing import without_body

_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback$")


class Foreground:
    """The interactions being answered on one event loop, and the queue of background steps waiting for them."""

    MAX_WAIT = 0.25  # seconds: the longest an open interaction holds the background, and a step waits

    def __init__(self, loop: asyncio.AbstractEventLoop, *, max_wait: float | None = None) -> None:
        self._loop = loop
        self.max_wait = self.MAX_WAIT if max_wait is None else max_wait
        self._open: dict[str, float] = {}  # interaction id -> loop time it opened
        self._queue: deque[tuple[asyncio.Future[None], float]] = deque()
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._releaser: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[bool], None]] = []
        self._expiry: asyncio.TimerHandle | None = None
        self.waited = 0  # steps that queued (benchmarks and tests read it)
        # Set to a list to collect (name, seconds from parsed to answered) of each interaction (benchmarks).
        self.timings: list[tuple[str, float]] | None = None
        self._parsed: dict[str, tuple[str, float]] = {}  # (name, perf_counter() at parse), while collected

    # --- the foreground ----------------------------------------------------------------------------------
    def begin(self, interaction_id: str, name: str = "") -> None:
        """An interaction is being answered the ordinary way (its gateway event was just parsed)."""
        if len(self._open) >= 64:  # interactions never answered are forgotten past `max_wait`
            self.busy()
        was_quiet = not self._open
        self._open[interaction_id] = self._loop.time()
        self._quiet.clear()
        if was_quiet:
            self._changed(True)
        if self.timings is not None:
            self._parsed[interaction_id] = (name, time.perf_counter())  # uvloop's time() counts whole ms

    def end(self, interaction_id: str) -> None:
        """Its first answer has left."""
        opened = self._open.pop(interaction_id, None)
        if opened is None:
            return
        parsed = self._parsed.pop(interaction_id, None)
        if self.timings is not None and parsed is not None:
            self.timings.append((parsed[0], time.perf_counter() - parsed[1]))
        if not self._open:
            self._quiet.set()
            self._changed(False)

    def busy(self) -> bool:
        """Is an interaction open (and not past `max_wait`, after which it no longer holds anything)?"""
        if not self._open:
            return False
        stale = self._loop.time() - self.max_wait
        for key in [k for k, opened in self._open.items() if opened <= stale]:
            del self._open[key]
            self._parsed.pop(key, None)
        if not self._open:
            self._quiet.set()
            self._changed(False)
            return False
        return True

    def on_change(self, listener: Callable[[bool], None]) -> Callable[[], None]:
        """`listener(True)` as the first interaction opens, `listener(False)` as the last one closes (or is
        forgotten past `max_wait`: a listener is never left believing the loop busy). Returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self, busy: bool) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if busy and self._listeners:
            self._expiry = self._loop.call_later(self.max_wait, self._expire)
        for listener in list(self._listeners):
            listener(busy)

    def _expire(self) -> None:
        self._expiry = None
        if self.busy():  # still busy: the oldest open one is younger than max_wait; look again then
            oldest = min(self._open.values())
            self._expiry = self._loop.call_at(oldest + self.max_wait, self._expire)

    # --- the background ----------------------------------------------------------------------------------
    async def turn(self) -> None:
        """Wait for this background step's turn (at once when nothing is open and nothing is queued)."""
        if not self._queue and not self.busy():
            return
        future: asyncio.Future[None] = self._loop.create_future()
        self._queue.append((future, self._loop.time()))
        self.waited += 1
        if self._releaser is None or self._releaser.done():
            self._releaser = self._loop.create_task(self._release(), name="foreground-release")
        await future

    async def _release(self) -> None:
        while self._queue:
            future, queued = self._queue[0]
            if future.done():  # its waiter was cancelled
                self._queue.popleft()
                continue
            left = queued + self.max_wait - self._loop.time()  # before this step goes whatever is open
            if left > 0 and self.busy():
                oldest = min(self._open.values())
                timeout = min(left, oldest + self.max_wait - self._loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), max(timeout, 0.0))
                continue
            self._queue.popleft()
            future.set_result(None)
            await asyncio.sleep(0)  # one step per turn of the loop

    # --- where the foreground is seen ---------------------------------------------------------------------
    def interaction_parser(self, ordinary: Callable[[Any], None]) -> Callable[[Any], None]:
        """Wraps discord.py's INTERACTION_CREATE parser: every interaction parsed there is opened."""

        def parse(data: Any) -> None:
            interaction_id = data.get("id") if isinstance(data, dict) else None
            if interaction_id is not None:
                inner = data.get("data")
                self.begin(str(interaction_id), str(inner.get("name", "")) if isinstance(inner, dict) else "")
            ordinary(data)

        parse.ordinary = ordinary  # type: ignore[attr-defined]
        return parse


_FOREGROUNDS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Foreground] = weakref.WeakKeyDictionary()


def foreground(loop: asyncio.AbstractEventLoop | None = None) -> Foreground:
    """The foreground of `loop` (the running loop by default)."""
    loop = loop or asyncio.get_running_loop()
    found = _FOREGROUNDS.get(loop)
    if found is None:
        found = _FOREGROUNDS[loop] = Foreground(loop)
    return found


async def turn() -> None:
    """`foreground().turn()`: a background step waits while a command is being answered."""
    await foreground().turn()


def watch(trace: aiohttp.TraceConfig) -> aiohttp.TraceConfig:
    """Close an interaction as its callback request leaves, on the session `trace` is given to (discord.py's
    `http_trace`: interaction answers go through the bot's own HTTP session). A request with a body leaves with
    its first chunk (aiohttp holds the headers until then), one without with its headers."""

    def closes(url: Any) -> None:
        match = _CALLBACK.search(url.path)
        if match is not None:
            foreground().end(match[1])

    async def on_headers_sent(session: object, context: object, params: aiohttp.TraceRequestHeadersSentParams) -> None:
        if without_body(params.headers):
            closes(params.url)

    async def on_chunk_sent(session: object, context: object, params: aiohttp.TraceRequestChunkSentParams) -> None:
        closes(params.url)

    trace.on_request_headers_sent.append(on_headers_sent)
    trace.on_request_chunk_sent.append(on_chunk_sent)
    return trace
