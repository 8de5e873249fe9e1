"""Joining public channels. Slack sends a bot the reactions of the conversations it
is a member of, so the app joins every public channel (after install, and each new
one as `channel_created` announces it), except EXCLUDED_CHANNELS; private channels
only by invitation, as Slack allows nothing else. JOIN_PUBLIC_CHANNELS=off turns it off.

Joining is idempotent (`conversations.join` on a channel the bot is in answers ok
with the warning `already_in_channel`) and runs on the tasks queue (tasks.py), never
on the Slack route: `conversations.join` is Tier 3 and `conversations.list` Tier 2,
and a 429 there means waiting (slack_calls.py).
"""
import logging
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from . import slack_calls

log = logging.getLogger(__name__)

LIST_PAGE = 200  # Slack's advice for conversations.list pages (at most 1,000)
# conversations.join's documented errors for a channel that cannot be joined: it
# went, was archived, or is not a public channel.
CANNOT_JOIN = ("channel_not_found", "is_archived", "method_not_supported_for_channel_type")


def is_public(channel: dict) -> bool:
    return (channel.get("is_channel") is True and channel.get("is_private") is not True
            and channel.get("is_archived") is not True and not channel.get("is_im")
            and not channel.get("is_mpim"))


def should_join(channel: dict, excluded: FrozenSet[str]) -> bool:
    return is_public(channel) and channel.get("is_member") is not True \
        and channel.get("id") not in excluded


def list_page(web: WebClient, cursor: str, types: str, deadline: float):
    """One page of conversations.list: (channels, the next page's cursor or "")."""
    response = slack_calls.call(web, "conversations.list", deadline, types=types,
                                exclude_archived="true", limit=LIST_PAGE,
                                **({"cursor": cursor} if cursor else {}))
    channels = [c for c in response.get("channels") or [] if isinstance(c, dict)
                and isinstance(c.get("id"), str)]
    return channels, (response.get("response_metadata") or {}).get("next_cursor") or ""


def join(web: WebClient, channel: str, deadline: float) -> bool:
    """Join one public channel; False when it cannot be joined (gone, archived, not
    public), which is no failure."""
    try:
        slack_calls.call(web, "conversations.join", deadline, expected=CANNOT_JOIN,
                         channel=channel)
    except SlackApiError as error:
        log.info("channel %s not joined: %s", channel, error.response.get("error"))
        return False
    return True


@dataclass(frozen=True)
class SweepPosition:
    """Where a sweep over conversations.list stands: the page and how far into it."""
    cursor: str = ""
    index: int = 0


def sweep(web: WebClient, excluded: FrozenSet[str], deadline: float,
          at: SweepPosition = SweepPosition()) -> Optional[Tuple[SweepPosition, float]]:
    """Join every public channel the bot is not in yet, from `at`. None once done;
    else where to go on and after how many seconds (the deadline came, or Slack asked
    to wait longer than it leaves)."""
    cursor, index = at.cursor, at.index
    try:
        while True:
            channels, following = list_page(web, cursor, "public_channel", deadline)
            for index in range(index, len(channels)):
                if slack_calls.time_left(deadline) <= 0:
                    return SweepPosition(cursor, index), 0
                if should_join(channels[index], excluded):
                    join(web, channels[index]["id"], deadline)
            if not following:
                return None
            cursor, index = following, 0
    except slack_calls.Throttled as throttled:
        return SweepPosition(cursor, index), throttled.retry_after

