"""The Slack app manifest a user pastes at api.slack.com/apps -> Create New App ->
From an app manifest. Slack accepts JSON as well as YAML ("App manifest reference",
docs.slack.dev/reference/app-manifest: `oauth_config.redirect_urls`,
`oauth_config.scopes.bot` and `.user`, `settings.event_subscriptions`)."""
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
# Sign in with Slack (chalicelib/signin.py): the OpenID Connect flow asks for the
# user scopes `openid` and `profile` (of openid, email, profile: no email is needed),
# and Slack sends people back only to a redirect URL the app lists ("Sign in with
# Slack", docs.slack.dev/authentication/sign-in-with-slack).
USER_SCOPES = ["openid", "profile"]
REDIRECT_PATH = "/auth/callback"
BOT_EVENTS = ["reaction_added", "reaction_removed", "emoji_changed", "user_change",
              "team_join", "channel_created", "channel_rename", "group_rename"]


def manifest(request_url: str, redirect_url: str, name: str = "Emojiboard") -> dict:
    """`request_url`: where Slack sends events (API Gateway's own URL, README);
    `redirect_url`: `{PUBLIC_URL}/auth/callback`, where Sign in with Slack returns."""
    for what, url in (("Request URL", request_url), ("redirect URL", redirect_url)):
        if not url.startswith("https://"):
            raise ValueError(f"Slack needs an https {what}; got {url!r}")
    return {
        "display_information": {
            "name": name,
            "description": "A live leaderboard of the emoji this workspace reacts with most.",
        },
        "features": {"bot_user": {"display_name": name, "always_online": False}},
        "oauth_config": {"redirect_urls": [redirect_url],
                         "scopes": {"bot": list(BOT_SCOPES), "user": list(USER_SCOPES)}},
        "settings": {
            "event_subscriptions": {"request_url": request_url,
                                    "bot_events": list(BOT_EVENTS)},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def write(path: Path, request_url: str, redirect_url: str, name: str = "Emojiboard") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest(request_url, redirect_url, name), indent=2) + "\n")
    return path
