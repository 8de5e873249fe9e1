"""Emoji as Slack shows them: glyphs from emoji-data, and the workspace's custom emoji
from `emoji.list` (the app's slack_sdk WebClient against the devkit's stand-in for
Slack's Web API, over HTTP) and from signed `emoji_changed` events, kept in DynamoDB."""
import threading
import time

import pytest
import requests

from chalicelib import emoji
from chalicelib.settings import SLACK_API_URL
from chalicelib.slack_events import emoji_value_ok
from devkit import simulate
from tests.conftest import TEAM
from tests.helpers import connection_ids, dashboard, post_event, reaction, receive, settled, wait_for

EVIL = "<img src=x onerror=alert(1)>"


def rows(stack, window="all"):
    response = requests.get(f"{stack.url}/api/leaderboard",
                            params={"window": window, "limit": 500}, timeout=10)
    assert response.status_code == 200, response.text
    return {row["emoji"]: row for row in response.json()["leaderboard"]}


def looks(stack):
    """Each emoji's look, read several times: the gateway spreads the reads over its
    app instances, and every one of them must agree."""
    seen = [{name: {k: v for k, v in row.items() if k in ("glyph", "image_url")}
             for name, row in rows(stack).items()} for _ in range(10)]
    assert all(s == seen[0] for s in seen), seen
    return seen[0]


def change(stack, subtype, **fields):
    """Change a custom emoji as Slack would: in its own list (the stand-in's), then an
    emoji_changed event to the app."""
    envelope = simulate.emoji_changed_event(subtype, team_id=TEAM, **fields)
    response = post_event(stack, envelope)
    if response.status_code == 200:
        listed = stack.gateway.slack.emoji
        for name in fields.get("names", []) + [fields.get("old_name")]:
            listed.pop(name, None)
        if "value" in fields:
            listed[fields.get("name") or fields["new_name"]] = fields["value"]
    return response, envelope


@pytest.fixture
def slack(stack):
    """The gateway's stand-in for Slack's Web API; its emoji, token and failure switch
    are put back afterwards."""
    yield stack.gateway.slack
    stack.gateway.slack.reset()
    stack.gateway.slack.token = "xoxb-local-emojiboard"


# ---- pure ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, char", [
    ("thumbsup", "\U0001F44D"), ("+1", "\U0001F44D"), ("heart", "\u2764\ufe0f"),
    ("t-rex", "\U0001F996"), ("flag-fr", "\U0001F1EB\U0001F1F7"), ("100", "\U0001F4AF"),
])
def test_standard_emoji_have_their_glyph(name, char):
    assert emoji.glyph(name) == char


@pytest.mark.parametrize("name", ["party-parrot", "t_rex_", "", EVIL])
def test_unknown_names_have_no_glyph(name):
    assert emoji.glyph(name) is None


def test_aliases_resolve_to_images_or_glyphs_and_never_loop():
    custom = {"blobparrot": "https://emoji.example/p.png", "pp": "alias:blobparrot",
              "yes": "alias:thumbsup", "loop-a": "alias:loop-b", "loop-b": "alias:loop-a",
              "bad": "javascript:alert(1)", "to-bad": "alias:bad"}
    assert emoji.look("pp", custom) == {"image_url": "https://emoji.example/p.png"}
    assert emoji.look("yes", custom) == {"glyph": "\U0001F44D"}
    assert emoji.look("loop-a", custom) == {}
    assert emoji.look("bad", custom) == {}
    assert emoji.look("to-bad", custom) == {}
    assert emoji.look("nobody", custom) == {}


@pytest.mark.parametrize("value, ok", [
    ("https://emoji.slack-edge.com/T1/p/abc.png", True), ("http://127.0.0.1:8000/a.svg", True),
    ("alias:thumbsup", True), ("alias:", False), ("javascript:alert(1)", False),
    ("data:image/svg+xml,<svg onload=alert(1)>", False), ("https://a b/c.png", False),
    ("//emoji.example/p.png", False), ("https://emoji.example/\nx", False),
    ("https://[::1/p.png", False), ("https://emoji.example:port/p.png", False),
    ("https://emoji.example/\x7f.png", False), ("https:///p.png", False),
    ("https://emoji.example/" + "p" * 1000, True), ("https://emoji.example/" + "p" * 1010, False),
])
def test_only_http_urls_and_aliases_are_emoji_values(value, ok):
    assert emoji_value_ok(value) is ok


# ---- custom emoji from Slack's emoji.list ----------------------------------------------


def test_custom_emoji_come_from_emoji_list_once(stack, slack):
    slack.emoji["yes"] = "alias:thumbsup"
    for name in ("party-parrot", "partyparrot", "shipit", "yes", "fire", "mystery"):
        post_event(stack, reaction(name))
    calls = slack.calls
    assert looks(stack) == {
        "party-parrot": {"image_url": slack.image_url("party-parrot")},
        "partyparrot": {"image_url": slack.image_url("party-parrot")},  # an alias
        "shipit": {"image_url": slack.image_url("shipit")},
        "yes": {"glyph": "\U0001F44D"},  # an alias of a standard emoji
        "fire": {"glyph": "\U0001F525"},
        "mystery": {},
    }
    assert slack.calls - calls <= 8  # at most once per app instance, then from DynamoDB
    calls = slack.calls
    looks(stack)
    assert slack.calls == calls


def test_unsafe_urls_from_slack_are_never_passed_on(stack, slack):
    slack.emoji["sneaky"] = "javascript:alert(1)"
    post_event(stack, reaction("sneaky"))
    assert looks(stack) == {"sneaky": {}}


def test_slack_refusing_the_token_leaves_the_board_working(stack, slack):
    slack.token = "xoxb-some-other-token"  # so the app's token is invalid_auth
    post_event(stack, reaction("party-parrot"))
    post_event(stack, reaction("fire"))
    calls = slack.calls
    assert looks(stack) == {"party-parrot": {}, "fire": {"glyph": "\U0001F525"}}
    assert slack.calls == calls + 1  # asked once; not again on every read


@pytest.mark.parametrize("failure", ["ratelimited", "down", "reset"])
def test_slack_failing_leaves_the_board_and_snapshots_working(stack, slack, failure, caplog):
    # FAULT INJECTION: the stand-in answers 429 ratelimited, a non-JSON 503, or drops
    # the connection, as Slack (or the network to it) sometimes does.
    slack.failure = failure
    caplog.set_level("WARNING", logger="chalicelib.emoji")
    post_event(stack, reaction("party-parrot"))
    post_event(stack, reaction("fire"))
    assert looks(stack) == {"party-parrot": {}, "fire": {"glyph": "\U0001F525"}}
    with dashboard(stack) as socket:
        socket.send('{"action": "snapshot", "window": "all"}')
        snapshot = receive(socket)
    assert snapshot["type"] == "snapshot" and snapshot["total"] == 2
    assert {r["emoji"]: r.get("image_url") for r in snapshot["leaderboard"]} == {
        "party-parrot": None, "fire": None}
    [logged] = [r.getMessage() for r in caplog.records if "emoji.list" in r.getMessage()]
    assert {"ratelimited": "ratelimited", "down": "503",
            "reset": "RemoteDisconnected"}[failure] in logged, logged


def test_the_app_asks_the_stand_in_and_slack_is_the_default(stack):
    from chalicelib import services
    assert services.get().settings.slack_api_url == stack.gateway.slack.api_url
    assert SLACK_API_URL == "https://slack.com/api/"


def test_snapshots_and_updates_carry_the_looks(stack, slack):
    post_event(stack, reaction("party-parrot", user="U1"))
    settled(stack)  # its update went to no page: the page's first message is its snapshot
    with dashboard(stack) as socket:
        wait_for(lambda: connection_ids(stack))
        socket.send('{"action": "snapshot", "window": "24h"}')
        snapshot = receive(socket)
        assert snapshot["total"] == 1
        assert snapshot["leaderboard"] == [{"emoji": "party-parrot", "count": 1, "version": 1,
                                            "image_url": slack.image_url("party-parrot")}]
        post_event(stack, reaction("fire", user="U2"))
        update = receive(socket)
        assert {c["glyph"] for c in update["changes"]} == {"\U0001F525"}
        post_event(stack, reaction("party-parrot", user="U3"))
        update = receive(socket)
        assert {c["image_url"] for c in update["changes"]} == {slack.image_url("party-parrot")}


# ---- custom emoji from emoji_changed events ----------------------------------------------


def test_emoji_changed_add_rename_remove_reach_every_instance_at_once(stack, slack):
    post_event(stack, reaction("blobwave"))
    post_event(stack, reaction("blob-wave"))
    assert looks(stack) == {"blob-wave": {}, "blobwave": {}}

    url = "https://emoji.example/T0TEST/blobwave/1.png"
    response, _ = change(stack, "add", name="blobwave", value=url)
    assert response.json() == {"ok": True, "result": "applied"}
    assert looks(stack) == {"blob-wave": {}, "blobwave": {"image_url": url}}

    change(stack, "rename", old_name="blobwave", new_name="blob-wave", value=url)
    assert looks(stack) == {"blob-wave": {"image_url": url}, "blobwave": {}}

    change(stack, "remove", names=["blob-wave"])
    assert looks(stack) == {"blob-wave": {}, "blobwave": {}}


def test_a_retried_emoji_change_applies_once(stack, slack):
    post_event(stack, reaction("spooky-blob"))
    response, added = change(stack, "add", name="spooky-blob", value="https://emoji.example/g.png")
    change(stack, "remove", names=["spooky-blob"])
    retry = post_event(stack, added, retry=1)  # Slack delivers the add again, late
    assert retry.status_code == 200 and retry.json()["result"] == "duplicate"
    assert looks(stack) == {"spooky-blob": {}}


# Names that look like the catalog's own keys or words; each is an emoji name Slack allows.
@pytest.mark.parametrize("name", ["rev", "alias", "emojirev", "'", "+-+", "ありがとう"])
def test_a_custom_emoji_named_like_a_key_is_data(stack, slack, name):
    url = "https://emoji.example/evil.png"
    assert change(stack, "add", name=name, value=url)[0].status_code == 200
    post_event(stack, reaction(name))
    post_event(stack, reaction("fire"))
    assert looks(stack) == {name: {"image_url": url}, "fire": {"glyph": "\U0001F525"}}
    change(stack, "remove", names=[name])
    assert looks(stack) == {name: {}, "fire": {"glyph": "\U0001F525"}}


def test_every_container_sees_an_emoji_change_at_once(stack, slack):
    """The devkit's app instances share one process; Lambda containers do not. Two
    catalogs with caches of their own stand for two containers."""
    containers = [emoji.EmojiCatalog(stack.dynamodb_client(), stack.counts_table, None,
                                     SLACK_API_URL) for _ in range(2)]
    assert [c.custom(TEAM) for c in containers] == [{}, {}]
    url = "https://emoji.example/T0TEST/ok/1.png"
    change(stack, "add", name="ok-hand", value=url)
    assert [c.custom(TEAM) for c in containers] == [{"ok-hand": url}] * 2
    change(stack, "rename", old_name="ok-hand", new_name="okay", value=url)
    assert [c.custom(TEAM) for c in containers] == [{"okay": url}] * 2
    change(stack, "remove", names=["okay"])
    assert [c.custom(TEAM) for c in containers] == [{}, {}]


def test_a_removal_of_many_emoji_spans_transactions_and_still_applies_once(stack, slack):
    # More names than one DynamoDB transaction holds (100 items): several commit.
    names = [f"blob-{i:03d}" for i in range(150)]
    slack.emoji.update({n: f"https://emoji.example/{n}.png" for n in names})
    post_event(stack, reaction("blob-149"))
    assert looks(stack) == {"blob-149": {"image_url": "https://emoji.example/blob-149.png"}}
    response, removal = change(stack, "remove", names=names)
    assert response.json()["result"] == "applied"
    assert looks(stack) == {"blob-149": {}}
    assert post_event(stack, removal, retry=1).json()["result"] == "duplicate"
    assert emoji.EmojiCatalog(stack.dynamodb_client(), stack.counts_table, None,
                              SLACK_API_URL).custom(TEAM) == {
        n: v for n, v in slack.emoji.items() if not n.startswith("blob-")}


def test_an_emoji_change_during_a_sync_leaves_it_unsynced_until_a_fresh_list(stack, slack):
    """An emoji_changed can land between Slack's answer and the sync's writes, which
    then undo it: the sync must not count as done, so the next one repairs it."""
    class Interleaved(emoji.EmojiCatalog):  # the race, made to happen every time
        def _fetch(self):
            listed = super()._fetch()
            change(stack, "add", name="late", value="https://emoji.example/late.png")
            return listed

    catalog = Interleaved(stack.dynamodb_client(), stack.counts_table,
                          "xoxb-local-emojiboard", slack.api_url)
    assert catalog.sync(TEAM)
    marker = stack.dynamodb_client().get_item(
        TableName=stack.counts_table, Key={"pk": {"S": f"EMOJIREV#{TEAM}"}, "sk": {"S": "REV"}},
        ConsistentRead=True)["Item"]
    assert "synced_at" not in marker  # so the next read asks Slack again
    again = emoji.EmojiCatalog(stack.dynamodb_client(), stack.counts_table,
                               "xoxb-local-emojiboard", slack.api_url)
    assert again.sync(TEAM)
    assert again.custom(TEAM)["late"] == "https://emoji.example/late.png"
    assert catalog.custom(TEAM) == again.custom(TEAM) == slack.emoji


def test_a_read_during_the_first_sync_waits_for_it(stack, slack):
    """A page's first paint and its first snapshot reach two containers at once: the one
    that did not claim the first emoji.list waits for it rather than answer with none."""
    fetching, listed = threading.Event(), threading.Event()

    class Slow(emoji.EmojiCatalog):  # holds the claim while Slack is asked
        def _fetch(self):
            fetching.set()
            listed.wait(5)
            return super()._fetch()

    first = Slow(stack.dynamodb_client(), stack.counts_table, slack.token, slack.api_url)
    second = emoji.EmojiCatalog(stack.dynamodb_client(), stack.counts_table, slack.token,
                                slack.api_url)
    syncing = threading.Thread(target=first.custom, args=(TEAM, True))
    syncing.start()
    assert fetching.wait(5)
    threading.Timer(0.5, listed.set).start()
    assert second.custom(TEAM, sync=True) == slack.emoji
    syncing.join(5)


def test_a_failed_first_sync_ends_the_wait_at_once(stack, slack):
    slack.failure = "ratelimited"
    first = emoji.EmojiCatalog(stack.dynamodb_client(), stack.counts_table, slack.token,
                               slack.api_url)
    assert first.custom(TEAM, sync=True) == {}
    second = emoji.EmojiCatalog(stack.dynamodb_client(), stack.counts_table, slack.token,
                                slack.api_url)
    started = time.monotonic()
    assert second.custom(TEAM, sync=True) == {}
    assert time.monotonic() - started < emoji.FIRST_SYNC_POLL_SECONDS  # did not wait


@pytest.mark.parametrize("subtype, fields, message", [
    ("add", {"name": "x1", "value": "javascript:alert(1)"}, "event.value"),
    ("add", {"name": "x1"}, "event.value"),
    ("add", {"name": "x1", "value": "https://[::1/x.png"}, "event.value"),
    ("add", {"name": "x1", "value": "data:image/png;base64,AAAA"}, "event.value"),
    ("add", {"value": "https://emoji.example/a.png"}, "event.name"),
    ("add", {"name": "n" * 101, "value": "https://emoji.example/a.png"}, "not an emoji name"),
    ("add", {"name": EVIL, "value": "https://emoji.example/a.png"}, "not an emoji name"),
    ("add", {"name": "x2", "value": "alias:X1"}, "event.value"),
    ("rename", {"old_name": "x1", "new_name": "#rev", "value": "https://emoji.example/a.png"},
     "event.new_name"),
    ("remove", {"names": ["x1", "REV"]}, "event.names"),
    ("remove", {"names": "x1"}, "event.names"),
    ("remove", {"names": []}, "event.names"),
    ("remove", {"names": ["x1", 7]}, "event.names"),
    ("rename", {"old_name": "x1", "new_name": "x2"}, "event.value"),
])
def test_malformed_emoji_changes_are_400_and_change_nothing(stack, slack, subtype, fields, message):
    url = "https://emoji.example/x1.png"
    change(stack, "add", name="x1", value=url)
    post_event(stack, reaction("x1"))
    response, _ = change(stack, subtype, **fields)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert looks(stack) == {"x1": {"image_url": url}}


def test_emoji_changes_from_another_workspace_are_ignored(stack):
    post_event(stack, reaction("intruder"))
    envelope = simulate.emoji_changed_event("add", team_id="T0OTHER", name="intruder",
                                            value="https://emoji.example/i.png")
    response = post_event(stack, envelope)
    assert response.status_code == 200 and "ignored" in response.json()
    assert looks(stack) == {"intruder": {}}


@pytest.mark.parametrize("subtype", [None, "upload_pack"], ids=["absent", "unknown"])
def test_an_emoji_change_slack_does_not_explain_reloads_the_list_once(stack, slack, subtype):
    """Slack's emoji_changed page: "an absent subtype or unrecognized subtype should be
    handled by reloading all emojis via the emoji.list method". A 2xx (a 4xx would be a
    failed delivery, retried), and the next read asks Slack: once per event."""
    post_event(stack, reaction("fresh-one"))
    assert looks(stack) == {"fresh-one": {}}  # synced just now; Slack's list lacks it
    slack.emoji["fresh-one"] = slack.image_url("shipit")
    calls = slack.calls
    envelope = simulate.emoji_changed_event("add", team_id=TEAM)
    envelope["event"].pop("subtype")
    if subtype:
        envelope["event"]["subtype"] = subtype
    response = post_event(stack, envelope)
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "result": "reload"}
    assert looks(stack) == {"fresh-one": {"image_url": slack.image_url("shipit")}}
    assert slack.calls == calls + 1
    # Slack delivering the same event again reloads nothing more.
    assert post_event(stack, envelope, retry=1).json()["result"] == "duplicate"
    looks(stack)
    assert slack.calls == calls + 1


@pytest.mark.parametrize("name", [EVIL, "REV", "#rev", "alias:thumbsup", "h\u0435art",
                                  "\ud800", "party parrot"])
def test_a_custom_emoji_name_slack_cannot_have_is_400(stack, slack, name):
    response, _ = change(stack, "add", name=name, value="https://emoji.example/x.png")
    assert response.status_code == 400
    assert response.json()["error"].startswith("event.name is not")
    listed = emoji.EmojiCatalog(stack.dynamodb_client(), stack.counts_table, None,
                                SLACK_API_URL).custom(TEAM)
    assert listed == {}


def test_names_slack_cannot_have_are_left_out_of_emoji_list(stack, slack):
    slack.emoji.update({"Shouty": slack.image_url("shipit"), "sp ace": slack.image_url("shipit"),
                        "ok-name": slack.image_url("shipit")})
    for name in ("ok-name", "fire"):
        post_event(stack, reaction(name))
    rows = looks(stack)
    assert rows["ok-name"] == {"image_url": slack.image_url("shipit")}
    stored = emoji.EmojiCatalog(stack.dynamodb_client(), stack.counts_table, None,
                                SLACK_API_URL).custom(TEAM)
    assert "ok-name" in stored and not {"Shouty", "sp ace"} & set(stored)
