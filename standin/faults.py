"""Fault injection and rate limiting for the stand-in's REST API: scripted 429/5xx/403, a global limit, stats."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from .validate import ApiError

VIA = "1.1 google"


@dataclass
class FaultRule:
    """Answer the next `remaining` requests matching `method` + `path` (regex, searched) with a fault."""

    method: str
    pattern: re.Pattern[str]
    kind: str  # "429", "5xx", "403", "hold"
    remaining: int | None  # None: until cleared
    status: int = 429
    retry_after: float = 0.05
    is_global: bool = False
    after_handling: bool = False  # 5xx and hold: run the handler first (the write happened), then answer
    via: bool = True  # 429 only: without a Via header discord.py takes the 429 for a Cloudflare ban
    hits: int = 0
    held: int = 0  # "hold" only: requests handled whose answer is being held back
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Let held answers go (to a client that is usually gone by then)."""
        self.released.set()

    def matches(self, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return (self.method == "*" or self.method == method) and self.pattern.search(path) is not None


@dataclass
class RouteStats:
    requests: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass
class Bucket:
    limit: int
    per: float
    window_start: float = 0.0
    used: int = 0


def rate_limit_error(retry_after: float, *, is_global: bool, bucket: str, limit: int = 1, via: bool = True) -> ApiError:
    """A 429 the way Discord sends it; the `Via` header is what makes discord.py retry instead of giving up."""
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    if via:
        headers["Via"] = VIA
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    else:
        headers.update(
            {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": bucket,
            }
        )
    body = {"retry_after": round(retry_after, 3), "global": is_global}
    return ApiError(429, 0, "You are being rate limited.", headers=headers, extra=body)


def bucket_hash(route: str) -> str:
    return hashlib.sha1(route.encode()).hexdigest()[:16]


class Faults:
    """Scripted faults, the optional global rate limit, optional per-route buckets and per-route counters."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.global_limit: int | None = None  # requests per second per bot token; interaction callbacks exempt
        # One window per bot (its token): Discord counts a bot's requests together over every connection and
        # process it runs, and another bot's requests not at all.
        self._global_windows: dict[object, deque[float]] = {}
        self.buckets: list[tuple[str, re.Pattern[str], int, float]] = []
        self._bucket_state: dict[str, Bucket] = {}
        self.stats: dict[str, RouteStats] = {}

    # -- scripting ------------------------------------------------------------------------------------

    def rate_limit(
        self,
        method: str,
        path: str,
        *,
        count: int | None = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        via: bool = True,
    ) -> FaultRule:
        """The next `count` matching requests get a 429 with Retry-After/X-RateLimit-*/Via and a JSON body.

        `via=False` leaves out the Via header: discord.py then raises instead of retrying (a Cloudflare ban).
        """
        rule = FaultRule(method.upper(), re.compile(path), "429", count, 429, retry_after, is_global, via=via)
        return self._add(rule)

    def server_error(
        self, method: str, path: str, *, count: int | None = 1, status: int = 500, after_handling: bool = False
    ) -> FaultRule:
        """The next `count` matching requests get a 5xx (`after_handling`: the request takes effect first)."""
        if not 500 <= status <= 599:
            raise ValueError("status must be 5xx")
        rule = FaultRule(method.upper(), re.compile(path), "5xx", count, status, after_handling=after_handling)
        return self._add(rule)

    def forbid(self, method: str, path: str, *, count: int | None = None) -> FaultRule:
        """Matching requests get 403 Missing Permissions (50013), until cleared by default."""
        return self._add(FaultRule(method.upper(), re.compile(path), "403", count, 403))

    def hold(self, method: str, path: str, *, count: int | None = 1) -> FaultRule:
        """The next `count` matching requests take effect, but their answer is held back until `release()`.

        This is the kill point "the call reached Discord, the client never heard back": kill the client while
        `held` is non-zero."""
        return self._add(FaultRule(method.upper(), re.compile(path), "hold", count, 200, after_handling=True))

    def clear(self) -> None:
        """Forget every rule (held answers are let go)."""
        for rule in self.rules:
            rule.release()
        self.rules.clear()

    def set_global_limit(self, per_second: int | None = 50) -> None:
        """Turn on Discord's global limit (default 50 requests/s per bot); None turns it off."""
        self.global_limit = per_second
        self._global_windows.clear()

    def set_bucket(self, method: str, path: str, *, limit: int, per: float) -> None:
        """Give matching routes a per-route bucket: success answers carry X-RateLimit-* headers; excess → 429."""
        self.buckets.append((method.upper(), re.compile(path), limit, per))

    def _add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    # -- applying -------------------------------------------------------------------------------------

    def before(
        self, method: str, path: str, route: str, *, exempt_global: bool, bot: object = None
    ) -> FaultRule | None:
        """Raise the fault due for this request; returns a 5xx rule to apply after the handler, if any.
        `bot`: who is asking (the application of the token), whose global window the request counts in."""
        for rule in self.rules:
            if not rule.matches(method, path):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
            rule.hits += 1
            if rule.kind == "429":
                bucket = bucket_hash(route)
                raise rate_limit_error(rule.retry_after, is_global=rule.is_global, bucket=bucket, via=rule.via)
            if rule.kind == "403":
                raise ApiError(403, 50013, "Missing Permissions")
            if rule.after_handling:
                return rule
            raise ApiError(rule.status, 0, f"{rule.status}: Internal Server Error (injected)")
        if self.global_limit is not None and not exempt_global:
            now = time.monotonic()
            window = self._global_windows.setdefault(bot, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.global_limit:
                raise rate_limit_error(1.0 - (now - window[0]), is_global=True, bucket="global")
            window.append(now)
        return None

    def bucket_headers(self, method: str, path: str, route: str, major: str) -> dict[str, str]:
        """Consume one use of the route's bucket; raise 429 if it is exhausted; return the X-RateLimit-* headers."""
        for b_method, pattern, limit, per in self.buckets:
            if b_method not in ("*", method) or pattern.search(path) is None:
                continue
            key = f"{route}:{major}"
            bucket = self._bucket_state.setdefault(key, Bucket(limit, per))
            now = time.monotonic()
            if now - bucket.window_start >= bucket.per:
                bucket.window_start, bucket.used = now, 0
            reset_after = bucket.per - (now - bucket.window_start)
            if bucket.used >= bucket.limit:
                raise rate_limit_error(reset_after, is_global=False, bucket=bucket_hash(route), limit=limit)
            bucket.used += 1
            return {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(limit - bucket.used),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": bucket_hash(route),
            }
        return {}

    def count(self, route: str, status: int) -> None:
        stats = self.stats.setdefault(route, RouteStats())
        stats.requests += 1
        stats.statuses[status] += 1
        if status == 429:
            stats.rate_limited += 1
        elif status >= 500:
            stats.server_errors += 1

    def totals(self) -> RouteStats:
        total = RouteStats()
        for stats in self.stats.values():
            total.requests += stats.requests
            total.rate_limited += stats.rate_limited
            total.server_errors += stats.server_errors
            total.statuses.update(stats.statuses)
        return total
