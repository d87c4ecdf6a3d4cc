"""The bot's render pool: worker processes started on first use, at the lowest CPU priority, closed with the bot."""

from __future__ import annotations

import asyncio
import gc
import os
import time
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import FrozenClock
from bot.config import Settings
from bot.render.pool import RenderPool, worker_scheduler
from bot.runtime import create_bot, open_runtime


async def test_the_pool_starts_on_first_use_in_other_processes_at_idle_priority() -> None:
    pool = RenderPool(workers=1)
    assert not pool.started  # a bot that never draws never starts a worker
    try:
        pid = await pool.run(os.getpid)
        policy, niceness = await pool.run(worker_scheduler)
    finally:
        await pool.close()
    assert pool.started is False
    assert pid != os.getpid()
    # SCHED_IDLE where Linux allows it, else the highest niceness: the event loop always gets the CPU first.
    assert policy == getattr(os, "SCHED_IDLE", -2) or niceness == 19
    assert worker_scheduler()[0] != getattr(os, "SCHED_IDLE", -2)  # the bot process itself is untouched


async def test_a_worker_starts_ready_to_draw_with_matplotlib_out_of_the_collectors_way() -> None:
    pool = RenderPool(workers=1)
    try:
        frozen = await pool.run(gc.get_freeze_count)
    finally:
        await pool.close()
    assert frozen > 50_000  # matplotlib's objects are frozen: no collection walks them mid-picture


async def test_a_closed_pool_refuses_work() -> None:
    pool = RenderPool(workers=1)
    await pool.close()
    with pytest.raises(RuntimeError):
        await pool.run(os.getpid)


async def test_the_bot_owns_one_pool_shared_by_the_recap_and_closes_it(tmp_path: Path) -> None:
    settings = Settings(token="", database_url=f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}")
    runtime = await open_runtime(settings, clock=FrozenClock(datetime(2026, 12, 1, tzinfo=UTC)))
    try:
        bot = create_bot(runtime)
        async with bot:
            assert bot.reminders.practice is not None
            assert bot.reminders.practice.pool is bot.render_pool  # the recap draws where /progress draws
            assert await bot.render_pool.run(os.getpid) != os.getpid()
        assert bot.render_pool.started is False  # closing the bot stopped its workers
        with pytest.raises(RuntimeError):
            await bot.render_pool.run(os.getpid)
    finally:
        await runtime.close()


async def test_a_worker_that_dies_breaks_only_that_call_and_the_next_one_gets_a_fresh_pool() -> None:
    pool = RenderPool(workers=1)
    try:
        with pytest.raises(BrokenProcessPool):
            await pool.run(os._exit, 1)  # the worker process dies mid-call
        assert await pool.run(os.getpid) != os.getpid()
    finally:
        await pool.close()


def nap(seconds: float) -> tuple[int, float, float]:
    began = time.monotonic()
    time.sleep(seconds)
    return os.getpid(), began, time.monotonic()


async def test_a_pictures_pages_draw_side_by_side_and_pictures_take_turns() -> None:
    pool = RenderPool(workers=2, pictures=1)
    try:
        for _ in range(30):  # until both workers are up (each draws a first picture as it starts)
            if len({pid for pid, _, _ in await pool.draw(nap, [0.2, 0.2])}) == 2:
                break
        first, second = await asyncio.gather(pool.draw(nap, [0.4, 0.4]), pool.draw(nap, [0.4, 0.4]))
    finally:
        await pool.close()
    (pid_a, start_a, _), (pid_b, start_b, _) = first
    assert pid_a != pid_b and abs(start_a - start_b) < 0.3  # one picture's pages at once, in both workers
    later = min(start for _, start, _ in second)
    assert later >= max(end for _, _, end in first) - 0.01  # the other picture waited its turn


def state(pid: int) -> str:
    """The process's state letter from /proc (T: stopped)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2]


async def settles(pid: int, stopped: bool) -> bool:
    """Whether the process reaches (or stays out of) the stopped state within a few seconds: a signal is
    acted on by its target, a moment after `kill` returns."""
    for _ in range(500):
        if (state(pid) == "T") == stopped:
            return True
        await asyncio.sleep(0.01)
    return False


def pid_then_nap(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


async def drawing(pool: RenderPool, seconds: float) -> asyncio.Task[int]:
    """A call in the pool's worker, in flight (`hold` stops workers only while something is drawn)."""
    task = asyncio.create_task(pool.run(pid_then_nap, seconds))
    await asyncio.sleep(0)
    assert pool._drawing == 1
    return task


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
async def test_workers_stop_while_a_command_is_answered_and_go_on_after() -> None:
    pool = RenderPool(workers=1)
    try:
        pid = await pool.run(os.getpid)
        pool.hold(True)  # nothing drawing: nothing to stop
        assert not pool._stopped and state(pid) != "T"
        call = await drawing(pool, 0.3)
        pool.hold(True)
        assert await settles(pid, stopped=True)
        await asyncio.sleep(0.5)  # longer than its nap, but it is stopped: it cannot return
        assert not call.done()
        pool.hold(False)
        assert await settles(pid, stopped=False)
        assert await asyncio.wait_for(call, timeout=10) == pid
        # Closing while stopped does not hang: close continues the workers first.
        call = await drawing(pool, 0.2)
        pool.hold(True)
        assert await settles(pid, stopped=True)
        await asyncio.wait_for(pool.close(), timeout=10)
        assert await asyncio.wait_for(call, timeout=10) == pid  # the call in flight finished
    finally:
        await pool.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
async def test_commands_in_a_row_stop_the_workers_for_max_stop_at_most_then_they_draw() -> None:
    pool = RenderPool(workers=1)
    try:
        pid = await pool.run(os.getpid)
        call = await drawing(pool, 0.3)
        pool.hold(True)
        assert await settles(pid, stopped=True)
        # Nobody reports "not busy" (commands overlapping without a gap): continued after MAX_STOP all the same.
        assert await settles(pid, stopped=False)
        pool.hold(True)  # at once: it draws for at least MAX_STOP before it can be stopped again
        assert not pool._stopped and state(pid) != "T"
        assert await asyncio.wait_for(call, timeout=10) == pid
    finally:
        await pool.close()
