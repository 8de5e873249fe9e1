"""A real SQS queue for the laptop: moto's server in a child process,
`python -m devkit.moto_sqs HOST PORT`.

Long polls (ReceiveMessage with WaitTimeSeconds) hold a request open, so the server
must serve requests concurrently (on threads, as moto's own `moto_server` does). moto
5.2.5's SQS backend is not safe under that (moto/sqs/models.py): `receive_message`
checks that a message is visible and marks it received without any lock, so two
concurrent receives can both take the same message (seen here: 1 duplicate in 3,000
messages read by 4 long-polling receivers), and `Queue.delete_message` rebuilds the
message list and assigns it back without the lock `add_message` appends under, so a
message sent meanwhile can be lost (read in the code, not seen). Its only lock (a
Condition per queue) just wakes long polls. So every backend call here runs under one lock, and a long poll is a
series of non-waiting receives under that lock with waits in between that release it
(woken by any change, or when the next in-flight or delayed message becomes visible):
each message goes to one receiver at a time, nothing is lost, and long polls do not
block other requests.

It listens on HOST only, and standard input is the parent's lifeline: when it closes
(the parent exited, even by SIGKILL) the server exits too.
"""
import functools
import inspect
import logging
import os
import signal
import sys
import threading
import time
from typing import Callable, Optional, Tuple

from . import dynamodb

REGION = "us-east-1"

# One lock for the whole SQS backend; waiting long polls release it.
_backend = threading.Condition(threading.RLock())


def client(endpoint_url: str):
    """A boto3 SQS client for the local server (which accepts any credentials)."""
    import boto3
    from botocore.config import Config
    # Reads must outlast the longest long poll (20 s).
    return boto3.client("sqs", endpoint_url=endpoint_url, region_name=REGION,
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(read_timeout=30, retries={"mode": "standard"}))


def start(host: str = "127.0.0.1") -> Tuple[str, Callable[[], None]]:
    """moto's SQS server in a child process on `host` (a loopback address, else
    127.0.0.1; see dynamodb.store_host); returns its endpoint URL and its stop function.
    Raises dynamodb.DynamoDBUnavailable (the devkit's start error for a child server)
    naming what went wrong."""
    host = dynamodb.store_host(host)
    port = dynamodb.free_port(host)
    url = dynamodb.http_url(host, port)
    # dynamodb._spawn: stdin lifeline, a session of its own, stopped on any start failure.
    return url, dynamodb._spawn([sys.executable, "-m", "devkit.moto_sqs", host, str(port)],
                                url, "moto's SQS server", cwd=dynamodb.ROOT)


def ensure_queue(endpoint_url: str, name: str, visibility_timeout_s: int) -> Tuple[str, str]:
    """A standard queue named `name` with this visibility timeout, created or updated;
    returns its URL and ARN."""
    sqs = client(endpoint_url)
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={
            "VisibilityTimeout": str(int(visibility_timeout_s))})
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=name, Attributes={
            "VisibilityTimeout": str(int(visibility_timeout_s))})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, attributes["Attributes"]["QueueArn"]


# ---- the child process ----------------------------------------------------------------

def _locked(method):
    @functools.wraps(method)
    def call(*args, **kwargs):
        with _backend:
            try:
                return method(*args, **kwargs)
            finally:
                _backend.notify_all()  # a send, a visibility change...: long polls look again
    return call


def _seconds_to_next_visible(queue) -> Optional[float]:
    """How long until a message now in flight or delayed becomes receivable (moto's
    Message.visible_at / delayed_until, epoch milliseconds); None if none will."""
    from moto.core.utils import unix_time_millis
    now = unix_time_millis()
    due = [at for message in queue._messages
           for at in (message.visible_at, message.delayed_until) if at > now]
    # + 2 ms: moto's `visible` is strictly after visible_at
    return (min(due) - now) / 1000 + 0.002 if due else None


def _long_poll(receive):
    @functools.wraps(receive)
    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None):
        deadline = time.monotonic() + wait_seconds_timeout
        with _backend:
            while True:
                messages = receive(self, queue_name, count, 0, visibility_timeout,
                                   message_attribute_names)
                left = deadline - time.monotonic()
                if messages or left <= 0:
                    return messages
                soonest = _seconds_to_next_visible(self.get_queue(queue_name))
                _backend.wait(left if soonest is None else min(left, soonest))
    return receive_message


def serialize_backend() -> None:
    """Make moto's SQS backend atomic under a threaded server (see the module's doc)."""
    from moto.sqs.models import SQSBackend
    for name, member in list(vars(SQSBackend).items()):
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        if name == "receive_message":
            setattr(SQSBackend, name, _long_poll(member))
        else:
            setattr(SQSBackend, name, _locked(member))


def wait_for_eof(fd: int = 0) -> None:
    """Return when `fd` (standard input: the parent's pipe, never written) reaches EOF.
    os.read, not sys.stdin's buffered reader: a daemon thread blocked in that one makes
    the interpreter abort at exit (SIGABRT: "could not acquire lock for
    <_io.BufferedReader name='<stdin>'> at interpreter shutdown")."""
    while os.read(fd, 4096):
        pass


def _exit_when_stdin_closes() -> None:
    wait_for_eof()
    os._exit(0)


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=_exit_when_stdin_closes, name="parent-watchdog", daemon=True).start()
    from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                               create_backend_app)
    from werkzeug.serving import run_simple
    serialize_backend()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    # Threaded: a long poll holds its request; werkzeug's request threads are daemons,
    # so SIGTERM or the lifeline ends the process without waiting for them.
    run_simple(host, port, DomainDispatcherApplication(create_backend_app),
               threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
