"""The web feature as the bot holds it: the page registry, the service that changes pages, and the server
(None when the config has no `[web]` section)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.services.attendance import AttendanceService
from bot.services.directory import StudyDirectory
from bot.web.extras import ExtrasProvider
from bot.web.practice import PracticeCache, PracticeExtras
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
    practice: PracticeCache

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
            await self.practice.load_all()
            await self.server.start()

    async def reload_pages(self) -> None:
        """Read every page's state again (after writes made in bulk, outside the services)."""
        await self.registry.load_all()
        resync = getattr(self.server, "resync", None)
        if resync is not None:
            await resync()

    async def stop(self) -> None:
        await self.practice.stop()
        if self.server is not None:
            await self.server.stop()


def build_web(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    directory: StudyDirectory,
    attendance: AttendanceService | None = None,
    extras: ExtrasProvider | None = None,
    process: bool = False,
) -> WebFeature:
    """The page's registry and service; with `[web]`, its server, fed the practice sections from an in-memory
    copy of the records that every study edit and every check-in (through `attendance`) keeps current.

    `process`: serve from a child process of its own (`studybot run`; see `bot.web.process`) rather than a
    thread of this one (kept for tests that give their own `extras`)."""
    custom = extras is not None
    registry = WebRegistry(sessionmaker, directory)
    directory.subscribe(registry.on_study_changed)
    practice = PracticeCache(sessionmaker)
    if settings.web is not None:
        directory.subscribe(practice.on_study_changed)
        if attendance is not None:
            attendance.on_checkin(practice.on_checkin)
    if extras is None:
        extras = PracticeExtras(practice.get, clock)
    service = WebService(sessionmaker=sessionmaker, clock=clock, directory=directory)
    server: WebServer | None = None
    if settings.web is not None and process and not custom:
        from bot.web.process import ProcessWebServer

        server = ProcessWebServer(
            settings=settings.web,
            registry=registry,
            clock=clock,
            directory=directory,
            practice=practice,
            source=settings.source,
        )
    elif settings.web is not None:
        server = WebServer(settings=settings.web, registry=registry, clock=clock, extras=extras, source=settings.source)
    return WebFeature(registry, service, server, practice)
