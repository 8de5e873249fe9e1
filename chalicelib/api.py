"""GET /api/leaderboard: the same rows a WebSocket snapshot carries."""
import logging
from typing import Mapping, Optional, Tuple

from botocore.exceptions import BotoCoreError, ClientError

from .queries import BadQuery, leaderboard_query, standings
from .services import Services

log = logging.getLogger(__name__)


def leaderboard(params: Optional[Mapping[str, str]], services: Services) -> Tuple[int, dict]:
    params = params or {}
    try:
        window, limit = leaderboard_query(params.get("window"), params.get("limit"))
    except BadQuery as error:
        return 400, {"error": str(error)}
    try:
        rows, total = standings(services, window, limit)
    except (ClientError, BotoCoreError) as error:
        log.error("leaderboard read failed: %s", error)
        return 503, {"error": "the counter store is unavailable; try again"}
    return 200, {"window": window, "total": total, "leaderboard": rows}
