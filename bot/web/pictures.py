"""Drawing the page's progress picture off the web server's loop, in one worker *process* of low priority.

matplotlib holds the interpreter lock while it draws, so a thread would slow down whatever else the process
runs; a spawned process (not forked: the bot has threads) draws instead. It is started on the first picture
asked for, so a page nobody opens costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _lower_priority() -> None:
    """Runs in the worker: a low priority, and gone as soon as the process that started it is."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(15)
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
            )
        return _pool


async def draw(page: Any) -> bytes:
    """One page of the picture (a `ProgressData`) as PNG bytes."""
    from bot.render.progress import render_progress  # matplotlib: only where pictures are drawn

    return await asyncio.get_running_loop().run_in_executor(pool(), render_progress, page)


def shutdown() -> None:
    global _pool
    with _lock:
        found, _pool = _pool, None
    if found is not None:
        found.shutdown(wait=True, cancel_futures=True)
