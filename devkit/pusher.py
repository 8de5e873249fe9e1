"""Pusher processes: the app's `@app.on_sqs_message` handler fed from a real queue, in
processes of their own, as Lambda runs concurrent invocations in containers of their own.

One process: `python -m devkit.pusher --sqs-url URL [--app app.py] [--function NAME]`.
It takes the app's settings from its environment (the parent sets them, as
devkit/gateway.py app_environment() describes, plus PUSH_QUEUE_ARN, PUSH_QUEUE_URL and
SQS_ENDPOINT_URL, which the app reads), loads app.py as a Lambda container does
(gateway.AppInstance), and runs Lambda's SQS event source mapping (queues.QueuePoller)
for the handler, one batch at a time, until its standard input closes (the parent is
gone, even by SIGKILL) or it gets SIGTERM (or SIGINT). It prints one line starting
with READY once it polls.

`Pushers` starts N of them: separate interpreters, so N pushers use N cores.
"""
import collections
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import click

from . import moto_sqs

ROOT = Path(__file__).resolve().parent.parent
READY = "pusher ready:"
START_TIMEOUT = 120.0  # loading app.py on a loaded 2-core machine can take a while
# Lambda's timeout for the app's functions (gateway.AppInstance): a batch being handled
# when the pusher is told to stop may take that long.
HANDLER_TIMEOUT = 30.0

log = logging.getLogger(__name__)


class PusherError(RuntimeError):
    pass


def sqs_sources(app) -> list:
    """The app's `@app.on_sqs_message` registrations."""
    from chalice.app import SQSEventConfig
    return [s for s in app.event_sources if isinstance(s, SQSEventConfig)]


def _pick(sources: list, function: Optional[str], app_path: Path):
    if function:
        chosen = [s for s in sources if s.name == function]
        if not chosen:
            raise click.ClickException(
                f"{app_path} has no @app.on_sqs_message handler named {function} "
                f"(it has: {', '.join(s.name for s in sources) or 'none'})")
        return chosen[0]
    if len(sources) != 1:
        raise click.ClickException(
            f"{app_path} registers {len(sources)} @app.on_sqs_message handlers "
            f"({', '.join(s.name for s in sources) or 'none'}): pass --function")
    return sources[0]


@click.command()
@click.option("--sqs-url", required=True, help="The SQS endpoint (devkit/moto_sqs.py).")
@click.option("--app", "app_path", default=str(ROOT / "app.py"), show_default=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The Chalice app to load.")
@click.option("--function", default=None,
              help="The @app.on_sqs_message handler to run (default: the app's only one).")
def main(sqs_url: str, app_path: Path, function: Optional[str]) -> None:
    """Run the app's SQS handler, fed as Lambda's event source mapping feeds it."""
    logging.basicConfig(level=logging.INFO,
                        format="%(levelname)s %(name)s [pusher %(process)d]: %(message)s")
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stopping = threading.Event()
    # Set up before app.py loads, so a parent gone (or a SIGTERM) meanwhile still counts.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())

    def watch_parent() -> None:
        moto_sqs.wait_for_eof()
        stopping.set()
    threading.Thread(target=watch_parent, name="parent-watchdog", daemon=True).start()

    from . import gateway, queues
    app_path = app_path.resolve()
    if str(app_path.parent) not in sys.path:  # app.py imports chalicelib beside it
        sys.path.insert(0, str(app_path.parent))
    instance = gateway.AppInstance(0, app_path)
    source = _pick(sqs_sources(instance.app), function, app_path)
    attribute = source.handler_string.rsplit(".", 1)[1]  # the function in app.py
    from . import local_logs  # the app's log lines, into the stack's store (if it set one)
    local_logs.capture_from_environment(source.name)
    poller = queues.QueuePoller(sqs_url, queues.MappingSettings.of(source),
                                lambda event: instance.invoke(attribute, event))
    if not stopping.is_set():
        poller.start()
        print(f"{READY} {source.name} <- {poller.queue_arn} (pid {os.getpid()})", flush=True)
        stopping.wait()
        # The batch in hand is finished and deleted; an unfinished one comes back after
        # the visibility timeout, as when a Lambda invocation dies.
        poller.stop(timeout=HANDLER_TIMEOUT)
        log.info("stopped after %d batches (%d failed)", poller.batches, poller.failures)
    # Without waiting for the app's own threads (a push pool may still hold
    # connections): what matters is done, as when Lambda ends a container.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _Child:
    """One pusher process, its output read on threads: stdout until the READY line,
    then passed on to ours; stderr (its log) passed on to ours, the last lines kept for
    start errors."""

    def __init__(self, command: List[str], env: Dict[str, str]):
        # stdin stays open, unused, for the child's life: its EOF tells the child we are
        # gone. A session of its own keeps a terminal's Ctrl-C from reaching it: the
        # parent stops it in order.
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1, start_new_session=True)
        self.ready_line: Optional[str] = None
        self.ready = threading.Event()
        self.log_tail: "collections.deque[str]" = collections.deque(maxlen=10)
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            if self.ready_line is None and line.startswith(READY):
                self.ready_line = line.strip()
                self.ready.set()
            else:
                sys.stdout.write(line)  # what the app prints (Lambda would log it)

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.log_tail.append(line.rstrip("\n"))
            sys.stderr.write(line)

    def wait_ready(self, deadline: float) -> None:
        while not self.ready.wait(0.1):
            if self.process.poll() is not None:
                self._readers[1].join(timeout=2)  # its last words
                raise PusherError(f"pusher exited with code {self.process.returncode} before "
                                  f"it polled{self._tail()}")
            if time.monotonic() > deadline:
                raise PusherError(f"pusher did not start polling within {START_TIMEOUT:.0f} s"
                                  f"{self._tail()}")

    def _tail(self) -> str:
        return "; its output ends: " + " | ".join(self.log_tail) if self.log_tail else ""

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()

    def wait(self, timeout: float) -> int:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("pusher %d did not stop within %.0f s: killing it",
                        self.process.pid, timeout)
            self.process.kill()
            self.process.wait()
        finally:
            self.process.stdin.close()
            for reader in self._readers:
                reader.join(timeout=2)
        return self.process.returncode


class Pushers:
    """N pusher processes on one queue: `start()` returns once every one polls."""

    def __init__(self, count: int, sqs_url: str, app_path: Path = ROOT / "app.py",
                 function: Optional[str] = None, env: Optional[Mapping[str, str]] = None):
        if count < 1:
            raise ValueError("at least one pusher")
        self.count, self.sqs_url, self.app_path = count, sqs_url, Path(app_path)
        self.function = function
        self.env = dict(os.environ, **(env or {}))  # the app's settings are in ours
        self._children: List[_Child] = []
        self.returncodes: List[int] = []  # of the last stop(), for the tests

    @property
    def pids(self) -> List[int]:
        return [child.process.pid for child in self._children]

    def start(self) -> "Pushers":
        command = [sys.executable, "-m", "devkit.pusher", "--sqs-url", self.sqs_url,
                   "--app", str(self.app_path)]
        if self.function:
            command += ["--function", self.function]
        try:
            # All started before any is waited for: they load app.py in parallel.
            for _ in range(self.count):
                self._children.append(_Child(command, self.env))
            deadline = time.monotonic() + START_TIMEOUT
            for child in self._children:
                child.wait_ready(deadline)
        except BaseException:  # failed, or interrupted (Ctrl-C, SIGTERM): leave no child
            self.stop()
            raise
        log.info("%d pusher processes polling: %s", self.count,
                 ", ".join(str(pid) for pid in self.pids))
        return self

    def stop(self) -> None:
        """SIGTERM to all, so each finishes the batch in hand; then wait for all."""
        for child in self._children:
            child.terminate()
        self.returncodes = [child.wait(timeout=HANDLER_TIMEOUT + 5) for child in self._children]
        self._children = []

    def __enter__(self) -> "Pushers":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    main()
