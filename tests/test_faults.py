"""The store failing. FAULT INJECTION: these tests patch the app's real boto3
DynamoDB client in-process to fail on chosen calls; everything else is real."""
import threading
from unittest import mock

import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib import services
from tests.helpers import board, connection_ids, dashboard, post_event, reaction, receive, wait_for


def _failing(operation: str, times: int = -1):
    """The app's DynamoDB client fails `operation` (its next `times` calls; every call
    by default)."""
    client = services.get().counts._db
    real = client._make_api_call
    left = [times]

    def call(name, params):
        if name == operation and left[0] != 0:
            left[0] -= 1
            raise EndpointConnectionError(endpoint_url="http://dynamodb.invalid")
        return real(name, params)
    return mock.patch.object(client, "_make_api_call", side_effect=call)


@pytest.mark.parametrize("operation, added", [
    ("TransactWriteItems", True), ("TransactWriteItems", False),
    ("GetItem", False),  # only a removal reads first: an add lets its write check
])
def test_store_outage_is_5xx_nothing_counted_and_the_retry_lands(stack, operation, added):
    if not added:
        post_event(stack, reaction("fire", user="U1", item_ts="1.1"))
    before, after = ({}, {"fire": 1}) if added else ({"fire": 1}, {})
    envelope = reaction("fire", user="U1", item_ts="1.1", added=added)
    with _failing(operation):
        response = post_event(stack, envelope)
    assert response.status_code == 503
    assert "retry" in response.json()["error"]
    assert board(stack) == before
    retried = post_event(stack, envelope, retry=1)  # Slack's retry, store back
    assert retried.json()["result"] == "counted"
    assert board(stack) == after


def test_a_failed_read_in_the_stream_handler_is_healed_by_the_batch_delivered_again(stack):
    """The handler's read of the new counts fails once: the handler raises, and the
    batch is delivered again (Lambda's rule for stream sources; devkit/streams.py)."""
    with dashboard(stack) as socket:
        wait_for(lambda: connection_ids(stack))
        with _failing("TransactGetItems", times=1):
            response = post_event(stack, reaction("eyes"))
            assert response.json() == {"ok": True, "result": "counted"}  # the route only counts
            update = receive(socket, timeout=10)
        assert {c["window"]: c["count"] for c in update["changes"]} == {
            "all": 1, "24h": 1, "7d": 1, "30d": 1}
    assert board(stack) == {"eyes": 1}


def test_leaderboard_during_an_outage_is_503(stack):
    import requests
    with _failing("Query"):
        response = requests.get(f"{stack.url}/api/leaderboard", timeout=10)
    assert response.status_code == 503
    assert "unavailable" in response.json()["error"]


def test_a_slow_dashboard_does_not_hold_up_the_others(stack):
    """One connection's push hangs (injected); the other pages get their update."""
    broadcaster = services.get().broadcaster
    real_send = broadcaster.send
    release, hanging = threading.Event(), threading.Event()
    with dashboard(stack) as healthy:
        wait_for(lambda: connection_ids(stack))
        stuck = "U2xvd0Nvbm5lY3Rpb24="
        stack.dynamodb_client().put_item(TableName=stack.connections_table, Item={
            "pk": {"S": "CONN"}, "sk": {"S": stuck}, "connected_at": {"N": "0"},
            "expires_at": {"N": "99999999999"}})

        def send(connection_id, payloads):
            if connection_id == stuck:
                hanging.set()
                release.wait(10)
                hanging.clear()
                return "failed"
            return real_send(connection_id, payloads)

        try:
            with mock.patch.object(broadcaster, "send", side_effect=send):
                assert post_event(stack, reaction("tada")).status_code == 200
                assert receive(healthy, timeout=3)["type"] == "update"
                assert hanging.is_set()  # the stuck push is still hanging
        finally:
            release.set()
