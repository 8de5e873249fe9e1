"""The local stack's CloudWatch Logs: the app's JSON log lines (chalicelib/logs.py),
kept in files, one per process that runs app code (`serve`, each pusher, the tasks
worker), as Lambda keeps a log stream per container.

The stack points the app's log handler at `LogStore.writer(...)` (`capture`), so
locally the app writes exactly the lines it writes on Lambda, metric blobs included.
`GET /_devkit/logs` on the local gateway serves them, and `python -m devkit status
--local URL` reads the metrics from them (devkit/emf.py) as CloudWatch would.

Files are kept between runs (so is the data); at each start the stack drops files
untouched for MAX_AGE_S and sets a file over MAX_BYTES aside (`{name}.jsonl.old`,
replacing the previous one), so they stay bounded.
"""
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional

from chalicelib import logs

ENV = "DEVKIT_LOG_DIR"    # how the stack tells its pusher processes where to write
MAX_BYTES = 64 * 1024 * 1024
MAX_AGE_S = 2 * 24 * 3600  # what `status` reads is the last day


class LogStore:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def prune(self) -> None:
        for path in self.directory.glob("*.jsonl*"):
            if path.stat().st_mtime < time.time() - MAX_AGE_S:
                path.unlink(missing_ok=True)

    def writer(self, name: str) -> Callable[[str], None]:
        """Append lines to `{name}.jsonl`: one write per line, flushed, so the other
        processes' lines and a reader never see half of one."""
        path = self.directory / f"{name}.jsonl"
        if path.exists() and path.stat().st_size > MAX_BYTES:
            path.replace(path.with_name(path.name + ".old"))
        stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
        lock = threading.Lock()

        def write(line: str) -> None:
            with lock:
                stream.write(line + "\n")
                stream.flush()
        return write

    def lines(self, since_ms: Optional[int] = None) -> Iterator[dict]:
        """Every JSON line kept (from `since_ms` on, by its `time`), file by file. A
        line that is not a JSON object (a process killed mid-write) is skipped."""
        since = _iso(since_ms) if since_ms is not None else ""
        for path in sorted(self.directory.glob("*.jsonl")):
            with open(path, encoding="utf-8") as stream:
                for text in stream:
                    try:
                        line = json.loads(text)
                    except ValueError:
                        continue
                    if isinstance(line, dict) and str(line.get("time", "")) >= since:
                        yield line


def _iso(ms: int) -> str:
    from datetime import datetime, timezone
    return (datetime.fromtimestamp(ms / 1000, timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"))


_previous: List[Optional[Callable[[str], None]]] = []


# The start of a line at these levels (chalicelib/logs.JsonFormatter writes `level`
# second, after `time`), echoed to standard error as well: what needs a developer's
# eye shows where `make run` runs, as it did before the lines went to the store.
_LOUD = ('"level":"WARNING"', '"level":"ERROR"', '"level":"CRITICAL"')


def capture(directory: Path, name: str) -> None:
    """Send this process's app log lines to the store at `directory`; warnings and
    errors also to standard error."""
    logs.setup()
    _previous.append(logs.HANDLER.sink)
    write = LogStore(directory).writer(name)

    def sink(line: str) -> None:
        write(line)
        if any(level in line[:60] for level in _LOUD):
            sys.stderr.write(line + "\n")
    logs.HANDLER.sink = sink


def release() -> None:
    """Undo the last `capture` (a stack stopping in a process that goes on: tests)."""
    if _previous:
        logs.HANDLER.sink = _previous.pop()


def capture_from_environment(function: str) -> None:
    """In a pusher process: capture into the stack's store when the stack said where,
    in a file of its own (`{function}-{pid}`), as each Lambda container has a stream."""
    directory = os.environ.get(ENV)
    if directory:
        capture(Path(directory), f"{function}-{os.getpid()}")
