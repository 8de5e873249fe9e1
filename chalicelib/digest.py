"""The weekly digest (opt-in: DIGEST_CHANNEL, DIGEST_TZ): every Monday from 09:00 local
time, the week's top 5, the biggest riser and the newest custom emoji, posted to that
channel with `chat.postMessage` (scope chat:write; the bot must be in the channel).

`weekly_digest` runs every hour (an EventBridge rule cannot follow a time zone's
daylight saving; an hourly check in DIGEST_TZ can). It posts between 09:00 and 12:00 on
Monday, once per ISO week: the week's item is claimed with a conditional write before
posting, so a schedule that fires twice (EventBridge delivers at least once) posts once.
A failed post frees the claim, and the next hour tries again.

  pk                   sk           attributes
  DIGEST#{workspace}   {2026-W48}   state (posting/posted), ts, claimed_at, expires_at (+60 days)
"""
import logging
from datetime import datetime
from typing import List, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from . import queries, slack_blocks, windows
from .settings import SettingsError
from .views import View

log = logging.getLogger(__name__)
POST_FROM_HOUR, POST_UNTIL_HOUR = 9, 12
KEEP_SECONDS = 60 * 24 * 3600


def due_week(now: float, tz: str) -> Optional[str]:
    """The ISO week (`2026-W48`) whose digest is due at `now` in zone `tz`, or None."""
    try:
        local = datetime.fromtimestamp(now, ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"DIGEST_TZ must be a time zone name such as Europe/Berlin; got {tz!r}") from None
    if local.weekday() != 0 or not POST_FROM_HOUR <= local.hour < POST_UNTIL_HOUR:
        return None
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def riser(services, now: float) -> Optional[dict]:
    """The emoji whose last 7 days grew most over the 7 days before (at least 3 more)."""
    days = windows.buckets("30d", now)[:14]  # newest first
    recent = services.counts.sums(services.workspace, days[:7])
    before = services.counts.sums(services.workspace, days[7:])
    gains = sorted(((n - before.get(k, 0), k) for k, n in recent.items()), key=lambda g: (-g[0], g[1]))
    if not gains or gains[0][0] < 3:
        return None
    gain, key = gains[0]
    return {"emoji": key, "count": recent[key], "before": before.get(key, 0)}


def blocks(services, now: float) -> List[dict]:
    s = services.settings
    week = View("emoji", "7d")
    board = queries.standings(services, week, 5)
    parts = [{"type": "header", "text": {"type": "plain_text", "text": "This week's emoji", "emoji": True}},
             {"type": "section", "text": {"type": "mrkdwn", "text": "*Top 5* · the last 7 days\n"
                                          + slack_blocks.ranking(week, board.rows, 5)}}]
    rose = riser(services, now)
    if rose:
        parts.append({"type": "section", "text": {"type": "mrkdwn", "text":
                      f"*Biggest riser*: :{rose['emoji']}:  {rose['before']:,} → *{rose['count']:,}*"}})
    newest = services.emoji.newest(services.workspace, since=now - 7 * 24 * 3600)
    if newest:
        parts.append({"type": "section", "text": {"type": "mrkdwn", "text":
                      f"*Newest custom emoji*: :{newest}:  `:{newest}:`"}})
    link = slack_blocks.dashboard_link(s.public_url, week)
    context = f"{board.total:,} reactions this week"
    if link:
        context += f" · <{link}|Open the dashboard>"
    parts.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return parts


def run(services, now: float) -> str:
    """One hourly tick: "off", "not due", "posted already", "posted" or "failed"."""
    s = services.settings
    if not s.digest_channel:
        return "off"
    week = due_week(now, s.digest_tz)
    if week is None:
        return "not due"
    if not services.digests.claim(week, now):
        return "posted already"
    client = WebClient(token=s.slack_bot_token, base_url=s.slack_api_url, timeout=10)
    # chat.postMessage allows about one message a second per channel: a 429 is waited
    # out once (slack_sdk's handler honours Retry-After) before the hour is given up.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    try:
        answer = client.chat_postMessage(
            channel=s.digest_channel, text="This week's emoji", blocks=blocks(services, now))
    except SlackApiError as error:
        log.error("the weekly digest was not posted: %s", error.response.get("error"))
        services.digests.release(week)
        return "failed"
    services.digests.posted(week, answer.get("ts", ""))
    log.info("weekly digest %s posted", week)
    return "posted"


class DigestLog:
    """The digests posted, one item per ISO week: the claim that makes a week's post once."""

    def __init__(self, client, table: str, workspace: str):
        self._db, self._table, self._pk = client, table, f"DIGEST#{workspace}"

    def _key(self, week: str) -> dict:
        return {"pk": {"S": self._pk}, "sk": {"S": week}}

    def claim(self, week: str, now: float) -> bool:
        try:
            self._db.put_item(TableName=self._table, ConditionExpression="attribute_not_exists(pk)",
                              Item={**self._key(week), "state": {"S": "posting"},
                                    "claimed_at": {"N": str(int(now))},
                                    "expires_at": {"N": str(int(now) + KEEP_SECONDS)}})
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, week: str) -> None:
        self._db.delete_item(TableName=self._table, Key=self._key(week))

    def posted(self, week: str, ts: str) -> None:
        self._db.update_item(
            TableName=self._table, Key=self._key(week), UpdateExpression="SET #s = :p, ts = :ts",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":p": {"S": "posted"}, ":ts": {"S": ts}})

    def week(self, week: str) -> Optional[dict]:
        item = self._db.get_item(TableName=self._table, Key=self._key(week),
                                 ConsistentRead=True).get("Item")
        return {k: list(v.values())[0] for k, v in item.items()} if item else None
