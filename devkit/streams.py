"""Lambda's DynamoDB Streams event source mapping, for the laptop.

Reads the counts table's real stream (DynamoDB Local and moto both serve the Streams
API) and invokes the app's `@app.on_dynamodb_record` handler as Lambda does:

- the mapping's own settings, read from the app (batch size, batching window,
  starting position);
- each shard polled four times a second; a batch goes out when it is full or when
  its oldest record has waited the batching window;
- one batch at a time per shard, in order; a batch whose handler raises is delivered
  again, unchanged, until it succeeds (Lambda's default for stream sources);
- events shaped as Lambda delivers them: `{"Records": [...]}`, each record with
  `eventSourceARN` and `ApproximateCreationDateTime` in epoch seconds.

Tests recreate tables, which gives them new streams, so the poller follows the
table's latest stream (a new one from its start), not one fixed ARN.
"""
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from botocore.exceptions import BotoCoreError, ClientError

from . import dynamodb

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.25  # Lambda polls each shard about four times a second
RETRY_DELAYS_S = (0.5, 1, 2, 4, 8)


@dataclass
class MappingSettings:
    """What `@app.on_dynamodb_record(...)` registered (chalice.app.DynamoDBEventConfig)."""
    handler_name: str
    batch_size: int
    batching_window_s: float
    starting_position: str  # LATEST or TRIM_HORIZON

    @classmethod
    def of(cls, source) -> "MappingSettings":
        return cls(source.name, source.batch_size, source.maximum_batching_window_in_seconds,
                   source.starting_position)


@dataclass
class _Shard:
    iterator: Optional[str]
    buffer: List[dict] = field(default_factory=list)
    first_buffered_at: float = 0.0
    last_sequence: Optional[str] = None  # of the last record read


def lambda_record(record: dict, stream_arn: str, read_at: Optional[float] = None) -> dict:
    """A GetRecords record as Lambda hands it to the function. On AWS its
    ApproximateCreationDateTime is the record's creation "rounded down to the closest
    second" (StreamRecord, DynamoDB Streams API reference); DynamoDB Local rounds it
    down to the minute, so the second at which the poller read it (`read_at`, a
    quarter of a second at most after its creation) stands in when that is later."""
    shaped = dict(record)
    shaped["dynamodb"] = dict(record["dynamodb"])
    created = shaped["dynamodb"].get("ApproximateCreationDateTime")
    if hasattr(created, "timestamp"):  # boto3 parses it; Lambda sends epoch seconds
        shaped["dynamodb"]["ApproximateCreationDateTime"] = float(
            max(int(created.timestamp()), int(read_at or 0)))
    shaped["eventSourceARN"] = stream_arn
    return shaped


class StreamPoller:
    def __init__(self, dynamodb_url: str, table: str, mapping: MappingSettings,
                 invoke: Callable[[dict], None]):
        self._tables = dynamodb.client(dynamodb_url)
        self._streams = dynamodb.client(dynamodb_url, "dynamodbstreams")
        self._table, self.mapping, self._invoke = table, mapping, invoke
        self._stop = threading.Event()
        self._follow_now = threading.Event()  # look up the table's stream on the next pass
        self._wake = threading.Event()  # start the next pass now
        self._thread: Optional[threading.Thread] = None
        self._stream_arn: Optional[str] = None
        self._shards: Dict[str, _Shard] = {}
        self._finished: set = set()
        self.batches = self.records = 0  # delivered, for the logs and the tests
        self._quiet_pass_started = 0.0  # of the last pass that found the stream read

    def start(self) -> "StreamPoller":
        # Where the mapping starts is fixed when it is created, as on AWS.
        self._follow(self.mapping.starting_position)
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)

    # ---- shards ---------------------------------------------------------------------

    def _follow(self, position: str) -> None:
        """Pick up the table's current stream and any shard not yet read."""
        arn = self._tables.describe_table(TableName=self._table)["Table"].get("LatestStreamArn")
        if arn != self._stream_arn:
            if self._stream_arn:
                log.info("table %s has a new stream; reading it from its start", self._table)
            self._stream_arn, self._shards, self._finished = arn, {}, set()
        if not arn:
            return
        description = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id in self._shards or shard_id in self._finished:
                continue
            parent = shard.get("ParentShardId")
            if parent in self._shards:  # a child is read once its parent is done
                continue
            iterator = self._streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard_id, ShardIteratorType=position)["ShardIterator"]
            self._shards[shard_id] = _Shard(iterator)

    def caught_up(self, since: float) -> bool:
        """Whether a pass begun after `since` (time.monotonic()) looked up the table's
        current stream and found nothing left to read or deliver: everything written
        before `since` has been handed to the function. For tests."""
        return self._quiet_pass_started > since

    def sync(self, timeout: float = 10) -> bool:
        """Look up the table's stream at once (a table the tests just recreated: no
        record of the old one is delivered after this) and wait until caught up."""
        since = time.monotonic()
        self._follow_now.set()
        self._wake.set()
        deadline = since + timeout
        while not self.caught_up(since) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.caught_up(since)

    def _run(self) -> None:
        last_follow = 0.0
        while not self._stop.is_set():
            started, followed = time.monotonic(), False
            try:
                if started - last_follow > 1 or self._follow_now.is_set():
                    self._follow_now.clear()
                    # New shards (and, in tests, new tables) from their first record.
                    self._follow("TRIM_HORIZON")
                    last_follow, followed = time.monotonic(), True
                before = self.records
                for shard_id in list(self._shards):
                    self._poll(shard_id)
                if followed and self.records == before and not any(
                        s.buffer for s in self._shards.values()):
                    self._quiet_pass_started = started
            except (ClientError, BotoCoreError) as error:
                log.warning("reading the stream of %s failed: %s", self._table, error)
                self._stream_arn = None  # describe it afresh next time
                last_follow = 0.0
            self._wake.wait(POLL_INTERVAL_S)  # polls as Lambda does, four times a second
            self._wake.clear()

    def _poll(self, shard_id: str) -> None:
        shard = self._shards[shard_id]
        room = self.mapping.batch_size - len(shard.buffer)
        if shard.iterator and room > 0:
            try:
                response = self._streams.get_records(ShardIterator=shard.iterator,
                                                     Limit=min(room, 1000))
            except ClientError as error:
                self._reposition(shard_id, shard, error)
                return
            shard.iterator = response.get("NextShardIterator")
            if response["Records"] and not shard.buffer:
                shard.first_buffered_at = time.monotonic()
            if response["Records"]:
                shard.last_sequence = response["Records"][-1]["dynamodb"]["SequenceNumber"]
            read_at = time.time()
            shard.buffer += [lambda_record(r, self._stream_arn, read_at)
                             for r in response["Records"]]
        if shard.buffer and (len(shard.buffer) >= self.mapping.batch_size
                             or shard.iterator is None
                             or time.monotonic() - shard.first_buffered_at
                             >= self.mapping.batching_window_s):
            self._deliver(shard.buffer)
            shard.buffer = []
        if shard.iterator is None and not shard.buffer:  # the shard is closed and read
            del self._shards[shard_id]
            self._finished.add(shard_id)

    def _reposition(self, shard_id: str, shard: _Shard, error: ClientError) -> None:
        """A fresh iterator just past what was read. DynamoDB Local numbers records
        across all its tables, so a LATEST iterator taken on a quiet stream can point
        before the stream's first record, and reading it fails as "trimmed"; every
        record there is then new to us, so reading resumes from the oldest."""
        code = error.response["Error"]["Code"]
        if shard.last_sequence:
            where = dict(ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                         SequenceNumber=shard.last_sequence)
        elif code == "TrimmedDataAccessException":
            where = dict(ShardIteratorType="TRIM_HORIZON")
        else:
            raise error
        log.debug("shard %s: %s; reading on from %s", shard_id, code, where)
        shard.iterator = self._streams.get_shard_iterator(
            StreamArn=self._stream_arn, ShardId=shard_id, **where)["ShardIterator"]

    def _deliver(self, records: List[dict]) -> None:
        """Invoke the handler until it takes the batch (or the poller stops)."""
        event = {"Records": records}
        for attempt in itertools.count():
            try:
                self._invoke(event)
                self.batches += 1
                self.records += len(records)
                return
            except Exception:  # what Lambda sees as a failed invocation
                delay = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)]
                log.exception("stream handler failed on a batch of %d records; "
                              "retrying it in %g s", len(records), delay)
                if self._stop.wait(delay):
                    return
