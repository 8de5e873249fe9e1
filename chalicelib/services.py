"""The app's long-lived parts, built once per Lambda container (or local app
instance) from settings: AWS clients, the stores, and the broadcaster."""
import logging
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Optional

import boto3
from botocore.config import Config

from . import settings as settings_module
from .access import AccessStore
from .broadcast import Broadcaster
from .connections import ConnectionStore
from .counts import CountStore
from .digest import DigestLog
from .directory import Directory
from .emoji import EmojiCatalog
from .history import History
from .management import ManagementAPI
from .sessions import Keyring
from .shards import PushQueue
from .tasks import TasksQueue

log = logging.getLogger(__name__)

def _dynamodb_config(read_timeout: float) -> Config:
    """Fail fast: Slack gives up after 3 seconds, and a 5xx makes it retry later. On
    AWS a stuck store costs at most 2 attempts x (0.5 s connect + 1 s read) before
    the 503 (DYNAMODB_READ_TIMEOUT is longer only for DynamoDB Local)."""
    return Config(connect_timeout=0.5, read_timeout=read_timeout,
                  retries={"mode": "standard", "max_attempts": 2})


# The stream handler sends shards before it pushes its own: fail within seconds, and
# Lambda delivers the stream batch again.
_SQS_CONFIG = Config(connect_timeout=1, read_timeout=2,
                     retries={"mode": "standard", "max_attempts": 3})


@dataclass(frozen=True)
class Services:
    settings: settings_module.Settings
    counts: CountStore
    connections: ConnectionStore
    broadcaster: Broadcaster
    emoji: EmojiCatalog
    directory: Directory
    push_queue: Optional[PushQueue]  # None without PUSH_QUEUE_URL: one handler pushes all
    history: History
    tasks: Optional[TasksQueue]  # None without TASKS_QUEUE_URL: no joining, no imports
    access: AccessStore  # sign-ins, sessions, screen links (chalicelib/access.py)
    digests: DigestLog  # the weekly digests posted (chalicelib/digest.py)

    @cached_property
    def keyring(self) -> Keyring:
        """The session keys, read when first needed: missing or malformed ones fail
        the sign-in and the boards (naming SESSION_KEYS), never the Slack route."""
        return Keyring.parse(self.settings.session_keys)

    @property
    def workspace(self) -> str:
        """The workspace this deployment counts for: SLACK_TEAM_ID when pinned,
        otherwise `any` (every workspace that sends events, counted together)."""
        return self.settings.slack_team_id or "any"


class _NoManagementAPI:
    """Stands in for the Management API client while WEBSOCKET_API_ID is unknown: on
    the first deploy Chalice learns the WebSocket API's id only by creating it, and
    `devkit deploy` passes it in a second `chalice deploy` moments later. Meanwhile
    counting, the leaderboard and connects work; pushes fail, naming the setting
    (the Slack route logs that and still answers 200: the count is committed)."""

    class exceptions:  # what Broadcaster.send catches
        GoneException = type("GoneException", (Exception,), {})

    def __init__(self, error: settings_module.SettingsError):
        self._error = error

    def post_to_connection(self, **_):
        raise self._error


@lru_cache(maxsize=1)
def get() -> Services:
    settings = settings_module.load()
    session = boto3.session.Session()
    dynamodb = session.client("dynamodb", endpoint_url=settings.dynamodb_endpoint_url,
                              region_name=settings.region or "us-east-1",
                              config=_dynamodb_config(settings.dynamodb_read_timeout))
    try:
        # The fan-out's client: AWS's signer, credentials chain and standard retries
        # (throttling backed off), without the full client's per-call CPU (management.py).
        management = ManagementAPI(settings.management_endpoint(), settings.region or "us-east-1",
                                   pool_size=settings.fanout_workers, connect_timeout=1,
                                   read_timeout=2, max_attempts=4)
    except settings_module.SettingsError as error:
        log.error("dashboards cannot be reached yet: %s", error)
        management = _NoManagementAPI(error)
    connections = ConnectionStore(dynamodb, settings.connections_table)
    counts = CountStore(dynamodb, settings.counts_table)

    def sqs():
        return session.client("sqs", endpoint_url=settings.sqs_endpoint_url,
                              region_name=settings.region or "us-east-1", config=_SQS_CONFIG)

    return Services(
        settings=settings,
        counts=counts,
        connections=connections,
        broadcaster=Broadcaster(management, connections, settings.fanout_workers),
        emoji=EmojiCatalog(dynamodb, settings.counts_table, settings.slack_bot_token,
                           settings.slack_api_url),
        directory=Directory(dynamodb, settings.counts_table, settings.slack_bot_token,
                            settings.slack_api_url),
        push_queue=PushQueue(sqs, settings.push_queue_url) if settings.push_queue_url else None,
        history=History(dynamodb, settings.counts_table, counts, settings.slack_bot_token,
                        settings.slack_api_url, settings.excluded_channels,
                        settings.join_public_channels),
        tasks=TasksQueue(sqs, settings.tasks_queue_url) if settings.tasks_queue_url else None,
        access=AccessStore(dynamodb, settings.connections_table, settings.counts_table,
                           settings.slack_team_id or "any"),
        digests=DigestLog(dynamodb, settings.counts_table, settings.slack_team_id or "any"),
    )
