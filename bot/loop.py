"""The event loop the bot runs on: uvloop where it is installed (Linux and macOS), else asyncio's own.

Every command of `studybot` (and the benchmarks, which start the bot the way `studybot run` does) goes through
`run`. uvloop does the same work as asyncio's loop in less CPU — its I/O, timers and callbacks are compiled —
and the bot's loop is the one shared thing every command, press and reminder waits on (bench/practice.py).
`STUDYBOT_EVENT_LOOP=asyncio` picks asyncio's own loop, to compare or to rule the loop out.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None for asyncio's own loop (asked for, or uvloop not installed)."""
    if os.environ.get("STUDYBOT_EVENT_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    return "asyncio" if loop_factory() is None else "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
