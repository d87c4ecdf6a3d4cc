"""The web page feature: /web (admins) and /privacy (members)."""

from bot.exts.web._cog import setup

__all__ = ["setup"]
