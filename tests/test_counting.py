"""Exactly-once counting in DynamoDB, through the signed Slack route."""
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
import requests

from tests.helpers import board, post_event, reaction

DAY = 86400


def test_retried_delivery_counts_once(stack):
    envelope = reaction("eyes")
    assert post_event(stack, envelope).json()["result"] == "counted"
    for attempt in (1, 2, 3):
        response = post_event(stack, envelope, retry=attempt)
        assert response.status_code == 200
        assert response.json()["result"] == "duplicate"
    assert board(stack) == {"eyes": 1}


def test_the_same_reaction_sent_under_a_new_event_id_is_not_counted_twice(stack):
    first = reaction("eyes", user="U1", item_ts="1.000001", event_time=time.time() - 5)
    again = dict(first, event_id="EvSECONDCOPY")
    post_event(stack, first)
    assert post_event(stack, again).json()["result"] == "unchanged"
    assert board(stack) == {"eyes": 1}


def test_an_add_writes_without_reading_and_a_re_add_uses_the_record_it_gets_back(stack):
    """Observes (does not change) the app's DynamoDB calls: an add is one write; when
    the reaction has a record, the cancelled write returns it and the retry uses it."""
    from chalicelib import services
    client, calls = services.get().counts._db, []
    real = client._make_api_call

    def observe(name, params):
        calls.append(name)
        return real(name, params)

    now = time.time()
    with mock.patch.object(client, "_make_api_call", side_effect=observe):
        post_event(stack, reaction("star", user="U1", item_ts="5.5", event_time=now - 30))
        first = [c for c in calls if c in ("GetItem", "TransactWriteItems")]
        post_event(stack, reaction("star", user="U1", item_ts="5.5", event_time=now - 20,
                                   added=False))
        calls.clear()
        again = post_event(stack, reaction("star", user="U1", item_ts="5.5", event_time=now - 10))
        re_add = [c for c in calls if c in ("GetItem", "TransactWriteItems")]
    assert first == ["TransactWriteItems"]
    assert again.json()["result"] == "counted"
    assert re_add == ["TransactWriteItems", "TransactWriteItems"]
    assert board(stack) == {"star": 1}


def test_distinct_users_and_messages_each_count(stack):
    for user, ts in [("U1", "1.1"), ("U2", "1.1"), ("U1", "2.2")]:
        post_event(stack, reaction("heart", user=user, item_ts=ts))
    assert board(stack) == {"heart": 3}


def test_removal_undoes_an_add(stack):
    now = time.time()
    post_event(stack, reaction("fire", user="U1", item_ts="9.9", event_time=now - 10))
    post_event(stack, reaction("fire", user="U2", item_ts="9.9", event_time=now - 9))
    result = post_event(stack, reaction("fire", user="U1", item_ts="9.9", added=False,
                                        event_time=now - 5))
    assert result.json()["result"] == "counted"
    assert board(stack) == {"fire": 1}
    for window in ("24h", "7d", "30d"):
        assert board(stack, window) == {"fire": 1}


def test_removal_of_a_reaction_never_counted_does_not_go_below_zero(stack):
    # Added before the app was installed, removed now.
    response = post_event(stack, reaction("rocket", added=False))
    assert response.status_code == 200
    assert response.json()["result"] == "unchanged"
    assert board(stack) == {}
    # The emoji still counts normally afterwards.
    post_event(stack, reaction("rocket", user="U9"))
    assert board(stack) == {"rocket": 1}


def test_removal_delivered_before_its_add_counts_nothing(stack):
    now = time.time()
    add = reaction("sob", user="U1", item_ts="5.5", event_time=now - 20)
    remove = reaction("sob", user="U1", item_ts="5.5", added=False, event_time=now - 10)
    post_event(stack, remove)      # the add failed first time and is retried later
    post_event(stack, add, retry=1)
    assert board(stack) == {}
    # A genuine re-add after the removal counts again.
    post_event(stack, reaction("sob", user="U1", item_ts="5.5", event_time=now - 1))
    assert board(stack) == {"sob": 1}


def test_skin_tones_and_standard_aliases_fold_into_one_emoji(stack):
    # Slack's names for one standard emoji (emoji-data lists `+1` first, then `thumbsup`).
    for user, name in [("U1", "thumbsup"), ("U2", "thumbsup::skin-tone-2"),
                       ("U3", "+1::skin-tone-6"), ("U4", "+1")]:
        post_event(stack, reaction(name, user=user, item_ts="7.7"))
    assert board(stack) == {"+1": 4}
    # The reaction's own record folds too: taken back under the other name, it goes.
    post_event(stack, reaction("+1::skin-tone-2", user="U2", item_ts="7.7", added=False))
    assert board(stack) == {"+1": 3}
    post_event(stack, reaction("heart", user="U1", item_ts="7.7"))
    assert board(stack) == {"+1": 3, "heart": 1}  # other emoji stay their own


def test_windows_count_by_event_time(stack):
    now = time.time()
    ages = {"now": 60, "two-days": 2 * DAY, "ten-days": 10 * DAY, "forty-days": 40 * DAY}
    for i, (name, age) in enumerate(ages.items()):
        post_event(stack, reaction(name.replace("-", "_"), user=f"U{i}", event_time=now - age))
    assert board(stack, "all") == {"now": 1, "two_days": 1, "ten_days": 1, "forty_days": 1}
    assert board(stack, "30d") == {"now": 1, "two_days": 1, "ten_days": 1}
    assert board(stack, "7d") == {"now": 1, "two_days": 1}
    assert board(stack, "24h") == {"now": 1}


def test_removal_takes_the_reaction_out_of_the_windows_it_was_added_in(stack):
    now = time.time()
    post_event(stack, reaction("clap", user="U1", item_ts="3.3", event_time=now - 3 * DAY))
    post_event(stack, reaction("clap", user="U2", item_ts="3.3", event_time=now - 60))
    post_event(stack, reaction("clap", user="U1", item_ts="3.3", added=False, event_time=now - 30))
    assert board(stack, "all") == {"clap": 1}
    assert board(stack, "24h") == {"clap": 1}   # U2's, added today, is still there
    assert board(stack, "7d") == {"clap": 1}


@pytest.mark.load
def test_concurrent_distinct_events_land_exactly(stack):
    threads, per_thread = 8, 250
    emoji = ["+1", "heart", "joy", "tada", "eyes"]

    def deliver(thread):
        with requests.Session() as session:
            statuses = []
            for i in range(per_thread):
                envelope = reaction(emoji[i % len(emoji)], user=f"U{thread}",
                                    item_ts=f"{thread}.{i:06d}")
                statuses.append(post_event(stack, envelope, session=session).status_code)
            return statuses

    with ThreadPoolExecutor(threads) as pool:
        statuses = [s for result in pool.map(deliver, range(threads)) for s in result]
    assert statuses.count(200) == threads * per_thread
    expected = {name: threads * per_thread // len(emoji) for name in emoji}
    assert board(stack) == expected
    assert board(stack, "24h") == expected


def test_concurrent_duplicates_count_once(stack):
    envelopes = [reaction("pray", user=f"U{i}") for i in range(40)]
    deliveries = [e for e in envelopes for _ in range(3)]  # each event three times at once

    def deliver(envelope):
        # As Slack does: a 5xx (the store busy past the route's retries, as 120
        # transactions on the same counters at once can make it) is delivered again.
        for attempt in range(1, 5):
            response = post_event(stack, envelope, retry=attempt)
            if response.status_code < 500:
                return response.json()["result"]
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(deliver, deliveries))
    assert results.count("counted") == len(envelopes)
    assert board(stack) == {"pray": len(envelopes)}


def test_counters_edited_by_hand_still_never_go_below_zero(stack):
    post_event(stack, reaction("boom", user="U1", item_ts="4.4"))
    client = stack.dynamodb_client()
    client.update_item(TableName=stack.counts_table,  # someone zeroes the count by hand
                       Key={"pk": {"S": "C#T0TEST#all#ALL"}, "sk": {"S": "boom"}},
                       UpdateExpression="SET n = :zero", ExpressionAttributeValues={":zero": {"N": "0"}})
    response = post_event(stack, reaction("boom", user="U1", item_ts="4.4", added=False))
    assert response.json()["result"] == "unchanged"
    item = client.get_item(TableName=stack.counts_table,
                           Key={"pk": {"S": "C#T0TEST#all#ALL"}, "sk": {"S": "boom"}})["Item"]
    assert item["n"] == {"N": "0"}
