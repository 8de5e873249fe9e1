"""Every setting the app reads, from environment variables, in one place.

On AWS the values come from `.chalice/config.json` (stage environment variables);
locally `devkit serve` sets them. Only endpoints differ between the two.
"""
import os
from dataclasses import dataclass
from typing import FrozenSet, Mapping, Optional, Tuple


SLACK_API_URL = "https://slack.com/api/"
# Sign in with Slack: the authorize page and the keys that sign id_tokens live here
# (docs.slack.dev/authentication/sign-in-with-slack); the token exchange is a Web API
# method (openid.connect.token) at SLACK_API_URL.
SLACK_OPENID_URL = "https://slack.com/openid/connect/"
ACCESS_MODES = ("slack", "public")


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
    # Who may see the boards (chalicelib/access.py): `slack`, members of this workspace
    # signed in with Slack and screen links (the default); `public`, anyone with the URL.
    access: str
    public_url: Optional[str]  # the one origin the page is served on, e.g. https://d1.cloudfront.net
    slack_client_id: Optional[str]
    slack_client_secret: Optional[str]
    slack_openid_url: str
    session_keys: Optional[str]  # "kid:secret,..." newest first (chalicelib/sessions.py)
    dashboard_admins: FrozenSet[str]  # may manage screen links, besides Slack's admins
    # The weekly digest (chalicelib/digest.py): posted to this channel id, on Mondays at
    # 09:00 in this time zone; no channel, no digest.
    digest_channel: Optional[str]
    digest_tz: str

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


def _ids(env: Mapping[str, str], name: str) -> FrozenSet[str]:
    return frozenset(c.strip() for c in env.get(name, "").split(",") if c.strip())


def _access(env: Mapping[str, str]) -> str:
    raw = env.get("ACCESS", "").strip().lower() or "slack"
    if raw not in ACCESS_MODES:
        raise SettingsError(f"environment variable ACCESS must be slack or public, got {raw!r}")
    return raw


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
        excluded_channels=_ids(env, "EXCLUDED_CHANNELS"),
        join_public_channels=switch(env, "JOIN_PUBLIC_CHANNELS", True),
        tasks_queue_url=env.get("TASKS_QUEUE_URL", "").strip() or None,
        access=_access(env),
        public_url=env.get("PUBLIC_URL", "").strip().rstrip("/") or None,
        slack_client_id=env.get("SLACK_CLIENT_ID", "").strip() or None,
        slack_client_secret=env.get("SLACK_CLIENT_SECRET", "").strip() or None,
        slack_openid_url=env.get("SLACK_OPENID_URL") or SLACK_OPENID_URL,
        session_keys=env.get("SESSION_KEYS", "").strip() or None,
        dashboard_admins=_ids(env, "DASHBOARD_ADMINS"),
        digest_channel=env.get("DIGEST_CHANNEL", "").strip() or None,
        digest_tz=env.get("DIGEST_TZ", "").strip() or "UTC",
    )


def sign_in(settings: Settings) -> Tuple[str, str, str, str]:
    """(client id, client secret, public URL, workspace) for Sign in with Slack; read
    apart so a missing one fails the sign-in alone, naming what to set."""
    missing = [name for name, value in (
        ("SLACK_CLIENT_ID", settings.slack_client_id),
        ("SLACK_CLIENT_SECRET", settings.slack_client_secret),
        ("PUBLIC_URL", settings.public_url),
        ("SLACK_TEAM_ID", settings.slack_team_id)) if not value]
    if missing:
        raise SettingsError("ACCESS=slack needs " + ", ".join(missing) + " (README, Deploying)")
    return (settings.slack_client_id, settings.slack_client_secret, settings.public_url,
            settings.slack_team_id)


def signing_secret(env: Mapping[str, str] = os.environ) -> str:
    """Read apart from `load` so a missing secret fails only the Slack route."""
    return _required(env, "SLACK_SIGNING_SECRET")


def event_source(name: str, env: Mapping[str, str] = os.environ) -> Optional[str]:
    """An ARN app.py registers a handler on at import (COUNTS_STREAM_ARN: the counts
    table's stream, which feeds the fan-out; PUSH_QUEUE_ARN: the push queue, which
    feeds the pushers; TASKS_QUEUE_ARN: the tasks queue). `devkit deploy|package|serve`
    set them; None when unset."""
    return env.get(name, "").strip() or None
