"""The study's read-only web page and live calendar feed, served by the bot itself (aiohttp + Jinja2)."""
