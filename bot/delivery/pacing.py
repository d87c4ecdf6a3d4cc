"""Pacing of everything the bot posts on its own: one token bucket per stream of sends.

Discord's global limit (50 requests/s per bot) counts channel messages and scheduled-event calls alike,
so reminders and server events each get a gate, and their rates add up to less than the limit.
"""

from __future__ import annotations

import asyncio
import time as monotonic_time


class RateGate:
    """A token bucket: at most `rate` starts per second, with no burst beyond 1 s."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = monotonic_time.monotonic()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        delay = start - now
        if delay > 0:
            await asyncio.sleep(delay)
