"""Property-based inputs (hypothesis) against the real stack: signed Slack bodies of
every shape at `POST /slack/events`, and any text on a dashboard's WebSocket. Never a
5xx, never a dropped connection, and a request that is refused changes nothing in
the store. The comparison reads the whole counts table with a Scan (tests only: the
app never scans)."""
import json

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import TEAM
from tests.helpers import dashboard, post_event, receive

# The tables are emptied once per test, not per example: each example compares the
# store before and after itself, so earlier examples do not matter.
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

leaf = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
        | st.text(max_size=30))
anything = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def usually(strategy, other):
    """Four times in five `strategy`, else `other`."""
    return st.integers(0, 4).flatmap(lambda n: other if n == 4 else strategy)


def maybe(*valid):
    """A field that is usually one of Slack's own values, and sometimes anything."""
    return usually(st.sampled_from(valid), anything)


names = st.sampled_from(["fire", "thumbsup::skin-tone-2", "::", "+1"]) | st.text(min_size=1, max_size=110)
event = st.fixed_dictionaries({
    "type": maybe("reaction_added", "reaction_removed", "emoji_changed", "message"),
    "user": maybe("U1", "U2"),
    "reaction": usually(names, anything),
    "item": usually(st.fixed_dictionaries({
        "type": maybe("message", "file", "file_comment"), "channel": maybe("C1"),
        "ts": maybe("1700000000.000100"), "file": maybe("F1"), "file_comment": maybe("Fc1"),
    }), anything),
    "event_ts": maybe("1700000000.000100", "0", "-1", "1e300", "nan"),
}, optional={
    "subtype": maybe("add", "remove", "rename"),
    "name": usually(names, anything), "old_name": names, "new_name": names,
    "names": usually(st.lists(names, min_size=1, max_size=3), anything),
    "value": maybe("https://emoji.example/a.png", "alias:thumbsup", "alias:",
                   "javascript:alert(1)", "http://[::1", "https://x:99999/a",
                   "data:image/png;base64,AA") | st.text(max_size=40),
})
# Mostly well-formed envelopes, so the examples reach the event's own fields.
envelope = st.fixed_dictionaries({
    "type": maybe("event_callback", "event_callback", "url_verification", "app_rate_limited"),
    "team_id": maybe(TEAM, TEAM, "T0OTHER"),
    "event_id": maybe("Ev1", "Ev2", "Ev3") | st.text(min_size=1, max_size=300),
    "event": event,
}, optional={
    "event_time": maybe(1700000000),
    "challenge": maybe("c" * 10) | st.text(max_size=1100),
})
bodies = usually(envelope.map(lambda e: json.dumps(e).encode()),
                 anything.map(lambda v: json.dumps(v).encode()) | st.text(max_size=100).map(str.encode))


def store(stack):
    """Every item of the counts table but the custom emoji, a copy of Slack's list that
    any read may refresh."""
    client = stack.dynamodb_client()
    items = []
    for page in client.get_paginator("scan").paginate(TableName=stack.counts_table,
                                                       ConsistentRead=True):
        items += [i for i in page["Items"] if not i["pk"]["S"].startswith("EMOJI")]
    return sorted(json.dumps(item, sort_keys=True) for item in items)


@SETTINGS
@given(body=bodies)
def test_signed_bodies_never_5xx_and_refusals_change_nothing(stack, body):
    before = store(stack)
    response = post_event(stack, body)
    assert response.status_code < 500, (body, response.text)
    answer = response.json()
    if response.status_code != 200 or "ignored" in answer or "challenge" in answer \
            or answer.get("result") in ("duplicate", "unchanged"):
        after = store(stack)
        if answer.get("result") == "unchanged":
            # The reaction's own record may move forward; no counter does.
            before = [i for i in before if '"C#' in i]
            after = [i for i in after if '"C#' in i]
        assert after == before, (body, answer)


messages = (st.text(max_size=200)
            | st.fixed_dictionaries({"action": maybe("snapshot", "ping", "subscribe")},
                                    optional={"window": maybe("all", "24h", "7d", "30d", "1y"),
                                              "limit": maybe(1, 50, 500, 0, 501, "10", -1)})
            .map(json.dumps)
            | anything.map(json.dumps))


@SETTINGS
@given(text=messages)
def test_any_websocket_message_gets_one_clear_answer_and_changes_nothing(stack, text):
    before = store(stack)
    # A socket per example: one connection may send only so many messages (live.py).
    with dashboard(stack) as socket:
        socket.send(text)
        reply = receive(socket)
    assert reply["type"] in ("snapshot", "pong", "error"), reply
    if reply["type"] == "error":
        assert reply["message"]
    assert store(stack) == before
