"""Boards as Slack's Block Kit, for the slash command, the Home tab and the digest.

Slack draws the emoji itself: a row is `:name:` in mrkdwn, custom emoji too. People and
channels are Slack's own mentions (`<@U…>`, `<#C…>`), which Slack shows by name to
whoever may see them, so no name of ours is ever put in the text. Block Kit's limits
("Blocks", docs.slack.dev/reference/block-kit/blocks): 50 blocks in a message, 100 in a
Home view, 3,000 characters in a section's text, 150 in a header, 10 items in a context,
75 characters in a button's text.
"""
from typing import Dict, List, Optional
from urllib.parse import urlencode

from .views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
WINDOW_WORDS = {"24h": "the last 24 hours", "7d": "the last 7 days", "30d": "the last 30 days",
                "all": "all time"}
BOARD_TITLES = {"emoji": "Top emoji", "givers": "Top givers", "receivers": "Top receivers",
                "channels": "Top channels"}


def row_text(view: View, row: dict) -> str:
    """One row's mention: the emoji, the person or the channel."""
    if view.row_key == "emoji":
        return f":{row['emoji']}:"
    if view.row_key == "user":
        return f"<@{row['user']}>"
    return f"<#{row['channel']}>"


def title(view: View) -> str:
    """"Top emoji · the last 7 days" (the filter is said in the text: a header is plain)."""
    return _cut(f"{BOARD_TITLES[view.board]} · {WINDOW_WORDS[view.window]}", MAX_HEADER_TEXT)


def narrowed_words(view: View) -> str:
    if not view.narrowed:
        return ""
    kind, ident = view.narrowed
    return {"channel": f" in <#{ident}>", "giver": f" given by <@{ident}>",
            "receiver": f" received by <@{ident}>"}[kind]


def ranking(view: View, rows: List[dict], limit: int = 10) -> str:
    """Numbered rows with their counts, as mrkdwn; under a section's 3,000 characters."""
    lines = [f"{i}. {row_text(view, row)}  *{row['count']:,}*" for i, row in enumerate(rows[:limit], 1)]
    return _cut("\n".join(lines), MAX_SECTION_TEXT) if lines else "_No reactions in this window yet._"


def dashboard_link(public_url: Optional[str], view: View) -> Optional[str]:
    """The dashboard showing the same view (its URL's own parameters: views.js)."""
    if not public_url:
        return None
    params: Dict[str, str] = {}
    if view.board in ("givers", "receivers"):
        params.update(view="people", side="given" if view.board == "givers" else "received")
    elif view.board == "channels":
        params["view"] = "channels"
    else:
        params["view"] = "emoji"
    params["window"] = view.window
    if view.narrowed:
        params[view.narrowed[0]] = view.narrowed[1]
    return f"{public_url}/?{urlencode(params)}"


def board_blocks(view: View, rows: List[dict], total: int, public_url: Optional[str],
                 limit: int = 10) -> List[dict]:
    """A header, the ranking, and a context line with the total and the dashboard."""
    unit = "reaction" if total == 1 else "reactions"
    context = f"{total:,} {unit}{narrowed_words(view)} in {WINDOW_WORDS[view.window]}"
    link = dashboard_link(public_url, view)
    if link:
        context += f" · <{link}|Open on the dashboard>"
    return [
        {"type": "header", "text": {"type": "plain_text", "text": title(view), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": ranking(view, rows, limit)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(context, MAX_SECTION_TEXT)}]},
    ]


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"
