"""The read-only web server: the study page, its calendar feed, and the public index — in its own thread.

Why a thread with its own event loop: the page is read by people and by calendar apps polling every few
minutes; whatever they do (200 requests at once, a client that sends its request one byte a minute), the bot's
own loop keeps answering Discord. The server only reads: the study snapshots and the page registry are
immutable values swapped in by the bot's loop, and rendered pages are cached per (study revision, page state,
language, zone, the stretch of time until the study's next session boundary), so a request costs no
database round-trip and usually no rendering either.

Safety: every response carries a Content-Security-Policy without inline script, `nosniff`, `no-referrer`
(page addresses are secrets and must not leak to the sites the page links to) and `frame-ancestors 'none'`;
anything unknown — an address never issued, one rotated away, a page turned off — is the same 404.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from importlib import resources
from typing import Any
from zoneinfo import available_timezones

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.clock import Clock
from bot.config import ConfigError, WebSettings
from bot.core.model import StudySnapshot
from bot.i18n import LANGUAGES, t
from bot.render.calendar import study_calendar
from bot.web import pictures
from bot.web.extras import ExtrasProvider, PageExtras, no_extras
from bot.web.page import build_view, moment_bucket
from bot.web.state import TOKEN_PATTERN, PageState, WebRegistry

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
STATIC_TYPES = {
    "style.css": "text/css; charset=utf-8",
    "local-time.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
MAX_CACHED_PAGES = 4096
MAX_CACHED_PICTURES = 64  # PNGs are ~100 kB: the pictures of the pages being read now
# Request limits: the server takes only GETs with no body; long lines and header floods are refused early.
CLIENT_MAX_SIZE = 1024
MAX_LINE_SIZE = 4096
MAX_FIELD_SIZE = 4096
KEEPALIVE_TIMEOUT = 15.0
BACKLOG = 256

# Throughput cap: the page shares the process (and the interpreter lock) with the bot, so however many readers
# arrive, the server takes at most this many requests a second; the rest wait their turn (costing no CPU), and
# past MAX_WAITING they are told to come back later. A study's readers and calendar apps need a tiny fraction.
REQUESTS_PER_SECOND = 200.0
BURST = 40.0
MAX_WAITING = 2000

_ZONES = frozenset(available_timezones())


class Pacer:
    """A token bucket for the server's own loop (one thread: no lock needed)."""

    def __init__(self, rate: float = REQUESTS_PER_SECOND, burst: float = BURST, max_waiting: int = MAX_WAITING) -> None:
        self.rate = rate
        self.burst = burst
        self.max_waiting = max_waiting
        self.tokens = burst
        self.waiting = 0
        self._last = 0.0

    async def admit(self) -> bool:
        """Wait for a turn; False when too many are already waiting."""
        loop = asyncio.get_running_loop()
        if self.waiting >= self.max_waiting:
            return False
        self.waiting += 1
        try:
            while True:
                now = loop.time()
                self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
                self._last = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return True
                await asyncio.sleep((1 - self.tokens) / self.rate)
        finally:
            self.waiting -= 1


def safe_href(url: str) -> str:
    """Only web links become links: anything else (javascript:, data:) is dropped."""
    return url if url.startswith(("https://", "http://")) else ""


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def choose_language(query_lang: str | None, accept_language: str | None, fallback: str) -> str:
    """`?lang=` wins; then the best of the reader's Accept-Language that we speak; then the study's language."""
    if query_lang in LANGUAGES:
        return query_lang
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        pieces = part.strip().split(";")
        base = pieces[0].strip().split("-")[0].lower()
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if base in LANGUAGES and quality > 0 and (best is None or (quality, -position) > (best[0], best[1])):
            best = (quality, -position, base)
    return best[2] if best else fallback


class WebServer:
    def __init__(
        self,
        *,
        settings: WebSettings,
        registry: WebRegistry,
        clock: Clock,
        extras: ExtrasProvider = no_extras,
        source: str = "<config>",
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self.extras = extras
        self.source = source
        self.port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.pacer = Pacer()
        self._pages: dict[tuple[Any, ...], bytes] = {}
        self._feeds: dict[tuple[Any, ...], tuple[bytes, str]] = {}
        self._pictures: dict[tuple[Any, ...], tuple[bytes, str]] = {}
        self._drawing: dict[tuple[Any, ...], asyncio.Future[tuple[bytes, str]]] = {}
        self.env = Environment(
            loader=PackageLoader("bot.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["href"] = safe_href
        self._static = {name: resources.files("bot.web").joinpath("static", name).read_bytes() for name in STATIC_TYPES}
        self._static_etags = {
            name: '"' + hashlib.sha256(body).hexdigest()[:16] + '"' for name, body in self._static.items()
        }

    # --- addresses ----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.settings.public_url:
            return self.settings.public_url
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"http://{host}:{self.port if self.port is not None else self.settings.port}"

    def page_url(self, state: PageState) -> str:
        return f"{self.base_url}/s/{state.token}/"

    def feed_url(self, state: PageState) -> str:
        return f"{self.page_url(state)}calendar.ics"

    def webcal_url(self, state: PageState) -> str:
        return "webcal://" + self.feed_url(state).split("://", 1)[1]

    # --- life cycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and serve in a thread of its own; returns once the port is open (or raises ConfigError)."""
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="studybot-web", daemon=True)
        self._thread.start()
        try:
            self.port = await asyncio.wrap_future(ready)
        except OSError as exc:
            raise ConfigError(
                self.source, "web.listen", f"({self.settings.listen}) cannot be opened: {exc.strerror or exc}"
            ) from exc
        log.info("web page served at %s", self.base_url)

    async def stop(self) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 10)
        self._thread = None
        await asyncio.to_thread(pictures.shutdown)

    def _run(self, ready: concurrent.futures.Future[int]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except Exception as exc:  # a failure before `ready` is reported to start(); later ones are logged
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.exception("the web server stopped")
        finally:
            loop.close()

    async def _serve(self, ready: concurrent.futures.Future[int], sock: socket.socket | None = None) -> None:
        """Serve until stopped: on the configured address, or on `sock` (a socket bound by the bot process, when
        the page is served by a process of its own)."""
        self._stop = asyncio.Event()
        for name in ("page.html", "index.html", "404.html"):  # compile now, not on a reader's first visit
            self.env.get_template(name)
        runner = web.AppRunner(
            self.app(),
            access_log=None,
            handle_signals=False,
            keepalive_timeout=KEEPALIVE_TIMEOUT,
            max_line_size=MAX_LINE_SIZE,
            max_field_size=MAX_FIELD_SIZE,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        try:
            site: web.BaseSite = (
                web.TCPSite(runner, self.settings.host, self.settings.port, backlog=BACKLOG)
                if sock is None
                else web.SockSite(runner, sock)
            )
            await site.start()
            address = runner.addresses[0]
            ready.set_result(int(address[1]))
            await self._stop.wait()
        finally:
            await runner.cleanup()

    # --- the application ----------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=[self._guard])
        app.router.add_get("/", self.index)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_get("/s/{token}/", self.page)
        app.router.add_get("/s/{token}/calendar.ics", self.feed)
        app.router.add_get("/s/{token}/progress.png", self.progress)
        app.router.add_get(r"/s/{token}/progress-{index:[1-9][0-9]?}.png", self.progress)
        app.on_response_prepare.append(self._headers)
        return app

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Every error is a plain page: unknown addresses all look alike; nothing internal is shown."""
        if not await self.pacer.admit():
            return web.Response(
                status=503, text="503 Busy\n", headers={"Retry-After": "5", "Cache-Control": "no-store"}
            )
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return self.not_found(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return web.Response(status=exc.status, text=f"{exc.status} {exc.reason}\n")
        except Exception:
            log.exception("web request failed: %s %s", request.method, request.path)
            return web.Response(status=500, text="500 Internal Server Error\n")

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(SECURITY_HEADERS)
        response.headers["Server"] = "studybot"

    def not_found(self, request: web.Request) -> web.Response:
        lang = choose_language(request.query.get("lang"), request.headers.get("Accept-Language"), "ko")
        body = self.env.get_template("404.html").render(lang=lang, _=_translator(lang))
        return web.Response(
            status=404,
            text=body,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
        )

    def _served(self, request: web.Request) -> tuple[PageState, StudySnapshot]:
        token = request.match_info["token"]
        found = self.registry.served(token) if TOKEN_PATTERN.fullmatch(token) else None
        if found is None:
            raise web.HTTPNotFound()
        return found

    # --- handlers -----------------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.Response:
        lang = choose_language(request.query.get("lang"), request.headers.get("Accept-Language"), "ko")
        pages = [(snap.name, self.page_url(state)) for state, snap in self.registry.public_pages()]
        body = self.env.get_template("index.html").render(lang=lang, _=_translator(lang), pages=pages)
        return web.Response(
            text=body,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"},
        )

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self._static:
            raise web.HTTPNotFound()
        etag = self._static_etags[name]
        headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
        if _matches(request.headers.get("If-None-Match"), etag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=self._static[name], headers={**headers, "Content-Type": STATIC_TYPES[name]})

    async def page(self, request: web.Request) -> web.Response:
        state, snap = self._served(request)
        lang = choose_language(request.query.get("lang"), request.headers.get("Accept-Language"), snap.locale)
        zone = request.query.get("tz", "")
        if zone not in _ZONES:
            zone = ""
        now = self.clock.now()
        extras = self.extras(snap, lang)
        key = (
            snap.id,
            state,
            snap.revision,
            snap.updated_at,
            lang,
            zone,
            moment_bucket(snap, now),
            extras.version,
        )
        body = self._pages.get(key)
        if body is None:
            view = build_view(snap, state, extras, now=now, lang=lang, reader_zone=zone)
            body = (
                self.env.get_template("page.html")
                .render(
                    v=view,
                    lang=lang,
                    _=_translator(lang),
                    feed_url=self.feed_url(state),
                    webcal_url=self.webcal_url(state),
                    has_progress=extras.progress_count > 0,
                    progress_count=extras.progress_count,
                    public=state.public,
                )
                .encode()
            )
            if len(self._pages) >= MAX_CACHED_PAGES:
                self._pages.clear()
            self._pages[key] = body
        headers = {"Cache-Control": "no-cache", "Vary": "Accept-Language", "Content-Language": lang}
        if not state.public:
            headers["X-Robots-Tag"] = "noindex, nofollow"
        return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)

    async def feed(self, request: web.Request) -> web.Response:
        """The same RFC 5545 content as /calendar, with validators so subscribed apps poll cheaply."""
        _state, snap = self._served(request)
        lang = choose_language(request.query.get("lang"), request.headers.get("Accept-Language"), snap.locale)
        changed = snap.updated_at or snap.created_at or self.clock.now()
        key = (snap.id, snap.revision, changed, lang)
        cached = self._feeds.get(key)
        if cached is None:
            # `now` is the study's last change, not the wall clock: the feed's bytes (and so its ETag) change
            # exactly when the study does.
            body = study_calendar(snap, now=changed, lang=lang)
            cached = (body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
            if len(self._feeds) >= MAX_CACHED_PAGES:
                self._feeds.clear()
            self._feeds[key] = cached
        body, etag = cached
        headers = {
            "ETag": etag,
            "Last-Modified": http_date(changed),
            "Cache-Control": "no-cache",
            "Vary": "Accept-Language",
            "Content-Disposition": f'inline; filename="study-{snap.public_id}.ics"',
        }
        inm = request.headers.get("If-None-Match")
        if _matches(inm, etag) or (inm is None and _not_modified_since(request, changed)):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers={**headers, "Content-Type": "text/calendar; charset=utf-8"})

    async def progress(self, request: web.Request) -> web.Response:
        """The progress picture (page `index` of a big study), drawn in a worker process, cached until the
        study's records or the day change; ETag'd so a reload costs no drawing and no transfer."""
        _state, snap = self._served(request)
        lang = choose_language(request.query.get("lang"), request.headers.get("Accept-Language"), snap.locale)
        extras = self.extras(snap, lang)
        index = int(request.match_info.get("index", "1"))
        if not 1 <= index <= extras.progress_count:
            raise web.HTTPNotFound()
        if extras.progress is None and extras.progress_png is not None:
            png = extras.progress_png
            etag = '"' + hashlib.sha256(png).hexdigest()[:32] + '"'
        else:
            png, etag = await self._picture(extras, lang, index)
        headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Language"}
        if _matches(request.headers.get("If-None-Match"), etag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=png, headers={**headers, "Content-Type": "image/png"})

    async def _picture(self, extras: PageExtras, lang: str, index: int) -> tuple[bytes, str]:
        key = (extras.progress_key, lang, index)
        found = self._pictures.get(key)
        if found is not None:
            return found
        pending = self._drawing.get(key)
        if pending is None:  # one drawing per picture, however many readers ask for it at once
            assert extras.progress is not None
            pending = asyncio.ensure_future(self._draw(extras.progress()[index - 1]))
            self._drawing[key] = pending
            pending.add_done_callback(lambda _f: self._drawing.pop(key, None))
        png, etag = await asyncio.shield(pending)
        if len(self._pictures) >= MAX_CACHED_PICTURES:
            self._pictures.clear()
        self._pictures[key] = (png, etag)
        return png, etag

    @staticmethod
    async def _draw(page: Any) -> tuple[bytes, str]:
        png = await pictures.draw(page)
        return png, '"' + hashlib.sha256(png).hexdigest()[:32] + '"'


def _translator(lang: str) -> Callable[..., str]:
    def translate(key: str, **params: Any) -> str:
        return t(lang, key, **params)

    return translate


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [part.strip() for part in header.split(",")]
    return "*" in candidates or etag in candidates or f"W/{etag}" in candidates


def _not_modified_since(request: web.Request, changed: datetime) -> bool:
    since = request.if_modified_since
    return since is not None and int(changed.timestamp()) <= int(since.timestamp())
