"""Shards: what one pusher pushes, and how shards travel over the push queue.

A shard is the update messages of one topic and up to FANOUT_SHARD_SIZE of the
connections subscribed to it. The stream handler pushes one shard itself and sends the
rest to the push queue (SQS), each as one message's JSON body, from which Lambda hands
them to `push_shard`, in parallel; docs/architecture.md ("Fan-out") has the format.
"""
import json
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional

# SQS: "The minimum message size is 1 byte ... The maximum is 262,144 bytes (256 KiB)",
# for one message and for a SendMessageBatch call's bodies together, in at most 10
# entries (SendMessageBatch, API reference). Room is left for the batch's own framing.
MAX_BODY_BYTES = 250 * 1024
MAX_BATCH_ENTRIES = 10


@dataclass(frozen=True)
class Shard:
    messages: List[bytes]
    connections: List[str]
    # When the oldest change it carries was committed (epoch seconds, as the stream
    # records it), so its pusher can measure the fan-out's latency (FanoutLatency).
    committed: Optional[float] = None

    def to_body(self) -> str:
        # ASCII escapes keep any emoji text (a lone surrogate even) inside the
        # characters SQS accepts in a message body.
        body = {"messages": [m.decode("utf-8") for m in self.messages],
                "connections": self.connections}
        if self.committed is not None:
            body["committed"] = self.committed
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_body(cls, body: str) -> "Shard":
        data = json.loads(body)
        committed = data.get("committed")
        return cls([m.encode("utf-8") for m in data["messages"]], list(data["connections"]),
                   float(committed) if isinstance(committed, (int, float)) else None)


def split(updates: Dict[str, List[bytes]], audience: Dict[str, List[str]],
          shard_size: int, committed: Optional[float] = None) -> List[Shard]:
    """Every subscribed topic's update, for its connections in shards of at most
    `shard_size`. A shard whose body would exceed what SQS takes carries its topic's
    messages in several bodies (updates are absolute and versioned, so the parts may
    arrive in any order)."""
    shards = []
    for topic, connections in audience.items():
        messages = updates.get(topic)
        if not messages:
            continue
        for start in range(0, len(connections), shard_size):
            chunk = connections[start:start + shard_size]
            shards += [Shard(group, chunk, committed) for group in _fit(messages, chunk)]
    return shards


def _fit(messages: List[bytes], connections: List[str]) -> Iterator[List[bytes]]:
    """Groups of messages whose shard body stays under MAX_BODY_BYTES."""
    budget = MAX_BODY_BYTES - len(Shard([], connections).to_body())
    group: List[bytes] = []
    size = 0
    for message in messages:
        cost = len(Shard([message], []).to_body()) - len(Shard([], []).to_body()) + 1
        if cost > budget:
            raise ValueError("an update message does not fit a push queue message")
        if group and size + cost > budget:
            yield group
            group, size = [], 0
        group.append(message)
        size += cost
    if group:
        yield group


class PushQueue:
    """The push queue (SQS), sent to in batches. Its client is made on first use:
    only the stream handler sends, and only when one shard is not enough."""

    def __init__(self, make_client: Callable[[], object], url: str):
        self._make_client, self._url, self._client = make_client, url, None

    def send(self, shards: List[Shard]) -> None:
        """Send every shard, or raise (SQS's own errors, or RuntimeError naming the
        entries SQS refused), so Lambda delivers the stream batch again."""
        if self._client is None:
            self._client = self._make_client()
        for batch in _batches([s.to_body() for s in shards]):
            response = self._client.send_message_batch(QueueUrl=self._url, Entries=[
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)])
            if response.get("Failed"):
                raise RuntimeError(f"the push queue refused {len(response['Failed'])} of "
                                   f"{len(batch)} shards: {response['Failed'][0]}")


def _batches(bodies: List[str]) -> Iterator[List[str]]:
    batch: List[str] = []
    size = 0
    for body in bodies:
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + len(body) > MAX_BODY_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(body)
        size += len(body)
    if batch:
        yield batch
