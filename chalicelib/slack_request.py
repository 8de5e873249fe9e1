"""What every request from Slack passes first (events, slash commands, interactions):
a size limit and Slack's signature ("Verifying requests from Slack",
docs.slack.dev/authentication/verifying-requests-from-slack)."""
from typing import Mapping, Optional, Tuple

from slack_sdk.signature import SignatureVerifier

from . import settings

MAX_BODY_BYTES = 64 * 1024  # reaction events are ~1 KB; anything this big is not Slack's


def verified(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Slack's v0 HMAC signature, with slack_sdk's 5-minute replay window."""
    try:
        return SignatureVerifier(secret).is_valid_request(body, headers)
    except (ValueError, UnicodeDecodeError):  # a timestamp that is not a number
        return False


def refused(body: bytes, headers: Mapping[str, str]) -> Optional[Tuple[int, dict]]:
    """413 or 401 for a request that is not Slack's, else None."""
    if len(body) > MAX_BODY_BYTES:
        return 413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}
    if not verified(body, headers, settings.signing_secret()):
        return 401, {"error": "invalid or missing Slack signature"}
    return None
