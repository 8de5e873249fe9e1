"""Push messages to dashboards through the API Gateway Management API.

Chalice configures its own management client only inside WebSocket handlers, but
the fan-out's handlers push too, so the app has this one sender, built from settings,
for all. Sends run in parallel on a bounded pool; each connection gets its messages
in order. A connection that answers GoneException is deleted (that connection: never
the sender). Throttling (LimitExceededException) is retried with backoff by the
client (botocore's standard retry mode, which lists it as a throttling error); any
other error is logged and fails that connection alone.
"""
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import List

from botocore.exceptions import BotoCoreError, ClientError

from .connections import ConnectionStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FanoutReport:
    sent: int
    gone: int
    failed: int

    def __add__(self, other: "FanoutReport") -> "FanoutReport":
        return FanoutReport(self.sent + other.sent, self.gone + other.gone,
                            self.failed + other.failed)


class Broadcaster:
    def __init__(self, client, connections: ConnectionStore, workers: int):
        self._client = client
        self._connections = connections
        # One pool for the container's life: Lambda reuses it across invocations.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout")

    def send(self, connection_id: str, messages: List[bytes]) -> str:
        """Deliver `messages` in order: "sent", "gone" (and forgotten) or "failed"."""
        try:
            for message in messages:
                self._client.post_to_connection(ConnectionId=connection_id, Data=message)
            return "sent"
        except self._client.exceptions.GoneException:
            self._forget(connection_id)
            return "gone"
        except (ClientError, BotoCoreError) as error:
            log.warning("push to %s failed: %s", connection_id, error)
            return "failed"

    def broadcast(self, messages: List[bytes], connection_ids: List[str]) -> FanoutReport:
        """Send to every dashboard listed; return once every send has finished (each
        is bounded by the client's timeouts and retries)."""
        if not messages or not connection_ids:
            return FanoutReport(0, 0, 0)
        results = list(self._pool.map(lambda cid: self.send(cid, messages), connection_ids))
        report = FanoutReport(results.count("sent"), results.count("gone"), results.count("failed"))
        if report.gone or report.failed:
            log.info("fan-out: %s", report)
        return report

    def _forget(self, connection_id: str) -> None:
        try:
            self._connections.remove(connection_id)
        except (ClientError, BotoCoreError) as error:
            # TTL removes it later; failing the broadcast would help nobody.
            log.warning("could not remove gone connection %s: %s", connection_id, error)
