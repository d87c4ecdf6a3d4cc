"""A bot process that serves the web page from its child, for the test that kills it: prints the child's pid
and the page's port, then waits to be killed. Run as `python -m tests.web.page_process_parent DB_URL`."""

from __future__ import annotations

import asyncio
import sys

from bot.clock import SystemClock
from bot.config import Settings, WebSettings
from bot.runtime import open_runtime
from bot.web.feature import build_web
from bot.web.process import ProcessWebServer


async def main(database_url: str) -> None:
    settings = Settings(token="", database_url=database_url, web=WebSettings("127.0.0.1", 0, None))
    runtime = await open_runtime(settings, clock=SystemClock())
    await runtime.directory.load_all()
    web = build_web(
        settings=settings,
        sessionmaker=runtime.sessionmaker,
        clock=runtime.clock,
        directory=runtime.directory,
        process=True,
    )
    await web.start()
    server = web.server
    assert isinstance(server, ProcessWebServer)
    print(server.pid, server.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
