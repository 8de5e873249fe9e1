"""Emojiboard inside Slack: `/emojiboard`, the App Home tab and the weekly digest,
against the real local stack. Slack's side is the devkit's stand-in, which records what
`views.publish` and `chat.postMessage` were sent; the Home tab is published by
`slack_tasks` from the local SQS, as on AWS."""
import dataclasses
import json
import threading
import time
from datetime import datetime
from typing import List
from zoneinfo import ZoneInfo

import pytest

from chalicelib import digest, services
from devkit import simulate
from tests.conftest import SECRET, TEAM
from tests.helpers import deliver, post_event, reaction, settled, wait_for
from tests.test_dashboard import browser  # noqa: F401 - the Chromium fixture

ADA, GRACE, ALAN = "UDEMOADA", "UDEMOGRACE", "UDEMOALAN"
GENERAL, SECRET_CHANNEL = "CDEMOGENERAL", "CDEMOSECRET"


def command(stack, text: str, *, secret: str = SECRET, user: str = ADA):
    import requests
    body = simulate.slash_command(text, user=user, team_id=TEAM)
    return requests.post(f"{stack.url}/slack/commands", data=body, timeout=10, headers={
        **simulate.signed_headers(body, secret), "Content-Type": "application/x-www-form-urlencoded"})


def valid_block_kit(blocks: List[dict], most: int) -> None:
    """Slack's published limits ("Blocks", docs.slack.dev/reference/block-kit/blocks)."""
    assert 0 < len(blocks) <= most
    for block in blocks:
        assert block["type"] in ("header", "section", "context", "divider", "actions")
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            assert all(len(b["text"]["text"]) <= 75 for b in block["elements"])


@pytest.fixture
def reactions(stack):
    """Ada gave 3 tadas and a fire in #general, Grace 2 eyes in the private channel."""
    for i in range(3):
        post_event(stack, reaction("tada", user=ADA, channel=GENERAL, item_ts=f"1700000000.00010{i}",
                                   item_user=GRACE))
    post_event(stack, reaction("fire", user=ADA, channel=GENERAL, item_user=GRACE))
    for i in range(2):
        post_event(stack, reaction("eyes", user=GRACE, channel=SECRET_CHANNEL, item_ts=f"1700000001.00010{i}",
                                   item_user=ADA))
    settled(stack)


# ---- /emojiboard -------------------------------------------------------------------

def test_the_command_answers_the_top_ten_with_counts_and_a_link(stack, reactions):
    answer = command(stack, "")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    reply = answer.json()
    assert reply["response_type"] == "ephemeral"
    valid_block_kit(reply["blocks"], 50)
    header, ranking, context = reply["blocks"]
    assert header["text"]["text"] == "Top emoji · the last 7 days"
    assert ranking["text"]["text"].splitlines() == ["1. :tada:  *3*", "2. :eyes:  *2*", "3. :fire:  *1*"]
    assert context["elements"][0]["text"].startswith("6 reactions in the last 7 days · <")
    assert f"{stack.url}/?view=emoji&window=7d|Open on the dashboard>" in context["elements"][0]["text"]


@pytest.mark.parametrize("text, header, first_line, link", [
    ("24h", "Top emoji · the last 24 hours", "1. :tada:  *3*", "view=emoji&window=24h"),
    ("all", "Top emoji · all time", "1. :tada:  *3*", "view=emoji&window=all"),
    ("30D", "Top emoji · the last 30 days", "1. :tada:  *3*", "view=emoji&window=30d"),
    (f"<#{GENERAL}|general>", "Top emoji · the last 7 days", "1. :tada:  *3*",
     f"view=emoji&window=7d&channel={GENERAL}"),
    (f"30d #{GENERAL}", "Top emoji · the last 30 days", "1. :tada:  *3*", f"channel={GENERAL}"),
    (f"<@{GRACE}|grace>", "Top emoji · the last 7 days", "1. :eyes:  *2*", f"giver={GRACE}"),
    ("given", "Top givers · the last 7 days", f"1. <@{ADA}>  *4*", "view=people&side=given&window=7d"),
    ("7d received", "Top receivers · the last 7 days", f"1. <@{GRACE}>  *4*",
     "view=people&side=received&window=7d"),
])
def test_every_argument_form(stack, reactions, text, header, first_line, link):
    reply = command(stack, text).json()
    valid_block_kit(reply["blocks"], 50)
    assert reply["blocks"][0]["text"]["text"] == header
    assert reply["blocks"][1]["text"]["text"].splitlines()[0] == first_line
    assert link in reply["blocks"][2]["elements"][0]["text"]


def test_a_channel_filter_says_where(stack, reactions):
    context = command(stack, f"<#{GENERAL}|general>").json()["blocks"][2]["elements"][0]["text"]
    assert context.startswith(f"4 reactions in <#{GENERAL}> in the last 7 days")


@pytest.mark.parametrize("text", ["weekly", "7d 24h", "given received", "7d #general extra",
                                  "<@nobody>", "🎉"])
def test_unknown_arguments_get_the_usage_never_an_error(stack, text):
    answer = command(stack, text)
    assert answer.status_code == 200
    assert answer.json()["text"].startswith("Usage: `/emojiboard")


def test_a_private_channel_is_refused_without_being_named(stack, reactions):
    reply = command(stack, f"<#{SECRET_CHANNEL}|secret-plans>").json()
    assert reply["text"] == "That channel is private: its reactions count only in the workspace's totals."
    assert "secret" not in json.dumps(reply).lower()


def test_people_boards_off_are_respected(stack, reactions, monkeypatch):
    monkeypatch.setenv("PEOPLE_BOARDS", "off")
    services.get.cache_clear()
    try:
        for text in ("given", "received", f"<@{ADA}|ada>"):
            assert command(stack, text).json()["text"] == "People boards are turned off in this workspace."
        assert command(stack, "").json()["blocks"][0]["text"]["text"] == "Top emoji · the last 7 days"
    finally:
        monkeypatch.undo()
        services.get.cache_clear()


def test_unsigned_and_stale_commands_are_refused(stack):
    assert command(stack, "7d", secret="not-the-secret").status_code == 401
    import requests
    body = simulate.slash_command("7d", team_id=TEAM)
    stale = simulate.signed_headers(body, SECRET, timestamp=int(time.time()) - 600)
    assert requests.post(f"{stack.url}/slack/commands", data=body, timeout=10, headers={
        **stale, "Content-Type": "application/x-www-form-urlencoded"}).status_code == 401


def test_the_reply_stays_within_slack_s_limits_for_long_names(stack):
    long_names = [("x" * 90) + f"-{i:02d}" for i in range(12)]
    for i, name in enumerate(long_names):
        post_event(stack, reaction(name, user=ADA, channel=GENERAL, item_ts=f"1700000002.0001{i:02d}"))
    settled(stack)
    reply = command(stack, "all").json()
    valid_block_kit(reply["blocks"], 50)
    assert len(reply["blocks"][1]["text"]["text"].splitlines()) == 10  # the top 10


# ---- the App Home tab ---------------------------------------------------------------

def homes_of(stack, user):
    return [p for p in stack.slack.published if p["user_id"] == user]


def test_opening_the_home_tab_publishes_it(stack, reactions):
    stack.slack.published.clear()
    outcome = deliver(stack, "app_home_opened", user=ADA, tab="home", channel="D0HOME")
    assert outcome == {"ok": True, "result": "home"}
    assert wait_for(lambda: homes_of(stack, ADA), timeout=30)
    view = homes_of(stack, ADA)[-1]["view"]
    assert view["type"] == "home"
    valid_block_kit(view["blocks"], 100)
    buttons = view["blocks"][0]["elements"]
    assert [b["value"] for b in buttons] == ["24h", "7d", "30d", "all"]
    assert [b.get("style") for b in buttons] == [None, "primary", None, None]
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Top emoji · the last 7 days" in text and ":tada:  *3*" in text
    assert "Your top emoji given" in text and "Your top emoji received" in text
    # The Messages tab has nothing to show: nothing is published for it.
    deliver(stack, "app_home_opened", user=GRACE, tab="messages", channel="D0HOME")
    time.sleep(2)
    assert homes_of(stack, GRACE) == []


def test_a_window_button_publishes_the_home_tab_again(stack, reactions):
    import requests
    stack.slack.published.clear()
    body = simulate.block_action("home_window_24h", "24h", user=ADA, team_id=TEAM)
    answer = requests.post(f"{stack.url}/slack/interactions", data=body, timeout=10, headers={
        **simulate.signed_headers(body, SECRET), "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    assert wait_for(lambda: homes_of(stack, ADA), timeout=30)
    view = homes_of(stack, ADA)[-1]["view"]
    assert [b.get("style") for b in view["blocks"][0]["elements"]] == ["primary", None, None, None]
    assert "Top emoji · the last 24 hours" in json.dumps(view["blocks"], ensure_ascii=False)
    unsigned = requests.post(f"{stack.url}/slack/interactions", data=body, timeout=10, headers={
        **simulate.signed_headers(body, "wrong"), "Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status_code == 401


def test_a_slack_error_on_publish_is_logged_never_a_5xx(stack, reactions, caplog):
    from chalicelib import home
    stack.slack.failure = "down"  # FAULT INJECTION: Slack answers 503
    try:
        assert home.publish(services.get(), ADA, "7d") is False
    finally:
        stack.slack.failure = None
    assert "views.publish" in caplog.text or "could not" in caplog.text
    # The event itself is still answered 200.
    assert deliver(stack, "app_home_opened", user=ADA, tab="home", channel="D0HOME")["result"] == "home"


# ---- the weekly digest ----------------------------------------------------------------

def _digest_services(tz="Europe/Berlin"):
    live = services.get()
    return dataclasses.replace(live, settings=dataclasses.replace(
        live.settings, digest_channel=GENERAL, digest_tz=tz))


def _at(tz: str, *when) -> float:
    return datetime(*when, tzinfo=ZoneInfo(tz)).timestamp()


def test_the_digest_is_due_on_monday_morning_in_its_time_zone():
    # 2026-11-23 is a Monday.
    assert digest.due_week(_at("Europe/Berlin", 2026, 11, 23, 9, 0), "Europe/Berlin") == "2026-W48"
    assert digest.due_week(_at("Europe/Berlin", 2026, 11, 23, 11, 59), "Europe/Berlin") == "2026-W48"
    assert digest.due_week(_at("Europe/Berlin", 2026, 11, 23, 8, 59), "Europe/Berlin") is None
    assert digest.due_week(_at("Europe/Berlin", 2026, 11, 24, 9, 0), "Europe/Berlin") is None
    # 09:00 in New York is 15:00 in Berlin.
    assert digest.due_week(_at("America/New_York", 2026, 11, 23, 9, 30), "Europe/Berlin") is None
    assert digest.due_week(_at("America/New_York", 2026, 11, 23, 9, 30), "America/New_York") == "2026-W48"


def test_the_digest_posts_once_a_week_across_a_doubled_schedule(stack, reactions, monkeypatch):
    stack.slack.posted.clear()
    # A new custom emoji: in Slack's list (emoji.list) and announced by emoji_changed.
    stack.slack.emoji["shipit-2"] = "https://emoji.example/s.png"
    deliver(stack, "emoji_changed", subtype="add", name="shipit-2", value="https://emoji.example/s.png")
    live = _digest_services()
    # The schedule's clock: due now, in a week of its own (a rerun never meets a claim).
    monkeypatch.setattr(digest, "due_week", lambda now, tz: "2026-W99")
    outcomes: List[str] = []
    fired = [threading.Thread(target=lambda: outcomes.append(digest.run(live, time.time())))
             for _ in range(2)]  # EventBridge delivering the same tick twice, at once
    for thread in fired:
        thread.start()
    for thread in fired:
        thread.join()
    assert sorted(outcomes) == ["posted", "posted already"]
    assert digest.run(live, time.time() + 3600) == "posted already"  # the next hour
    assert len(stack.slack.posted) == 1
    message = stack.slack.posted[0]
    assert message["channel"] == GENERAL
    valid_block_kit(message["blocks"], 50)
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "1. :tada:  *3*" in text and "*Top 5*" in text
    assert "*Biggest riser*: :tada:  0 \u2192 *3*" in text
    assert "*Newest custom emoji*: :shipit-2:" in text
    assert live.digests.week("2026-W99")["state"] == "posted"


def test_a_failed_digest_is_tried_again_the_next_hour(stack, reactions, monkeypatch):
    stack.slack.posted.clear()
    live = _digest_services()
    monkeypatch.setattr(digest, "due_week", lambda now, tz: "2026-W98")
    stack.slack.failure = "ratelimited"  # FAULT INJECTION: Slack refuses the post
    try:
        assert digest.run(live, time.time()) == "failed"
    finally:
        stack.slack.failure = None
    assert digest.run(live, time.time() + 3600) == "posted"
    assert len(stack.slack.posted) == 1


def test_without_a_channel_there_is_no_digest(stack):
    assert digest.run(services.get(), _at("UTC", 2026, 11, 23, 9, 30)) == "off"
    assert digest.run(_digest_services(), _at("Europe/Berlin", 2026, 11, 24, 9, 30)) == "not due"


def test_the_devkit_page_shows_the_published_home_tab(stack, reactions, browser):  # noqa: F811
    """What `make run` shows of Slack's side: the Home tab as the app published it."""
    from playwright.sync_api import expect
    from tests.test_dashboard import ARTIFACTS
    stack.slack.published.clear()
    deliver(stack, "app_home_opened", user=ADA, tab="home", channel="D0HOME")
    assert wait_for(lambda: homes_of(stack, ADA), timeout=30)
    page = browser.new_page(viewport={"width": 900, "height": 900})
    page.goto(f"{stack.url}/_devkit/slack")
    expect(page.locator("body")).to_contain_text("Top emoji · the last 7 days")
    expect(page.locator("body")).to_contain_text("Your top emoji given")
    page.screenshot(path=str(ARTIFACTS / "slack-home.png"), full_page=True)
    page.close()


def test_devkit_slash_sends_a_signed_command_and_prints_the_answer(stack, reactions):
    import os
    import subprocess
    import sys
    from devkit.served import APP_SETTINGS
    env = {k: v for k, v in os.environ.items() if k not in APP_SETTINGS}  # a user's shell
    done = subprocess.run(
        [sys.executable, "-m", "devkit", "slash", "--url", f"{stack.url}/slack/commands",
         "--secret", SECRET, "--team-id", TEAM, "/emojiboard", "7d"],
        capture_output=True, text=True, timeout=60, env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Top emoji · the last 7 days" in done.stdout and "1. :tada:" in done.stdout
    wrong = subprocess.run(
        [sys.executable, "-m", "devkit", "slash", "--url", f"{stack.url}/slack/commands",
         "--secret", "wrong", "--team-id", TEAM, "7d"], capture_output=True, text=True,
        timeout=60, env=env, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert wrong.returncode != 0 and "401" in wrong.stdout + wrong.stderr
