"""POST /slack/commands: `/emojiboard [24h|7d|30d|all] [#channel | @person | given | received]`.

Slack posts the command form-encoded, signed as events are (the same check and 5-minute
replay window), and shows the answer if it comes within 3 seconds
("Implementing slash commands", docs.slack.dev/interactivity/implementing-slash-commands).
The answer is ephemeral (only the person who asked sees it): the top 10 of the board
asked, its total, and a link to the same view on the dashboard. Anything the command
cannot read gets a short usage reply, never an error: a 200, so Slack shows it.

The manifest sets `should_escape: true`, so Slack sends mentions as `<#C123|general>`
and `<@U123|ada>` (devkit/manifest.py); plain ids (`C123`, `U123`) are taken too.
"""
import logging
import re
from typing import Dict, Mapping, Optional, Tuple
from urllib.parse import parse_qs

from botocore.exceptions import BotoCoreError, ClientError

from . import logs, queries, slack_blocks, slack_request
from .services import Services
from .views import BadQuery

log = logging.getLogger(__name__)
USAGE = ("Usage: `/emojiboard [24h|7d|30d|all] [#channel | @person | given | received]`, "
         "for example `/emojiboard 7d`, `/emojiboard 30d #general`, `/emojiboard @ada`, "
         "`/emojiboard all given`.")
WINDOWS = ("24h", "7d", "30d", "all")
DEFAULT_WINDOW = "7d"  # "what's our top emoji this week?"
_CHANNEL = re.compile(r"^<#([A-Z0-9][A-Z0-9._-]*)(?:\|[^>]*)?>$|^#?([CG][A-Z0-9]{2,})$")
_PERSON = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")
Reply = Tuple[int, dict]


def parse(text: str) -> Optional[Dict[str, str]]:
    """The command's words as leaderboard parameters, or None if they are not the
    command's grammar."""
    params = {"window": DEFAULT_WINDOW}
    seen_window = seen_what = False
    for word in text.split():
        lowered = word.lower()
        if lowered in WINDOWS and not seen_window:
            params["window"], seen_window = lowered, True
            continue
        if seen_what:
            return None
        seen_what = True
        channel, person = _CHANNEL.match(word), _PERSON.match(word)
        if lowered in ("given", "received"):
            params["board"] = "givers" if lowered == "given" else "receivers"
        elif channel:
            params["channel"] = channel.group(1) or channel.group(2)
        elif person:
            params["giver"] = person.group(1) or person.group(2)
        else:
            return None
    return params


def handle(body: bytes, headers: Mapping[str, str], services: Services) -> Reply:
    refused = slack_request.refused(body, headers)
    if refused:
        return refused
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    pinned = services.settings.slack_team_id
    if pinned and form.get("team_id") != pinned:
        return 200, _ephemeral("This Emojiboard counts another workspace's reactions.")
    params = parse(form.get("text", ""))
    if params is None:
        return 200, _ephemeral(USAGE)
    try:
        view, _ = queries.request({**params, "limit": "10"}, services)
        board = queries.standings(services, view, 10)
    except BadQuery as error:
        return 200, _ephemeral(_refusal(str(error)))
    except (ClientError, BotoCoreError) as error:
        logs.store_error(log, "slash command read failed: %s", error)
        return 200, _ephemeral("The counter store is unavailable right now; try again in a moment.")
    blocks = slack_blocks.board_blocks(view, board.rows, board.total, services.settings.public_url)
    return 200, {"response_type": "ephemeral", "text": slack_blocks.title(view), "blocks": blocks}


def _refusal(reason: str) -> str:
    """What the store refused, in the command's words; a private channel is never named."""
    if "private" in reason:
        return "That channel is private: its reactions count only in the workspace's totals."
    if "people boards" in reason:
        return "People boards are turned off in this workspace."
    return USAGE


def _ephemeral(text: str) -> dict:
    return {"response_type": "ephemeral", "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
