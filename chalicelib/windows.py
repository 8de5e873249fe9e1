"""Leaderboard windows and the time buckets that make them up.

Rolling windows are sums of UTC time buckets: `24h` is the current hour plus the
23 before it, `7d` and `30d` the current day plus the 6 / 29 before it. A window's
edge therefore moves in whole hours (24h) or whole days (7d, 30d). Monthly buckets
(the workspace's emoji only) draw the 12-month trend.
"""
from datetime import datetime, timedelta, timezone
from typing import Dict, List

ALL_TIME = "ALL"
WINDOWS = ("all", "24h", "7d", "30d")
HOUR = 3600
DAY = 24 * HOUR
# Buckets outlive their longest window by a margin; DynamoDB TTL then removes them.
HOUR_BUCKET_TTL = 2 * DAY
DAY_BUCKET_TTL = 32 * DAY
MONTH_BUCKET_TTL = 13 * 31 * DAY  # 13 months: a year of full months and the current one
_SPANS = {"24h": ("H", 24), "7d": ("D", 7), "30d": ("D", 30), "12m": ("M", 12)}
_FORMATS = {"H": "H#%Y-%m-%dT%H", "D": "D#%Y-%m-%d", "M": "M#%Y-%m"}
TREND_WINDOWS = ("24h", "30d", "12m")


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(int(t), tz=timezone.utc)


def hour_bucket(t: float) -> str:
    return "H#" + _utc(t).strftime("%Y-%m-%dT%H")


def day_bucket(t: float) -> str:
    return "D#" + _utc(t).strftime("%Y-%m-%d")


def month_bucket(t: float) -> str:
    return "M#" + _utc(t).strftime("%Y-%m")


def bucket_expiry(bucket: str, t: float) -> int:
    if bucket.startswith("M#"):  # from the month's start, whichever event wrote last
        return int(_utc(t).replace(day=1, hour=0, minute=0, second=0).timestamp()) + MONTH_BUCKET_TTL
    start = int(t) - int(t) % (HOUR if bucket.startswith("H#") else DAY)
    return start + (HOUR_BUCKET_TTL if bucket.startswith("H#") else DAY_BUCKET_TTL)


def _months_back(t: datetime, i: int) -> datetime:
    month = t.year * 12 + t.month - 1 - i
    return t.replace(year=month // 12, month=month % 12 + 1, day=1)


def buckets(window: str, now: float) -> List[str]:
    """The buckets whose sum is `window` at time `now`, newest first."""
    if window == "all":
        return [ALL_TIME]
    kind, count = _SPANS[window]
    start = _utc(now)
    if kind == "M":
        return [_months_back(start, i).strftime(_FORMATS["M"]) for i in range(count)]
    step = timedelta(hours=1) if kind == "H" else timedelta(days=1)
    return [(start - i * step).strftime(_FORMATS[kind]) for i in range(count)]


def bucket_start(bucket: str) -> str:
    """A bucket's first instant, ISO 8601 in UTC: `2026-10-25T00:00:00Z`."""
    kind, _, rest = bucket.partition("#")
    parsed = datetime.strptime(bucket, _FORMATS[kind]).replace(tzinfo=timezone.utc)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def buckets_for_event(t: float, now: float, months: bool = False) -> List[str]:
    """The buckets a reaction at time `t` counts in: all-time, plus its hour and
    day bucket (and, with `months`, its month) while they still belong to some
    window at `now`."""
    touched = [ALL_TIME]
    if hour_bucket(t) in buckets("24h", now):
        touched.append(hour_bucket(t))
    if day_bucket(t) in buckets("30d", now):
        touched.append(day_bucket(t))
    if months and month_bucket(t) in buckets("12m", now):
        touched.append(month_bucket(t))
    return touched


def windows_touched(touched: List[str], now: float) -> Dict[str, List[str]]:
    """Each window whose total changes when `touched` buckets change, with all of
    that window's buckets (what must be read to know its new total)."""
    result = {}
    for window in WINDOWS:  # not 12m: it is a trend, never a board
        members = buckets(window, now)
        if any(b in members for b in touched):
            result[window] = members
    return result


def every_window(now: float) -> List[str]:
    """Buckets that touch every window at `now`: to push an emoji's counts in all of
    them when which buckets changed is not known (a redelivered event)."""
    return [ALL_TIME, hour_bucket(now), day_bucket(now)]
