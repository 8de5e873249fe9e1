"""GET /api/leaderboard (the same rows a WebSocket snapshot carries),
GET /api/trend and GET /api/history."""
import logging
import time
from typing import Mapping, Optional, Tuple

from botocore.exceptions import BotoCoreError, ClientError

from . import logs, queries, trends
from .services import Services
from .views import BadQuery

log = logging.getLogger(__name__)
UNAVAILABLE = 503, {"error": "the counter store is unavailable; try again"}


def leaderboard(params: Optional[Mapping[str, str]], services: Services) -> Tuple[int, dict]:
    try:
        view, limit = queries.request(params or {}, services)
        board = queries.standings(services, view, limit)
    except BadQuery as error:
        return 400, {"error": str(error)}
    except (ClientError, BotoCoreError) as error:
        logs.store_error(log, "leaderboard read failed: %s", error)
        return UNAVAILABLE
    return 200, {**view.head(), "total": board.total, "size": board.size,
                 "leaderboard": board.rows}


def trend(params: Optional[Mapping[str, str]], services: Services) -> Tuple[int, dict]:
    try:
        window, emoji = trends.trend_query(params or {})
        return 200, trends.trend(services, window, emoji, time.time())
    except BadQuery as error:
        return 400, {"error": str(error)}
    except (ClientError, BotoCoreError) as error:
        logs.store_error(log, "trend read failed: %s", error)
        return UNAVAILABLE


def history(params: Optional[Mapping[str, str]], services: Services) -> Tuple[int, dict]:
    """Where the history import stands (chalicelib/history.py)."""
    if params:
        return 400, {"error": f"/api/history takes no parameters (got {', '.join(sorted(params))})"}
    try:
        return 200, services.history.status(services.workspace).to_dict()
    except (ClientError, BotoCoreError) as error:
        logs.store_error(log, "history status read failed: %s", error)
        return UNAVAILABLE
