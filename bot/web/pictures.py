"""Drawing the page's progress picture off the web server's loop, in a render pool of one worker.

The pool is `bot.render.pool.RenderPool` (spawned worker processes at the lowest CPU priority, gone with the
process that started them), with one worker of its own: the page is served from its own process, which cannot
share the bot's pool. It is started on the first picture asked for, so a page nobody opens costs nothing.
"""

from __future__ import annotations

import threading
from typing import Any

from bot.render.pool import RenderPool

_lock = threading.Lock()
_pool: RenderPool | None = None


def pool() -> RenderPool:
    global _pool
    with _lock:
        if _pool is None:
            _pool = RenderPool(workers=1)
        return _pool


async def draw(page: Any) -> bytes:
    """One page of the picture (a `ProgressData`) as PNG bytes."""
    from bot.render.progress import render_progress  # matplotlib: only where pictures are drawn

    return await pool().run(render_progress, page)


def shutdown() -> None:
    global _pool
    with _lock:
        found, _pool = _pool, None
    if found is not None:
        found.shutdown()
