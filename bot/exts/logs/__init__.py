"""The study-log feature: /log add|remove|board|mine|nudge."""

from bot.exts.logs._cog import setup

__all__ = ["setup"]
