"""Board reads, shared by the HTTP API, WebSocket snapshots and the fan-out's updates,
so their rows and totals never differ: request validation, a view's standings, and
rows dressed with what the page draws (emoji looks, people's names and faces,
channel names)."""
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from .emoji import safe_decorate
from .views import BadQuery, View, parse_view

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

__all__ = ["BadQuery", "Board", "request", "standings", "dress", "public_channels"]


@dataclass(frozen=True)
class Board:
    rows: List[dict]
    total: int  # over the whole board, not only the rows
    size: int   # how many rows the whole board has


def parse_limit(limit: Any) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    # ASCII digits only: str.isdigit() also passes "²" and "①" (which int() refuses)
    # and int() takes fullwidth "５"; three digits are enough for any valid limit.
    if isinstance(limit, str) and re.fullmatch(r"[0-9]{1,3}", limit):
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        shown = limit if not isinstance(limit, str) or len(limit) <= 20 else limit[:20] + "…"
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}; got {shown!r}")
    return limit


def request(params: Mapping[str, Any], services) -> Tuple[View, int]:
    """The view and limit a request asks for, or a BadQuery. A private conversation
    is refused as a filter: its emoji would say what is said there."""
    view = parse_view(params, services.settings.people_boards)
    limit = parse_limit(params.get("limit"))
    if view.narrowed and view.narrowed[0] == "channel":
        channel = view.narrowed[1]
        if channel not in public_channels(services, [channel]):
            raise BadQuery(f"channel {channel} is private; its reactions count only "
                           "in the workspace's totals")
    return view, limit


def public_channels(services, ids: List[str]) -> Set[str]:
    """Of `ids`, the conversations that may be named: not private channels, DMs or
    group DMs."""
    found = services.directory.channels(services.workspace, ids)
    return {c for c in ids if not found[c]["private"]}


def standings(services, view: View, limit: int) -> Board:
    """The view's rows (dressed) and totals. Store errors (botocore's) propagate:
    the caller says the store is unavailable."""
    ws = services.workspace
    if view.board == "unused":
        return _unused(services, view, limit)
    if view.board in ("givers", "receivers", "channels"):
        services.directory.refresh_if_stale(ws)
    keep: Optional[Callable[[List[str]], Set[str]]] = None
    if view.board == "channels":
        keep = lambda keys: public_channels(services, keys)  # noqa: E731
    board = services.counts.leaderboard(ws, view.window, limit, scope=view.scope, keep=keep)
    rows = [{view.row_key: r["key"], "count": r["count"], "version": r["version"]}
            for r in board.rows]
    return Board(dress(services, view, rows, sync=True), board.total, board.size)


def dress(services, view: View, rows: List[dict], sync: bool = False) -> List[dict]:
    """Rows keyed by `view.row_key` with what the page draws of each key."""
    ws = services.workspace
    if view.board in ("emoji", "unused"):
        return safe_decorate(services.emoji, ws, rows, sync=sync)
    if view.board == "channels":
        names = services.directory.channels(ws, [r["channel"] for r in rows])
        return [{**r, "name": names[r["channel"]]["name"], "private": False} for r in rows]
    people = services.directory.people(ws, [r["user"] for r in rows])
    return [{**r, **people[r["user"]]} for r in rows]


def _unused(services, view: View, limit: int) -> Board:
    """The workspace's custom emoji with no reaction in the window, by name: what a
    team can prune. Aliases are left out (they are names, not images to keep)."""
    ws = services.workspace
    custom: Dict[str, str] = services.emoji.custom(ws, sync=True)
    used = {r["key"] for r in services.counts.leaderboard(ws, view.window, None).rows}
    versions = services.counts.versions(ws)
    unused = sorted(name for name, value in custom.items()
                    if name not in used and not value.startswith("alias:"))
    rows = [{"emoji": name, "count": 0, "version": versions.get(name, 0)}
            for name in unused[:limit]]
    return Board(safe_decorate(services.emoji, ws, rows), len(unused), len(unused))
