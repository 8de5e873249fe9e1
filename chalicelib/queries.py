"""Leaderboard queries, shared by the HTTP API and WebSocket snapshots: validation,
and the one read both serve, so their rows and totals never differ."""
import re
from typing import Any, List, Tuple

from .emoji import safe_decorate
from .windows import WINDOWS

DEFAULT_WINDOW = "all"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class BadQuery(ValueError):
    pass


def leaderboard_query(window: Any, limit: Any) -> Tuple[str, int]:
    window = DEFAULT_WINDOW if window is None else window
    if not isinstance(window, str) or window not in WINDOWS:  # a list is not hashable
        shown = window[:20] if isinstance(window, str) else type(window).__name__
        raise BadQuery(f"window must be one of {', '.join(WINDOWS)}; got {shown!r}")
    if limit is None:
        return window, DEFAULT_LIMIT
    # ASCII digits only: str.isdigit() also passes "²" and "①" (which int() refuses)
    # and int() takes fullwidth "５"; three digits are enough for any valid limit.
    if isinstance(limit, str) and re.fullmatch(r"[0-9]{1,3}", limit):
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        shown = limit if not isinstance(limit, str) or len(limit) <= 20 else limit[:20] + "…"
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}; got {shown!r}")
    return window, limit


def standings(services, window: str, limit: int) -> Tuple[List[dict], int]:
    """The window's rows, each with how its emoji looks, and its total. Store errors
    (botocore's) propagate: the caller says the store is unavailable."""
    board = services.counts.leaderboard(services.workspace, window, limit)
    return safe_decorate(services.emoji, services.workspace, board.rows, sync=True), board.total
