"""Discord-independent reply shapes and the limits they must respect.

Renderers build `Reply`/`EmbedSpec` values; the Discord glue turns them into discord.py objects. Keeping
them plain lets the tests check every limit without a Discord connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core.validation import escape_markdown, safe_url

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
ELLIPSIS = "…"

COLOR_DEFAULT = 0xEE4C2C  # PyTorch orange
COLOR_WARNING = 0xF0B232


@dataclass(slots=True)
class EmbedField:
    name: str
    value: str
    inline: bool = False


@dataclass(slots=True)
class EmbedSpec:
    title: str = ""
    description: str = ""
    url: str | None = None
    color: int = COLOR_DEFAULT
    fields: list[EmbedField] = field(default_factory=list)
    footer: str = ""

    def total_length(self) -> int:
        return (
            len(self.title)
            + len(self.description)
            + len(self.footer)
            + sum(len(f.name) + len(f.value) for f in self.fields)
        )


@dataclass(slots=True)
class Reply:
    content: str = ""
    embeds: list[EmbedSpec] = field(default_factory=list)
    ephemeral: bool = False
    file_name: str | None = None
    file_bytes: bytes | None = None
    # Role ids this reply is meant to ping; every other mention is suppressed by the glue.
    ping_role_ids: tuple[int, ...] = ()


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def join_lines(lines: list[str], limit: int, more: str = "{n}") -> str:
    """Join lines within `limit`; when they do not all fit, keep what fits and say how many were left out."""
    whole = "\n".join(lines)
    if len(whole) <= limit:
        return whole
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        tail = more.format(n=len(lines) - index)
        extra = len(line) + (1 if out else 0)
        # Room for this line plus the "…and N more" note that must follow it.
        if used + extra + len(tail) + 1 > limit:
            out.append(tail)
            return "\n".join(out)[:limit]
        out.append(line)
        used += extra
    return whole[:limit]


def fit(embed: EmbedSpec) -> EmbedSpec:
    """Trim an embed so Discord accepts it: every part within its limit and the whole within 6,000."""
    embed.title = truncate(embed.title, TITLE_MAX)
    embed.description = truncate(embed.description, DESCRIPTION_MAX)
    embed.footer = truncate(embed.footer, FOOTER_MAX)
    embed.fields = embed.fields[:FIELDS_MAX]
    for item in embed.fields:
        item.name = truncate(item.name, FIELD_NAME_MAX) or "\u200b"
        item.value = truncate(item.value, FIELD_VALUE_MAX) or "\u200b"
    while embed.total_length() > EMBED_TOTAL_MAX and embed.fields:
        embed.fields.pop()
    if embed.total_length() > EMBED_TOTAL_MAX:
        spare = EMBED_TOTAL_MAX - (embed.total_length() - len(embed.description))
        embed.description = truncate(embed.description, max(0, spare))
    return embed


def masked_link(text: str, url: str) -> str:
    """`[text](url)` with the text escaped and the URL normalized, so neither can end the link early or open
    another one; a stored URL that is not a safe link shows as the escaped text alone."""
    label = escape_markdown(text)
    target = safe_url(url)
    return f"[{label}]({target})" if target and label else label


def bare_link(url: str) -> str:
    """A URL shown as itself: `<url>` (no preview, nothing around it can join it); empty when unsafe."""
    target = safe_url(url)
    return f"<{target}>" if target else ""


def timestamp(moment: datetime, style: str = "F") -> str:
    """A Discord timestamp: every reader sees it in their own timezone and language."""
    return f"<t:{int(moment.timestamp())}:{style}>"
