"""GET /api/trend: the workspace's reactions over time, for one emoji or all of them.

One point per hour (24h), day (30d) or month (12m), oldest first, zeros included;
the same buckets the windows sum, so the 24h and 30d points add up to those
windows' counts (reactions added in the bucket that still exist)."""
from typing import Any, Mapping, Optional

from . import windows
from .names import canonical, name_ok
from .views import BadQuery


def trend_query(params: Mapping[str, Any]):
    window = params.get("window") or "30d"
    if not isinstance(window, str) or window not in windows.TREND_WINDOWS:
        raise BadQuery(f"window must be one of {', '.join(windows.TREND_WINDOWS)}; "
                       f"got {str(window)[:20]!r}")
    emoji: Optional[str] = params.get("emoji")
    if emoji is not None:
        if not isinstance(emoji, str) or not name_ok(emoji):
            raise BadQuery("emoji must be an emoji name such as tada (lower case, "
                           "no colons)")
        emoji = canonical(emoji)  # thumbsup is counted as +1
    return window, emoji


def trend(services, window: str, emoji: Optional[str], now: float) -> dict:
    buckets = list(reversed(windows.buckets(window, now)))  # oldest first
    counts = services.counts.bucket_counts(services.workspace, buckets, emoji)
    points = [{"start": windows.bucket_start(b), "count": max(0, counts[b])} for b in buckets]
    return {"window": window, "emoji": emoji, "total": sum(p["count"] for p in points),
            "points": points}
