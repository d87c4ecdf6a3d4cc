"""Web page fixtures: the bundled study on a real migrated database, its page turned on, served on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import aiohttp
import pytest

from bot.clock import FrozenClock
from bot.config import WebSettings
from bot.runtime import Runtime
from bot.web.extras import ExtrasProvider
from bot.web.feature import WebFeature, build_web
from tests.conftest import ADMIN, GUILD_ID


@dataclass
class Served:
    runtime: Runtime
    web: WebFeature
    http: aiohttp.ClientSession
    clock: FrozenClock

    @property
    def snap_id(self) -> int:
        snap = self.runtime.directory.by_guild(GUILD_ID)
        assert snap is not None
        return snap.id

    @property
    def page(self) -> str:
        links = self.web.live_links(self.snap_id)
        assert links is not None, "the page is off"
        return links.page

    @property
    def feed(self) -> str:
        return self.page + "calendar.ics"


async def serve(runtime: Runtime, clock: FrozenClock, extras: ExtrasProvider | None = None) -> WebFeature:
    settings = replace(runtime.settings, web=WebSettings(host="127.0.0.1", port=0, public_url=None))
    web = build_web(
        settings=settings,
        sessionmaker=runtime.sessionmaker,
        clock=clock,
        directory=runtime.directory,
        attendance=runtime.services.attendance,
        extras=extras,
    )
    await web.start()
    return web


@pytest.fixture
async def served(runtime: Runtime, clock: FrozenClock) -> AsyncIterator[Served]:
    web = await serve(runtime, clock)
    await web.service.set_enabled(guild_id=GUILD_ID, actor=ADMIN, enabled=True)
    try:
        async with aiohttp.ClientSession() as http:
            yield Served(runtime, web, http, clock)
    finally:
        await web.stop()
