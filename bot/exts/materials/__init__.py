"""The materials feature: /materials."""

from bot.exts.materials._cog import setup

__all__ = ["setup"]
