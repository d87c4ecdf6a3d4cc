"""The web feature as the bot holds it: the page registry, the service that changes pages, and the server
(None when the config has no `[web]` section)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.services.directory import StudyDirectory
from bot.web.extras import ExtrasProvider, no_extras
from bot.web.server import WebServer
from bot.web.service import WebService
from bot.web.state import PageState, WebRegistry


@dataclass(slots=True)
class WebLinks:
    page: str
    feed: str
    webcal: str
    index: str


@dataclass(slots=True)
class WebFeature:
    registry: WebRegistry
    service: WebService
    server: WebServer | None

    def links(self, state: PageState) -> WebLinks | None:
        if self.server is None:
            return None
        return WebLinks(
            self.server.page_url(state),
            self.server.feed_url(state),
            self.server.webcal_url(state),
            self.server.base_url + "/",
        )

    def live_links(self, study_id: int) -> WebLinks | None:
        """The links of a study's page when it is on and served; None otherwise."""
        state = self.registry.for_study(study_id)
        if state is None or not state.enabled:
            return None
        return self.links(state)

    async def start(self) -> None:
        await self.registry.load_all()
        if self.server is not None:
            await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()


def build_web(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    directory: StudyDirectory,
    extras: ExtrasProvider = no_extras,
) -> WebFeature:
    registry = WebRegistry(sessionmaker, directory)
    directory.subscribe(registry.on_study_changed)
    service = WebService(sessionmaker=sessionmaker, clock=clock, directory=directory)
    server = (
        None
        if settings.web is None
        else WebServer(settings=settings.web, registry=registry, clock=clock, extras=extras, source=settings.source)
    )
    return WebFeature(registry, service, server)
