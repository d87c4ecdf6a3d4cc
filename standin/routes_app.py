"""REST routes for application commands, interaction callbacks and interaction webhooks (followups/edits)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .interactions import CallbackRecord, InteractionHandle
from .messages import LOADING, edit_message, new_message
from .payloads import command_payload, message_payload
from .rest import Ctx, Reply, Router
from .state import CommandRecord, Json, MessageRecord, Pings
from .validate import ApiError, FormErrors, check_command, check_commands, check_message, compute_pings

if TYPE_CHECKING:
    from .server import StandIn


def register(router: Router, s: StandIn) -> None:
    _register_commands(router, s)
    _register_interactions(router, s)


def _register_commands(router: Router, s: StandIn) -> None:
    world = s.world

    def scope(ctx: Ctx) -> tuple[int, int | None]:
        app_id = ctx.int_param("application_id")
        if app_id != ctx.authed.id:
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" not in ctx.params:
            return app_id, None
        guild = world.guilds.get(ctx.int_param("guild_id"))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        if ctx.authed.bot.id not in guild.members:
            raise ApiError(403, 50001, "Missing Access")
        return app_id, guild.id

    def find(ctx: Ctx, key: tuple[int, int | None]) -> CommandRecord:
        cmd_id = ctx.int_param("command_id")
        for record in world.commands_for(*key):
            if record.id == cmd_id:
                return record
        raise ApiError(404, 10063, "Unknown application command")

    async def list_commands(ctx: Ctx) -> Reply:
        key = scope(ctx)
        return Reply(body=[command_payload(c) for c in world.commands_for(*key)])

    async def bulk_overwrite(ctx: Ctx) -> Reply:
        key = scope(ctx)
        commands = check_commands(ctx.json)
        old = {(c.name, c.type): c for c in world.commands_for(*key)}
        new: list[CommandRecord] = []
        for data in commands:
            data = _normalise(data)
            prev = old.get((str(data["name"]), int(data.get("type", 1))))
            if prev is not None and prev.data == data:
                new.append(prev)
                continue
            cmd_id = prev.id if prev is not None else world.snowflakes.next()
            new.append(CommandRecord(cmd_id, key[0], key[1], world.snowflakes.next(), data))
        world.commands[key] = new
        world.sync_counts[key] += 1
        s.sync_history.append((key[1], [c.name for c in new]))
        return Reply(body=[command_payload(c) for c in new])

    async def create_command(ctx: Ctx) -> Reply:
        key = scope(ctx)
        errors = FormErrors()
        data = _normalise(ctx.body)
        check_command(errors, [], data)
        errors.raise_if_any()
        records = world.commands_for(*key)
        for index, record in enumerate(records):
            if (record.name, record.type) == (data["name"], int(data.get("type", 1))):
                records[index] = CommandRecord(record.id, key[0], key[1], world.snowflakes.next(), data)
                return Reply(body=command_payload(records[index]))
        if sum(1 for r in records if r.type == int(data.get("type", 1))) >= 100:
            raise ApiError(400, 30032, "Maximum number of application commands reached (100)")
        record = CommandRecord(world.snowflakes.next(), key[0], key[1], world.snowflakes.next(), data)
        records.append(record)
        return Reply(status=201, body=command_payload(record))

    async def get_command(ctx: Ctx) -> Reply:
        return Reply(body=command_payload(find(ctx, scope(ctx))))

    async def edit_command(ctx: Ctx) -> Reply:
        key = scope(ctx)
        record = find(ctx, key)
        data = _normalise({**record.data, **ctx.body})
        errors = FormErrors()
        check_command(errors, [], data)
        errors.raise_if_any()
        record.data = data
        record.version = world.snowflakes.next()
        return Reply(body=command_payload(record))

    async def delete_command(ctx: Ctx) -> Reply:
        key = scope(ctx)
        record = find(ctx, key)
        world.commands[key] = [c for c in world.commands_for(*key) if c.id != record.id]
        return Reply(status=204)

    async def all_permissions(ctx: Ctx) -> Reply:
        scope(ctx)
        return Reply(body=[])

    async def command_permissions(ctx: Ctx) -> Reply:
        find(ctx, scope(ctx))
        raise ApiError(404, 10066, "Unknown application command permissions")

    for base in ("/applications/{application_id}", "/applications/{application_id}/guilds/{guild_id}"):
        router.add("GET", f"{base}/commands", list_commands)
        router.add("PUT", f"{base}/commands", bulk_overwrite)
        router.add("POST", f"{base}/commands", create_command)
        if "guild_id" in base:
            router.add("GET", f"{base}/commands/permissions", all_permissions)
            router.add("GET", f"{base}/commands/{{command_id}}/permissions", command_permissions)
        router.add("GET", f"{base}/commands/{{command_id}}", get_command)
        router.add("PATCH", f"{base}/commands/{{command_id}}", edit_command)
        router.add("DELETE", f"{base}/commands/{{command_id}}", delete_command)


def _normalise(data: Json) -> Json:
    """Drop server-side keys a client may echo back, so 'unchanged' compares what the client controls."""
    ignored = {"id", "application_id", "version", "guild_id"}
    return {k: v for k, v in data.items() if k not in ignored}


def _register_interactions(router: Router, s: StandIn) -> None:
    world = s.world

    def by_token(ctx: Ctx) -> InteractionHandle:
        handle = s.interactions_by_token.get(ctx.params["token"])
        if handle is None or handle.app.id != ctx.int_param("application_id"):
            raise ApiError(404, 10015, "Unknown Webhook")
        if time.perf_counter() - handle.dispatched_at > s.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return handle

    def interaction_metadata(handle: InteractionHandle) -> Json:
        return {
            "interaction_metadata": {
                "id": str(handle.id),
                "type": handle.type,
                "user": handle.user.payload(),
                "authorizing_integration_owners": handle.payload.get("authorizing_integration_owners", {}),
                "name": handle.name,
                "command_type": 1,
            }
        }

    def reply_message(handle: InteractionHandle, body: Json, ctx: Ctx, *, source: str, loading: bool) -> MessageRecord:
        channel = world.channels[handle.channel_id]
        message = new_message(
            world,
            s.attachments,
            channel=channel,
            author=handle.app.bot,
            body=body,
            files=ctx.files,
            source=source,
            application_id=handle.app.id,
            interaction_id=handle.id,
            extra_flags=LOADING if loading else 0,
            message_type=20 if handle.type == 2 else 0,
            validate=not loading,
        )
        message.extra.update(interaction_metadata(handle))
        if not message.ephemeral:
            s.gateway.dispatch("MESSAGE_CREATE", message_payload(world, message), guild_id=channel.guild_id)
        return message

    def deliver_deferred(handle: InteractionHandle, message: MessageRecord, body: Json, ctx: Ctx) -> None:
        """The first content of a deferred ('thinking…') reply: validate as a new message and compute pings."""
        check_message(body, has_files=bool(ctx.files))
        edit_message(world, s.attachments, message, body, ctx.files)
        message.allowed_mentions = body.get("allowed_mentions")
        channel = world.channels[message.channel_id]
        guild = world.guild_of(channel)
        if not message.ephemeral:
            perms = world.permissions(guild, handle.app.bot.id, channel) if guild is not None else 0
            message.pings = compute_pings(
                message.content, message.allowed_mentions, guild=guild, author_permissions=perms
            )
        else:
            message.pings = Pings()

    async def callback(ctx: Ctx) -> Reply:
        now = time.perf_counter()
        handle = s.interactions.get(ctx.int_param("interaction_id"))
        if handle is None or handle.token != ctx.params["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        body = ctx.body
        rtype = int(body.get("type") or 0)
        data: Json | None = body.get("data")
        record = CallbackRecord(rtype, data, list(ctx.files), now, now - handle.dispatched_at, 0, False)
        handle.callbacks.append(record)
        try:
            if record.latency > handle.deadline:
                record.late = True
                raise ApiError(404, 10062, "Unknown interaction")
            if any(c.accepted for c in handle.callbacks):
                raise ApiError(400, 40060, "Interaction has already been acknowledged.")
            message = respond(handle, rtype, data or {}, ctx)
        except ApiError as error:
            record.status = error.status
            raise
        record.accepted = True
        if ctx.query.get("with_response") not in ("1", "true", "True"):
            record.status = 204
            return Reply(status=204)
        record.status = 200
        return Reply(body=callback_body(handle, rtype, message))

    def respond(handle: InteractionHandle, rtype: int, data: Json, ctx: Ctx) -> MessageRecord | None:
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}.get(handle.type, set())
        if rtype not in allowed:
            errors = FormErrors()
            errors.add(["type"], "INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid response type {rtype}")
            errors.raise_if_any()
        if rtype == 4:
            handle.original = reply_message(handle, data, ctx, source="interaction", loading=False)
            return handle.original
        if rtype == 5:
            body = {"flags": int(data.get("flags") or 0) & 64}
            handle.original = reply_message(handle, body, ctx, source="interaction", loading=True)
            return handle.original
        if rtype == 7 and handle.source_message is not None:
            edit_message(world, s.attachments, handle.source_message, data, ctx.files)
            return handle.source_message
        if rtype == 8 and len(data.get("choices") or []) > 25:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "data": {
                        "choices": {
                            "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]
                        }
                    }
                },
            )
        return handle.source_message if rtype == 6 else None

    def callback_body(handle: InteractionHandle, rtype: int, message: MessageRecord | None) -> Json:
        info: Json = {"id": str(handle.id), "type": handle.type}
        result: Json = {"interaction": info}
        if message is not None:
            info.update(
                response_message_id=str(message.id),
                response_message_loading=message.loading,
                response_message_ephemeral=message.ephemeral,
            )
            result["resource"] = {"type": rtype, "message": message_payload(world, message)}
        else:
            result["resource"] = {"type": rtype}
        return result

    def original_or_404(handle: InteractionHandle) -> MessageRecord:
        if handle.original is None or handle.original.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return handle.original

    def followup_or_404(ctx: Ctx, handle: InteractionHandle) -> MessageRecord:
        if ctx.params["message_id"] == "@original":
            return original_or_404(handle)
        message_id = ctx.int_param("message_id")
        for message in [handle.original, *handle.followups]:
            if message is not None and message.id == message_id and not message.deleted:
                return message
        raise ApiError(404, 10008, "Unknown Message")

    async def followup(ctx: Ctx) -> Reply:
        handle = by_token(ctx)
        if not handle.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")
        body = ctx.body
        original = handle.original
        if original is not None and original.loading and not original.deleted:
            deliver_deferred(handle, original, body, ctx)  # the first followup replaces "thinking…"
            message = original
            if not message.ephemeral:
                payload = message_payload(world, message)
                s.gateway.dispatch("MESSAGE_UPDATE", payload, guild_id=message.guild_id)
        else:
            message = reply_message(handle, body, ctx, source="followup", loading=False)
        handle.followups.append(message)
        return Reply(body=message_payload(world, message)) if _wants_body(ctx) else Reply(status=204)

    async def get_webhook_message(ctx: Ctx) -> Reply:
        handle = by_token(ctx)
        return Reply(body=message_payload(world, followup_or_404(ctx, handle)))

    async def edit_webhook_message(ctx: Ctx) -> Reply:
        handle = by_token(ctx)
        message = followup_or_404(ctx, handle)
        if message.loading:
            deliver_deferred(handle, message, ctx.body, ctx)
        else:
            edit_message(world, s.attachments, message, ctx.body, ctx.files)
        if message is handle.original:
            handle.edits.append(dict(ctx.body))
        if not message.ephemeral:
            s.gateway.dispatch("MESSAGE_UPDATE", message_payload(world, message), guild_id=message.guild_id)
        return Reply(body=message_payload(world, message))

    async def delete_webhook_message(ctx: Ctx) -> Reply:
        handle = by_token(ctx)
        message = followup_or_404(ctx, handle)
        message.deleted = True
        return Reply(status=204)

    router.add("POST", "/interactions/{interaction_id}/{token}/callback", callback, auth=False, exempt_global=True)
    hook = "/webhooks/{application_id}/{token}"
    router.add("POST", hook, followup, auth=False, exempt_global=True)
    for method, handler in (
        ("GET", get_webhook_message),
        ("PATCH", edit_webhook_message),
        ("DELETE", delete_webhook_message),
    ):
        router.add(method, f"{hook}/messages/{{message_id}}", handler, auth=False, exempt_global=True)


def _wants_body(ctx: Ctx) -> bool:
    wait: Any = ctx.query.get("wait", "true")
    return str(wait).lower() in ("1", "true")
