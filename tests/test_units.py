"""Pure functions: settings, message sizes, windows, shards. No I/O, so nothing to
stand in."""
import json

import pytest

from chalicelib import messages, settings, shards, windows


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
    parts = [json.loads(m) for m in messages.snapshot("all", rows, 600)]
    assert len(parts) > 1 and {p["total"] for p in parts} == {600}
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))
    assert {p["parts"] for p in parts} == {len(parts)}


def test_updates_split_under_the_frame_limit():
    changes = [{"emoji": "e" * 90 + str(i), "count": i, "window": "all", "version": i}
               for i in range(2000)]
    encoded = messages.update(changes)
    assert len(encoded) > 1
    assert all(len(m) <= messages.MAX_MESSAGE_BYTES for m in encoded)
    import json
    assert [c for m in encoded for c in json.loads(m)["changes"]] == changes


def test_small_snapshot_is_one_message_without_parts():
    [only] = messages.snapshot("7d", [{"emoji": "fire", "count": 2}], 2)
    assert only == (b'{"type":"snapshot","window":"7d","total":2,'
                    b'"leaderboard":[{"emoji":"fire","count":2}]}')


def test_window_buckets():
    t = 1_700_000_000  # 2023-11-14T22:13:20Z
    assert windows.buckets("24h", t)[:2] == ["H#2023-11-14T22", "H#2023-11-14T21"]
    assert len(windows.buckets("24h", t)) == 24
    assert windows.buckets("7d", t)[-1] == "D#2023-11-08"
    assert len(windows.buckets("30d", t)) == 30
    assert windows.buckets_for_event(t - 25 * 3600, t) == ["ALL", "D#2023-11-13"]
    assert windows.buckets_for_event(t - 31 * 86400, t) == ["ALL"]


# ---- shards --------------------------------------------------------------------------


def test_each_topic_is_split_into_shards_of_its_own_connections():
    emoji = messages.update([{"emoji": "tada", "count": 1, "window": "all", "version": 1}])
    audience = {"emoji": [f"c{i}" for i in range(5)], "unknown-topic": ["x1"]}
    split = shards.split({"emoji": emoji}, audience, shard_size=2)
    assert [s.connections for s in split] == [["c0", "c1"], ["c2", "c3"], ["c4"]]
    assert all(s.messages == emoji for s in split)  # a topic with no update: no shard


def test_a_shard_travels_as_ascii_json_and_comes_back_the_same():
    update = messages.update([{"emoji": "tada", "count": 1, "window": "all", "version": 1,
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
    update = messages.update(rows)  # about 20 messages of up to 32 KB
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
