"""The bot's one pool of render worker processes: `/progress` and the recap's progress picture draw in it.

Drawing a picture is CPU work that holds the interpreter lock for hundreds of milliseconds; in a thread it
stalls the event loop that answers every command. The pool's workers are separate processes, *spawned* (the
bot process has threads, so fork is unsafe), started on the first picture (a bot that never draws never pays
the ~1 s start of a worker), and run at the lowest CPU priority (`SCHED_IDLE`, else nice 19): on a small
machine the event loop always gets the core first, and the pictures use what is left.

One pool per bot, owned by it (`StudyBot.render_pool`) and shut down when the bot closes. The inputs sent to
a worker are the picture's own data (`ProgressData`, a few kB to ~100 kB), never the snapshot or records.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

# Two workers: the two pages of a 200-member study are drawn side by side.
RENDER_WORKERS = 2
# Pictures drawn at once: one per core beyond the one the event loop needs. On two cores that is one picture
# at a time (its pages still side by side): measured in bench/progress.py, two pictures drawing beside the loop
# made /week's p99 under 20 /progress 1.8–5× its idle p99 (preempted or not, a worker shares the core's
# caches), one at a time 1.65–1.94× (1.43–1.56× with a single worker, which drew 200 × 52 in 1.68 s, not 0.73).
PICTURES_AT_ONCE = max(1, (os.cpu_count() or 1) - 1)
# The longest the workers stay stopped for commands in a row (seconds); then they draw at least as long.
MAX_STOP = 0.25
# (stop, continue): how `RenderPool.hold` pauses the workers; None where there are no such signals (Windows).
STOP_SIGNALS: tuple[int, int] | None = (
    (signal.SIGSTOP, signal.SIGCONT) if hasattr(signal, "SIGSTOP") and hasattr(signal, "SIGCONT") else None
)

T = TypeVar("T")
P = TypeVar("P")


def lowest_priority() -> None:
    """Runs first in each worker: the process only gets CPU time nobody else wants, and on Linux it is killed
    as soon as the process that started it is gone (no orphaned workers after a kill -9 of the bot)."""
    if sys.platform == "linux":
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        with contextlib.suppress(OSError, AttributeError):
            os.nice(19)


def start_worker() -> None:
    """Each worker's first work: the lowest priority, then drawing readied (`bot.render.progress.warm_up`)."""
    lowest_priority()
    from bot.render.progress import warm_up

    warm_up()


def call_and_collect(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` as a worker runs it: then the garbage it left is collected. A matplotlib figure is a web of
    reference cycles (~5,000 objects for the 10 × 9 picture) that outlives the young collections made while
    it is drawn; left to the collector, the next full collection walks the garbage of dozens of pictures in
    the middle of one (100–150 ms, the slow tail of bench/progress.py). Collected right away it is ~4 ms."""
    try:
        return fn(*args)
    finally:
        gc.collect()


def worker_scheduler() -> tuple[int, int]:
    """(scheduling policy, niceness) of the calling process — what `lowest_priority` set, for tests."""
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else -1
    return policy, os.nice(0)


class RenderPool:
    """Worker processes for pictures, started lazily; `run` awaits one call in a worker."""

    def __init__(self, workers: int = RENDER_WORKERS, pictures: int = PICTURES_AT_ONCE) -> None:
        self.workers = workers
        self.pictures = pictures
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        self._turns: asyncio.Semaphore | None = None
        self._drawing = 0  # calls in the workers now
        self._stopped = False  # the workers are stopped (SIGSTOP) while a command is answered
        self._resume: asyncio.TimerHandle | None = None  # continues them after MAX_STOP
        self._unstoppable_until = 0.0  # loop time until which they draw whatever happens

    async def draw(self, fn: Callable[[P], T], pages: Sequence[P]) -> list[T]:
        """`fn(page)` for every page of one picture, side by side; at most `pictures` pictures at once (the
        others wait their turn)."""
        if self._turns is None:
            self._turns = asyncio.Semaphore(self.pictures)
        async with self._turns:
            return list(await asyncio.gather(*(self.run(fn, page) for page in pages)))

    @property
    def started(self) -> bool:
        return self._executor is not None

    def _get(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("the render pool is closed")
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker,
            )
        return self._executor

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in a worker; `fn` and the arguments must be picklable (module-level function, data).
        A worker that died (killed, out of memory) breaks only the calls in flight: the next call starts a
        fresh pool."""
        loop = asyncio.get_running_loop()
        executor = self._get()
        self._drawing += 1
        try:
            return await loop.run_in_executor(executor, call_and_collect, fn, *args)
        except BrokenProcessPool:
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            self._drawing -= 1

    def hold(self, busy: bool) -> None:
        """Stop the drawing workers while a command is being answered, continue them when it has been
        (`bot.foreground`'s `on_change`; it reports "not busy" within its `max_wait` whatever happens).

        `SCHED_IDLE` gives the event loop the CPU first, but not the machine: measured in bench/progress.py on
        two cores, a worker drawing on the other core made `/week` 2–3× slower at p99 (a worker sleeping the same
        0.25 s per picture: 1.04×; spinning on plain Python: 1.09× in the bot — what drawing shares with the
        loop's core is the hardware under it). A command is answered in about a millisecond; the picture waits
        that long.

        Commands that overlap without a gap would keep the workers stopped for good, so a stop lasts at most
        `MAX_STOP`, after which the workers draw for at least as long before they can be stopped again."""
        if not busy:
            if self._resume is not None:
                self._resume.cancel()
                self._resume = None
            if self._stopped:
                self._signal(continue_=True)
            return
        if not STOP_SIGNALS or self._closed or self._drawing == 0 or self._stopped:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._unstoppable_until:
            return
        self._signal(continue_=False)
        self._resume = loop.call_later(MAX_STOP, self._stopped_long_enough)

    def _stopped_long_enough(self) -> None:
        self._resume = None
        if self._stopped:
            self._signal(continue_=True)
            self._unstoppable_until = asyncio.get_running_loop().time() + MAX_STOP

    def _signal(self, *, continue_: bool) -> None:
        if STOP_SIGNALS is None:
            return
        processes = getattr(self._executor, "_processes", None) or {}  # ProcessPoolExecutor's pid → process
        for pid in list(processes):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, STOP_SIGNALS[1] if continue_ else STOP_SIGNALS[0])
        self._stopped = not continue_

    async def close(self) -> None:
        """Stop the workers (pictures still queued are cancelled); later `run` calls raise."""
        self.hold(False)
        await asyncio.to_thread(self.shutdown)

    def shutdown(self) -> None:
        """`close` for callers outside an event loop: blocks until the workers are gone."""
        self._closed = True
        if self._stopped:  # a stopped worker would never finish shutting down
            self._signal(continue_=True)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
