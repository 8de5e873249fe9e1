"""The fan-out: the counts table's real stream, read as Lambda's event source mapping
reads it (devkit/streams.py), feeds the app's `@app.on_dynamodb_record` handler,
which folds each batch into one update per dashboard. End to end on the session
stack; the handler and the poller also directly, against its DynamoDB Local."""
import dataclasses
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from chalice.app import DynamoDBEvent
from websockets.sync.client import connect

from chalicelib import fanout, metrics, services
from chalicelib.broadcast import FanoutReport
from chalicelib.counts import counter_pk
from chalicelib.windows import ALL_TIME
from devkit import streams, tables
from tests.conftest import SECRET, TEAM
from tests.helpers import (board, connection_ids, dashboard, post_event, reaction, receive,
                           served_logs, settled, wait_for)

def own(name: str) -> str:
    """A name of this run's own, so a page never counts another test's late batch."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


class Page:
    """A dashboard as the page keeps it: the newest version of each (window, emoji).
    `updates` counts only the updates that touch `names`: an earlier test's last
    batch may still land on a new page."""

    def __init__(self, stack, names=()):
        self.names = set(names)
        self.socket = connect(f"ws://{stack.host}:{stack.port}/ws", open_timeout=10)
        self.socket.__enter__()  # what `with connect(...)` does; closed by close()
        self.state, self.updates, self.messages = {}, 0, []
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self):
        for raw in self.socket:
            message = json.loads(raw)
            if message["type"] != "update":
                continue
            self.updates += any(c["emoji"] in self.names for c in message["changes"])
            self.messages.append(message)
            for change in message["changes"]:
                key = (change["window"], change["emoji"])
                if change["version"] >= self.state.get(key, (-1, 0))[0]:
                    self.state[key] = (change["version"], change["count"])

    def counts(self, window="all"):
        return {e: n for (w, e), (_, n) in self.state.items() if w == window and n > 0}

    def close(self):
        self.socket.close()
        self._thread.join(timeout=5)


def _post_many(stack, envelopes, threads=4):
    def deliver(chunk):
        with requests.Session() as session:
            return [post_event(stack, e, session=session).status_code for e in chunk]
    chunks = [envelopes[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        return [s for statuses in pool.map(deliver, chunks) for s in statuses]


def test_a_burst_reaches_every_dashboard_in_a_few_updates_with_exact_counts(stack):
    before = len(connection_ids(stack))
    emoji = [own(f"burst-{i}") for i in range(1, 6)]
    pages = [Page(stack, emoji) for _ in range(3)]
    try:
        wait_for(lambda: len(connection_ids(stack)) == before + 3)
        envelopes = [reaction(emoji[i % len(emoji)], user=f"U{i}", item_ts=f"7.{i:04d}")
                     for i in range(80)]
        # U3 took back their burst-4: whichever arrives first, it ends uncounted.
        envelopes += [reaction(emoji[3], user="U3", item_ts="7.0003", added=False)]
        started = time.monotonic()
        assert set(_post_many(stack, envelopes)) == {200}
        posting = time.monotonic() - started
        expected = {e: n for e, n in board(stack, limit=500).items() if e in emoji}
        assert expected == {e: 15 if e == emoji[3] else 16 for e in emoji}
        for window in ("all", "24h", "7d", "30d"):
            assert {e: n for e, n in board(stack, window, limit=500).items() if e in emoji} \
                == expected
        assert wait_for(lambda: all(p.counts(w) == expected for p in pages
                                    for w in ("all", "24h", "7d", "30d")), timeout=15)
        # A batch waits up to the 1 s window from its first record, one batch at a time:
        # at most one update per second of posting, plus the batch that ends it.
        for page in pages:
            assert 1 <= page.updates <= posting + 2, (page.updates, posting)
            assert page.updates < len(envelopes) / 4
    finally:
        for page in pages:
            page.close()


def test_the_slack_route_only_counts_and_the_stream_pushes(stack):
    before = len(connection_ids(stack))
    page = Page(stack)
    try:
        wait_for(lambda: len(connection_ids(stack)) == before + 1)
        rocket = own("rocket")
        response = post_event(stack, reaction(rocket, user="U9", item_ts="8.1"))
        assert response.json()["result"] == "counted"
        # Not pushed by the route: it waits for its batch. (Only this test's emoji: an
        # earlier test's last batch may land on the new page.)
        assert rocket not in page.counts()
        assert wait_for(lambda: page.counts().get(rocket) == 1, timeout=10)
        duplicate = post_event(stack, reaction(rocket, user="U9", item_ts="8.1"))
        assert duplicate.json()["result"] == "unchanged"
        time.sleep(2)  # a batching window and then some: nothing new arrives
        # (Counted per emoji: the stack is shared, an earlier test's last batch may land.)
        assert sum(any(c["emoji"] == rocket for c in m["changes"])
                   for m in page.messages) == 1
    finally:
        page.close()


def test_a_gone_dashboard_is_pruned_by_the_stream_handler(stack):
    stale = "U3RhbGVDb25uZWN0aW9u"
    stack.dynamodb_client().put_item(TableName=stack.connections_table, Item={
        "pk": {"S": "CONN"}, "sk": {"S": stale}, "connected_at": {"N": "0"},
        "expires_at": {"N": "99999999999"}})
    page = Page(stack)
    try:
        assert wait_for(lambda: stale in connection_ids(stack))
        wave = own("wave")
        post_event(stack, reaction(wave, user="U8", item_ts="9.1"))
        assert wait_for(lambda: page.counts().get(wave) == 1, timeout=10)
        assert wait_for(lambda: stale not in connection_ids(stack))
    finally:
        page.close()


# ---- the handler and the poller, against the session stack's DynamoDB Local -------------


def _poller(stack, invoke, batch_size=1000, window=0, position="LATEST"):
    """A poller of this test's own on the session stack's counts table (beside the
    stack's, which feeds the app), from the stream's end: the stream outlives each
    test (conftest empties the tables in place), so its start holds earlier tests'."""
    mapping = streams.MappingSettings("counts_changed", batch_size, window, position)
    return streams.StreamPoller(stack.dynamodb_url, stack.counts_table, mapping, invoke).start()


def test_the_poller_delivers_events_shaped_as_lambda_delivers_them(stack):
    batches = []
    poller = _poller(stack, batches.append, batch_size=4)
    try:
        post_event(stack, reaction("fire", user="U1", item_ts="1.1"))
        assert wait_for(lambda: sum(len(b["Records"]) for b in batches) >= 5, timeout=10)
    finally:
        poller.stop()
    arn = tables.latest_stream_arn(stack.dynamodb_client(), stack.counts_table)
    assert all(1 <= len(b["Records"]) <= 4 for b in batches)
    records = [r for b in batches for r in b["Records"]]
    keys = {(r["dynamodb"]["Keys"]["pk"]["S"], r["dynamodb"]["Keys"]["sk"]["S"]) for r in records}
    assert (f"C#{TEAM}#all#ALL", "fire") in keys
    for record in DynamoDBEvent(batches[0], context=None):  # Chalice reads it as from Lambda
        assert record.event_source_arn == arn
        assert record.event_name in ("INSERT", "MODIFY")
        assert record.stream_view_type == "KEYS_ONLY"
        assert record.new_image is None and set(record.keys) == {"pk", "sk"}
        assert abs(record.timestamp.timestamp() - time.time()) < 120


def test_a_batch_whose_handler_fails_is_delivered_again(stack):
    """FAULT INJECTION: the invoke function fails the first delivery, as a Lambda
    that raises; the same batch must come again."""
    deliveries = []

    def flaky(event):
        deliveries.append(event)
        if len(deliveries) == 1:
            raise RuntimeError("injected: the handler failed")

    poller = _poller(stack, flaky)
    try:
        post_event(stack, reaction("boom", user="U1", item_ts="2.2"))
        assert wait_for(lambda: len(deliveries) >= 2, timeout=10)
    finally:
        poller.stop()
    assert deliveries[1] == deliveries[0]
    assert poller.batches == len(deliveries) - 1


def test_the_handler_folds_a_batch_into_one_update_per_dashboard(stack):
    batches = []
    poller = _poller(stack, batches.append)
    try:
        for i, name in enumerate(["heart", "heart", "joy", "joy", "joy"]):
            post_event(stack, reaction(name, user=f"U{i}", item_ts=f"3.{i}"))
        assert poller.sync()  # every record of the five events delivered
    finally:
        poller.stop()
    records = [r for b in batches for r in b["Records"]]
    settled(stack)  # the stack's own fan-out had no page to push to: the only update is ours
    with dashboard(stack) as first, dashboard(stack) as second:
        wait_for(lambda: len(services.get().connections.subscribers().get("emoji", [])) == 2)
        report = fanout.from_stream(records, services.get(), time.time())
        assert report.sent == 2
        for socket in (first, second):
            message = receive(socket)
            assert message["type"] == "update"
            counts = {(c["window"], c["emoji"]): c["count"] for c in message["changes"]}
            assert counts == {(w, e): n for w in ("all", "24h", "7d", "30d")
                              for e, n in (("heart", 2), ("joy", 3))}
            with pytest.raises(TimeoutError):
                socket.recv(timeout=0.5)  # one message for the whole batch
    assert board(stack) == {"joy": 3, "heart": 2}


def test_only_counter_writes_of_this_workspace_are_changes():
    def record(name, pk, sk):
        return {"eventName": name, "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": sk}}}}
    records = [
        record("INSERT", "E#T1#Ev1", "E"),                          # dedupe record
        record("INSERT", "R#T1#C1/1.1", "U1#fire"),                 # reaction state
        record("MODIFY", "C#T1#all#ALL", "fire"),
        record("MODIFY", "C#T1#all#H#2026-11-23T04", "fire"),
        record("INSERT", "C#T1#all#D#2026-11-23", "fire"),
        record("REMOVE", "C#T1#all#H#2026-11-20T01", "tada"),       # TTL expiry
        record("MODIFY", "C#T2#all#ALL", "joy"),                    # another workspace
        record("MODIFY", "EMOJI#T1", "parrot"),                     # the emoji catalog
        record("MODIFY", "USER#T1", "U1"),                          # the directory
        record("MODIFY", "C#T1#all#M#2026-11", "fire"),
        record("MODIFY", "C#T1#C:C1#ALL", "fire"),                  # that channel's emoji
        record("MODIFY", "C#T1#C:C1#D#2026-11-23", "fire"),
        record("MODIFY", "C#T1#givers#H#2026-11-23T04", "U1"),      # the givers board
    ]
    assert fanout.changed_counters(records, "T1") == {
        ("all", "fire"): {"ALL", "H#2026-11-23T04", "D#2026-11-23", "M#2026-11"},
        ("C:C1", "fire"): {"ALL", "D#2026-11-23"},
        ("givers", "U1"): {"H#2026-11-23T04"}}


def test_dashboards_beyond_a_shard_are_pushed_by_the_pusher_processes_from_the_queue():
    """Shards of 2 on a stack with 2 pusher processes: 5 pages are 3 shards, the stream
    handler pushes one and queues two, which the pushers (fed by the real local queue
    as Lambda's SQS event source mapping feeds push_shard) push."""
    from devkit.served import ServeProcess
    with ServeProcess("--shard-size", "2", "--pushers", "2", secret=SECRET, team_id=TEAM) as served:
        pages = [Page(served, ["tada"]) for _ in range(5)]
        try:
            wait_for(lambda: len(connection_ids(served)) == 5)
            assert post_event(served, reaction("tada")).json()["result"] == "counted"
            assert wait_for(lambda: all(p.counts() == {"tada": 1} for p in pages), timeout=10)
            # What each push_shard invocation's log line says it pushed (its metrics).
            queued = lambda: [line[metrics.PUSHES_SENT] for line in served_logs(served)
                              if line.get("function") == "push_shard"
                              and line["logger"] == "chalicelib.invocation"]
            assert wait_for(lambda: len(queued()) == 2, timeout=5), served.log_text()[-3000:]
            assert sorted(queued()) == [1, 2]  # 5 pages: 2 pushed by the stream handler
            assert [p.updates for p in pages] == [1] * 5
        finally:
            for page in pages:
                page.close()


def test_a_page_of_another_topic_gets_no_emoji_update(stack):
    """Connections are grouped by the topic each page subscribes to: a record from
    before topics is on the emoji board; a topic this code has no update for gets
    nothing."""
    client = stack.dynamodb_client()
    for connection_id, topic in (("T2xkUmVjb3Jk", None), ("RnV0dXJlVG9waWM=", "future")):
        item = {"pk": {"S": "CONN"}, "sk": {"S": connection_id}, "connected_at": {"N": "0"},
                "expires_at": {"N": "99999999999"}}
        if topic:
            item["topic"] = {"S": topic}
        client.put_item(TableName=stack.connections_table, Item=item)
    with dashboard(stack) as socket:
        audience = wait_for(lambda: services.get().connections.subscribers())
        assert sorted(audience) == ["emoji", "future"]
        assert "T2xkUmVjb3Jk" in audience["emoji"] and len(audience["emoji"]) == 2
        post_event(stack, reaction("tada"))
        assert receive(socket)["type"] == "update"
        settled(stack)
        # The record from before topics was pushed to (the gateway answered Gone and it
        # was pruned); the future topic's page was not.
        assert set(connection_ids(stack)) >= {"RnV0dXJlVG9waWM="}
        assert "T2xkUmVjb3Jk" not in connection_ids(stack)


def test_without_a_push_queue_the_stream_handler_pushes_every_shard_itself(stack):
    """No PUSH_QUEUE_URL (a deployment without the queue): the shards beyond the first
    are pushed by the stream handler too, one after another, never dropped."""
    post_event(stack, reaction("heart"))
    settled(stack)  # its own update went to no page
    built = services.get()
    alone = dataclasses.replace(built, push_queue=None, settings=dataclasses.replace(
        built.settings, fanout_shard_size=1))
    records = [{"eventName": "MODIFY", "dynamodb": {"Keys": {
        "pk": {"S": counter_pk(built.workspace, ALL_TIME)}, "sk": {"S": "heart"}}}}]
    pages = [Page(stack, ["heart"]) for _ in range(3)]
    try:
        wait_for(lambda: len(connection_ids(stack)) == 3)
        report = fanout.from_stream(records, alone, time.time())
        assert report == FanoutReport(sent=3, gone=0, failed=0)
        assert wait_for(lambda: all(p.counts() == {"heart": 1} for p in pages))
    finally:
        for page in pages:
            page.close()
