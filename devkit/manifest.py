"""The Slack app manifest a user pastes at api.slack.com/apps -> Create New App ->
From an app manifest (or, for an app made from an earlier one, at its App Manifest
page). Slack accepts JSON as well as YAML ("App manifest reference",
docs.slack.dev/reference/app-manifest: `oauth_config.redirect_urls`,
`oauth_config.scopes.bot` and `.user`, `settings.event_subscriptions`,
`settings.interactivity`, `features.app_home`, `features.slash_commands`).

`changes(old, new)`: what a deploy tells the user to change in Slack, from the manifest
the previous deploy wrote to the one this deploy writes."""
import json
from pathlib import Path
from typing import Dict, List, Optional

# reactions:read for the reaction events and reactions.get (the full reaction list of
# an imported message); emoji:read for emoji.list; users:read for users.list and user
# events; channels/groups/im/mpim:read for conversations.info and conversations.list on
# public and private channels, DMs and group DMs, and the channel events.
# channels:join for conversations.join (joining public channels, chalicelib/coverage.py);
# channels:history and groups:history for conversations.history and
# conversations.replies in the public and private channels the bot is in (importing
# history, chalicelib/history.py: it reads channels only, no DMs, so no im/mpim:history).
# commands for the slash command (a command of the app's needs it: "Implementing slash
# commands", docs.slack.dev/interactivity/implementing-slash-commands); chat:write for
# chat.postMessage (the weekly digest; "chat:write scope", docs.slack.dev/reference/
# scopes/chat.write: only in channels the bot is in, no chat:write.public).
# The Home tab needs none: views.publish requires no scope (it answers `not_enabled`
# while the Home tab is off), and the app_home_opened event none either.
BOT_SCOPES = ["reactions:read", "emoji:read", "users:read", "channels:read", "groups:read",
              "im:read", "mpim:read", "channels:join", "channels:history", "groups:history",
              "commands", "chat:write"]
# Sign in with Slack (chalicelib/signin.py): the OpenID Connect flow asks for the
# user scopes `openid` and `profile` (of openid, email, profile: no email is needed),
# and Slack sends people back only to a redirect URL the app lists ("Sign in with
# Slack", docs.slack.dev/authentication/sign-in-with-slack).
USER_SCOPES = ["openid", "profile"]
REDIRECT_PATH = "/auth/callback"
BOT_EVENTS = ["reaction_added", "reaction_removed", "emoji_changed", "user_change",
              "team_join", "channel_created", "channel_rename", "group_rename",
              "app_home_opened"]
# The app's Slack routes on the REST API (app.py): events, the slash command, and the
# Home tab's button presses (interactivity).
EVENTS_PATH, COMMANDS_PATH, INTERACTIONS_PATH = "/slack/events", "/slack/commands", "/slack/interactions"
COMMAND = "/emojiboard"
# `should_escape` ("Whether or not channels, users, and links typed with the slash
# command should be escaped", the manifest reference; the "Escape channels, users, and
# links sent to your app" box of the command's settings): on, so a channel or a person
# picked from Slack's autocomplete reaches the app as its id, `<#C0123ABCD|general>`
# and `<@U0123ABCD|ana>` (the `|name` part may be empty or absent), not as a name
# that can be renamed or be ambiguous.
SLASH_COMMAND = {
    "command": COMMAND,
    "description": "Show the top emoji, or a channel's or a person's",
    "usage_hint": "[24h|7d|30d|all] [#channel | @person | given | received]",
    "should_escape": True,
}


def slack_urls(rest_api_url: str) -> Dict[str, str]:
    """The Request URLs of events, the slash command and interactivity, on the REST API
    (`https://{id}.execute-api.{region}.amazonaws.com/api/`, Chalice's record)."""
    base = rest_api_url.rstrip("/")
    return {"request_url": base + EVENTS_PATH, "commands_url": base + COMMANDS_PATH,
            "interactions_url": base + INTERACTIONS_PATH}


def manifest(request_url: str, redirect_url: str, commands_url: str, interactions_url: str,
             name: str = "Emojiboard") -> dict:
    """`request_url`: where Slack sends events (API Gateway's own URL, README);
    `redirect_url`: `{PUBLIC_URL}/auth/callback`, where Sign in with Slack returns;
    `commands_url` and `interactions_url`: the slash command's and the Home tab's
    buttons' Request URLs, beside `request_url` (`slack_urls`)."""
    for what, url in (("Request URL", request_url), ("redirect URL", redirect_url),
                      ("slash command URL", commands_url),
                      ("interactivity Request URL", interactions_url)):
        if not url.startswith("https://"):
            raise ValueError(f"Slack needs an https {what}; got {url!r}")
    return {
        "display_information": {
            "name": name,
            "description": "A live leaderboard of the emoji this workspace reacts with most.",
        },
        "features": {
            # The Home tab shows the boards (views.publish on app_home_opened); nobody
            # writes to the app, so no Messages tab.
            "app_home": {"home_tab_enabled": True, "messages_tab_enabled": False},
            "bot_user": {"display_name": name, "always_online": False},
            "slash_commands": [dict(SLASH_COMMAND, url=commands_url)],
        },
        "oauth_config": {"redirect_urls": [redirect_url],
                         "scopes": {"bot": list(BOT_SCOPES), "user": list(USER_SCOPES)}},
        "settings": {
            "event_subscriptions": {"request_url": request_url,
                                    "bot_events": list(BOT_EVENTS)},
            "interactivity": {"is_enabled": True, "request_url": interactions_url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def write(path: Path, document: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def read(path: Path) -> Optional[dict]:
    """The manifest an earlier deploy wrote there; None when there is none (or it is
    not a manifest: then every setting is reported as for a first deploy)."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


FIRST_STEPS = [
    "create the app from the manifest: https://api.slack.com/apps -> Create New App -> "
    "From an app manifest (an app made from an earlier manifest: paste it at its App "
    "Manifest page), then Install App",
    "store its signing secret, bot token, client id and secret and the workspace id "
    "(README, Deploying to AWS, step 4) and deploy again",
    "then Event Subscriptions -> Retry next to the Request URL, until it says Verified",
]


def _get(document: dict, *keys, default=None):
    for key in keys:
        if not isinstance(document, dict) or key not in document:
            return default
        document = document[key]
    return document


def _added(old: list, new: list) -> list:
    return [item for item in new if item not in old]


def _list_changes(before: list, after: list, added: str, removed: str) -> List[str]:
    """A line for what `after` adds to `before` and one for what it drops ({}: which)."""
    return ([added.format(", ".join(_added(before, after)))] if _added(before, after) else []) \
        + ([removed.format(", ".join(_added(after, before)))] if _added(after, before) else [])


def changes(old: Optional[dict], new: dict) -> List[str]:
    """What to change in the Slack app for `new`, the manifest this deploy wrote, when
    the app was set up from `old`, the previous deploy's; FIRST_STEPS when there was
    none; [] when nothing changed. Plain lines, the Slack page of each named."""
    if old is None:
        return list(FIRST_STEPS)
    lines = []
    for kind, where in (("bot", "Bot Token Scopes"), ("user", "User Token Scopes")):
        before = _get(old, "oauth_config", "scopes", kind, default=[])
        after = _get(new, "oauth_config", "scopes", kind, default=[])
        if _added(before, after):
            lines.append(f"new {kind} scopes {', '.join(_added(before, after))} (OAuth & "
                         f"Permissions -> {where}): reinstall the app to grant them "
                         "(Install App -> Reinstall to Workspace)")
        if _added(after, before):
            lines.append(f"{kind} scopes no longer needed: {', '.join(_added(after, before))} "
                         f"(OAuth & Permissions -> {where}: remove them, then reinstall)")
    lines += _list_changes(
        _get(old, "settings", "event_subscriptions", "bot_events", default=[]),
        _get(new, "settings", "event_subscriptions", "bot_events", default=[]),
        "subscribe to the bot events {} (Event Subscriptions -> Subscribe to bot events)",
        "bot events no longer needed: {} (Event Subscriptions: remove them)")
    url = _get(new, "settings", "event_subscriptions", "request_url")
    if url != _get(old, "settings", "event_subscriptions", "request_url"):
        lines.append(f"the events Request URL is now {url} (Event Subscriptions; Slack "
                     "verifies it)")
    commands_before = {c.get("command"): c for c in _get(old, "features", "slash_commands",
                                                        default=[])}
    for command in _get(new, "features", "slash_commands", default=[]):
        earlier = commands_before.pop(command["command"], None)
        if earlier is None:
            lines.append(f"new slash command {command['command']}, Request URL "
                         f"{command['url']}, usage hint \"{command.get('usage_hint', '')}\", "
                         "\"Escape channels, users, and links\" "
                         + ("on" if command.get("should_escape") else "off")
                         + " (Slash Commands -> Create New Command)")
        elif earlier.get("url") != command["url"]:
            lines.append(f"slash command {command['command']}: its Request URL is now "
                         f"{command['url']} (Slash Commands)")
        elif earlier != command:
            lines.append(f"slash command {command['command']}: its settings changed "
                         "(Slash Commands; or paste the manifest)")
    for command in commands_before:
        lines.append(f"slash command {command} is no longer used (Slash Commands: delete it)")
    for key, label in (("home_tab_enabled", "the Home tab"),
                       ("messages_tab_enabled", "the Messages tab")):
        after = _get(new, "features", "app_home", key, default=False)
        if after != _get(old, "features", "app_home", key, default=False):
            lines.append(f"turn {'on' if after else 'off'} {label} (App Home -> Show Tabs)")
    enabled = _get(new, "settings", "interactivity", "is_enabled", default=False)
    url = _get(new, "settings", "interactivity", "request_url")
    if enabled and not _get(old, "settings", "interactivity", "is_enabled", default=False):
        lines.append(f"turn on Interactivity with the Request URL {url} "
                     "(Interactivity & Shortcuts)")
    elif enabled and url != _get(old, "settings", "interactivity", "request_url"):
        lines.append(f"the interactivity Request URL is now {url} (Interactivity & Shortcuts)")
    elif not enabled and _get(old, "settings", "interactivity", "is_enabled", default=False):
        lines.append("turn off Interactivity (Interactivity & Shortcuts)")
    lines += _list_changes(
        _get(old, "oauth_config", "redirect_urls", default=[]),
        _get(new, "oauth_config", "redirect_urls", default=[]),
        "add the redirect URL {} (OAuth & Permissions -> Redirect URLs)",
        "redirect URLs no longer used: {} (OAuth & Permissions -> Redirect URLs)")
    if not lines and old != new:
        lines.append("other settings changed (the name, a description...): paste the "
                     "manifest at the app's App Manifest page")
    return lines
