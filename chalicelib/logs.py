"""Structured logs: one JSON object a line, from every function.

Each invocation (a request, a WebSocket event, a stream batch, a queue message, the
schedule) ends with one line: the function, the ids it was about (the Slack
`event_id`, the connection id, the request id), its outcome, its duration, and the
metrics it measured as CloudWatch's embedded metric format (chalicelib/metrics.py).
The line is the metric blob: CloudWatch Logs extracts the metrics from it and keeps
the rest searchable (Logs Insights: `filter outcome = "store_error"`). Lines logged
during the invocation carry the same function and ids.

Why the standard library and not aws-lambda-powertools' Logger and Metrics (weighed
in docs/performance.md, "Logs and metrics"): powertools 3.37 adds 1.1 MB to every
function's bundle and about 20 ms to every cold start, and its line and metric flush
cost twice ours; its handler decorators want `(event, context)`, which Chalice's
handlers do not take (only Chalice middleware sees every invocation, as here); and
its Logger keeps the runtime's root handler, filtering it by a substring of the
service name. What it would do for us here is small: this module and metrics.py.

On Lambda the lines go to standard output, which Lambda sends to the function's log
group, where CloudWatch Logs extracts the metrics ("Using the embedded metric format
with Lambda", CloudWatch User Guide); the functions keep Lambda's default (text) log
format, which passes the lines untouched. The loggers do not propagate to the root
logger, where the runtime's own handler would write each record again as text. A
timed-out invocation writes no line (its metrics are lost, as that page warns):
Lambda's own Errors metric, which the alarms watch, counts it. Locally the stack
points `HANDLER.sink` at its own log store (devkit/local_logs.py).
"""
import contextvars
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator, Optional

from . import metrics as metrics_module

LOGGERS = ("chalicelib", "emojiboard")  # this package's, and the Chalice app's `app.log`


class Invocation:
    """One invocation: its function and ids, what it noted, what it measured."""

    def __init__(self, function: str, **ids: Optional[str]):
        self.function = function
        self.fields = {name: value for name, value in ids.items() if value}
        self.metrics = metrics_module.Metrics()
        self.started = time.perf_counter()

    def note(self, **fields) -> None:
        self.fields.update((name, value) for name, value in fields.items() if value is not None)

    def line(self) -> dict:
        """The invocation's own fields and its duration."""
        return {"function": self.function, **self.fields,
                "duration_ms": round((time.perf_counter() - self.started) * 1000, 1)}


_current: contextvars.ContextVar[Optional[Invocation]] = contextvars.ContextVar(
    "invocation", default=None)


def note(**fields) -> None:
    """Add fields (an event id, an outcome) to the current invocation's lines."""
    invocation = _current.get()
    if invocation is not None:
        invocation.note(**fields)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Measure `value` of metric `name` (chalicelib/metrics.py) in this invocation.
    Outside an invocation (a unit test calling a module) it is not reported."""
    invocation = _current.get()
    if invocation is not None:
        invocation.metrics.add(name, value, **dimensions)


def store_error(logger: logging.Logger, message: str, *args) -> None:
    """A DynamoDB call failed and the caller answers without it: logged by the
    caller's logger, counted (StoreErrors) and noted as the invocation's outcome."""
    logger.error(message, *args)
    note(outcome="store_error")
    count(metrics_module.STORE_ERRORS)


def stage(env=os.environ) -> str:
    """The metrics' Stage dimension: the Chalice stage (the deploy sets STAGE)."""
    return env.get("STAGE", "").strip() or "local"


@contextmanager
def invocation(function: str, **ids: Optional[str]) -> Iterator[Invocation]:
    """Time an invocation and write its line (with its metrics) when it ends, also
    when it raises (then with the error, and the exception goes on)."""
    current_invocation = Invocation(function, **ids)
    token = _current.set(current_invocation)
    try:
        yield current_invocation
    except Exception as error:  # noqa: BLE001 - logged, then raised on to Lambda
        current_invocation.note(outcome=current_invocation.fields.get("outcome") or "error",
                                error=f"{type(error).__name__}: {error}")
        _finish(current_invocation, logging.ERROR, exc_info=True)
        raise
    else:
        _finish(current_invocation, logging.INFO)
    finally:
        _current.reset(token)


_log = logging.getLogger("chalicelib.invocation")


def _finish(done: Invocation, level: int, exc_info: bool = False) -> None:
    blobs = done.metrics.blobs(stage(), int(time.time() * 1000))
    line = done.line()
    message = f"{done.function} {line.get('outcome') or line.get('status') or 'done'}"
    _log.log(level, message, exc_info=exc_info, extra={"line": {**line, **(blobs[0] if blobs else {})}})
    for blob in blobs[1:]:  # rare: see Metrics.blobs
        _log.log(level, f"{done.function} metrics", extra={"line": blob})


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, the current
    invocation's function and ids, and the record's own `line` fields (extra=)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc)
                            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        invocation = _current.get()
        if invocation is not None:
            line.update(function=invocation.function, **invocation.fields)
        line.update(getattr(record, "line", None) or {})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False, separators=(",", ":"))


class LineHandler(logging.Handler):
    """Each record as one line: to standard output (Lambda sends it to CloudWatch
    Logs), or to `sink` when the local stack sets one. sys.stdout is looked up on each
    line, so a replaced stdout (a test runner's capture) is followed."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.sink: Optional[Callable[[str], None]] = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if self.sink is not None:
                self.sink(text)
            else:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
        except Exception:  # noqa: BLE001 - logging must never fail the app
            self.handleError(record)


HANDLER = LineHandler()


def setup() -> None:
    """Route the app's loggers to HANDLER, once per process (app.py is imported by
    every local app instance; the handler is shared)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if HANDLER not in logger.handlers:
            logger.handlers = [HANDLER]
        logger.setLevel(logging.INFO)
        logger.propagate = False
