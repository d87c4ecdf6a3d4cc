"""The Discord stand-in driven by a bare discord.py bot: login, sync, interactions, faults and Discord's limits."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.http import Route

from bench.bare import PONG, BareBot, start_bare_bot, stop_bare_bot
from bot.endpoints import apply_endpoints, current_endpoints, reset_endpoints
from standin import StandIn

pytestmark = pytest.mark.e2e

MESSAGES = r"^/channels/\d+/messages$"
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


class ProbeBot(BareBot):
    """The bare bot plus a few commands that exercise deferral, files, options and lateness."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[discord.Interaction] = []
        self.errors: list[Exception] = []
        self.add_listener(self._on_interaction, "on_interaction")
        tree = self.tree

        @tree.command(name="defer", description="Defer, then follow up with a calendar file")
        async def defer(interaction: discord.Interaction, ephemeral: bool = False) -> None:
            await interaction.response.defer(thinking=True, ephemeral=ephemeral)
            await asyncio.sleep(0.05)
            await interaction.followup.send("done", file=discord.File(io.BytesIO(ICS), filename="study.ics"))

        @tree.command(name="slow", description="Answer after a delay")
        async def slow(interaction: discord.Interaction, seconds: float) -> None:
            await asyncio.sleep(seconds)
            try:
                await interaction.response.send_message("late")
            except discord.HTTPException as exc:
                self.errors.append(exc)

        @tree.command(name="echo", description="Repeat the text")
        async def echo(interaction: discord.Interaction, text: str) -> None:
            try:
                await interaction.response.send_message(text)
            except discord.HTTPException as exc:
                self.errors.append(exc)

        study = app_commands.Group(name="study", description="Study settings")
        setting = app_commands.Group(name="set", description="Change a setting", parent=study)

        @setting.command(name="reminder", description="Where and whom to remind")
        async def reminder(
            interaction: discord.Interaction,
            channel: discord.TextChannel,
            role: discord.Role,
            who: discord.Member,
            minutes: int,
            loud: bool,
            note: str = "",
        ) -> None:
            text = (
                f"{channel.name}|{role.name}|{who.name}|{minutes}|{loud}|{note}|{interaction.permissions.administrator}"
            )
            await interaction.response.send_message(text, ephemeral=True)

        tree.add_command(study)

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        self.seen.append(interaction)


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    async with StandIn() as server:
        yield server
    reset_endpoints()


@pytest.fixture
async def bot(standin: StandIn) -> AsyncIterator[ProbeBot]:
    probe = ProbeBot()
    await start_bare_bot(
        token=standin.app.token, api_base_url=standin.api_base_url, gateway_url=standin.gateway_url, bot=probe
    )
    try:
        yield probe
    finally:
        await stop_bare_bot(probe)


def channel_of(bot: discord.Client, standin: StandIn) -> discord.TextChannel:
    assert standin.defaults is not None
    channel = bot.get_channel(standin.defaults.channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


# -- login, gateway, sync ------------------------------------------------------------------------------


async def test_login_ready_and_sync_visible(standin: StandIn, bot: ProbeBot) -> None:
    assert standin.defaults is not None
    assert current_endpoints() == (standin.api_base_url, standin.gateway_url)
    assert bot.is_ready()
    assert bot.user is not None
    assert bot.user.id == standin.app.bot.id
    assert bot.application_id == standin.app.id
    guild = bot.get_guild(standin.defaults.guild_id)
    assert guild is not None
    assert guild.name == "Study Group"
    assert {c.name for c in guild.channels} == {"general", "study-room"}
    assert guild.get_role(standin.defaults.study_role_id) is not None
    assert guild.me.guild_permissions.manage_events
    paths = [(r.method, r.path) for r in standin.requests[:2]]
    assert paths == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
    assert standin.sync_count() == 1
    assert sorted(c["name"] for c in standin.commands()) == ["defer", "echo", "ping", "slow", "study"]
    assert standin.gateway.stats.identifies == 1
    assert standin.gateway.stats.heartbeats >= 1
    assert bot.latency < 1.0
    assert [e.name for e in standin.events[:2]] == ["READY", "GUILD_CREATE"]
    assert standin.unexpected_requests == []


async def test_json_content_type_is_exact_and_token_required(standin: StandIn) -> None:
    headers = {"Authorization": f"Bot {standin.app.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{standin.api_base_url}/users/@me", headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
        async with http.get(f"{standin.api_base_url}/users/@me", headers={"Authorization": "Bot wrong"}) as resp:
            assert resp.status == 401
    apply_endpoints(api_base_url=standin.api_base_url, gateway_url=standin.gateway_url)
    client = discord.Client(intents=discord.Intents.none())
    with pytest.raises(discord.LoginFailure):
        await client.login("wrong-token")
    await client.close()


async def test_sync_again_keeps_ids_and_counts(standin: StandIn, bot: ProbeBot) -> None:
    before = {c["name"]: c["id"] for c in standin.commands()}
    synced = await bot.tree.sync()
    assert standin.sync_count() == 2
    assert {c.name: str(c.id) for c in synced} == before


# -- interactions --------------------------------------------------------------------------------------


async def test_ping_is_answered_with_locale(standin: StandIn, bot: ProbeBot) -> None:
    handle = await standin.invoke("ping", locale="ko")
    reply = await handle.wait_reply(timeout=2.0)
    assert reply.content == PONG
    assert handle.response is not None
    assert handle.response.type == 4
    assert handle.latency is not None
    assert handle.latency < 1.0
    assert not handle.late
    assert reply in standin.messages()
    assert bot.seen[-1].locale is discord.Locale.korean
    assert bot.seen[-1].guild_locale is discord.Locale.american_english


async def test_subcommand_options_are_typed_and_resolved(standin: StandIn, bot: ProbeBot) -> None:
    ids = standin.defaults
    assert ids is not None
    options = {
        "channel": ids.channel_id,
        "role": ids.study_role_id,
        "who": ids.member_user_id,
        "minutes": 30,
        "loud": True,
    }
    handle = await standin.invoke("study set reminder", options, user_id=ids.admin_user_id)
    reply = await handle.wait_reply(timeout=2.0)
    assert reply.content == "general|Study|member|30|True||True"
    assert reply.ephemeral
    assert reply not in standin.messages()
    group = handle.payload["data"]["options"][0]
    assert (group["type"], group["options"][0]["type"]) == (2, 1)
    assert set(handle.payload["data"]["resolved"]) == {"users", "members", "channels", "roles"}


async def test_defer_then_followup_with_file(standin: StandIn, bot: ProbeBot) -> None:
    handle = await standin.invoke("defer")
    first = await handle.wait_response(timeout=2.0)
    assert first.type == 5
    assert first.accepted
    reply = await handle.wait_reply(timeout=2.0)
    assert reply.content == "done"
    assert not reply.loading
    assert handle.original is not None
    assert reply.id == handle.original.id
    assert [(f.filename, f.content) for f in reply.files] == [("study.ics", ICS)]
    assert reply.attachments[0]["filename"] == "study.ics"

    hidden = await standin.invoke("defer", {"ephemeral": True})
    hidden_reply = await hidden.wait_reply(timeout=2.0)
    assert hidden_reply.ephemeral
    assert hidden_reply not in standin.messages()


async def test_late_answer_is_flagged_and_rejected(standin: StandIn, bot: ProbeBot) -> None:
    standin.interaction_deadline = 0.2
    handle = await standin.invoke("slow", {"seconds": 0.4})
    response = await handle.wait_response(timeout=2.0)
    assert handle.late
    assert response.late
    assert not response.accepted
    assert response.status == 404
    assert not handle.acknowledged
    await standin.wait_until(lambda: bool(bot.errors), 1.0)
    assert isinstance(bot.errors[0], discord.NotFound)
    assert bot.errors[0].code == 10062

    on_time = await standin.invoke("slow", {"seconds": 0.0})
    assert (await on_time.wait_response(timeout=2.0)).accepted
    assert not on_time.late


async def test_second_callback_is_already_acknowledged(standin: StandIn, bot: ProbeBot) -> None:
    handle = await standin.invoke("ping")
    await handle.wait_response(timeout=2.0)
    url = f"{standin.api_base_url}/interactions/{handle.id}/{handle.token}/callback"
    async with aiohttp.ClientSession() as http, http.post(url, json={"type": 4, "data": {"content": "x"}}) as resp:
        assert resp.status == 400
        assert (await resp.json())["code"] == 40060
    assert handle.response is not None
    assert handle.response.content == PONG
    assert len(handle.callbacks) == 2


async def test_interaction_reply_over_2000_chars_is_rejected(standin: StandIn, bot: ProbeBot) -> None:
    handle = await standin.invoke("echo", {"text": "x" * 2001})
    response = await handle.wait_response(timeout=2.0)
    assert response.status == 400
    assert not handle.acknowledged
    await standin.wait_until(lambda: bool(bot.errors), 1.0)
    assert isinstance(bot.errors[0], discord.HTTPException)
    assert bot.errors[0].code == 50035


# -- faults ---------------------------------------------------------------------------------------------


async def test_429_storm_is_retried_and_lands_once(standin: StandIn, bot: ProbeBot) -> None:
    channel = channel_of(bot, standin)
    standin.faults.rate_limit("POST", MESSAGES, count=3, retry_after=0.05)
    await channel.send("after the storm")
    assert [m.content for m in standin.messages()] == ["after the storm"]
    stats = standin.route_stats["POST /channels/{channel_id}/messages"]
    assert (stats.requests, stats.rate_limited) == (4, 3)

    standin.faults.rate_limit("POST", MESSAGES, count=5, retry_after=0.01)  # discord.py gives up after 5 tries
    with pytest.raises(discord.HTTPException) as raised:
        await channel.send("lost")
    assert raised.value.status == 429
    assert [m.content for m in standin.messages()] == ["after the storm"]


async def test_429_without_via_is_not_retried(standin: StandIn, bot: ProbeBot) -> None:
    standin.faults.rate_limit("POST", MESSAGES, count=1, retry_after=0.01, via=False)
    with pytest.raises(discord.HTTPException):
        await channel_of(bot, standin).send("banned?")
    assert standin.messages() == []
    assert standin.route_stats["POST /channels/{channel_id}/messages"].requests == 1


async def test_5xx_burst_is_retried(standin: StandIn, bot: ProbeBot) -> None:
    channel = channel_of(bot, standin)
    standin.faults.server_error("POST", MESSAGES, count=1, status=500)
    standin.faults.server_error("POST", MESSAGES, count=1, status=502)
    await channel.send("survived")  # discord.py sleeps 1 s, then 3 s
    assert [m.content for m in standin.messages()] == ["survived"]
    assert standin.route_stats["POST /channels/{channel_id}/messages"].server_errors == 2

    standin.faults.server_error("POST", MESSAGES, count=1, status=503)  # not in discord.py's retry set
    with pytest.raises(discord.DiscordServerError):
        await channel.send("unavailable")
    assert len(standin.messages()) == 1


async def test_5xx_after_write_is_deduplicated_by_nonce(standin: StandIn, bot: ProbeBot) -> None:
    channel = channel_of(bot, standin)
    standin.faults.server_error("POST", MESSAGES, count=1, status=500, after_handling=True)
    sent = await channel.send("reminder", nonce="rem-1-d1")
    assert [m.id for m in standin.messages()] == [sent.id]
    assert standin.nonce_hits == 1
    again = await channel.send("reminder", nonce="rem-1-d1")
    assert again.id == sent.id
    assert len(standin.messages()) == 1
    other = await channel.send("reminder")  # no nonce: a new message
    assert other.id != sent.id


@pytest.mark.parametrize("mode", ["close", "abort"])
async def test_dropped_gateway_resumes_and_replays(standin: StandIn, bot: ProbeBot, mode: str) -> None:
    assert await standin.drop_gateway(mode=mode) == 1
    handle = await standin.invoke("ping")  # dispatched while disconnected: replayed on RESUME
    reply = await handle.wait_reply(timeout=3.0)
    assert reply.content == PONG
    await standin.wait_for_session(resumes=1, timeout=2.0)
    assert (standin.gateway.stats.identifies, standin.gateway.stats.resumes) == (1, 1)
    after = await standin.invoke("ping")
    assert (await after.wait_reply(timeout=2.0)).content == PONG
    assert len([i for i in bot.seen if i.id == handle.id]) == 1  # replayed exactly once


async def test_reconnect_request_and_invalid_session(standin: StandIn, bot: ProbeBot) -> None:
    standin.gateway.request_reconnect()  # op 7: the client closes and RESUMEs
    await standin.wait_for_session(resumes=1, timeout=3.0)
    standin.gateway.invalidate_sessions(resumable=False)  # op 9 false: the client must IDENTIFY again,
    await standin.wait_for_session(identifies=2, resumes=1, timeout=8.0)  # which discord.py delays by 5 s
    handle = await standin.invoke("ping")
    assert (await handle.wait_reply(timeout=2.0)).content == PONG


async def test_route_bucket_headers_are_honoured(standin: StandIn, bot: ProbeBot) -> None:
    standin.faults.set_bucket("POST", MESSAGES, limit=2, per=0.25)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(channel_of(bot, standin).send(f"b{n}") for n in range(6)))
    assert loop.time() - started >= 0.45  # discord.py waited for the bucket to reset, twice
    assert len(standin.messages()) == 6
    assert standin.route_stats["POST /channels/{channel_id}/messages"].rate_limited == 0


async def test_global_rate_limit_is_honoured_and_callbacks_exempt(standin: StandIn, bot: ProbeBot) -> None:
    assert standin.defaults is not None
    guild_id = standin.defaults.guild_id
    channel_ids = [standin.add_channel(guild_id, f"c{i}") for i in range(4)]
    await standin.wait_until(lambda: all(bot.get_channel(c) for c in channel_ids), 2.0, "CHANNEL_CREATE")
    text = [c for c in map(bot.get_channel, channel_ids) if isinstance(c, discord.TextChannel)]
    assert len(text) == 4
    standin.faults.set_global_limit(8)
    await asyncio.gather(*(c.send(f"m{n}") for c in text for n in range(4)))  # 16 sends, 8/s allowed
    assert sum(len(standin.messages(c.id)) for c in text) == 16
    assert standin.route_stats["POST /channels/{channel_id}/messages"].rate_limited > 0

    standin.faults.set_global_limit(1)
    await text[0].send("fills the window")
    handle = await standin.invoke("ping")  # within the same second: the callback is not globally limited
    assert (await handle.wait_reply(timeout=2.0)).content == PONG
    assert handle.latency is not None
    assert handle.latency < 0.5
    assert standin.route_stats["POST /interactions/{interaction_id}/{token}/callback"].rate_limited == 0


async def test_two_bots_share_one_standin(standin: StandIn, bot: ProbeBot) -> None:
    bare_app = standin.add_application("bare")
    bare = await start_bare_bot(
        token=bare_app.token, api_base_url=standin.api_base_url, gateway_url=standin.gateway_url
    )
    try:
        assert standin.sync_count(application=bare_app) == 1
        assert [c["name"] for c in standin.commands(application=bare_app)] == ["ping"]
        to_bare = await standin.invoke("ping", application=bare_app)
        to_probe = await standin.invoke("ping")
        assert (await to_bare.wait_reply(timeout=2.0)).author.id == bare_app.bot.id
        assert (await to_probe.wait_reply(timeout=2.0)).author.id == standin.app.bot.id
        assert [i.id for i in bot.seen] == [to_probe.id]  # each bot only gets its own interactions
    finally:
        await stop_bare_bot(bare)


async def test_buttons_autocomplete_and_dm(standin: StandIn, bot: ProbeBot) -> None:
    class Confirm(discord.ui.View):
        @discord.ui.button(label="OK", custom_id="confirm")
        async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button[Confirm]) -> None:
            await interaction.response.edit_message(content="confirmed", view=None)

    sent = await channel_of(bot, standin).send("sure?", view=Confirm(timeout=None))
    message = standin.world.messages[sent.id]
    click = await standin.click(message, "confirm")
    assert (await click.wait_response(timeout=2.0)).type == 7
    assert message.content == "confirmed"
    assert message.components == []

    async def complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f"{current}{n}", value=f"{current}{n}") for n in range(30)][:25]

    echo = bot.tree.get_command("echo")
    assert isinstance(echo, app_commands.Command)
    echo.autocomplete("text")(complete)
    typed = await standin.invoke("echo", {"text": "wee"}, focused="text")
    choices = await typed.wait_response(timeout=2.0)
    assert choices.type == 8
    assert choices.data is not None
    assert len(choices.data["choices"]) == 25
    assert typed.payload["type"] == 4

    dm = await standin.invoke("ping", dm=True)
    assert (await dm.wait_reply(timeout=2.0)).content == PONG
    assert "guild_id" not in dm.payload


# -- Discord's limits and rules ------------------------------------------------------------------------


async def test_message_and_embed_limits_answer_400(standin: StandIn, bot: ProbeBot) -> None:
    channel = channel_of(bot, standin)
    with pytest.raises(discord.HTTPException) as raised:
        await channel.send("x" * 2001)
    assert (raised.value.status, raised.value.code) == (400, 50035)
    with pytest.raises(discord.HTTPException) as raised:
        await channel.send(embed=discord.Embed(description="d" * 4097))
    assert "embeds.0.description" in raised.value.text
    big = [discord.Embed(description="d" * 4000) for _ in range(2)]
    with pytest.raises(discord.HTTPException, match="6000"):
        await channel.send(embeds=big)
    fields = discord.Embed(title="t")
    for i in range(26):
        fields.add_field(name=f"f{i}", value="v")
    with pytest.raises(discord.HTTPException):
        await channel.send(embed=fields)
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
    with pytest.raises(discord.HTTPException) as raised:
        await bot.http.request(route, json={"embeds": [{"title": "t"}] * 11})
    assert raised.value.code == 50035
    with pytest.raises(discord.HTTPException) as raised:
        await bot.http.request(route, json={"content": ""})
    assert raised.value.code == 50006
    assert standin.messages() == []
    await channel.send("x" * 2000, embed=discord.Embed(description="d" * 4096))
    assert len(standin.messages()) == 1


async def test_pings_follow_allowed_mentions(standin: StandIn, bot: ProbeBot) -> None:
    ids = standin.defaults
    assert ids is not None
    channel = channel_of(bot, standin)
    text = f"<@&{ids.study_role_id}> <@{ids.member_user_id}> @everyone"
    only_role = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(ids.study_role_id)])
    await channel.send(text, allowed_mentions=only_role)
    await channel.send(text)  # no allowed_mentions: Discord parses everything
    await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
    targeted, everything, nobody = (m.pings for m in standin.messages())
    assert targeted.roles == {ids.study_role_id}
    assert not targeted.users
    assert not targeted.everyone
    assert everything.roles == {ids.study_role_id}
    assert everything.users == {ids.member_user_id}
    assert everything.everyone
    assert nobody.nobody
    sent = standin.messages()[0].allowed_mentions
    assert sent is not None
    assert sent["parse"] == []
    assert sent["roles"] == [ids.study_role_id]


async def test_scheduled_events_validated_and_dispatched(standin: StandIn, bot: ProbeBot) -> None:
    ids = standin.defaults
    assert ids is not None
    guild = bot.get_guild(ids.guild_id)
    assert guild is not None
    start = standin.world.clock() + timedelta(days=2)
    event = await guild.create_scheduled_event(
        name="Week 3",
        start_time=start,
        end_time=start + timedelta(hours=1),
        entity_type=discord.EntityType.external,
        privacy_level=discord.PrivacyLevel.guild_only,
        location="Gather Town",
    )
    assert [e["name"] for e in standin.scheduled_events()] == ["Week 3"]
    await standin.wait_until(lambda: guild.get_scheduled_event(event.id) is not None, 2.0)
    await event.edit(name="Week 3 (moved)")
    assert standin.scheduled_events()[0]["name"] == "Week 3 (moved)"

    bad = {
        "name": "No place",
        "privacy_level": 2,
        "entity_type": 3,
        "scheduled_start_time": start.isoformat(),
        "scheduled_end_time": (start + timedelta(hours=1)).isoformat(),
        "entity_metadata": {"location": "x" * 101},
    }
    route = Route("POST", "/guilds/{guild_id}/scheduled-events", guild_id=guild.id)
    with pytest.raises(discord.HTTPException) as raised:
        await bot.http.request(route, json=bad)
    assert raised.value.code == 50035
    assert "entity_metadata.location" in raised.value.text
    with pytest.raises(discord.HTTPException, match="scheduled_end_time"):
        await bot.http.request(route, json={**bad, "entity_metadata": {"location": "ok"}, "scheduled_end_time": None})

    standin.set_manage_events(guild.id, allowed=False)
    with pytest.raises(discord.Forbidden) as forbidden:
        await event.delete()
    assert forbidden.value.code == 50013
    assert len(standin.scheduled_events()) == 1

    standin.set_manage_events(guild.id, allowed=True)
    standin.max_scheduled_events = 1  # Discord: at most 100 scheduled or active events per guild
    with pytest.raises(discord.HTTPException) as raised:
        await bot.http.request(route, json={**bad, "entity_metadata": {"location": "ok"}})
    assert raised.value.code == 30038
    await event.delete()
    assert standin.scheduled_events() == []
    await standin.wait_until(lambda: guild.get_scheduled_event(event.id) is None, 2.0, "the DELETE dispatch")


async def test_channel_message_edit_fetch_and_delete(standin: StandIn, bot: ProbeBot) -> None:
    channel = channel_of(bot, standin)
    sent = await channel.send("draft", file=discord.File(io.BytesIO(ICS), filename="a.ics"))
    edited = await sent.edit(content="final")
    stored = standin.messages()[0]
    assert edited.content == "final"
    assert stored.content == "final"
    assert [e["content"] for e in stored.edits] == ["final"]
    assert stored.files[0].content == ICS
    fetched = await channel.fetch_message(sent.id)
    assert fetched.attachments[0].filename == "a.ics"
    assert await fetched.attachments[0].read() == ICS  # served back by the stand-in's attachment URL
    await sent.delete()
    assert standin.messages() == []
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(sent.id)


async def test_unknown_routes_are_recorded(standin: StandIn, bot: ProbeBot) -> None:
    with pytest.raises(discord.NotFound):
        await bot.http.request(Route("GET", "/guilds/{guild_id}/widget.json", guild_id=1))
    assert [r.path for r in standin.unexpected_requests] == ["/guilds/1/widget.json"]
