"""Points discord.py's REST and gateway at other endpoints (rate-limit/gateway proxies, or the local stand-in)."""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"


def apply_endpoints(*, api_base_url: str, gateway_url: str) -> None:
    """Redirect discord.py (process-wide) to `api_base_url` for REST and `gateway_url` for the gateway.

    Patches exactly two class attributes:

    * ``discord.http.Route.BASE`` (str) — every REST URL is ``Route.BASE + path``, built when a ``Route`` is
      created, so this takes effect for the next request. It also covers interaction callbacks
      (``POST /interactions/{id}/{token}/callback``), followups and ``@original`` edits
      (``/webhooks/{app_id}/{token}...``): ``discord/webhook/async_.py`` builds those with the same ``Route``
      class, and ``Interaction``/``InteractionResponse``/``Webhook.partial`` go through that adapter. There is no
      separate webhook base. (``Webhook.url`` still *prints* a discord.com URL; it is never requested.)
    * ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (yarl.URL) — a plain ``Client``/``Bot`` opens its
      first connection there (and after an INVALID_SESSION), then follows READY's ``resume_gateway_url`` for
      RESUMEs; the gateway you point at must therefore hand out a resume URL that is reachable too.

    Not covered: ``AutoShardedClient`` without ``shard_count`` asks ``GET /gateway/bot`` for its URL (so the
    REST endpoint decides), and ``discord.http._set_api_version()`` resets ``Route.BASE`` to discord.com —
    call this again after it. Both attributes are class-wide: every client in the process uses them.
    """
    base = api_base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"api_base_url must be http(s)://..., got {api_base_url!r}")
    gateway = yarl.URL(gateway_url)
    if gateway.scheme not in ("ws", "wss"):
        raise ValueError(f"gateway_url must be ws(s)://..., got {gateway_url!r}")
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


def reset_endpoints() -> None:
    """Point discord.py back at Discord itself."""
    apply_endpoints(api_base_url=DISCORD_API_BASE, gateway_url=DISCORD_GATEWAY)


def current_endpoints() -> tuple[str, str]:
    """(REST base, gateway URL) discord.py currently uses."""
    return discord.http.Route.BASE, str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
