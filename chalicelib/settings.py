"""Every setting the app reads, from environment variables, in one place.

On AWS the values come from `.chalice/config.json` (stage environment variables);
locally `devkit serve` sets them. Only endpoints differ between the two.
"""
import os
from dataclasses import dataclass
from typing import FrozenSet, Mapping, Optional


SLACK_API_URL = "https://slack.com/api/"


class SettingsError(RuntimeError):
    """A required environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    counts_table: str
    connections_table: str
    # Local stand-ins: DynamoDB Local / moto, and the devkit gateway.
    dynamodb_endpoint_url: Optional[str]
    dynamodb_read_timeout: float  # seconds; 1 on AWS (Slack waits 3 s), more locally
    websocket_endpoint_url: Optional[str]
    # On AWS the management API endpoint is derived from these.
    websocket_api_id: Optional[str]
    websocket_stage: Optional[str]
    region: Optional[str]
    # Events from any other workspace are acknowledged and ignored.
    slack_team_id: Optional[str]
    # For the workspace's custom emoji (scope emoji:read); without it, custom emoji
    # are learned only from emoji_changed events.
    slack_bot_token: Optional[str]
    slack_api_url: str
    # The fan-out (chalicelib/fanout.py): shards of at most this many dashboards go
    # to the push queue, each pushed on a pool of this many threads.
    push_queue_url: Optional[str]
    sqs_endpoint_url: Optional[str]  # a local SQS (the devkit's moto server)
    fanout_shard_size: int
    fanout_workers: int
    # Analytics: the givers and receivers boards and person filters (off: nowhere),
    # and conversations whose reactions count nowhere.
    people_boards: bool
    excluded_channels: FrozenSet[str]
    # Day one (coverage.py, history.py): join every public channel; the tasks queue
    # (SQS) that joining and history imports run on.
    join_public_channels: bool
    tasks_queue_url: Optional[str]

    def management_endpoint(self) -> str:
        """The API Gateway Management API endpoint that reaches our dashboards."""
        if self.websocket_endpoint_url:
            return self.websocket_endpoint_url.rstrip("/")
        missing = [name for name, value in (
            ("WEBSOCKET_API_ID", self.websocket_api_id),
            ("WEBSOCKET_STAGE", self.websocket_stage),
            ("AWS_REGION", self.region),
        ) if not value]
        if missing:
            raise SettingsError(
                "cannot reach the WebSocket API: set WEBSOCKET_ENDPOINT_URL, or all of "
                + ", ".join(missing))
        return (f"https://{self.websocket_api_id}.execute-api.{self.region}"
                f".amazonaws.com/{self.websocket_stage}")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is not set")
    return value


def _number(env: Mapping[str, str], name: str, default, kind):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"environment variable {name} must be positive, got {raw!r}")
    return value


def switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"environment variable {name} must be on or off, got {raw!r}")


def load(env: Mapping[str, str] = os.environ) -> Settings:
    return Settings(
        counts_table=_required(env, "COUNTS_TABLE"),
        connections_table=_required(env, "CONNECTIONS_TABLE"),
        dynamodb_endpoint_url=env.get("DYNAMODB_ENDPOINT_URL") or None,
        dynamodb_read_timeout=_number(env, "DYNAMODB_READ_TIMEOUT", 1.0, float),
        websocket_endpoint_url=env.get("WEBSOCKET_ENDPOINT_URL") or None,
        websocket_api_id=env.get("WEBSOCKET_API_ID") or None,
        websocket_stage=env.get("WEBSOCKET_STAGE") or None,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        slack_team_id=env.get("SLACK_TEAM_ID") or None,
        slack_bot_token=env.get("SLACK_BOT_TOKEN", "").strip() or None,
        slack_api_url=env.get("SLACK_API_URL") or SLACK_API_URL,
        push_queue_url=env.get("PUSH_QUEUE_URL", "").strip() or None,
        sqs_endpoint_url=env.get("SQS_ENDPOINT_URL") or None,
        fanout_shard_size=_number(env, "FANOUT_SHARD_SIZE", 500, int),
        fanout_workers=_number(env, "FANOUT_WORKERS", 16, int),
        people_boards=switch(env, "PEOPLE_BOARDS", True),
        excluded_channels=frozenset(c.strip() for c in env.get("EXCLUDED_CHANNELS", "").split(",")
                                    if c.strip()),
        join_public_channels=switch(env, "JOIN_PUBLIC_CHANNELS", True),
        tasks_queue_url=env.get("TASKS_QUEUE_URL", "").strip() or None,
    )


def signing_secret(env: Mapping[str, str] = os.environ) -> str:
    """Read apart from `load` so a missing secret fails only the Slack route."""
    return _required(env, "SLACK_SIGNING_SECRET")


def event_source(name: str, env: Mapping[str, str] = os.environ) -> Optional[str]:
    """An ARN app.py registers a handler on at import (COUNTS_STREAM_ARN: the counts
    table's stream, which feeds the fan-out; PUSH_QUEUE_ARN: the push queue, which
    feeds the pushers; TASKS_QUEUE_ARN: the tasks queue). `devkit deploy|package|serve`
    set them; None when unset."""
    return env.get(name, "").strip() or None
