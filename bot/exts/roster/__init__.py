"""The roster feature: /roster."""

from bot.exts.roster._cog import setup

__all__ = ["setup"]
