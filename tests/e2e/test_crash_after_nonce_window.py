"""A reminder posted just before a crash, and a restart only after Discord has forgotten its nonce: the
channel's history — not the nonce — is what keeps the reminder from being posted twice.

The real `studybot run` runs as its own process against the in-test stand-in; the stand-in's clock is moved
past its nonce window between the kill and the restart, so a resend with the same nonce would post anew.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from standin import StandIn
from tests.e2e.procs import MESSAGES, kill, kill_after_first_post, spawn
from tests.e2e.test_crash_restart import ledger, prepare_study, wait_for_status

pytestmark = pytest.mark.e2e


async def test_restart_after_the_nonce_window_finds_the_posted_reminder_in_history(
    tmp_path: Path, standin: StandIn
) -> None:
    world = standin.defaults
    assert world is not None
    config = await prepare_study(tmp_path, standin)
    # Discord stores the message, then the answer is lost (a 500 after handling): posted, never confirmed.
    standin.faults.server_error("POST", MESSAGES, count=None, status=500, after_handling=True)
    path = f"/channels/{world.channel_id}/messages"
    await kill_after_first_post(standin, config, path)
    [row] = await ledger(tmp_path)
    assert row.status == "claimed"
    [posted] = standin.messages(world.channel_id)
    standin.faults.clear()
    standin.advance_clock(timedelta(seconds=standin.nonce_window + 60))
    assert not standin.nonce_remembered(world.channel_id, row.nonce)  # a resend now would post a second message
    posts_before = len(standin.requests_to("POST", path))
    hits_before = standin.nonce_hits
    second = await spawn(config)
    try:
        [row] = await wait_for_status(tmp_path, "sent", timeout=30)
        assert row.message_id == posted.id
        await standin.wait_for_session(timeout=30)
        status = await standin.invoke("admin reminders status", {}, user_id=world.admin_user_id, locale="en-US")
        await status.wait_reply(timeout=15)  # the restarted bot is up and serving: its resume is behind it
        assert [m.id for m in standin.messages(world.channel_id)] == [posted.id]
        assert len(standin.requests_to("POST", path)) == posts_before  # found in history, not sent again
        assert standin.nonce_hits == hits_before
    finally:
        await kill(second)
