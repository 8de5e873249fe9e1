"""The devkit's SQS side against a real moto SQS server in a child process: Lambda's SQS
event source mapping (devkit/queues.py), pusher processes (devkit/pusher.py) and the
server's lifeline (devkit/moto_sqs.py)."""
import collections
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
import requests

from devkit import dynamodb, moto_sqs, queues
from devkit.pusher import Pushers
from tests.helpers import wait_for

ROOT = dynamodb.ROOT
# The record of AWS's "Example standard queue message event"
# (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).
AWS_RECORD_KEYS = {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                   "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"}
AWS_ATTRIBUTE_KEYS = {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                      "ApproximateFirstReceiveTimestamp"}


@pytest.fixture(scope="module")
def sqs_url():
    url, stop = moto_sqs.start()
    yield url
    stop()


def new_queue(url, visibility_timeout_s=30):
    return moto_sqs.ensure_queue(url, f"test-{uuid.uuid4().hex[:12]}", visibility_timeout_s)


def mapping(queue_arn, batch_size=10, window_s=0):
    return queues.MappingSettings("handler", queue_arn, None, batch_size, window_s)


def queue_counts(url, queue_url):
    attributes = moto_sqs.client(url).get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]))


@pytest.fixture
def poller_of():
    started = []

    def start(url, settings, handler):
        poller = queues.QueuePoller(url, settings, handler).start()
        started.append(poller)
        return poller
    yield start
    for poller in started:
        poller.stop()


def test_events_have_lambdas_shape_and_handled_messages_are_deleted(sqs_url, poller_of):
    queue_url, queue_arn = new_queue(sqs_url)
    events = []
    poller = poller_of(sqs_url, mapping(queue_arn, batch_size=1), events.append)
    sqs = moto_sqs.client(sqs_url)
    sqs.send_message(QueueUrl=queue_url, MessageBody="first")
    sqs.send_message(QueueUrl=queue_url, MessageBody="second", MessageAttributes={
        "shard": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})

    assert wait_for(lambda: poller.batches == 2, timeout=10), poller.batches
    assert [len(event["Records"]) for event in events] == [1, 1]  # batch_size 1
    first, second = (event["Records"][0] for event in events)
    assert set(first) == AWS_RECORD_KEYS
    assert first["body"] == "first"
    assert set(first["attributes"]) == AWS_ATTRIBUTE_KEYS
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert all(first["attributes"][key].isdigit()
               for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"))
    assert first["messageAttributes"] == {}
    assert first["md5OfBody"] == hashlib.md5(b"first").hexdigest()
    assert (first["eventSource"], first["eventSourceARN"], first["awsRegion"]) == \
        ("aws:sqs", queue_arn, "us-east-1")
    # With attributes: Lambda's camel case, binary as base64, and their digest.
    assert set(second) == AWS_RECORD_KEYS | {"md5OfMessageAttributes"}
    assert second["messageAttributes"] == {
        "shard": {"stringValue": "3", "stringListValues": [], "binaryListValues": [],
                  "dataType": "Number"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [],
                 "dataType": "Binary"}}
    assert queue_counts(sqs_url, queue_url) == (0, 0)  # deleted once handled


def test_batches_hold_up_to_batch_size(sqs_url, poller_of):
    queue_url, queue_arn = new_queue(sqs_url)
    sqs = moto_sqs.client(sqs_url)
    sqs.send_message_batch(QueueUrl=queue_url, Entries=[
        {"Id": str(i), "MessageBody": f"m{i}"} for i in range(7)])
    sizes = []
    poller = poller_of(sqs_url, mapping(queue_arn, batch_size=3, window_s=2),
                       lambda event: sizes.append(len(event["Records"])))
    assert wait_for(lambda: sum(sizes) == 7, timeout=15), sizes
    # Full batches while the queue has enough; the rest once the window has passed.
    assert sizes == [3, 3, 1]
    assert poller.batches == 3


def test_a_failed_batch_comes_back_after_the_visibility_timeout(sqs_url, poller_of):
    queue_url, queue_arn = new_queue(sqs_url, visibility_timeout_s=1)
    deliveries = []

    def fails_once(event):
        deliveries.append((time.monotonic(), event["Records"][0]))
        if len(deliveries) == 1:
            raise RuntimeError("the first delivery fails")

    poller = poller_of(sqs_url, mapping(queue_arn, batch_size=1), fails_once)
    moto_sqs.client(sqs_url).send_message(QueueUrl=queue_url, MessageBody="retry me")
    assert wait_for(lambda: poller.batches == 1, timeout=15)
    (failed_at, first), (retried_at, again) = deliveries
    assert again["messageId"] == first["messageId"] and again["body"] == "retry me"
    assert again["receiptHandle"] != first["receiptHandle"]
    assert (first["attributes"]["ApproximateReceiveCount"],
            again["attributes"]["ApproximateReceiveCount"]) == ("1", "2")
    assert retried_at - failed_at > 0.5  # not at once: after the 1 s visibility timeout
    assert poller.failures == 1
    assert queue_counts(sqs_url, queue_url) == (0, 0)  # deleted after the success


def test_concurrent_receivers_get_each_message_once(sqs_url, poller_of):
    """moto's own server can hand one message to two concurrent receivers; the devkit's
    serializes its backend (devkit/moto_sqs.py)."""
    queue_url, queue_arn = new_queue(sqs_url)
    seen = collections.Counter()
    lock = threading.Lock()

    def count(event):
        with lock:
            seen.update(record["body"] for record in event["Records"])

    for _ in range(4):
        poller_of(sqs_url, mapping(queue_arn), count)

    def send(prefix):
        sqs = moto_sqs.client(sqs_url)
        for i in range(0, 300, 10):
            sqs.send_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(j), "MessageBody": f"{prefix}-{i + j}"} for j in range(10)])
    senders = [threading.Thread(target=send, args=(p,)) for p in "ab"]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert wait_for(lambda: sum(seen.values()) >= 600, timeout=30), sum(seen.values())
    assert len(seen) == 600 and set(seen.values()) == {1}
    assert wait_for(lambda: queue_counts(sqs_url, queue_url) == (0, 0), timeout=10)


@pytest.mark.parametrize("how", ["stdin closes", "SIGTERM"])
@pytest.mark.parametrize("module", ["devkit.moto_sqs", "devkit.moto_dynamodb"])
def test_moto_servers_exit_cleanly(module, how):
    host, port = "127.0.0.1", dynamodb.free_port()
    url = dynamodb.http_url(host, port)
    server = subprocess.Popen([sys.executable, "-m", module, host, str(port)],
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        dynamodb.wait_until_up(url, process=server, what=module)
        if how == "stdin closes":
            server.stdin.close()  # what the kernel does when the parent dies
        else:
            server.terminate()
        # 0, not an abort at interpreter shutdown (the lifeline thread blocks on stdin)
        assert server.wait(timeout=30) == 0, server.stderr.read()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_sqs_server_dies_with_a_parent_killed_by_sigkill():
    parent = subprocess.Popen(
        [sys.executable, "-c", "from devkit import moto_sqs; import sys, time;"
         "url, _ = moto_sqs.start(); print(url, flush=True); time.sleep(600)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = parent.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        requests.get(url, timeout=5)  # it answers
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()

    def refused():
        try:
            requests.get(url, timeout=1)
            return False
        except requests.ConnectionError:
            return True
    assert wait_for(refused, timeout=30)


STAND_IN_APP = textwrap.dedent('''
    """A stand-in for app.py's SQS handler: appends each body, with its process id, to
    OUT_FILE. Each process's first message waits until every pusher holds one, so
    the test knows they all take part, at once."""
    import os
    import time

    from chalice import Chalice

    app = Chalice(app_name="stand-in")
    arrived = False


    def meet(pid):
        with open(os.environ["MEET_FILE"], "a") as meeting:
            meeting.write(f"{pid}\\n")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(os.environ["MEET_FILE"]) as meeting:
                if len(set(meeting.read().split())) >= int(os.environ["PUSHERS"]):
                    return
            time.sleep(0.01)
        raise RuntimeError("the other pushers never took a message")


    @app.on_sqs_message(queue_arn=os.environ["PUSH_QUEUE_ARN"], batch_size=1)
    def push_shard(event):
        global arrived
        if not arrived:
            meet(os.getpid())
            arrived = True
        with open(os.environ["OUT_FILE"], "a") as out:
            for record in event:
                out.write(f"{record.body} {os.getpid()}\\n")
''')


def test_two_pusher_processes_deliver_every_message_once(sqs_url, tmp_path):
    queue_url, queue_arn = new_queue(sqs_url, visibility_timeout_s=30)
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(STAND_IN_APP)
    out, meet = tmp_path / "out.txt", tmp_path / "meet.txt"
    env = {"PUSH_QUEUE_ARN": queue_arn, "PUSH_QUEUE_URL": queue_url, "SQS_ENDPOINT_URL": sqs_url,
           "OUT_FILE": str(out), "MEET_FILE": str(meet), "PUSHERS": "2"}
    bodies = [f"shard-{i}" for i in range(40)]
    with Pushers(2, sqs_url, app_path=app_dir / "app.py", env=env) as pushers:
        assert len(set(pushers.pids)) == 2
        sqs = moto_sqs.client(sqs_url)
        for i in range(0, len(bodies), 10):
            sqs.send_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(j), "MessageBody": body}
                for j, body in enumerate(bodies[i:i + 10])])

        def lines():
            return out.read_text().split("\n")[:-1] if out.exists() else []
        assert wait_for(lambda: len(lines()) >= len(bodies), timeout=30), lines()
        assert wait_for(lambda: queue_counts(sqs_url, queue_url) == (0, 0), timeout=10)
        delivered = collections.Counter(line.split()[0] for line in lines())
        assert delivered == collections.Counter(bodies)  # every one, once
        assert {int(line.split()[1]) for line in lines()} == set(pushers.pids)
        processes = pushers.pids
    assert pushers.returncodes == [0, 0]
    assert all(gone(pid) for pid in processes)


def gone(pid):
    """Whether the process has exited (a zombie not yet reaped by init counts)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_pusher_dies_with_a_parent_killed_by_sigkill(sqs_url, tmp_path):
    queue_url, queue_arn = new_queue(sqs_url)
    (tmp_path / "app.py").write_text(STAND_IN_APP)
    parent = subprocess.Popen(
        [sys.executable, "-c", "from devkit.pusher import Pushers; import sys, time;"
         f"p = Pushers(1, {sqs_url!r}, app_path={str(tmp_path / 'app.py')!r}).start();"
         "print(*p.pids, flush=True); time.sleep(600)"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PUSH_QUEUE_ARN=queue_arn))
    try:
        pid = int(parent.stdout.readline())
        assert not gone(pid)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert wait_for(lambda: gone(pid), timeout=30)


def test_pushers_fail_to_start_with_the_reason(sqs_url, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("from chalice import Chalice\napp = Chalice(app_name='no-queue')\n")
    with pytest.raises(RuntimeError, match="registers 0 @app.on_sqs_message handlers"):
        Pushers(1, sqs_url, app_path=app).start()
