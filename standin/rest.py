"""The stand-in's REST v10 front door: routing, auth, body parsing, faults, request log and JSON answers."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from .faults import Faults
from .state import Application, FileRecord, RequestRecord, World
from .validate import ApiError


@dataclass
class Reply:
    """A handler's answer; `body=None` means no body (use status 204)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """What a route handler gets: parsed path parameters, body, files and the authenticated application."""

    request: web.Request
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    app: Application | None
    json: Any
    files: list[FileRecord]
    reason: str | None

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise ApiError(404, 0, "404: Not Found") from None

    @property
    def body(self) -> dict[str, Any]:
        """The JSON object body (400 if it is missing or not an object)."""
        if not isinstance(self.json, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        return self.json

    @property
    def authed(self) -> Application:
        assert self.app is not None
        return self.app


Handler = Callable[[Ctx], Awaitable[Reply]]


@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool
    exempt_global: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
    return re.compile(f"^{regex}$")


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self, method: str, template: str, handler: Handler, *, auth: bool = True, exempt_global: bool = False
    ) -> None:
        self.routes.append(Route(method, template, _compile(template), handler, auth, exempt_global))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known): path_known without a route means 405."""
        path_known = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            path_known = True
            if route.method == method:
                return route, {k: unquote(v) for k, v in m.groupdict().items()}, True
        return None, {}, path_known


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """discord.py compares Content-Type to exactly 'application/json', so no charset parameter."""
    all_headers = dict(headers or {})
    if body is None:
        return web.Response(status=status, headers=all_headers)
    all_headers["Content-Type"] = "application/json"
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(status=status, body=data, headers=all_headers)


class RestApi:
    """Dispatches /api/v{n}/... to route handlers, applying auth, scripted faults and rate limits first."""

    def __init__(self, world: World, faults: Faults, router: Router, on_change: Callable[[], None]) -> None:
        self.world = world
        self.faults = faults
        self.router = router
        self._on_change = on_change
        self.requests: list[RequestRecord] = []
        self.unexpected: list[RequestRecord] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info.get("tail", "")
        method = request.method.upper()
        body, files = await self._parse_body(request)
        route, params, known = self.router.match(method, path)
        route_key = route.key if route else f"{method} {path}"
        status, reply = await self._run(request, method, path, route, params, known, body, files)
        record = RequestRecord(
            method=method,
            path=path,
            route=route_key if route else f"UNKNOWN {method} {path}",
            query=dict(request.query),
            json=body,
            files=tuple(files),
            status=status,
            at=time.perf_counter(),
            wall=datetime.now(UTC),
            reason=request.headers.get("X-Audit-Log-Reason"),
        )
        self.requests.append(record)
        if route is None:
            self.unexpected.append(record)
        self.faults.count(route_key, status)
        self._on_change()
        return reply

    async def _run(
        self,
        request: web.Request,
        method: str,
        path: str,
        route: Route | None,
        params: dict[str, str],
        known: bool,
        body: Any,
        files: list[FileRecord],
    ) -> tuple[int, web.Response]:
        try:
            if route is None:
                if known:
                    raise ApiError(405, 0, "405: Method Not Allowed")
                raise ApiError(404, 0, "404: Not Found")
            app = self._authenticate(request, required=route.auth)
            after = self.faults.before(
                method, path, route.key, exempt_global=route.exempt_global, bot=app.id if app else None
            )
            major = "+".join(v for k, v in params.items() if k in ("channel_id", "guild_id", "webhook_id", "token"))
            headers = self.faults.bucket_headers(method, path, route.key, major)
            ctx = Ctx(request, method, path, params, dict(request.query), app, body, files, None)
            ctx.reason = request.headers.get("X-Audit-Log-Reason")
            reply = await route.handler(ctx)
            if after is not None and after.kind == "hold":
                after.held += 1
                self._on_change()
                await after.released.wait()
            elif after is not None:
                raise ApiError(after.status, 0, f"{after.status}: Internal Server Error (injected, after handling)")
            reply.headers.update(headers)
            return reply.status, json_response(reply.status, reply.body, reply.headers)
        except ApiError as error:
            return error.status, json_response(error.status, error.body(), error.headers)

    def _authenticate(self, request: web.Request, *, required: bool) -> Application | None:
        header = request.headers.get("Authorization", "")
        app = self.world.tokens.get(header.removeprefix("Bot ")) if header.startswith("Bot ") else None
        if required and app is None:
            raise ApiError(401, 0, "401: Unauthorized")
        return app

    async def _parse_body(self, request: web.Request) -> tuple[Any, list[FileRecord]]:
        if not request.can_read_body:
            return None, []
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            return await self._parse_multipart(request)
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            return raw.decode("utf-8", errors="replace"), []

    async def _parse_multipart(self, request: web.Request) -> tuple[Any, list[FileRecord]]:
        reader = await request.multipart()
        payload: Any = None
        files: list[FileRecord] = []
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):  # nested multipart: not used by Discord clients
                continue
            data = await part.read(decode=True)
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(data.decode())
            elif part.filename is not None:
                ctype = part.headers.get("Content-Type")
                files.append(FileRecord(field=name, filename=part.filename, content=bytes(data), content_type=ctype))
        return payload, files
