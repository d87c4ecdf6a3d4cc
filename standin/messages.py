"""Creating and editing messages the way Discord does, shared by channel sends, interaction replies and followups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .state import Channel, FileRecord, Json, MessageRecord, Pings, User, World
from .validate import ApiError, check_message, compute_pings

EPHEMERAL = 64
LOADING = 128
EDITABLE_FLAGS = 4 | 4096  # SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS


@dataclass
class AttachmentStore:
    """Uploaded files by attachment id, served back under /attachments/... like Discord's CDN."""

    origin: str = ""
    files: dict[int, FileRecord] = field(default_factory=dict)

    def attachments(self, world: World, channel: Channel, body: Json, files: list[FileRecord]) -> list[Json]:
        """The message's `attachments`: uploaded files (matched to `attachments[].id` = file index) + kept ones."""
        declared = {str(a.get("id")): a for a in body.get("attachments") or [] if isinstance(a, dict)}
        out: list[Json] = []
        for index, upload in enumerate(files):
            meta = declared.pop(str(index), {})
            att_id = world.snowflakes.next()
            self.files[att_id] = upload
            filename = str(meta.get("filename") or upload.filename)
            url = f"{self.origin}/attachments/{channel.id}/{att_id}/{filename}"
            item: Json = {
                "id": str(att_id),
                "filename": filename,
                "size": len(upload.content),
                "url": url,
                "proxy_url": url,
                "content_type": _guess_type(filename, upload.content_type),
            }
            if meta.get("description"):
                item["description"] = meta["description"]
            out.append(item)
        return out


def _guess_type(filename: str, sent: str | None) -> str:
    if filename.endswith(".ics"):
        return "text/calendar; charset=utf-8"
    if filename.endswith(".txt"):
        return "text/plain; charset=utf-8"
    if filename.endswith(".png"):
        return "image/png"
    return sent or "application/octet-stream"


def new_message(
    world: World,
    store: AttachmentStore,
    *,
    channel: Channel,
    author: User,
    body: Json,
    files: list[FileRecord],
    source: str,
    application_id: int | None = None,
    interaction_id: int | None = None,
    extra_flags: int = 0,
    message_type: int = 0,
    validate: bool = True,
) -> MessageRecord:
    """Validate (limits, empty message) and store a new message; computes who it pings."""
    if validate:
        check_message(body, has_files=bool(files))
    guild = world.guild_of(channel)
    flags = (int(body.get("flags") or 0) & (EPHEMERAL | EDITABLE_FLAGS)) | extra_flags
    reference = body.get("message_reference") if isinstance(body.get("message_reference"), dict) else None
    replied_author: int | None = None
    if reference is not None:
        referenced = world.messages.get(int(reference.get("message_id") or 0))
        if referenced is None and reference.get("fail_if_not_exists", True):
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "message_reference": {
                        "_errors": [{"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}]
                    }
                },
            )
        replied_author = referenced.author.id if referenced is not None else None
    content = str(body.get("content") or "")
    allowed = body.get("allowed_mentions") if isinstance(body.get("allowed_mentions"), dict) else None
    pings = Pings()
    if not flags & EPHEMERAL:
        perms = world.permissions(guild, author.id, channel) if guild is not None else 0
        pings = compute_pings(content, allowed, guild=guild, author_permissions=perms, replied_user_id=replied_author)
    nonce = body.get("nonce")
    message = MessageRecord(
        id=world.snowflakes.next(),
        channel_id=channel.id,
        guild_id=channel.guild_id,
        author=author,
        content=content,
        embeds=list(body.get("embeds") or []),
        flags=flags,
        created_at=world.clock(),
        source=source,
        nonce=None if nonce is None else str(nonce),
        allowed_mentions=body.get("allowed_mentions"),
        pings=pings,
        files=list(files),
        attachments=store.attachments(world, channel, body, files),
        components=list(body.get("components") or []),
        tts=bool(body.get("tts", False)),
        interaction_id=interaction_id,
        application_id=application_id,
        message_reference=reference,
        message_type=message_type,
    )
    world.add_message(message)
    return message


def edit_message(
    world: World, store: AttachmentStore, message: MessageRecord, body: Json, files: list[FileRecord]
) -> MessageRecord:
    """Apply an edit (content/embeds/components/attachments/flags); edits never ping anyone again."""
    check_message(body, has_files=bool(files), edit=True)
    if "content" in body:
        message.content = str(body.get("content") or "")
    if "embeds" in body:
        message.embeds = list(body.get("embeds") or [])
    if "components" in body:
        message.components = list(body.get("components") or [])
    if "flags" in body and body["flags"] is not None:
        message.flags = (message.flags & ~EDITABLE_FLAGS) | (int(body["flags"]) & EDITABLE_FLAGS)
    if "attachments" in body or files:
        keep_ids = {str(a.get("id")) for a in body.get("attachments") or [] if isinstance(a, dict)}
        kept = [a for a in message.attachments if a["id"] in keep_ids]
        channel = world.channels[message.channel_id]
        message.attachments = kept + store.attachments(world, channel, body, files)
        message.files = [store.files[int(a["id"])] for a in message.attachments if int(a["id"]) in store.files]
    if "allowed_mentions" in body:
        message.allowed_mentions = body["allowed_mentions"]
    message.flags &= ~LOADING
    message.edited_at = world.clock()
    message.edits.append(dict(body))
    if not message.content and not message.embeds and not message.attachments and not message.components:
        raise ApiError(400, 50006, "Cannot send an empty message")
    return message


def find_nonce_duplicate(
    world: World, channel_id: int, author_id: int, nonce: Any, *, window_s: float
) -> MessageRecord | None:
    """With enforce_nonce, Discord returns the message the same author sent with this nonce in the last minutes."""
    if nonce is None:
        return None
    now = world.clock()
    for message in reversed(world.channel_messages.get(channel_id, [])):
        if (now - message.created_at).total_seconds() > window_s:
            break
        if message.author.id == author_id and message.nonce == str(nonce) and not message.deleted:
            return message
    return None


def paginate(messages: list[MessageRecord], query: dict[str, str]) -> list[MessageRecord]:
    """GET /channels/{id}/messages: newest first, `limit` (1–100, default 50), before/after/around by id."""
    limit = max(1, min(100, int(query.get("limit", "50"))))
    items = sorted(messages, key=lambda m: m.id, reverse=True)
    if "before" in query:
        items = [m for m in items if m.id < int(query["before"])]
    if "after" in query:
        items = sorted((m for m in items if m.id > int(query["after"])), key=lambda m: m.id)[:limit]
        return list(reversed(items))
    return items[:limit]
