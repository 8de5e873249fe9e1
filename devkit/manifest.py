"""The Slack app manifest a user pastes at api.slack.com/apps -> Create New App ->
From an app manifest. Slack accepts JSON as well as YAML."""
import json
from pathlib import Path

# reactions:read for the reaction events and reactions.get (the full reaction list of
# an imported message); emoji:read for emoji.list; users:read for users.list and user
# events; channels/groups/im/mpim:read for conversations.info and conversations.list on
# public and private channels, DMs and group DMs, and the channel events.
# channels:join for conversations.join (joining public channels, chalicelib/coverage.py);
# channels:history and groups:history for conversations.history and
# conversations.replies in the public and private channels the bot is in (importing
# history, chalicelib/history.py: it reads channels only, no DMs, so no im/mpim:history).
BOT_SCOPES = ["reactions:read", "emoji:read", "users:read", "channels:read", "groups:read",
              "im:read", "mpim:read", "channels:join", "channels:history", "groups:history"]
BOT_EVENTS = ["reaction_added", "reaction_removed", "emoji_changed", "user_change",
              "team_join", "channel_created", "channel_rename", "group_rename"]


def manifest(request_url: str, name: str = "Emojiboard") -> dict:
    if not request_url.startswith("https://"):
        raise ValueError(f"Slack needs an https Request URL; got {request_url!r}")
    return {
        "display_information": {
            "name": name,
            "description": "A live leaderboard of the emoji this workspace reacts with most.",
        },
        "features": {"bot_user": {"display_name": name, "always_online": False}},
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": {"request_url": request_url,
                                    "bot_events": list(BOT_EVENTS)},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def write(path: Path, request_url: str, name: str = "Emojiboard") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest(request_url, name), indent=2) + "\n")
    return path
