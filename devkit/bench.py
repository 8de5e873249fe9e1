"""`python -m devkit bench`: figures for "will it keep up?" and "are the numbers exact?".

The stack runs as `devkit serve` in a child process (its own interpreter, as a real
gateway and Lambda would be), DynamoDB Local, the push queue and the pushers in
others; the load and the dashboards run here. Every figure is the median over
repeated runs, and each comparison is measured side by side in the same run,
alternating, so a noisy machine hits both.
"""
import asyncio
import contextlib
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import boto3
import requests
import websockets
from botocore.config import Config

from chalicelib import slack_events
from chalicelib.counts import CountStore

from . import simulate
from .served import ServeProcess

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret"
TEAM = "T0BENCH"


def raise_file_limit() -> None:
    """A thousand dashboards need a thousand sockets on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(values: List[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


# ---- the stack under test -------------------------------------------------------------


def Server(*extra: str) -> ServeProcess:
    """The stack under test, with the bench's secret and workspace."""
    return ServeProcess(*extra, secret=SECRET, team_id=TEAM)


def distinct_events(count: int, emoji_count: int = 40) -> List[dict]:
    """Adds by different users on different messages: every one is counted."""
    run = uuid.uuid4().hex[:6]
    return [simulate.reaction_event(f"emoji-{i % emoji_count}", team_id=TEAM, user=f"U{run}{i}",
                                    channel="C0BENCH", item_ts=f"1700000000.{i:06d}")
            for i in range(count)]


def post_all(url: str, envelopes: List[dict], concurrency: int) -> float:
    """POST every event, signed, from `concurrency` threads; return events per second."""
    bodies = [simulate.encode(e) for e in envelopes]
    local = threading.local()

    def post(body: bytes) -> int:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        return session.post(f"{url}/slack/events", data=body,
                            headers=simulate.signed_headers(body, SECRET), timeout=30).status_code

    with ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        statuses = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
    bad = [s for s in statuses if s != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} of {len(statuses)} events were not accepted: {bad[:5]}")
    return len(bodies) / elapsed


# ---- 1. ingest overhead --------------------------------------------------------------


def raw_store_rate(dynamodb_url: str, table: str, envelopes: List[dict],
                   concurrency: int) -> float:
    """The same TransactWriteItems the app issues for each event, and nothing else."""
    client = boto3.client("dynamodb", endpoint_url=dynamodb_url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local",
                          config=Config(max_pool_connections=concurrency))
    store = CountStore(client, table)
    now = time.time()
    transactions = [store.transaction(slack_events.parse(simulate.encode(e)), TEAM, None, now)[0]
                    for e in envelopes]
    with ThreadPoolExecutor(concurrency) as pool:
        started = time.perf_counter()
        list(pool.map(lambda items: client.transact_write_items(TransactItems=items),
                      transactions))
        return len(transactions) / (time.perf_counter() - started)


def write_units(dynamodb_url: str, table: str) -> Tuple[int, int]:
    """Items and write units of one counted event (a message with an author: every
    board). AWS bills a transactional write 2 units per item per KB (every item here
    is far under 1 KB); DynamoDB Local's `ReturnConsumedCapacity` answers 2 for the
    whole transaction, so the units are computed from the items actually sent."""
    client = boto3.client("dynamodb", endpoint_url=dynamodb_url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    [envelope] = distinct_events(1)
    items = CountStore(client, table).transaction(
        slack_events.parse(simulate.encode(envelope)), TEAM, None, time.time())[0]
    client.transact_write_items(TransactItems=items)  # the store takes it as it is
    return len(items), sum(2 * -(-len(json.dumps(i)) // 1024) for i in items)


@dataclass
class Figures:
    rows: List[List[str]] = field(default_factory=list)

    def add(self, *cells) -> None:
        self.rows.append([str(c) for c in cells])
        print("  " + " | ".join(self.rows[-1]), flush=True)


def ingest(figures: Figures, runs: int, events: int, concurrency: int) -> None:
    with Server() as server:
        post_all(server.url, distinct_events(50), concurrency)  # warm the app instances
        app_rates, raw_rates = [], []
        for _ in range(runs):
            app_rates.append(post_all(server.url, distinct_events(events), concurrency))
            raw_rates.append(raw_store_rate(server.dynamodb_url, "emojiboard-counts",
                                            distinct_events(events), concurrency))
        items, units = write_units(server.dynamodb_url, "emojiboard-counts")
    app, raw = statistics.median(app_rates), statistics.median(raw_rates)
    figures.add("ingest: items / write units of one counted event (every board)",
                f"{items} / {units}", "2 units per transactional item of up to 1 KB")
    ratios = [a / r for a, r in zip(app_rates, raw_rates)]
    figures.add("ingest: app events/s (signed POST /slack/events)", f"{app:.0f}",
                f"runs: {', '.join(f'{r:.0f}' for r in app_rates)}")
    figures.add("ingest: raw TransactWriteItems/s", f"{raw:.0f}",
                f"runs: {', '.join(f'{r:.0f}' for r in raw_rates)}")
    figures.add("ingest: app / raw (target >= 0.7)", f"{statistics.median(ratios):.2f}",
                f"runs: {', '.join(f'{r:.2f}' for r in ratios)}")


# ---- dashboards -------------------------------------------------------------------------


# Views the analytics dashboards show; every bench event changes a row of each.
VIEWS = ({"board": "emoji", "window": "24h"}, {"board": "givers", "window": "7d"},
         {"board": "channels", "window": "30d"}, {"board": "receivers", "window": "all"})


class Dashboards:
    """N WebSocket dashboards on their own event loop thread; each keeps the highest
    version per (window, key), as the page does, from updates and snapshots, and the
    time and size of every update. With `views`, dashboard i shows views[i % n] (it
    subscribes with a snapshot, as the page does); without, each gets the emoji board
    in every window, as pages that name no view do."""

    def __init__(self, url: str, count: int, views=()):
        self.url = url.replace("http", "ws", 1) + "/ws"
        self.count = count
        self.views = list(views)
        self.sizes: Dict[str, List[int]] = {}  # update bytes, per board
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sockets: List = [None] * count
        self.states: List[Dict] = [dict() for _ in range(count)]
        self.arrivals: List[List[float]] = [[] for _ in range(count)]
        self.snapshots = [0] * count  # snapshots received, per dashboard
        self._run(self._open(range(count)))
        if self.views:
            wait_until(lambda: all(self.snapshots), timeout=120)

    def _run(self, coroutine, timeout: float = 300):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _connect(self, index: int, snapshot: bool) -> None:
        socket = await websockets.connect(self.url, open_timeout=60, max_queue=None)
        self.sockets[index] = socket
        self.loop.create_task(self._listen(index, socket))
        view = self.views[index % len(self.views)] if self.views else {}
        if snapshot or view:  # what a page does once its socket is open
            await socket.send(json.dumps({"action": "snapshot", "window": "all", "limit": 500,
                                          **view}))

    async def _open(self, indexes) -> None:
        indexes = list(indexes)
        for start in range(0, len(indexes), 50):  # in waves, as office screens come on
            await asyncio.gather(*[self._connect(i, snapshot=False)
                                   for i in indexes[start:start + 50]])

    async def _listen(self, index: int, socket) -> None:
        state, arrivals = self.states[index], self.arrivals[index]
        try:
            async for raw in socket:
                message = json.loads(raw)
                if message.get("type") == "update":
                    arrivals.append(time.perf_counter())
                    self.sizes.setdefault(message.get("board", "emoji"), []).append(len(raw))
                    rows = message["changes"]
                elif message.get("type") == "snapshot":
                    self.snapshots[index] += 1
                    rows = [dict(row, window=message["window"]) for row in message["leaderboard"]]
                else:
                    continue
                for change in rows:
                    key = (change["window"],
                           change.get("emoji") or change.get("user") or change.get("channel"))
                    if change["version"] >= state.get(key, (-1, 0))[0]:
                        state[key] = (change["version"], change["count"])
        except websockets.ConnectionClosed:
            pass

    def reconnect_all(self, within_s: float, seed: int = 11) -> None:
        """Every dashboard drops its socket and comes back at a random moment within
        `within_s` (an office network blip), then asks for a snapshot."""
        rng = random.Random(seed)

        async def one(index: int, delay: float) -> None:
            await self.sockets[index].close()
            await asyncio.sleep(delay)
            await self._connect(index, snapshot=True)

        delays = [rng.uniform(0, within_s) for _ in range(self.count)]

        async def all_of_them() -> None:
            await asyncio.gather(*[one(i, delay) for i, delay in enumerate(delays)])
        self._run(all_of_them())

    def counts(self, index: int, window: str = "all") -> Dict[str, int]:
        return {emoji: count for (w, emoji), (_, count) in self.states[index].items()
                if w == window and count > 0}

    def reset_arrivals(self) -> None:
        for arrivals in self.arrivals:
            arrivals.clear()

    async def _close(self) -> None:
        await asyncio.gather(*[s.close() for s in self.sockets if s], return_exceptions=True)

    def close(self) -> None:
        self._run(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# ---- 2. fan-out latency ------------------------------------------------------------------


def latencies_of_one_event(server: ServeProcess, boards: Dashboards, envelope: dict) -> List[float]:
    """Post one event; seconds from the Slack answer to each dashboard's update."""
    boards.reset_arrivals()
    body = simulate.encode(envelope)
    response = requests.post(f"{server.url}/slack/events", data=body, timeout=30,
                             headers=simulate.signed_headers(body, SECRET))
    answered = time.perf_counter()
    if response.status_code != 200:
        raise RuntimeError(f"the Slack route answered {response.status_code}: {response.text}")
    wait_until(lambda: all(boards.arrivals), timeout=10)
    return [a[0] - answered for a in boards.arrivals if a]


def fanout(figures: Figures, sizes: List[int], events: int) -> None:
    runs = [(size, ()) for size in sizes] + [(max(sizes), VIEWS)]
    for size, views in runs:
        with Server() as server:
            boards = Dashboards(server.url, size, views)
            try:
                p50s, p95s, maxes, missing = [], [], [], 0
                for envelope in distinct_events(events):
                    latencies = latencies_of_one_event(server, boards, envelope)
                    missing += size - len(latencies)
                    p50s.append(percentile(latencies, 50))
                    p95s.append(percentile(latencies, 95))
                    maxes.append(max(latencies))
                    time.sleep(0.3)
            finally:
                boards.close()
        target = " (target p95 <= 1 s)" if size >= 1000 else ""
        shown = (f"on {len(views)} views ({', '.join(v['board'] + ' ' + v['window'] for v in views)})"
                 if views else "on the emoji board, every window")
        figures.add(f"fan-out to {size} dashboards {shown}: p50 / p95 / max s, "
                    f"Slack answer to page{target}",
                    f"{statistics.median(p50s):.3f} / {statistics.median(p95s):.3f} / "
                    f"{statistics.median(maxes):.3f}",
                    f"median of {events} events; updates never received: {missing}")
        figures.add(f"update message bytes for one event, {shown}",
                    ", ".join(f"{board} {statistics.median(sizes):.0f}"
                              for board, sizes in sorted(boards.sizes.items())),
                    "median per board")


def pushers(figures: Figures, dashboards: int, shard_size: int, events: int) -> None:
    """The same load on two stacks side by side, one with 1 pusher process and one
    with 2, events alternating between them: time to the last page."""
    extra = ("--shard-size", str(shard_size))
    with Server(*extra, "--pushers", "1") as one, Server(*extra, "--pushers", "2") as two:
        boards = {1: Dashboards(one.url, dashboards), 2: Dashboards(two.url, dashboards)}
        try:
            last = {1: [], 2: []}
            for i, envelope in enumerate(distinct_events(events * 2)):
                count = 1 + i % 2
                latencies = latencies_of_one_event(one if count == 1 else two, boards[count], envelope)
                if len(latencies) < dashboards:
                    raise RuntimeError(f"{dashboards - len(latencies)} dashboards missed an update")
                last[count].append(max(latencies))
                time.sleep(0.3)
        finally:
            for b in boards.values():
                b.close()
    a, b = statistics.median(last[1]), statistics.median(last[2])
    figures.add(f"pushers: {dashboards} dashboards in shards of {shard_size}, "
                "last page after the answer, 1 vs 2 pusher processes",
                f"{a:.3f} s vs {b:.3f} s: {a / b:.2f}x",
                f"median of {events} events each, alternating")


# ---- 3. burst ------------------------------------------------------------------------------


def burst(figures: Figures, rate: float, seconds: float, dashboards: int) -> None:
    with Server() as server:
        boards = Dashboards(server.url, dashboards)
        try:
            traffic = simulate.Traffic(team_id=TEAM, seed=7).events()
            envelopes = [next(traffic) for _ in range(int(rate * seconds))]
            bodies = [simulate.encode(e) for e in envelopes]
            local = threading.local()
            statuses: List[int] = []
            answers: List[float] = []

            def post(body: bytes) -> None:
                session = getattr(local, "session", None) or requests.Session()
                local.session = session
                started = time.perf_counter()
                statuses.append(session.post(f"{server.url}/slack/events", data=body, timeout=30,
                                             headers=simulate.signed_headers(body, SECRET)).status_code)
                answers.append(time.perf_counter() - started)

            boards.reset_arrivals()
            started = time.perf_counter()
            with ThreadPoolExecutor(64) as pool:  # open loop: events leave on schedule
                for i, body in enumerate(bodies):
                    delay = started + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(post, body)
                sent_in = time.perf_counter() - started
            accepted_in = time.perf_counter() - started
            expected = server.board("all")
            exact = wait_until(lambda: all(boards.counts(i) == expected
                                           for i in range(dashboards)), timeout=30)
            settled_in = time.perf_counter() - started
            # Messages each dashboard got for the burst, per second of the burst: the
            # naive design sends one per event, `rate` per second.
            per_second = [len(a) / seconds for a in boards.arrivals]
            exact_count = sum(boards.counts(i) == expected for i in range(dashboards))
        finally:
            boards.close()
    rejected = len([s for s in statuses if s != 200])
    figures.add(f"burst: {rate:g} events/s x {seconds:g} s, {dashboards} dashboards: "
                "messages per dashboard per second (target <= 10)",
                f"{statistics.median(per_second):.1f} (max {max(per_second):.1f})",
                f"sent in {sent_in:.1f} s, all answered in {accepted_in:.1f} s, non-200: {rejected}")
    figures.add("burst: Slack answers, p99 / max s (target: every one within 3 s)",
                f"{percentile(answers, 99):.2f} / {max(answers):.2f}", f"{len(answers)} events")
    figures.add("burst: dashboards exact (target: all, within 5 s of the last answer)",
                f"{exact_count} / {dashboards}", f"{'settled' if exact else 'NOT settled'} "
                f"{settled_in - accepted_in:.1f} s after the last answer")


# ---- 4. reconnect storm ---------------------------------------------------------------------


def reconnect_storm(figures: Figures, dashboards: int, within_s: float, rate: float) -> None:
    """Every dashboard drops and reconnects within `within_s` while Slack sends `rate`
    events a second: the Slack route's answer times meanwhile, and whether every page
    ends exact (its snapshot plus the updates after it)."""
    with Server() as server:
        post_all(server.url, distinct_events(200), 8)  # a board worth snapshotting
        boards = Dashboards(server.url, dashboards)
        try:
            answers: List[float] = []
            statuses: List[int] = []
            stop = threading.Event()

            def send() -> None:
                with requests.Session() as session:
                    for envelope in distinct_events(int(rate * (within_s + 10))):
                        if stop.is_set():
                            return
                        body = simulate.encode(envelope)
                        started = time.perf_counter()
                        statuses.append(session.post(
                            f"{server.url}/slack/events", data=body, timeout=30,
                            headers=simulate.signed_headers(body, SECRET)).status_code)
                        answers.append(time.perf_counter() - started)
                        time.sleep(max(0.0, 1 / rate - answers[-1]))

            sender = threading.Thread(target=send)
            sender.start()
            time.sleep(1)
            storm_started = time.perf_counter()
            boards.reconnect_all(within_s)
            reconnected_in = time.perf_counter() - storm_started
            time.sleep(2)
            stop.set()
            sender.join()
            ended = time.perf_counter()
            expected = server.board("all")
            exact = wait_until(lambda: all(boards.counts(i) == expected
                                           for i in range(dashboards)), timeout=30)
            exact_count = sum(boards.counts(i) == expected for i in range(dashboards))
            snapshots = sum(1 for n in boards.snapshots if n)
        finally:
            boards.close()
    rejected = len([s for s in statuses if s != 200])
    figures.add(f"reconnect storm: {dashboards} dashboards back within {within_s:g} s, "
                f"{rate:g} events/s: Slack answers p99 / max s (target p99 < 1 s)",
                f"{percentile(answers, 99):.2f} / {max(answers):.2f}",
                f"{len(answers)} events, non-200: {rejected}; all reconnected in {reconnected_in:.1f} s")
    figures.add("reconnect storm: dashboards exact (target: all)", f"{exact_count} / {dashboards}",
                f"{snapshots} got their snapshot; {'settled' if exact else 'NOT settled'} "
                f"{time.perf_counter() - ended:.1f} s after the last event")


# ---- 5. per-push cost ------------------------------------------------------------------------


def push_cost(figures: Figures, pushes: int, runs: int) -> None:
    """CPU per PostToConnection in the calling thread: the app's client against
    boto3's, alternating, to one real dashboard."""
    from . import pushcost
    with Server() as server:
        boards = Dashboards(server.url, 1)
        try:
            connection_id = connection_ids(server)[0]
            cpu = pushcost.measure(server.url, connection_id, pushes=pushes, runs=runs)
        finally:
            boards.close()
    ours, theirs = statistics.median(cpu["lean"]), statistics.median(cpu["boto3"])
    figures.add("per push: CPU ms per PostToConnection, the app's client vs boto3's",
                f"{ours:.3f} vs {theirs:.3f} ms: {theirs / ours:.1f}x less",
                f"{pushes} pushes x {runs} runs each, alternating; "
                f"runs: {', '.join(f'{r:.3f}' for r in cpu['lean'])} vs "
                f"{', '.join(f'{r:.3f}' for r in cpu['boto3'])}")


def connection_ids(server: ServeProcess) -> List[str]:
    items = server.dynamodb_client().query(
        TableName=server.connections_table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "CONN"}})["Items"]
    return [item["sk"]["S"] for item in items]


# ---- 6. cold start proxy ---------------------------------------------------------------------


def _import_seconds(directory: Path, module: str) -> float:
    code = ("import sys, time; sys.path.insert(0, '.'); t = time.perf_counter(); "
            f"import {module}; print(time.perf_counter() - t)")
    # The event sources a deployed app registers its handlers on (never contacted).
    env = dict(os.environ,
               COUNTS_STREAM_ARN="arn:aws:dynamodb:us-east-1:000000000000:table/c/stream/x",
               PUSH_QUEUE_ARN="arn:aws:sqs:us-east-1:000000000000:push")
    out = subprocess.run([sys.executable, "-c", code], cwd=directory, capture_output=True,
                         text=True, check=True, env=env).stdout
    return float(out.strip())


def cold_start(figures: Figures, runs: int) -> None:
    with tempfile.TemporaryDirectory() as bare:
        Path(bare, "app.py").write_text(
            "from chalice import Chalice\napp = Chalice(app_name='bare')\n\n"
            "@app.route('/')\ndef index():\n    return {}\n")
        ours, theirs = [], []
        for _ in range(runs):
            ours.append(_import_seconds(ROOT, "app"))
            theirs.append(_import_seconds(Path(bare), "app"))
    ratios = [a / b for a, b in zip(ours, theirs)]
    figures.add("cold start: import app.py / bare Chalice app (target <= 2x)",
                f"{statistics.median(ratios):.2f}x",
                f"{statistics.median(ours) * 1000:.0f} ms vs {statistics.median(theirs) * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        # `make package`'s own path; prod has every function, the stream handler too.
        # Nothing talks to AWS.
        from .deploy import package as chalice_package
        with contextlib.redirect_stdout(io.StringIO()):
            template = chalice_package("prod", Path(tmp) / "out")
        package = template.parent / "deployment.zip"
        with zipfile.ZipFile(package) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        figures.add("Lambda package (chalice package, target <= 10 MB)",
                    f"{package.stat().st_size / 1e6:.2f} MB",
                    f"{unpacked / 1e6:.2f} MB unpacked")


# ---- 7. logs and metrics ---------------------------------------------------------------------


def log_cost(figures: Figures, invocations: int, runs: int) -> None:
    """What every invocation pays for its log line (chalicelib/logs.py): a Slack
    event's fields, three metrics and the JSON line with its EMF blob, written to a
    sink that keeps only its length; against the same loop without it, alternating."""
    from chalicelib import logs, metrics

    sizes: List[int] = []
    logs.setup()
    previous, logs.HANDLER.sink = logs.HANDLER.sink, lambda line: sizes.append(len(line))

    def observed() -> None:
        with logs.invocation("api_handler", route="POST /slack/events", request_id="r" * 36):
            logs.note(event_id="Ev0PV52K25", outcome="counted", status=200)
            logs.count(metrics.EVENTS_RECEIVED)
            logs.count(metrics.EVENTS_COUNTED)

    def bare() -> None:
        pass

    per: Dict[str, List[float]] = {"observed": [], "bare": []}
    try:
        for _ in range(runs):
            for name, body in (("observed", observed), ("bare", bare)):
                started = time.perf_counter()
                for _ in range(invocations):
                    body()
                per[name].append((time.perf_counter() - started) / invocations * 1e6)
    finally:
        logs.HANDLER.sink = previous
    cost = statistics.median(per["observed"]) - statistics.median(per["bare"])
    figures.add("per invocation: its JSON log line with metrics (CPU, one thread)",
                f"{cost:.1f} µs, {statistics.median(sizes):.0f} bytes",
                f"{invocations} invocations x {runs} runs, alternating with an empty loop; "
                f"runs: {', '.join(f'{r:.1f}' for r in per['observed'])} µs")


# ---- the report ----------------------------------------------------------------------------


def history_workspace(channels: int, messages: int, thread_share: float,
                      replies: int, now: float) -> dict:
    """A workspace of `channels` public channels the bot is not in yet, each with
    `messages` over the last 30 days, `thread_share` of them threads of `replies`
    replies; a third of all messages have reactions, by 1 to 4 people."""
    from . import slack_api
    rng = random.Random(7)
    people = [f"UB{i:03d}" for i in range(40)]
    doc = {"team": {"id": TEAM, "name": "Bench", "domain": "bench"},
           "users": [slack_api.user_object(u, u.lower(), f"Person {u}", team=TEAM) for u in people],
           "channels": [], "history": {}, "replies": {}}

    def msg(t: float, n: int, **extra) -> dict:
        body = {"type": "message", "user": rng.choice(people), "text": "hi",
                "ts": f"{t:.0f}.{n:06d}", **extra}
        if rng.random() < 1 / 3:
            body["reactions"] = [{"name": name, "users": rng.sample(people, k), "count": k}
                                 for name, k in [(rng.choice(["tada", "+1", "eyes", "heart"]),
                                                  rng.randint(1, 4))]]
        return body

    for c in range(channels):
        ident = f"CBENCH{c:03d}"
        doc["channels"].append(slack_api.channel_object(ident, f"bench-{c}"))
        history = []
        for i in range(messages):
            t = now - 30 * 86400 * (i + 1) / (messages + 1)
            if rng.random() < thread_share:
                parent = msg(t, i, reply_count=replies)
                parent["thread_ts"] = parent["ts"]
                doc["replies"][f"{ident}/{parent['ts']}"] = [parent] + [
                    msg(t + 60 * (r + 1), i, thread_ts=parent["ts"]) for r in range(replies)]
                history.append(parent)
            else:
                history.append(msg(t, i))
        doc["history"][ident] = history
    return doc


def history_import(figures: Figures, channels: int, messages: int) -> None:
    """How fast an import reads a workspace with Slack's Tier 3 limits on (the
    stand-in's, 50 calls a minute per method), and what that makes of a 500-channel,
    30-day workspace."""
    from . import importer
    doc = history_workspace(channels, messages, thread_share=0.05, replies=2, now=time.time())
    # Each thread's first message is its parent, which the history holds too.
    messages_of = list(doc["history"].values()) + [t[1:] for t in doc["replies"].values()]
    found = sum(len(r["users"]) for msgs in messages_of for m in msgs
                for r in m.get("reactions", []))
    read = sum(len(m) for m in doc["history"].values()) + sum(len(m) - 1 for m in doc["replies"].values())
    threads = len(doc["replies"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "workspace.json"
        path.write_text(json.dumps(doc))
        with Server("--slack-workspace", str(path)) as server:
            target = importer.Target.local(server.url)
            started = time.monotonic()
            job = importer.request(target, 30, lambda *a, **k: None)
            status = importer.follow(target, job, lambda *a, **k: None, tty=False)
            seconds = time.monotonic() - started
    minutes = seconds / 60
    calls = channels * (-(-messages // 200)) + threads + channels + 1
    figures.add(f"history import, {channels} channels x {messages} messages (5% threads of 2 "
                "replies), Tier 3 on: messages / reactions per minute",
                f"{read / minutes:,.0f} / {status['reactions_imported'] / minutes:,.0f}",
                f"{read:,} messages, {status['reactions_imported']:,} of {found:,} reactions "
                f"in {seconds:.0f} s ({status['state']}); about {calls} Slack calls, "
                f"{calls / minutes:.0f} a minute")
    per_channel = seconds / channels
    figures.add("history import, a 500-channel workspace at that rate (same messages "
                "per channel and thread share)",
                f"{500 * per_channel / 3600:.1f} h",
                "linear in channels: each needs its history pages and one "
                "conversations.replies call per thread, at 50 a minute per method")


def table_reset(figures: Figures, rounds: int = 20, writes: int = 60) -> None:
    """Why the tests empty their tables in place (devkit/tables.py `clear`): a
    25-item transaction's p50 on a fresh DynamoDB Local after N rounds of deleting and
    recreating the tables, against N rounds of emptying them, side by side."""
    from . import dynamodb, tables
    for mode in ("recreate", "clear"):
        url, stop = dynamodb.start("local", None, "127.0.0.1")
        client = dynamodb.client(url)
        seen = {}
        try:
            for round_ in range(rounds + 1):
                if round_ and mode == "recreate":
                    for name in ("reset-counts", "reset-connections"):
                        client.delete_table(TableName=name)
                        client.get_waiter("table_not_exists").wait(
                            TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
                elif round_:
                    tables.clear(client, "reset-counts")
                tables.ensure(client, "reset-counts", "reset-connections")
                latencies = []
                for i in range(writes):
                    items = [{"Update": {"TableName": "reset-counts",
                                         "Key": {"pk": {"S": f"C#{j}"}, "sk": {"S": f"k{i}"}},
                                         "UpdateExpression": "ADD n :one",
                                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}
                             for j in range(25)]
                    started = time.perf_counter()
                    client.transact_write_items(TransactItems=items)
                    latencies.append(time.perf_counter() - started)
                if round_ in (0, rounds // 2, rounds):
                    seen[round_] = statistics.median(latencies) * 1000
        finally:
            stop()
        figures.add(f"DynamoDB Local, 25-item transaction p50 after rounds of {mode} "
                    f"({', '.join(str(r) for r in seen)})",
                    " / ".join(f"{ms:.0f} ms" for ms in seen.values()),
                    f"{writes} transactions a round")


def machine() -> str:
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"load average {load:.1f} at start")


FIGURES = ("ingest", "fanout", "burst", "pushers", "storm", "push-cost", "cold-start",
           "history", "table-reset", "logs")


def run(only: List[str], runs: int, events: int, concurrency: int, sizes: List[int],
        burst_rate: float, burst_seconds: float, burst_dashboards: int,
        pusher_dashboards: int, shard_size: int, storm_dashboards: int) -> Figures:
    raise_file_limit()
    figures = Figures()
    print(f"Emojiboard bench: {machine()}", flush=True)
    if "ingest" in only:
        ingest(figures, runs, events, concurrency)
    if "fanout" in only:
        fanout(figures, sizes, events=max(3, runs * 2))
    if "burst" in only:
        burst(figures, burst_rate, burst_seconds, burst_dashboards)
    if "pushers" in only:
        pushers(figures, pusher_dashboards, shard_size, events=max(3, runs * 2))
    if "storm" in only:
        reconnect_storm(figures, storm_dashboards, within_s=10, rate=10)
    if "push-cost" in only:
        push_cost(figures, pushes=1000, runs=max(3, runs))
    if "cold-start" in only:
        cold_start(figures, max(5, runs * 2))
    if "history" in only:
        history_import(figures, channels=6, messages=400)
    if "table-reset" in only:
        table_reset(figures)
    if "logs" in only:
        log_cost(figures, invocations=20000, runs=max(5, runs))
    return figures
