"""Who a request comes from: session cookies, signed and checked against their record.

A session is a person signed in with Slack, or an office screen let in by a screen
link. Its cookie holds a short JWT (PyJWT, HS256) naming the session's record; the
signature turns away forgeries without a read, and the record (deleted by sign-out or
a revoked link) ends a session at once, on every container.

Keys (SESSION_KEYS): `kid:secret` pairs, newest first, made by the deploy and kept in
SSM. The newest signs; every listed key verifies, so a rotation keeps the sessions
signed before it until they expire (devkit `session-keys rotate`).

Cookies use the `__Host-` prefix: the browser keeps them only when set with `Secure`,
`Path=/` and no `Domain` (RFC 6265bis, "Cookie Name Prefixes"), so no other host and no
plain-HTTP page can plant or read one.
"""
import base64
import binascii
import secrets
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Dict, List, Mapping, Optional, Tuple

from .settings import SettingsError

SESSION_COOKIE = "__Host-emojiboard"
LOGIN_COOKIE = "__Host-emojiboard-login"
PERSON_SECONDS = 7 * 24 * 3600  # a person signs in again after a week
SCREEN_SECONDS = 30 * 24 * 3600  # renewed on every page load of the screen
ALGORITHM = "HS256"


class Invalid(Exception):
    """A session token that is forged, expired, malformed or for another workspace."""


@dataclass(frozen=True)
class Claims:
    kind: str  # "person" or "screen"
    sid: str   # the session's record: a person's session id, or the screen link's id
    user: str  # who signed in; for a screen, who made the link
    name: str
    team: str
    expires_at: int


class Keyring:
    def __init__(self, keys: List[Tuple[str, bytes]]):
        if not keys:
            raise SettingsError("SESSION_KEYS holds no key")
        self._keys = keys
        self._by_kid = dict(keys)

    @classmethod
    def parse(cls, raw: Optional[str]) -> "Keyring":
        if not raw:
            raise SettingsError("environment variable SESSION_KEYS is not set "
                                "(make deploy creates it in SSM; devkit serve makes one)")
        keys = []
        for pair in raw.split(","):
            kid, _, secret = pair.strip().partition(":")
            try:
                key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
            except (binascii.Error, ValueError):
                key = b""
            if not kid or len(key) < 32:
                raise SettingsError("SESSION_KEYS must be kid:secret pairs, each secret "
                                    "32 or more random bytes in base64url")
            keys.append((kid, key))
        return cls(keys)

    def sign(self, claims: Claims) -> str:
        import jwt  # on first use: PyJWT and cryptography add 40 ms to every cold start
        kid, key = self._keys[0]
        return jwt.encode({"kind": claims.kind, "sid": claims.sid, "sub": claims.user,
                           "name": claims.name, "team": claims.team,
                           "exp": claims.expires_at}, key, algorithm=ALGORITHM,
                          headers={"kid": kid})

    def verify(self, token: str, team: str, now: float) -> Claims:
        import jwt
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._by_kid.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise Invalid("signed by no key of this deployment")
            # exp is checked below against the caller's clock (PyJWT's is time.time()).
            body = jwt.decode(token, key, algorithms=[ALGORITHM],
                              options={"require": ["exp", "sid", "sub", "kind", "team"],
                                       "verify_exp": False})
        except jwt.PyJWTError as error:
            raise Invalid(str(error)) from None
        if not isinstance(body["exp"], int) or body["exp"] <= now:
            raise Invalid("expired")
        if body["team"] != team:
            raise Invalid("a session of another workspace")
        if body["kind"] not in ("person", "screen") or not all(
                isinstance(body.get(k), str) for k in ("sid", "sub")):
            raise Invalid("not a session")
        return Claims(body["kind"], body["sid"], body["sub"], str(body.get("name", "")),
                      body["team"], int(body["exp"]))


def new_key() -> str:
    """One `kid:secret` entry for SESSION_KEYS: 8 hex digits, 32 random bytes."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{secrets.token_hex(4)}:{secret}"


def cookies(headers: Mapping[str, str]) -> Dict[str, str]:
    """The request's cookies (a header the browser sent badly yields none)."""
    raw = "; ".join(v for k, v in headers.items() if k.lower() == "cookie")
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def set_cookie(name: str, value: str, max_age: int) -> str:
    """A Set-Cookie value: first-party, never read by scripts, sent on top-level
    navigations from Slack back to us (Lax) but not on other sites' requests."""
    return f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"


def clear_cookie(name: str) -> str:
    return set_cookie(name, "", 0)
