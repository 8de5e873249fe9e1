"""People and channels by name: user and channel events, the daily users.list, and
conversations.info for channels never heard of (the app's slack_sdk WebClient against
the devkit's stand-in for Slack's Web API), kept in DynamoDB; and the stand-in
itself answering as Slack does, rate limits included."""
import itertools
import json
import time

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chalicelib import directory as directory_module, slack_events
from chalicelib.directory import BOTS_ATTRIBUTE, Directory, bots_key
from devkit import slack_api
from tests.conftest import TEAM
from tests.helpers import deliver, envelope, post_event, reaction


@pytest.fixture
def slack(stack):
    """The gateway's stand-in for Slack's Web API, put back afterwards."""
    stack.gateway.slack.reset()
    yield stack.gateway.slack
    stack.gateway.slack.reset()
    stack.gateway.slack.token = slack_api.LOCAL_TOKEN


def person(ident: str, name: str, bot: bool = False, avatar: str = None) -> dict:
    return slack_api.user_object(ident, name.lower(), name, name, bot=bot, team=TEAM,
                                 avatar=avatar or f"https://avatars.example/{ident}.png")


def board(stack, name: str, **params) -> dict:
    response = requests.get(f"{stack.url}/api/leaderboard", params={"board": name, **params},
                            timeout=10)
    assert response.status_code == 200, response.text
    key = "channel" if name == "channels" else "user"
    return {row[key]: row for row in response.json()["leaderboard"]}


def count(stack, emoji: str = "tada", **kwargs) -> dict:
    return post_event(stack, reaction(emoji, **kwargs)).json()


def stored(stack, kind: str) -> dict:
    items = stack.dynamodb_client().query(
        TableName=stack.counts_table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{kind}#{TEAM}"}}, ConsistentRead=True)["Items"]
    return {item["sk"]["S"]: item for item in items}


def bots(stack) -> set:
    item = stack.dynamodb_client().get_item(TableName=stack.counts_table, Key=bots_key(TEAM),
                                            ConsistentRead=True).get("Item") or {}
    return set(item.get(BOTS_ATTRIBUTE, {}).get("SS", []))


# ---- events ----------------------------------------------------------------------------


def test_a_user_change_renames_a_person_on_the_givers_board(stack, slack):
    assert deliver(stack, "team_join", user=person("U1", "Ada")) == {"ok": True, "result": "applied"}
    count(stack, user="U1", item_user="U2")
    assert board(stack, "givers")["U1"]["name"] == "Ada"
    renamed = person("U1", "Ada Lovelace", avatar="https://avatars.example/new.png")
    renamed["profile"]["display_name"] = ""  # no display name: the real name is shown
    assert deliver(stack, "user_change", user=renamed)["result"] == "applied"
    assert board(stack, "givers")["U1"] == {"user": "U1", "name": "Ada Lovelace", "count": 1,
                                           "version": 1,
                                           "avatar_url": "https://avatars.example/new.png"}
    # A person never heard of is shown by id; a face that is not an http(s) URL, not at all.
    deliver(stack, "user_change", user=person("U2", "Eve", avatar="javascript:alert(1)"))
    assert board(stack, "receivers")["U2"]["avatar_url"] is None
    count(stack, user="U9", item_user=None)
    assert {k: (r["name"], r["avatar_url"]) for k, r in board(stack, "givers").items()} == {
        "U1": ("Ada Lovelace", "https://avatars.example/new.png"), "U9": ("U9", None)}


def test_an_older_event_never_overwrites_a_newer_one(stack, slack):
    now = time.time()
    assert deliver(stack, "user_change", user=person("U1", "Newer"), event_ts=now)["result"] == "applied"
    late = deliver(stack, "user_change", user=person("U1", "Older", bot=True), event_ts=now - 60)
    assert late == {"ok": True, "result": "stale"}
    assert deliver(stack, "channel_rename", channel={"id": "C1", "name": "newer", "created": 1},
                   event_ts=now)["result"] == "applied"
    assert deliver(stack, "channel_created", channel={"id": "C1", "name": "older", "created": 1},
                   event_ts=now - 60)["result"] == "stale"
    count(stack, user="U1", channel="C1")
    assert board(stack, "givers")["U1"]["name"] == "Newer"
    assert board(stack, "channels")["C1"]["name"] == "newer"
    assert "U1" not in bots(stack)  # the stale bot flag changed nothing either
    # The same event again (Slack's retry) applies again, harmlessly.
    again = envelope("user_change", user=person("U1", "Newest"), event_ts=now + 1, event_id="EvAgain")
    assert [post_event(stack, again).json()["result"] for _ in range(2)] == ["applied", "applied"]
    assert stored(stack, "USER")["U1"]["name"] == {"S": "Newest"}


def test_a_bot_that_joins_counts_nowhere(stack, slack):
    assert deliver(stack, "team_join", user=person("UBOT", "Polly", bot=True))["result"] == "applied"
    assert bots(stack) == {"UBOT"}
    assert stored(stack, "USER")["UBOT"]["bot"] == {"BOOL": True}
    assert count(stack, user="UBOT") == {"ok": True, "ignored": "user UBOT is a bot"}
    assert count(stack, user="U1")["result"] == "counted"
    assert set(board(stack, "givers")) == {"U1"}
    assert bots(stack) == {"UBOT", "UDEMOBOT", "USLACKBOT"}  # the board read synced
    deliver(stack, "user_change", user=person("UBOT", "Polly"))  # no longer a bot
    assert bots(stack) == {"UDEMOBOT", "USLACKBOT"}
    assert count(stack, user="UBOT")["result"] == "counted"


def test_a_private_channel_rename_keeps_it_private(stack, slack):
    assert deliver(stack, "group_rename", channel={"id": "C7", "name": "plans", "created": 1}
                   )["result"] == "applied"
    assert stored(stack, "CHAN")["C7"]["private"] == {"BOOL": True}
    count(stack, user="U1", channel="C7")
    assert board(stack, "channels") == {}
    refused = requests.get(f"{stack.url}/api/leaderboard", params={"channel": "C7"}, timeout=10)
    assert refused.status_code == 400


@pytest.mark.parametrize("kind, fields", [
    ("user_change", {"user": "U1"}),
    ("user_change", {"user": {"name": "ada", "profile": {}}}),               # no id
    ("team_join", {"user": {"id": "U1#X", "name": "ada", "profile": {}}}),   # not an id
    ("user_change", {"user": {"id": "U1", "profile": {"display_name": ""}}}),  # no name
    ("user_change", {"user": {"id": "U1", "name": "ada", "profile": "x"}}),
    ("channel_rename", {"channel": "C1"}),
    ("channel_created", {"channel": {"id": "C1", "name": ""}}),
    ("group_rename", {"channel": {"id": "C/1", "name": "x"}}),
    ("channel_rename", {"channel": {"id": "C1", "name": "x" * 300}}),
])
def test_a_malformed_directory_event_is_a_400_and_changes_nothing(stack, slack, kind, fields):
    response = post_event(stack, envelope(kind, **fields))
    assert response.status_code == 400, response.text
    assert "error" in response.json()
    assert stored(stack, "USER") == {} and stored(stack, "CHAN") == {} and bots(stack) == set()


def test_a_directory_event_dated_in_the_future_is_refused(stack, slack):
    response = post_event(stack, envelope("user_change", user=person("U1", "Ada"),
                                          event_ts=time.time() + 3600))
    assert response.status_code == 400 and "future" in response.json()["error"]


def test_parse_reads_each_directory_event():
    now = 1_700_000_100.0
    user = person("U1", "Ada", bot=True)
    parsed = slack_events.parse(json.dumps(envelope("team_join", user=user, event_ts=now,
                                                    event_id="Ev1")).encode(), now=now)
    assert parsed == slack_events.DirectoryChange(
        event_id="Ev1", team_id=TEAM, kind="user", id="U1", name="Ada",
        avatar_url="https://avatars.example/U1.png", bot=True, private=False, deleted=False,
        updated=now)
    body = envelope("group_rename", channel={"id": "G1", "name": "secret", "created": 1},
                    event_ts=now, event_id="Ev2")
    del body["event"]["event_ts"]  # then the envelope's event_time dates it
    parsed = slack_events.parse(json.dumps(body).encode(), now=now)
    assert (parsed.kind, parsed.id, parsed.name, parsed.private, parsed.updated) == (
        "channel", "G1", "secret", True, int(now))
    slackbot = person("USLACKBOT", "Slackbot")  # listed with is_bot false, yet a bot
    assert slack_events.parse(json.dumps(envelope("user_change", user=slackbot, event_ts=now)
                                         ).encode(), now=now).bot is True


# ---- the daily users.list --------------------------------------------------------------


def test_the_daily_sync_fills_names_and_the_bots_set_page_by_page(stack, slack):
    slack.page_size = 3  # Slack may answer fewer than the 200 asked
    count(stack, user="UDEMOADA", item_user="UDEMOALAN")
    count(stack, user="UDEMOGRACE", item_user="UDEMOADA")
    before = slack.method_calls["users.list"]
    givers = board(stack, "givers")
    pages = -(-len(slack.users) // 3)  # 10 users, 3 a page: 4 pages
    assert slack.method_calls["users.list"] - before == pages
    assert {u: r["name"] for u, r in givers.items()} == {"UDEMOADA": "Ada", "UDEMOGRACE": "Grace"}
    assert givers["UDEMOADA"]["avatar_url"] == slack.avatar_url("UDEMOADA")
    assert board(stack, "receivers")["UDEMOALAN"]["name"] == "Alan Turing"  # no display name
    assert bots(stack) == {"UDEMOBOT", "USLACKBOT"}
    assert set(stored(stack, "USER")) == set(slack.users)
    assert count(stack, user="UDEMOBOT") == {"ok": True, "ignored": "user UDEMOBOT is a bot"}
    # Synced: a day passes before Slack is asked again.
    for name in ("givers", "receivers", "channels"):
        board(stack, name)
    assert slack.method_calls["users.list"] - before == pages


def test_the_sync_keeps_what_newer_events_said(stack, slack):
    client, now = stack.dynamodb_client(), time.time()
    directory = Directory(client, stack.counts_table, slack.token, slack.api_url,
                          clock=lambda: now)
    assert directory.apply(slack_events.DirectoryChange(
        "Ev1", TEAM, "user", "UDEMOADA", "Ada (after the list)", None, True, False, False,
        now + 10), TEAM) == "applied"
    assert directory.apply(slack_events.DirectoryChange(
        "Ev2", TEAM, "user", "UOTHERTEAMBOT", "Bot", None, True, False, False, now), TEAM) == "applied"
    assert directory.sync(TEAM) is True
    people = directory.people(TEAM, ["UDEMOADA", "UDEMOGRACE"])
    assert people["UDEMOADA"]["name"] == "Ada (after the list)"
    assert people["UDEMOGRACE"]["name"] == "Grace"
    assert bots(stack) == {"UDEMOBOT", "USLACKBOT", "UDEMOADA", "UOTHERTEAMBOT"}
    # The bots set follows the list (no bots at all: no attribute, as a string set
    # cannot be empty).
    slack.users["UDEMOBOT"]["is_bot"] = False
    for user in ("UOTHERTEAMBOT", "UDEMOADA", "USLACKBOT"):
        client.delete_item(TableName=stack.counts_table,
                           Key={"pk": {"S": f"USER#{TEAM}"}, "sk": {"S": user}})
    del slack.users["USLACKBOT"]
    assert directory.sync(TEAM) is True
    item = client.get_item(TableName=stack.counts_table, Key=bots_key(TEAM))["Item"]
    assert BOTS_ATTRIBUTE not in item


def test_a_bot_that_joins_during_the_sync_stays_a_bot(stack, slack):
    """The sync replaces the bots set only if no user event changed it meanwhile."""
    client = stack.dynamodb_client()
    other = Directory(client, stack.counts_table)
    joined = []

    class Racing(Directory):
        def _write_people(self, workspace, people, asked_at):
            if not joined:  # a team_join lands between the sync's reads and its writes
                joined.append(other.apply(slack_events.DirectoryChange(
                    "Ev1", TEAM, "user", "UNEWBOT", "Newbot", None, True, False, False,
                    time.time() - 30), TEAM))
            return super()._write_people(workspace, people, asked_at)

    racing = Racing(client, stack.counts_table, slack.token, slack.api_url)
    assert racing.sync(TEAM) is True and joined == ["applied"]
    assert bots(stack) == {"UDEMOBOT", "USLACKBOT", "UNEWBOT"}


def test_a_rename_that_lands_while_the_sync_writes_stands(stack, slack):
    """The sync writes a person only if no newer event did meanwhile."""
    client, now = stack.dynamodb_client(), time.time()
    other = Directory(client, stack.counts_table)
    renamed = []

    class Racing(Directory):
        def _write_people(self, workspace, people, asked_at):
            if not renamed:  # a user_change lands between the sync's reads and its writes
                renamed.append(other.apply(slack_events.DirectoryChange(
                    "Ev1", TEAM, "user", "UDEMOGRACE", "Grace (renamed)", None, False, False,
                    False, now + 5), TEAM))
            return super()._write_people(workspace, people, asked_at)

    racing = Racing(client, stack.counts_table, slack.token, slack.api_url, clock=lambda: now)
    assert racing.sync(TEAM) is True and renamed == ["applied"]
    people = racing.people(TEAM, ["UDEMOGRACE", "UDEMOADA"])
    assert people["UDEMOGRACE"] == {"name": "Grace (renamed)", "avatar_url": None}
    assert people["UDEMOADA"]["name"] == "Ada"


def test_a_bot_that_stops_being_one_while_the_sync_replaces_the_set_is_no_bot(stack, slack):
    """An event that leaves the bots set as it was (a DELETE of an id not in it) still
    makes the sync plan again, so the newer word on who is a bot stands."""
    client, now = stack.dynamodb_client(), time.time()
    other = Directory(client, stack.counts_table)
    changed = []

    class Racing(Directory):
        def _replace_bots(self, workspace, before, bots):
            if not changed:  # after the sync's writes, before the bots set is replaced
                changed.append(other.apply(slack_events.DirectoryChange(
                    "Ev1", TEAM, "user", "UDEMOBOT", "Polly", None, False, False, False,
                    now + 5), TEAM))
            return super()._replace_bots(workspace, before, bots)

    racing = Racing(client, stack.counts_table, slack.token, slack.api_url, clock=lambda: now)
    assert racing.sync(TEAM) is True and changed == ["applied"]
    assert bots(stack) == {"USLACKBOT"}
    assert count(stack, user="UDEMOBOT")["result"] == "counted"


@pytest.mark.parametrize("failure", ["ratelimited", "down", "reset", "token"])
def test_slack_failing_the_sync_leaves_the_boards_working(stack, slack, failure, caplog):
    caplog.set_level("WARNING", logger="chalicelib.directory")
    deliver(stack, "team_join", user=person("UBOT", "Polly", bot=True))
    if failure == "token":
        slack.token = "xoxb-some-other-token"
    else:
        slack.failure = failure
    count(stack, user="UDEMOADA")
    assert board(stack, "givers")["UDEMOADA"]["name"] == "UDEMOADA"
    assert bots(stack) == {"UBOT"}  # the bots set is only replaced by a whole list
    assert any("users.list" in r.getMessage() for r in caplog.records)
    calls = slack.method_calls["users.list"]
    board(stack, "givers")  # the claim holds: not asked again at once
    assert slack.method_calls["users.list"] == calls


def test_a_rate_limit_midway_through_the_list_is_a_failed_sync(stack, slack):
    slack.page_size, slack.limits["users.list"] = 3, 2
    directory = Directory(stack.dynamodb_client(), stack.counts_table, slack.token, slack.api_url)
    assert directory.sync(TEAM) is False
    assert bots(stack) == set()
    marker = stack.dynamodb_client().get_item(
        TableName=stack.counts_table,
        Key={"pk": {"S": f"DIRREV#{TEAM}"}, "sk": {"S": "REV"}}).get("Item") or {}
    assert "synced_at" not in marker


# ---- channels --------------------------------------------------------------------------


def test_an_unknown_channel_is_asked_of_slack_once_and_kept(stack, slack):
    slack.channels["CNEW"] = slack_api.channel_object("CNEW", "launch")
    count(stack, user="U1", channel="CNEW")
    count(stack, user="U1", channel="CDEMOSECRET")
    before = slack.method_calls["conversations.info"]
    for _ in range(5):
        assert {c: r["name"] for c, r in board(stack, "channels").items()} == {"CNEW": "launch"}
    assert slack.method_calls["conversations.info"] - before == 2  # CNEW and CDEMOSECRET
    kept = stored(stack, "CHAN")
    assert kept["CNEW"]["name"] == {"S": "launch"} and kept["CNEW"]["private"] == {"BOOL": False}
    assert kept["CDEMOSECRET"]["private"] == {"BOOL": True}
    refused = requests.get(f"{stack.url}/api/leaderboard", params={"channel": "CDEMOSECRET"},
                           timeout=10)
    assert refused.status_code == 400


def test_dms_are_private_without_asking(stack, slack):
    directory = Directory(stack.dynamodb_client(), stack.counts_table, slack.token, slack.api_url)
    before = slack.method_calls["conversations.info"]
    assert directory.channels(TEAM, ["D0DIRECT"]) == {"D0DIRECT": {"name": "D0DIRECT", "private": True}}
    assert slack.method_calls["conversations.info"] == before


@pytest.mark.parametrize("failure", ["ratelimited", "down", "reset", "token", "not_found"])
def test_slack_failing_gives_the_id_as_the_name_not_private_not_kept(stack, slack, failure):
    slack.channels["CNEW"] = slack_api.channel_object("CNEW", "launch")
    if failure == "token":
        slack.token = "xoxb-some-other-token"
    elif failure == "not_found":
        del slack.channels["CNEW"]
    else:
        slack.failure = failure
    directory = Directory(stack.dynamodb_client(), stack.counts_table, slack_api.LOCAL_TOKEN,
                          slack.api_url)
    assert directory.channels(TEAM, ["CNEW"]) == {"CNEW": {"name": "CNEW", "private": False}}
    assert stored(stack, "CHAN") == {}
    slack.reset()  # Slack is back: asked again, and kept
    slack.token = slack_api.LOCAL_TOKEN
    slack.channels["CNEW"] = slack_api.channel_object("CNEW", "launch")
    assert directory.channels(TEAM, ["CNEW"]) == {"CNEW": {"name": "launch", "private": False}}
    assert set(stored(stack, "CHAN")) == {"CNEW"}


def test_a_slow_slack_delays_a_read_by_seconds_at_most(stack, slack):
    slack.channels["CNEW"] = slack_api.channel_object("CNEW", "launch")
    slack.failure = "slow"
    directory = Directory(stack.dynamodb_client(), stack.counts_table, slack.token, slack.api_url)
    started = time.monotonic()
    assert directory.channels(TEAM, ["C1", "CNEW"]) == {"C1": {"name": "C1", "private": False},
                                                        "CNEW": {"name": "CNEW", "private": False}}
    assert time.monotonic() - started < directory_module.ASK_DEADLINE + 1


def test_at_most_twenty_unknown_channels_are_asked_per_call(stack, slack):
    ids = [f"CMANY{i:02d}" for i in range(30)]
    for i in ids:
        slack.channels[i] = slack_api.channel_object(i, i.lower())
    directory = Directory(stack.dynamodb_client(), stack.counts_table, slack.token, slack.api_url)
    before = slack.method_calls["conversations.info"]
    first = directory.channels(TEAM, ids)
    assert sum(first[i]["name"] == i.lower() for i in ids) == 20
    assert all(first[i] == {"name": i, "private": False} for i in ids[20:])
    assert all(directory.channels(TEAM, ids)[i]["name"] == i.lower() for i in ids)
    assert slack.method_calls["conversations.info"] - before == 30


def test_without_a_token_slack_is_never_asked(stack, slack):
    slack.channels["CNEW"] = slack_api.channel_object("CNEW", "launch")
    directory = Directory(stack.dynamodb_client(), stack.counts_table, None, slack.api_url)
    before = dict(slack.method_calls)
    assert directory.channels(TEAM, ["CNEW"]) == {"CNEW": {"name": "CNEW", "private": False}}
    directory.refresh_if_stale(TEAM)
    assert slack.method_calls == before


# ---- the stand-in ----------------------------------------------------------------------


def test_the_stand_in_answers_as_slack_does(stack, slack):
    client = WebClient(token=slack.token, base_url=slack.api_url, timeout=3)
    assert client.users_info(user="UDEMOADA")["user"]["profile"]["display_name"] == "Ada"
    assert client.conversations_info(channel="CDEMOSECRET")["channel"]["is_private"] is True
    members, cursor, pages = [], None, 0
    while True:
        page = client.users_list(limit=4, **({"cursor": cursor} if cursor else {}))
        members += [m["id"] for m in page["members"]]
        cursor, pages = page["response_metadata"]["next_cursor"], pages + 1
        if not cursor:
            break
    assert members == list(slack.users) and pages == 3
    for call, error in ((lambda: client.users_info(user="UNOBODY"), "user_not_found"),
                        (lambda: client.conversations_info(channel="CNONE"), "channel_not_found"),
                        (lambda: client.users_list(cursor="bm90OmEgY3Vyc29y"), "invalid_cursor"),
                        (lambda: WebClient(token="xoxb-wrong", base_url=slack.api_url
                                           ).users_list(), "invalid_auth")):
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == error
    avatar = requests.get(slack.avatar_url("UDEMOADA"), timeout=5)
    assert avatar.status_code == 200 and avatar.headers["Content-Type"].startswith("image/svg+xml")
    assert ">AL<" in avatar.text
    assert requests.get(slack.avatar_url("UNOBODY"), timeout=5).status_code == 404


@pytest.mark.parametrize("method, args, limit", [
    ("users.list", {"limit": "1"}, 20),            # Tier 2
    ("conversations.info", {"channel": "CDEMOENG"}, 50),  # Tier 3
    ("users.info", {"user": "UDEMOADA"}, 100),     # Tier 4
])
def test_the_stand_in_answers_429_past_a_tiers_limit(stack, slack, method, args, limit):
    session = requests.Session()
    headers = {"Authorization": f"Bearer {slack.token}"}
    answers = [session.get(slack.api_url + method, params=args, headers=headers, timeout=5)
               for _ in range(limit + 1)]
    assert all(a.status_code == 200 and a.json()["ok"] for a in answers[:limit])
    over = answers[limit]
    assert over.status_code == 429 and over.json() == {"ok": False, "error": "ratelimited"}
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    # slack_sdk sees Slack's error, with the header to wait by.
    with pytest.raises(SlackApiError) as raised:
        WebClient(token=slack.token, base_url=slack.api_url).api_call(
            method, http_verb="GET", params=args)
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    # A minute later the method answers again.
    slack.clock = lambda: time.monotonic() + 61
    try:
        assert session.get(slack.api_url + method, params=args, headers=headers,
                           timeout=5).status_code == 200
    finally:
        slack.clock = time.monotonic


def test_the_demo_traffic_fills_every_board_with_names(stack, slack):
    """`make run`'s traffic against the stand-in's demo workspace: people by name as
    givers and receivers, the public channels by name, the private one and the DM
    counted but never on the channels board, and the bot's reactions nowhere."""
    from devkit import simulate
    board(stack, "givers")  # a page opened first: the daily sync learns the bot
    outcomes = []
    for event in itertools.islice(simulate.Traffic(team_id=TEAM, seed=3).events(), 150):
        outcomes.append(simulate.outcome(post_event(stack, event)))
    assert set(outcomes) <= simulate.APPLIED, outcomes
    assert f"ignored: user {slack_api.BOT} is a bot" in outcomes
    channels = board(stack, "channels")
    assert {r["name"] for r in channels.values()} == {"general", "random", "design", "eng"}
    givers, receivers = board(stack, "givers"), board(stack, "receivers")
    shown = {u: display or real for u, (_, real, display) in slack_api.PEOPLE.items()}
    shown[slack_api.BOT] = slack_api.BOT_NAME  # its messages may receive reactions
    assert len(givers) >= 6 and len(receivers) >= 6
    for row in [*givers.values(), *receivers.values()]:
        assert row["name"] == shown[row["user"]]
        assert row["avatar_url"] == slack.avatar_url(row["user"])
    assert slack_api.BOT not in givers
    assert stored(stack, "CHAN")["CDEMOSECRET"]["private"] == {"BOOL": True}
    assert simulate.DEMO_CHANNELS[-1] == slack_api.DM
