"""Sign in with Slack: OpenID Connect's authorization code flow against Slack.

docs.slack.dev/authentication/sign-in-with-slack: the browser goes to Slack's
`/openid/connect/authorize` with `scope=openid profile`, our `state` and `nonce`, and
comes back to `{PUBLIC_URL}/auth/callback` with a code; the code is exchanged with
`openid.connect.token` (slack_sdk) for an `id_token`. That token is trusted only once
its RS256 signature verifies against Slack's published keys (PyJWT's JWKS client on
`/openid/connect/keys`; Slack's discovery document names RS256 and those keys), its
issuer is https://slack.com, its audience our client id, its nonce the one this
browser's sign-in began with, and its `https://slack.com/team_id` claim this
deployment's workspace. slack_sdk's own OpenID sample decodes the token without
checking its signature; this does not.
"""
import logging
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlencode

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
ISSUER = "https://slack.com"
TEAM_CLAIM = "https://slack.com/team_id"
SCOPES = "openid profile"
CALLBACK_PATH = "/auth/callback"
SLACK_TIMEOUT = 5  # seconds: a person waits; API Gateway's own limit is 29 s


class SignInRefused(Exception):
    """The sign-in cannot be trusted or completed; `reason` is shown to the person."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Person:
    user: str
    name: str


def redirect_uri(public_url: str) -> str:
    return public_url + CALLBACK_PATH


def authorize_url(openid_url: str, client_id: str, public_url: str, team: str, state: str,
                  nonce: str) -> str:
    """Slack's authorize page for this sign-in; `team` sends the person straight to
    this deployment's workspace."""
    return openid_url + "authorize?" + urlencode({
        "response_type": "code", "scope": SCOPES, "client_id": client_id, "state": state,
        "nonce": nonce, "team": team, "redirect_uri": redirect_uri(public_url)})


@lru_cache(maxsize=4)
def _keys(jwks_url: str):
    # One per container: it caches Slack's keys and fetches them again for a new kid.
    import jwt
    return jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=SLACK_TIMEOUT)


def person_from_code(code: str, nonce: str, *, client_id: str, client_secret: str,
                     public_url: str, team: str, api_url: str, openid_url: str) -> Person:
    import jwt  # on first use, as in sessions.py
    try:
        answer = WebClient(base_url=api_url, timeout=SLACK_TIMEOUT).openid_connect_token(
            client_id=client_id, client_secret=client_secret, code=code,
            redirect_uri=redirect_uri(public_url), grant_type="authorization_code")
    except SlackApiError as error:
        raise SignInRefused("slack", f"Slack refused the sign-in code: "
                                     f"{error.response.get('error')}") from None
    token = answer.get("id_token")
    if not isinstance(token, str):
        raise SignInRefused("slack", "Slack's answer has no id_token")
    try:
        key = _keys(openid_url + "keys").get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=client_id,
                            issuer=ISSUER, options={"require": ["exp", "iat", "sub", "nonce"]})
    except jwt.PyJWTError as error:
        raise SignInRefused("token", f"the id_token from Slack is not valid: {error}") from None
    if claims["nonce"] != nonce:
        raise SignInRefused("token", "the id_token's nonce is not this sign-in's")
    if claims.get(TEAM_CLAIM) != team:
        raise SignInRefused("team", "this board belongs to another Slack workspace")
    name = claims.get("name") or claims.get("given_name") or claims["sub"]
    return Person(str(claims["sub"]), str(name))


def is_admin(user: str, token: str, api_url: str) -> bool:
    """Slack's workspace admins and owners (users.info `is_admin`, `is_owner`); a
    failed call counts as no (logged): DASHBOARD_ADMINS still applies."""
    try:
        member = WebClient(token=token, base_url=api_url, timeout=SLACK_TIMEOUT) \
            .users_info(user=user)["user"]
    except SlackApiError as error:
        log.error("users.info for %s failed: %s", user, error.response.get("error"))
        return False
    except Exception as error:  # noqa: BLE001 - the network: same answer, no
        log.error("users.info for %s failed: %s", user, error)
        return False
    return bool(member.get("is_admin") or member.get("is_owner"))
