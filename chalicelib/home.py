"""The App Home tab: the workspace's top emoji in a window, the viewer's own top given
and received emoji, and window buttons.

`app_home_opened` (an event) and a window button (POST /slack/interactions, signed as
events are, `payload` a `block_actions` JSON) each queue `{"task": "home", "user",
"window"}` on the tasks queue and answer Slack at once; `slack_tasks` reads the boards
and publishes the view (`views.publish`, docs.slack.dev/reference/methods/views.publish),
so a slow read or Slack's own latency never holds the 3-second answer. A Slack error is
logged; Slack is never answered with a 5xx for it.
"""
import json
import logging
from typing import List, Mapping, Optional, Tuple
from urllib.parse import parse_qs

from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from . import queries, slack_blocks, slack_request
from .views import View

log = logging.getLogger(__name__)
ACTION_PREFIX = "home_window_"
WINDOWS = ("24h", "7d", "30d", "all")
DEFAULT_WINDOW = "7d"
SLACK_TIMEOUT = 5
Reply = Tuple[int, dict]


def view_blocks(services, user: str, window: str) -> List[dict]:
    """The Home tab's blocks for `user` in `window`."""
    s = services.settings
    buttons = [{"type": "button", "action_id": ACTION_PREFIX + w, "value": w,
                "text": {"type": "plain_text", "text": {"24h": "24 hours", "7d": "7 days",
                                                         "30d": "30 days", "all": "All time"}[w]},
                **({"style": "primary"} if w == window else {})} for w in WINDOWS]
    everyone = View("emoji", window)
    board = queries.standings(services, everyone, 10)
    blocks = [{"type": "actions", "block_id": "windows", "elements": buttons},
              *slack_blocks.board_blocks(everyone, board.rows, board.total, s.public_url)]
    if s.people_boards:
        for kind, words in (("giver", "Your top emoji given"), ("receiver", "Your top emoji received")):
            mine = View("emoji", window, (kind, user))
            rows = queries.standings(services, mine, 5)
            blocks += [{"type": "divider"},
                       {"type": "section", "text": {"type": "mrkdwn", "text":
                           f"*{words}* · {slack_blocks.WINDOW_WORDS[window]}\n"
                           + slack_blocks.ranking(mine, rows.rows, 5)}}]
    return blocks[:slack_blocks.MAX_VIEW_BLOCKS]


def publish(services, user: str, window: str) -> bool:
    """Publish `user`'s Home tab; False (logged) when the store or Slack failed."""
    token = services.settings.slack_bot_token
    if not token:
        log.error("cannot publish the Home tab: SLACK_BOT_TOKEN is not set")
        return False
    try:
        blocks = view_blocks(services, user, window if window in WINDOWS else DEFAULT_WINDOW)
        WebClient(token=token, base_url=services.settings.slack_api_url,
                  timeout=SLACK_TIMEOUT).views_publish(
            user_id=user, view={"type": "home", "blocks": blocks})
    except SlackApiError as error:
        log.error("views.publish for %s failed: %s", user, error.response.get("error"))
        return False
    except (ClientError, BotoCoreError) as error:
        log.error("the Home tab of %s could not be read: %s", user, error)
        return False
    return True


def queue(services, user: str, window: str) -> None:
    """Publishing goes on the tasks queue; a queue that cannot be reached is logged
    (the person opens the tab again), never a 5xx to Slack."""
    if services.tasks is None:
        log.error("no tasks queue (TASKS_QUEUE_URL): the Home tab cannot be published")
        return
    try:
        services.tasks.send({"task": "home", "user": user, "window": window})
    except (ClientError, BotoCoreError) as error:
        log.error("could not queue the Home tab of %s: %s", user, error)


def interaction(body: bytes, headers: Mapping[str, str], services) -> Reply:
    """POST /slack/interactions: a window button on the Home tab. Slack wants a 200
    within 3 seconds and nothing in it for a Home tab action."""
    refused = slack_request.refused(body, headers)
    if refused:
        return refused
    try:
        payload = json.loads(parse_qs(body.decode("utf-8", "replace")).get("payload", [""])[0])
    except ValueError:
        return 400, {"error": "no payload: Slack sends interactions as payload=JSON"}
    action = _window_action(payload)
    pinned = services.settings.slack_team_id
    team = (payload.get("team") or {}).get("id") if isinstance(payload, dict) else None
    if action is None or (pinned and team != pinned):
        return 200, {}
    queue(services, *action)
    return 200, {}


def _window_action(payload) -> Optional[Tuple[str, str]]:
    """(user, window) of a Home tab window button, else None (acknowledged, ignored)."""
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return None
    user = (payload.get("user") or {}).get("id")
    for action in payload.get("actions") or []:
        value = action.get("value") if isinstance(action, dict) else None
        if str(action.get("action_id", "")).startswith(ACTION_PREFIX) and value in WINDOWS \
                and isinstance(user, str) and user.isalnum():
            return user, value
    return None
