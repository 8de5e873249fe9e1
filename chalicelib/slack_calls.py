"""Calling Slack's Web API from long-running work (joining channels, importing
history) within a Lambda invocation's time, obeying Slack's rate limits.

Slack limits each method per app per workspace (Tier 2: 20+ a minute, Tier 3: 50+;
docs.slack.dev/apis/web-api/rate-limits) and answers a call over the limit with
HTTP 429 and `Retry-After` (seconds). slack_sdk's RateLimitErrorRetryHandler sleeps
that long whatever the time left; here a wait that would outlast the invocation
raises Throttled instead, and the caller continues later (an SQS delay).
"""
import time
from typing import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

TIMEOUT = 10  # seconds per call: these are not on a path anyone waits for
# Errors that no retry mends: the token or the app's scopes must change first.
FATAL = {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
         "token_expired", "no_permission", "missing_scope", "not_allowed_token_type",
         "ekm_access_denied", "team_access_not_granted"}


class Throttled(Exception):
    """Slack asked us to wait longer than this invocation has left."""

    def __init__(self, method: str, retry_after: float):
        super().__init__(f"{method} is rate limited for {retry_after:.0f} s")
        self.retry_after = retry_after


class SlackRefused(Exception):
    """Slack will not do this for this app until someone changes its token or scopes."""


class SlackUnavailable(Exception):
    """A failure worth retrying later: a 5xx, a network error, a garbled answer."""


def client(token: str, base_url: str) -> WebClient:
    # slack_sdk's default retry handler retries a connection error once.
    return WebClient(token=token, base_url=base_url, timeout=TIMEOUT)


def call(web: WebClient, method: str, deadline: float, expected: Iterable[str] = (),
         clock: Callable[[], float] = time.time, **args) -> SlackResponse:
    """`method` with `args`; waits out 429s while `deadline` allows. The `expected`
    errors (e.g. `not_in_channel`, which the caller knows what to do about) come back
    as the SlackApiError; the fatal ones as SlackRefused; any other as
    SlackUnavailable, to be tried again later."""
    while True:
        try:
            return web.api_call(method, http_verb="POST", data=args)
        except SlackApiError as error:
            status = error.response.status_code
            code = error.response.get("error") if isinstance(error.response.data, dict) else None
            if status == 429:
                wait = _retry_after(error.response.headers)
                if clock() + wait > deadline:
                    raise Throttled(method, wait) from None
                time.sleep(wait)
                continue
            if code in FATAL:
                needed = error.response.get("needed")
                raise SlackRefused(f"{method}: {code}" + (f" (needs {needed})" if needed else "")) \
                    from None
            if code in expected and status < 500:
                raise
            raise SlackUnavailable(f"{method}: HTTP {status} {str(code)[:200]}") from None
        except (SlackClientError, OSError, ValueError) as error:
            raise SlackUnavailable(f"{method}: {error!r}") from None


def time_left(deadline: float, clock: Callable[[], float] = time.time) -> float:
    return deadline - clock()


def _retry_after(headers) -> float:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(1.0, float(value))
            except ValueError:
                break
    return 60.0  # Slack always sends it; a minute is its window if it did not
