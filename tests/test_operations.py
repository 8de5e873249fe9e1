"""Operations: the app's JSON log lines and their embedded metrics, read from the local
stack's log store as CloudWatch reads a log group, and `devkit status` against the
stack. Everything runs through the real stack: signed requests, the stream, real
WebSockets. Only the store outage is fault injection (tests/test_faults.py's)."""
import json
import logging
import os
import subprocess
import sys
import time

import pytest

from chalicelib import logs, metrics
from devkit import emf, local_logs, status
from tests.helpers import (connection_ids, dashboard, post_event, reaction, receive, settled,
                           wait_for)
from tests.test_faults import _failing

STAGE = {metrics.STAGE: "local"}


def _lines_since(stack, since_ms: float):
    return list(stack.logs.lines(int(since_ms)))


def _invocations(lines, function=None):
    return [line for line in lines if line.get("logger") == "chalicelib.invocation"
            and (function is None or line.get("function") == function)]


def _total(lines, name, **dims):
    local = emf.LocalMetrics(lines)
    return sum(v for _, v in local.values(metrics.NAMESPACE, name, {**STAGE, **dims}, 0, 1e15))


def _slack_requests(stack):
    """One of each: counted, a duplicate (Slack's retry), each refusal; their ids."""
    counted = reaction("tada", user="U1", item_ts="1.1")
    assert post_event(stack, counted).json()["result"] == "counted"
    assert post_event(stack, reaction("fire", user="U2", item_ts="1.2")).json()["result"] == "counted"
    assert post_event(stack, counted, retry=1).json()["result"] == "duplicate"
    assert post_event(stack, reaction("eyes"), secret="wrong").status_code == 401
    assert post_event(stack, b"{" + b" " * 70000 + b"}").status_code == 413
    assert post_event(stack, b'{"type": "event_callback"}').status_code == 400
    return counted["event_id"]


def test_every_request_ends_with_one_json_line_with_its_ids_outcome_and_duration(stack):
    since = time.time() * 1000
    event_id = _slack_requests(stack)
    lines = _lines_since(stack, since)
    ends = [line for line in _invocations(lines, "api_handler")
            if line.get("route") == "POST /slack/events"]
    assert len(ends) == 6
    for line in ends:
        assert line["level"] in ("INFO", "ERROR") and line["request_id"]
        assert isinstance(line["duration_ms"], float) and line["time"].endswith("Z")
    mine = [line for line in ends if line.get("event_id") == event_id]
    assert [(line["outcome"], line["status"]) for line in mine] == [
        ("counted", 200), ("duplicate", 200)]
    assert mine[1]["retry"] == "1"
    refused = [line for line in ends if line["outcome"] == "refused"]
    assert sorted(line["status"] for line in refused) == [400, 401, 413]
    assert all("event_id" not in line for line in refused if line["status"] != 400)


def test_metric_blobs_are_valid_emf_and_count_the_events_sent(stack):
    since = time.time() * 1000
    _slack_requests(stack)
    lines = _lines_since(stack, since)
    blobs = [line for line in lines if emf.is_blob(line)]
    assert blobs and all(emf.problems(blob) == [] for blob in blobs), \
        [emf.problems(b) for b in blobs]
    assert _total(lines, metrics.EVENTS_RECEIVED) == 6
    assert _total(lines, metrics.EVENTS_COUNTED) == 2
    assert _total(lines, metrics.EVENTS_DUPLICATE) == 1
    for reason in metrics.REFUSALS:
        assert _total(lines, metrics.EVENTS_REFUSED, **{metrics.REASON: reason}) == 1, reason
    assert _total(lines, metrics.EVENTS_FAILED) == 0
    # Every name the app wrote is in the catalogue the alarms and status read.
    catalogue = {value for name, value in vars(metrics).items()
                 if name.isupper() and isinstance(value, str)}
    written = {definition["Name"] for blob in blobs
               for directive in blob["_aws"]["CloudWatchMetrics"]
               for definition in directive["Metrics"]}
    assert written <= catalogue


def test_a_store_outage_is_a_5xx_a_store_error_and_a_failed_delivery(stack, capsys):
    since = time.time() * 1000
    envelope = reaction("fire", user="U1", item_ts="1.1")
    with _failing("TransactWriteItems"):
        assert post_event(stack, envelope).status_code == 503
    assert post_event(stack, envelope, retry=1).json()["result"] == "counted"
    lines = _lines_since(stack, since)
    assert _total(lines, metrics.EVENTS_RECEIVED) == 2
    assert _total(lines, metrics.EVENTS_FAILED) == 1
    assert _total(lines, metrics.STORE_ERRORS) == 1
    assert _total(lines, metrics.EVENTS_COUNTED) == 1
    [failed] = [line for line in _invocations(lines) if line.get("status") == 503]
    assert failed["outcome"] == "store_error" and failed["event_id"] == envelope["event_id"]
    # The error logged meanwhile carries the same invocation's function and ids.
    [logged] = [line for line in lines if line["logger"] == "chalicelib.ingest"
                and line["level"] == "ERROR"]
    assert logged["event_id"] == envelope["event_id"]
    assert logged["request_id"] == failed["request_id"]
    # Errors also reach standard error, where `make run` shows them; INFO lines do not.
    echoed = [json.loads(text) for text in capsys.readouterr().err.splitlines()
              if text.startswith("{")]
    assert logged in echoed
    assert all(line["level"] in ("WARNING", "ERROR", "CRITICAL") for line in echoed)


def test_the_log_store_drops_old_files_and_sets_a_large_one_aside(tmp_path, monkeypatch):
    store = local_logs.LogStore(tmp_path)
    old, big = tmp_path / "push_shard-1.jsonl", tmp_path / "serve.jsonl"
    old.write_text('{"time":"2026-01-01T00:00:00.000Z"}\n')
    two_days_ago = time.time() - local_logs.MAX_AGE_S - 60
    os.utime(old, (two_days_ago, two_days_ago))
    big.write_text('{"time":"2026-11-23T00:00:00.000Z","n":1}\n')
    store.prune()
    assert not old.exists() and big.exists()
    monkeypatch.setattr(local_logs, "MAX_BYTES", 10)
    store.writer("serve")('{"time":"2026-11-23T00:00:01.000Z","n":2}')
    assert [line["n"] for line in store.lines()] == [2]  # the large file set aside
    assert (tmp_path / "serve.jsonl.old").read_text().count("\n") == 1
    assert [line["n"] for line in store.lines(since_ms=1795478400000)] == []  # by time


def test_the_fan_out_reports_its_batch_dashboards_pushes_and_latency(stack):
    since = time.time() * 1000
    with dashboard(stack) as socket:
        wait_for(lambda: connection_ids(stack))
        post_event(stack, reaction("rocket"))
        receive(socket, timeout=10)
        settled(stack)
    [connection] = wait_for(lambda: [line for line in _invocations(
        _lines_since(stack, since), "websocket_connect")], timeout=5)
    lines = _lines_since(stack, since)
    assert connection["outcome"] == "connected" and connection["grant"] == "public"
    assert isinstance(connection["connection_id"], str) and connection["connection_id"]
    batches = [line for line in _invocations(lines, "counts_changed")
               if line.get(metrics.PUSHES_SENT)]
    assert batches, [line for line in _invocations(lines, "counts_changed")]
    batch = batches[0]
    assert batch[metrics.STREAM_BATCH_SIZE] >= 1 and batch[metrics.DASHBOARDS_OPEN] == 1
    assert batch[metrics.PUSHES_SENT] == 1 and batch[metrics.PUSHES_GONE] == 0
    # Whole seconds from the stream record's creation: a plausible latency.
    assert 0 <= batch[metrics.FANOUT_LATENCY] < 10_000
    assert emf.problems(batch) == []


def test_an_invocation_that_raises_logs_the_error_and_raises_on():
    written = []
    logs.setup()
    previous, logs.HANDLER.sink = logs.HANDLER.sink, written.append
    try:
        with pytest.raises(ZeroDivisionError):
            with logs.invocation("push_shard", request_id="r-1"):
                logs.count(metrics.PUSHES_SENT, 3)
                logging.getLogger("chalicelib.fanout").warning("halfway")
                1 / 0
    finally:
        logs.HANDLER.sink = previous
    warning, end = map(json.loads, written)
    assert warning["function"] == "push_shard" and warning["request_id"] == "r-1"
    assert end["level"] == "ERROR" and end["outcome"] == "error"
    assert "ZeroDivisionError" in end["traceback"] and end[metrics.PUSHES_SENT] == 3
    assert emf.problems(end) == []


def test_counts_add_up_and_values_split_at_the_emf_limit():
    measured = metrics.Metrics()
    measured.add(metrics.EVENTS_COUNTED)
    measured.add(metrics.EVENTS_COUNTED, 2)
    for ms in range(150):
        measured.add(metrics.FANOUT_LATENCY, ms)
    measured.add(metrics.EVENTS_REFUSED, Reason="signature")
    blobs = measured.blobs("prod", 1_700_000_000_000)
    assert all(emf.problems(blob) == [] for blob in blobs)
    values = [v for datum in emf.data(blobs) if datum.name == metrics.FANOUT_LATENCY
              for v in datum.values]
    assert values == list(range(150))
    assert sum(d.values[0] for d in emf.data(blobs) if d.name == metrics.EVENTS_COUNTED) == 3
    [refused] = [d for d in emf.data(blobs) if d.name == metrics.EVENTS_REFUSED]
    assert dict(refused.dimensions) == {"Stage": "prod", "Reason": "signature"}


@pytest.mark.parametrize("breakage, problem", [
    (lambda b: b["_aws"].pop("Timestamp"), "Timestamp"),
    (lambda b: b.pop("Stage"), "dimension 'Stage'"),
    (lambda b: b.__setitem__("EventsCounted", "1"), "EventsCounted"),
    (lambda b: b.__setitem__("EventsCounted", list(range(101))), "EventsCounted"),
    (lambda b: b["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].__setitem__("Unit", "Things"),
     "unit"),
    (lambda b: b["_aws"]["CloudWatchMetrics"][0].__setitem__("Namespace", ""), "Namespace"),
])
def test_what_cloudwatch_would_not_take_is_found_and_not_counted(breakage, problem):
    measured = metrics.Metrics()
    measured.add(metrics.EVENTS_COUNTED)
    [blob] = measured.blobs("prod", 1_700_000_000_000)
    breakage(blob)
    assert any(problem in found for found in emf.problems(blob))
    assert list(emf.data([blob])) == []


def test_status_against_the_local_stack_reports_the_events_sent(stack):
    _slack_requests(stack)
    with dashboard(stack):
        wait_for(lambda: connection_ids(stack))
        report = status.local(stack.url)
    assert report.counted_hour >= 2 and report.counted_day >= report.counted_hour
    assert report.last_counted is not None and report.last_counted <= time.time()
    assert report.received_hour >= 6
    assert all(report.refused_hour[reason] >= 1 for reason in metrics.REFUSALS)
    assert report.dashboards_open == 1
    assert report.alarms is None and report.history["state"] == "idle"
    text = status.render(report)
    assert "last event counted" in text and "dashboards open" in text


def test_status_cli_prints_one_screen_and_one_line_errors(stack):
    post_event(stack, reaction("tada"))
    shown = subprocess.run([sys.executable, "-m", "devkit", "status", "--local", stack.url],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"Emojiboard at {stack.url}: working")
    assert "events counted" in shown.stdout
    nobody = subprocess.run([sys.executable, "-m", "devkit", "status", "--local",
                             "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert nobody.returncode == 1 and nobody.stderr.startswith("Error: no local stack")
    both = subprocess.run([sys.executable, "-m", "devkit", "status"], capture_output=True,
                          text=True, timeout=60)
    assert both.returncode == 2 and "--stage STAGE or --local URL" in both.stderr
