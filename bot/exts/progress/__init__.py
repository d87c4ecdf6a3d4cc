"""The progress feature: /progress (a picture of attendance and logs per week)."""

from bot.exts.progress._cog import setup

__all__ = ["setup"]
