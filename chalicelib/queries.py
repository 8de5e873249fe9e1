"""Validation of leaderboard queries, shared by the HTTP API and WebSocket snapshots."""
from typing import Any, Tuple

from .windows import WINDOWS

DEFAULT_WINDOW = "all"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class BadQuery(ValueError):
    pass


def leaderboard_query(window: Any, limit: Any) -> Tuple[str, int]:
    window = DEFAULT_WINDOW if window is None else window
    if window not in WINDOWS:
        raise BadQuery(f"window must be one of {', '.join(WINDOWS)}; got {window!r}")
    if limit is None:
        return window, DEFAULT_LIMIT
    if isinstance(limit, str) and limit.isdigit():
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}; got {limit!r}")
    return window, limit
