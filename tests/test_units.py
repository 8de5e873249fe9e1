"""Pure functions: settings, message sizes, windows, shards. No I/O, so nothing to
stand in."""
import json

import pytest

from chalicelib import messages, settings, shards, views, windows


def test_missing_settings_say_which_variable():
    with pytest.raises(settings.SettingsError, match="COUNTS_TABLE"):
        settings.load({"CONNECTIONS_TABLE": "c"})
    with pytest.raises(settings.SettingsError, match="SLACK_SIGNING_SECRET"):
        settings.signing_secret({})
    with pytest.raises(settings.SettingsError, match="FANOUT_WORKERS"):
        settings.load({"COUNTS_TABLE": "a", "CONNECTIONS_TABLE": "b", "FANOUT_WORKERS": "many"})
    with pytest.raises(settings.SettingsError, match="FANOUT_SHARD_SIZE"):
        settings.load({"COUNTS_TABLE": "a", "CONNECTIONS_TABLE": "b", "FANOUT_SHARD_SIZE": "0"})


def test_management_endpoint_on_aws_and_locally():
    base = {"COUNTS_TABLE": "a", "CONNECTIONS_TABLE": "b"}
    aws = settings.load({**base, "WEBSOCKET_API_ID": "abc123", "WEBSOCKET_STAGE": "prod",
                         "AWS_REGION": "eu-west-1"})
    assert aws.management_endpoint() == "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    local = settings.load({**base, "WEBSOCKET_ENDPOINT_URL": "http://127.0.0.1:8000/"})
    assert local.management_endpoint() == "http://127.0.0.1:8000"
    with pytest.raises(settings.SettingsError, match="WEBSOCKET_API_ID"):
        settings.load(base).management_endpoint()


def test_slack_web_api_settings():
    base = {"COUNTS_TABLE": "a", "CONNECTIONS_TABLE": "b"}
    default = settings.load(base)
    assert (default.slack_bot_token, default.slack_api_url) == (None, "https://slack.com/api/")
    local = settings.load({**base, "SLACK_BOT_TOKEN": " xoxb-1 ",
                           "SLACK_API_URL": "http://127.0.0.1:8000/slack-api/"})
    assert (local.slack_bot_token, local.slack_api_url) == (
        "xoxb-1", "http://127.0.0.1:8000/slack-api/")


def test_a_split_snapshot_says_the_total_in_every_part():
    rows = [{"emoji": f"e{i:04d}" + "x" * 90, "count": 1, "version": 1} for i in range(600)]
    parts = [json.loads(m) for m in messages.snapshot({"board": "emoji", "window": "all"}, rows, 600, 600)]
    assert len(parts) > 1 and {p["total"] for p in parts} == {600}
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))
    assert {p["parts"] for p in parts} == {len(parts)}


def test_updates_split_under_the_frame_limit():
    changes = [{"emoji": "e" * 90 + str(i), "count": i, "window": "all", "version": i}
               for i in range(2000)]
    encoded = messages.update({"board": "emoji"}, changes)
    assert len(encoded) > 1
    assert all(len(m) <= messages.MAX_MESSAGE_BYTES for m in encoded)
    import json
    assert [c for m in encoded for c in json.loads(m)["changes"]] == changes


def test_small_snapshot_is_one_message_without_parts():
    [only] = messages.snapshot({"board": "emoji", "window": "7d"},
                               [{"emoji": "fire", "count": 2}], 2, 1)
    assert only == (b'{"type":"snapshot","board":"emoji","window":"7d","total":2,"size":1,'
                    b'"leaderboard":[{"emoji":"fire","count":2}]}')


def test_window_buckets():
    t = 1_700_000_000  # 2023-11-14T22:13:20Z
    assert windows.buckets("24h", t)[:2] == ["H#2023-11-14T22", "H#2023-11-14T21"]
    assert len(windows.buckets("24h", t)) == 24
    assert windows.buckets("7d", t)[-1] == "D#2023-11-08"
    assert len(windows.buckets("30d", t)) == 30
    assert windows.buckets_for_event(t - 25 * 3600, t) == ["ALL", "D#2023-11-13"]
    assert windows.buckets_for_event(t - 31 * 86400, t) == ["ALL"]
    assert windows.buckets("12m", t)[::11] == ["M#2023-11", "M#2022-12"]
    assert windows.buckets_for_event(t - 31 * 86400, t, months=True) == ["ALL", "M#2023-10"]
    assert windows.buckets_for_event(t - 400 * 86400, t, months=True) == ["ALL"]
    assert windows.bucket_start("M#2023-10") == "2023-10-01T00:00:00Z"
    assert windows.bucket_start("H#2023-11-14T22") == "2023-11-14T22:00:00Z"
    # A month's bucket lives 13 months from the month's start, whichever day wrote it.
    assert windows.bucket_expiry("M#2023-11", t) == windows.bucket_expiry("M#2023-11", t - 13 * 86400)


# ---- shards --------------------------------------------------------------------------


def test_each_topic_is_split_into_shards_of_its_own_connections():
    emoji = messages.update({"board": "emoji"}, [{"emoji": "tada", "count": 1, "window": "all", "version": 1}])
    audience = {"emoji": [f"c{i}" for i in range(5)], "unknown-topic": ["x1"]}
    split = shards.split({"emoji": emoji}, audience, shard_size=2)
    assert [s.connections for s in split] == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    assert all(s.messages == emoji for s in split)  # a topic with no update: no shard


def test_a_shard_travels_as_ascii_json_and_comes_back_the_same():
    update = messages.update({"board": "emoji"}, [{"emoji": "tada", "count": 1, "window": "all", "version": 1,
                               "glyph": "\U0001F389"},
                              {"emoji": "lone", "count": 1, "window": "all", "version": 1,
                               "name": "\ud800"}])  # a lone surrogate: messages escapes it
    shard = shards.Shard(update, ["L0SM9cOFvHcCIhw="])
    body = shard.to_body()
    assert body.isascii()
    assert shards.Shard.from_body(body) == shard


def test_a_shard_too_big_for_one_queue_message_is_carried_in_several():
    rows = [{"emoji": f"e{i:05d}", "count": i, "window": "all", "version": 1, "pad": "x" * 200}
            for i in range(3000)]
    update = messages.update({"board": "emoji"}, rows)  # about 20 messages of up to 32 KB
    connections = [f"conn{i:012d}" for i in range(500)]
    split = shards.split({"emoji": update}, {"emoji": connections}, shard_size=500)
    assert len(split) > 1
    assert [m for s in split for m in s.messages] == update
    assert all(s.connections == connections for s in split)
    assert all(len(s.to_body()) <= shards.MAX_BODY_BYTES for s in split)


def test_queue_batches_hold_at_most_10_bodies_and_250_kib():
    bodies = ["x" * 100] * 25 + ["y" * 200_000] * 3
    batches = list(shards._batches(bodies))
    assert [b for batch in batches for b in batch] == bodies
    assert all(len(batch) <= 10 and sum(map(len, batch)) <= shards.MAX_BODY_BYTES
               for batch in batches)
    assert [len(batch) for batch in batches] == [10, 10, 6, 1, 1]  # 5 small + 1 large fit


# ---- views ---------------------------------------------------------------------------


@pytest.mark.parametrize("params, topic", [
    ({}, "emoji/all"),
    ({"window": "7d"}, "emoji/7d"),
    ({"board": "givers", "window": "24h"}, "givers/24h"),
    ({"board": "emoji", "window": "30d", "channel": "C0123"}, "emoji/30d/channel=C0123"),
    ({"receiver": "U9"}, "emoji/all/receiver=U9"),
    ({"board": "unused", "window": "30d"}, "unused/30d"),
])
def test_a_view_is_a_topic_and_back(params, topic):
    view = views.parse_view(params)
    assert view.topic == topic
    assert views.from_topic(topic) == view
    assert views.from_topic("emoji") == views.View("emoji", None)  # every window


@pytest.mark.parametrize("params, error", [
    ({"board": "people"}, "board must be one of"),
    ({"window": "1y"}, "window must be one of"),
    ({"board": "unused", "window": "7d"}, "unused board's window"),
    ({"channel": "C1", "giver": "U1"}, "narrow by one of"),
    ({"board": "channels", "channel": "C1"}, "narrows the emoji board only"),
    ({"giver": "U1#all"}, "must be a Slack id"),
    ({"board": ["emoji"]}, "board must be text"),
])
def test_a_bad_view_says_what_is_wrong(params, error):
    with pytest.raises(views.BadQuery, match=error):
        views.parse_view(params)


def test_people_boards_off_refuses_people_boards_and_person_filters():
    for params in ({"board": "givers"}, {"board": "receivers"}, {"giver": "U1"},
                   {"receiver": "U1"}):
        with pytest.raises(views.BadQuery, match="people boards are turned off"):
            views.parse_view(params, people_boards=False)
    assert views.parse_view({"channel": "C1"}, people_boards=False).scope == "C:C1"


def test_topics_this_code_does_not_know_are_none():
    for topic in ("future", "emoji/1y", "givers/all/channel=C1", "emoji/all/colour=red",
                  "emoji/all/channel=C1/x", ""):
        assert views.from_topic(topic) is None
