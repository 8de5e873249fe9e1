"""Dashboards over real WebSockets through the local gateway, and the Management API."""
import json
import time

import boto3
import pytest
import requests
from websockets.exceptions import ConnectionClosed

from chalicelib import messages
from tests.helpers import (board, connection_ids, dashboard, post_event, reaction, receive,
                           send, settled, wait_for)


def test_connect_registers_and_disconnect_removes(stack):
    with dashboard(stack):
        assert wait_for(lambda: len(connection_ids(stack)) == 1)
        record = stack.dynamodb_client().query(
            TableName=stack.connections_table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "CONN"}})["Items"][0]
        ttl = int(record["expires_at"]["N"]) - int(record["connected_at"]["N"])
        assert ttl > 2 * 3600  # outlives API Gateway's 2-hour connection limit
    assert wait_for(lambda: connection_ids(stack) == [])


def test_snapshot_has_the_same_rows_as_the_http_api(stack):
    for i, emoji in enumerate(["fire", "fire", "eyes"]):
        post_event(stack, reaction(emoji, user=f"U{i}"))
    api = requests.get(f"{stack.url}/api/leaderboard?window=24h", timeout=10).json()
    with dashboard(stack) as socket:
        send(socket, {"action": "snapshot", "window": "24h"})
        assert receive(socket) == {"type": "snapshot", **api}


def test_ping_pong(stack):
    with dashboard(stack) as socket:
        send(socket, {"action": "ping"})
        assert receive(socket) == {"type": "pong"}


@pytest.mark.parametrize("raw", [
    "not json", "[1,2]", "null", '{"action": "dance"}', '{"no": "action"}',
    '{"action": "snapshot", "window": "forever"}', '{"action": "snapshot", "limit": -1}',
    '{"action": "snapshot", "limit": true}', "[" * 3000, "x" * 5000,
])
def test_bad_messages_get_an_error_and_keep_the_connection(stack, raw):
    with dashboard(stack) as socket:
        socket.send(raw)
        reply = receive(socket)
        assert reply["type"] == "error" and reply["message"]
        send(socket, {"action": "ping"})
        assert receive(socket) == {"type": "pong"}


def test_every_dashboard_gets_absolute_counts_for_each_window(stack):
    post_event(stack, reaction("tada", user="U1"))
    with dashboard(stack) as first, dashboard(stack) as second:
        wait_for(lambda: len(connection_ids(stack)) == 2)
        sent_at = time.monotonic()
        assert post_event(stack, reaction("tada", user="U2")).status_code == 200
        for socket in (first, second):
            update = receive(socket, timeout=1.0)
            assert time.monotonic() - sent_at < 1.0
            assert update["type"] == "update"
            assert {(c["window"], c["count"]) for c in update["changes"]} == {
                ("all", 2), ("24h", 2), ("7d", 2), ("30d", 2)}
            assert {c["emoji"] for c in update["changes"]} == {"tada"}
            assert len({c["version"] for c in update["changes"]}) == 1


def test_versions_grow_with_every_change(stack):
    with dashboard(stack) as socket:
        wait_for(lambda: connection_ids(stack))
        versions = []
        for i in range(3):
            post_event(stack, reaction("eyes", user=f"U{i}"))
            versions.append(receive(socket)["changes"][0]["version"])
        assert versions == sorted(versions) and len(set(versions)) == 3


def test_an_old_event_updates_only_the_windows_it_falls_in(stack):
    with dashboard(stack) as socket:
        wait_for(lambda: connection_ids(stack))
        post_event(stack, reaction("sob", event_time=time.time() - 10 * 86400))
        update = receive(socket)
        assert {c["window"] for c in update["changes"]} == {"all", "30d"}


def test_ignored_uncounted_and_duplicate_events_send_nothing(stack):
    envelope = reaction("fire")
    post_event(stack, envelope)
    settled(stack)  # its update went to no page
    with dashboard(stack) as socket:
        wait_for(lambda: connection_ids(stack))
        post_event(stack, reaction("fire", team_id="T0OTHER"))
        post_event(stack, reaction("rocket", added=False))  # never counted
        # A duplicate writes nothing, so the stream has nothing to push.
        assert post_event(stack, envelope, retry=1).json()["result"] == "duplicate"
        settled(stack)
        with pytest.raises(TimeoutError):
            socket.recv(timeout=0.5)
        assert board(stack) == {"fire": 1}


def test_a_gone_connection_is_pruned_while_the_others_still_receive(stack):
    # A dashboard whose $disconnect never ran (as happens on AWS): its record stays.
    stale = "R2FuZUNvbm5lY3Rpb24="
    stack.dynamodb_client().put_item(TableName=stack.connections_table, Item={
        "pk": {"S": "CONN"}, "sk": {"S": stale}, "connected_at": {"N": str(int(time.time()))},
        "expires_at": {"N": str(int(time.time()) + 3600)}})
    with dashboard(stack) as first, dashboard(stack) as second:
        wait_for(lambda: len(connection_ids(stack)) == 3)
        post_event(stack, reaction("rocket"))
        for socket in (first, second):
            assert receive(socket)["type"] == "update"
        # Pushes run in parallel: the stale one's Gone may come back after both pages
        # have their update.
        assert wait_for(lambda: stale not in connection_ids(stack))
        assert len(connection_ids(stack)) == 2


def test_a_dashboard_that_dropped_does_not_stop_the_others(stack):
    with dashboard(stack) as keeper:
        with dashboard(stack):
            wait_for(lambda: len(connection_ids(stack)) == 2)
        post_event(stack, reaction("heart"))
        assert receive(keeper)["changes"][0]["emoji"] == "heart"
    assert board(stack) == {"heart": 1}


def test_big_snapshots_are_split_under_the_frame_limit(stack):
    client = stack.dynamodb_client()
    names = [f"custom_emoji_{i:04d}_" + "x" * 80 for i in range(500)]  # ~56 KB of rows
    for start in range(0, len(names), 25):  # seed counters directly: 500 emoji
        client.batch_write_item(RequestItems={stack.counts_table: [
            {"PutRequest": {"Item": {"pk": {"S": "C#T0TEST#all#ALL"}, "sk": {"S": name},
                                     "n": {"N": "1"}, "v": {"N": "1"}}}}
            for name in names[start:start + 25]]})
    with dashboard(stack) as socket:
        send(socket, {"action": "snapshot", "window": "all", "limit": 500})
        first = socket.recv(timeout=5)
        parts = [json.loads(first)]
        assert len(first.encode()) <= messages.MAX_MESSAGE_BYTES
        while len(parts) < parts[0]["parts"]:
            raw = socket.recv(timeout=5)
            assert len(raw.encode()) <= messages.MAX_MESSAGE_BYTES
            parts.append(json.loads(raw))
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1)) and len(parts) > 1
    assert {p["total"] for p in parts} == {500}  # every part says the whole board's total
    rows = [row for p in parts for row in p["leaderboard"]]
    assert [r["emoji"] for r in rows] == sorted(names)


# ---- the Management API, as the app's boto3 client sees it -------------------

@pytest.fixture
def management(stack):
    return boto3.client("apigatewaymanagementapi", endpoint_url=stack.url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def test_management_api_post_get_delete(stack, management):
    with dashboard(stack) as socket:
        connection_id = wait_for(lambda: connection_ids(stack))[0]
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"hello": 1}')
        assert receive(socket) == {"hello": 1}
        info = management.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=5)
    assert wait_for(lambda: connection_ids(stack) == [])


def test_management_api_answers_gone_for_unknown_connections(management):
    for call in (lambda: management.post_to_connection(ConnectionId="bm9wZQ==", Data=b"x"),
                 lambda: management.get_connection(ConnectionId="bm9wZQ=="),
                 lambda: management.delete_connection(ConnectionId="bm9wZQ==")):
        with pytest.raises(management.exceptions.GoneException):
            call()


def test_management_api_refuses_unsigned_requests(stack):
    response = requests.post(f"{stack.url}/@connections/abc", data=b"x", timeout=10)
    assert response.status_code == 403


def test_throttled_pushes_are_retried(stack):
    # FAULT INJECTION: the local gateway answers LimitExceededException to the first
    # two pushes to this connection, as API Gateway does when throttling.
    with dashboard(stack) as socket:
        connection_id = wait_for(lambda: connection_ids(stack))[0]
        stack.gateway.throttle[connection_id] = 2
        post_event(stack, reaction("wave"))
        assert receive(socket)["changes"][0]["emoji"] == "wave"
        assert stack.gateway.throttle[connection_id] == 0
        assert connection_ids(stack) == [connection_id]  # throttled is not gone


def test_one_connection_may_ask_only_so_much(stack):
    """A socket looping on requests gets ASK_LIMIT answers a window, one error saying
    why, then nothing more until the window turns; other pages are unaffected."""
    from chalicelib.connections import ASK_LIMIT, ASK_WINDOW_SECONDS
    # Start just after a window turns, so all of this falls in one.
    time.sleep(ASK_WINDOW_SECONDS - time.time() % ASK_WINDOW_SECONDS + 0.05)
    with dashboard(stack) as greedy, dashboard(stack) as other:
        for _ in range(ASK_LIMIT + 10):
            send(greedy, {"action": "ping"})
        replies = [receive(greedy) for _ in range(ASK_LIMIT + 1)]
        assert [r["type"] for r in replies] == ["pong"] * ASK_LIMIT + ["error"]
        assert "too many messages" in replies[-1]["message"]
        with pytest.raises(TimeoutError):
            greedy.recv(timeout=1)
        send(other, {"action": "ping"})
        assert receive(other) == {"type": "pong"}
        time.sleep(ASK_WINDOW_SECONDS - time.time() % ASK_WINDOW_SECONDS + 0.05)
        send(greedy, {"action": "ping"})  # a new window: answered again
        assert receive(greedy) == {"type": "pong"}


def test_a_gone_connection_s_messages_do_no_work(stack):
    """API Gateway may still hand over a message from a connection whose $disconnect
    already ran: with no record left, nothing is read or sent for it."""
    with dashboard(stack) as socket:
        [connection_id] = wait_for(lambda: connection_ids(stack))
        stack.dynamodb_client().delete_item(
            TableName=stack.connections_table,
            Key={"pk": {"S": "CONN"}, "sk": {"S": connection_id}})
        send(socket, {"action": "snapshot", "window": "all"})
        with pytest.raises(TimeoutError):
            socket.recv(timeout=1.5)


def test_a_row_stored_with_a_lone_surrogate_still_reaches_pages(stack):
    """Rows counted before the Slack route refused such names: snapshots and updates
    carry them as JSON escapes instead of failing to encode (and sending nothing)."""
    from chalicelib import services, slack_events
    bad = slack_events.Reaction(event_id="EvOLD", team_id="T0TEST", added=True, user="U1",
                                reaction="\ud800", item="C1/1.1", event_time=time.time())
    assert services.get().counts.record(bad, "T0TEST").status == "counted"
    post_event(stack, reaction("fire"))
    with dashboard(stack) as socket:
        send(socket, {"action": "snapshot", "window": "24h"})
        snapshot = receive(socket)
        assert snapshot["type"] == "snapshot"
        assert {r["emoji"]: r["count"] for r in snapshot["leaderboard"]} == {
            "\ud800": 1, "fire": 1}
        post_event(stack, reaction("fire", user="U2"))
        assert receive(socket)["type"] == "update"
