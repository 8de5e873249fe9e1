"""The Slack stand-in's OpenID Connect provider: "Sign in with Slack" on a laptop.

It plays Slack's side of the flow (api.slack.com/authentication/sign-in-with-slack) for
the workspace the stand-in serves (devkit/slack_api.py), so an app's sign-in runs
unchanged with only its Slack URLs pointed at the gateway:

- `GET /slack-openid/connect/authorize?response_type=code&scope=openid%20profile&
  client_id=…&state=…&nonce=…&redirect_uri=…` (Slack's https://slack.com/openid/connect/
  authorize) answers a page, "Sign in to <team name>", listing the workspace's people
  (no bots, no deleted users, no Slackbot) as `<button name="user" value="U…">Real
  Name</button>` in a plain `<form method="post">` that carries the request's
  parameters as hidden fields, plus someone from another workspace (OUTSIDER, whose
  id_token names team OUTSIDER_TEAM: an app pinned to one workspace must refuse it)
  and Cancel. Posting a person redirects to `redirect_uri?code=…&state=…`; Cancel to
  `redirect_uri?error=access_denied&state=…`, as OAuth does. A request Slack would
  refuse (another response_type, no `openid` scope, an unknown client, no or a bad
  redirect_uri) gets an error page (400), never a redirect.
- `openid.connect.token` (a Web API method, `/slack-api/openid.connect.token`;
  docs.slack.dev/reference/methods/openid.connect.token): the code, the client's id and
  secret (form fields, or HTTP Basic as slack_sdk sends them) and the authorize
  request's redirect_uri -> `{"ok": true, "access_token": "xoxp-…", "token_type":
  "Bearer", "id_token": "<JWT>"}`; else Slack's errors (`invalid_client_id`,
  `bad_client_secret`, `invalid_code`, `bad_redirect_uri`, `invalid_grant_type`,
  `invalid_refresh_token`). A code works once, for CODE_SECONDS.
- `openid.connect.userInfo` (docs.slack.dev/reference/methods/openid.connect.userInfo):
  the user token as Bearer -> the person's claims as they are now.
- `GET /slack-openid/connect/keys` (Slack's https://slack.com/openid/connect/keys): the
  JWKS of the RS256 key it signs id_tokens with, made when first needed; and
  `GET /slack-openid/.well-known/openid-configuration`, Slack's discovery document
  (https://slack.com/.well-known/openid-configuration) with these local URLs.

It knows one app: LOCAL_CLIENT_ID / LOCAL_CLIENT_SECRET (public, like the local signing
secret: they protect nothing). Tests change `client_id`, `client_secret`,
`redirect_urls` (None: any http(s) URL, else the prefixes allowed, as an app's
registered Redirect URLs), `code_seconds` and `clock` (wall-clock seconds: it stamps
the tokens), read `codes` and `tokens`, sign any claims with `sign()` (forged or expired
tokens) and `rotate_key()`. `reset()` (the stand-in's) forgets every code and token.
"""
import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Optional, Tuple
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

if TYPE_CHECKING:  # slack_api imports this module
    from .slack_api import SlackWebAPI

LOCAL_CLIENT_ID = "local.emojiboard"
LOCAL_CLIENT_SECRET = "local-emojiboard-client-secret"

PREFIX = "/slack-openid/"
AUTHORIZE_PATH = PREFIX + "connect/authorize"
KEYS_PATH = PREFIX + "connect/keys"
DISCOVERY_PATH = PREFIX + ".well-known/openid-configuration"
ICON_PATH = PREFIX + "icons/"  # the team's and the outsider's pictures: their initials
TOKEN_METHOD = "openid.connect.token"
USERINFO_METHOD = "openid.connect.userInfo"

ISSUER = "https://slack.com"  # the id_token's `iss`, as Slack's (and its discovery document's)
SCOPES = ("openid", "email", "profile")  # all Sign in with Slack asks for
# How long a code may be exchanged: OAuth's "maximum authorization code lifetime of 10
# minutes is RECOMMENDED" (RFC 6749, 4.1.2); Slack's docs give no figure of their own.
CODE_SECONDS = 600
# exp - iat of the id_token in Slack's example (openid.connect.token's docs: 1626874955 -
# 1626874655).
ID_TOKEN_SECONDS = 300
# Slack's rate limits: openid.connect.token Tier 4 (100+ a minute), .userInfo Tier 3
# (50+). Left unlimited here, as emoji.list is: a test suite signs in faster than any
# team would. A test may set them in the stand-in's `limits`.
RATE_LIMITS = {TOKEN_METHOD: 100, USERINFO_METHOD: 50}

# Someone from another workspace, on every sign-in page: what an app pinned to one
# workspace has to refuse.
OUTSIDER_TEAM = {"id": "T0OUTSIDER", "name": "Another Workspace", "domain": "another-workspace"}
OUTSIDER = "U0OUTSIDER"
OUTSIDER_NAME = "Olive Outsider"
OUTSIDER_LABEL = "Someone from another workspace"
SLACKBOT = "USLACKBOT"

USER_IMAGE_SIZES = (24, 32, 48, 72, 192, 512)
TEAM_IMAGE_SIZES = (34, 44, 68, 88, 102, 132, 230)

# The sign-in page: plain HTML, one form, no script. Its only style is this tag, allowed
# by its hash in the page's own Content-Security-Policy.
STYLE = ("body{font:16px/1.4 system-ui,sans-serif;margin:0;background:#f4ede4;color:#1d1c1d}"
         "main{max-width:26rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px}"
         "h1{font-size:1.5rem;margin:0 0 .5rem}"
         "button{display:block;width:100%;margin:.5rem 0;padding:.6rem;font:inherit;"
         "border:1px solid #bbb;border-radius:4px;background:#fff;cursor:pointer}"
         "button:hover{background:#f8f8f8}"
         "button[name=cancel]{border:0;color:#616061}")
CSP = ("default-src 'none'; style-src 'sha256-"
       + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
       + "'; frame-ancestors 'none'; base-uri 'none'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
                "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass
class Grant:
    """A sign-in: a code until exchanged, then the user token issued for it."""
    code: str
    client_id: str
    redirect_uri: str
    user: str
    team: str
    scopes: FrozenSet[str]
    nonce: Optional[str]
    auth_time: int  # when the person chose who they are (the id_token's auth_time)
    issued: float   # the clock when the code was made
    used: bool = False
    access_token: Optional[str] = None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def at_hash(access_token: str) -> str:
    """OpenID Connect Core 3.1.3.6: the left half of the access token's SHA-256 for RS256,
    base64url without padding."""
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def scopes_of(scope: Optional[str]) -> List[str]:
    """The scopes asked: space-separated as OpenID Connect has them, or comma-separated
    as slack_sdk's OpenIDConnectAuthorizeUrlGenerator writes them."""
    return [s for s in (scope or "").replace(",", " ").split() if s]


def _initials_svg(name: str, seed: str) -> str:
    initials = "".join(word[0] for word in name.split()[:2]).upper() or "?"
    hue = sum(map(ord, seed)) * 47 % 360
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 72 72">'
            f'<rect width="72" height="72" rx="12" fill="hsl({hue},55%,45%)"/>'
            '<text x="36" y="46" font-family="sans-serif" font-size="28" font-weight="bold" '
            f'fill="#fff" text-anchor="middle">{html.escape(initials)}</text></svg>')


def _real_name(user: dict) -> str:
    return (user.get("real_name") or (user.get("profile") or {}).get("real_name")
            or user.get("name") or user["id"])


class SlackOpenID:
    def __init__(self, api: "SlackWebAPI"):
        self.api = api
        self.clock: Callable[[], float] = time.time
        self._lock = threading.Lock()  # tests sign from their own thread
        self._keys: List[Tuple[Any, dict]] = []  # (private key, its JWK), the signing one first
        self.methods: Dict[str, Callable[[Dict[str, str], Optional[str]], web.Response]] = {
            TOKEN_METHOD: self.token, USERINFO_METHOD: self.user_info}
        self.reset()

    def reset(self) -> None:
        """The one local app, no codes, no tokens. The signing key stays."""
        self.client_id = LOCAL_CLIENT_ID
        self.client_secret = LOCAL_CLIENT_SECRET
        self.redirect_urls: Optional[List[str]] = None
        self.code_seconds = CODE_SECONDS
        self.codes: Dict[str, Grant] = {}
        self.tokens: Dict[str, Grant] = {}  # user token -> its sign-in

    # ---- URLs -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.api.base_url or ""

    @property
    def authorize_endpoint(self) -> str:
        return self.base_url + AUTHORIZE_PATH

    @property
    def openid_keys_url(self) -> str:
        return self.base_url + KEYS_PATH

    @property
    def discovery_url(self) -> str:
        return self.base_url + DISCOVERY_PATH

    def authorize_url(self, redirect_uri: str, state: Optional[str] = None,
                      nonce: Optional[str] = None, scope: str = "openid profile",
                      client_id: Optional[str] = None, **extra: str) -> str:
        """The URL an app sends a browser to, as it would build Slack's."""
        params = {"response_type": "code", "scope": scope,
                  "client_id": self.client_id if client_id is None else client_id,
                  "state": state, "nonce": nonce, "redirect_uri": redirect_uri, **extra}
        return self.authorize_endpoint + "?" + urlencode(
            {k: v for k, v in params.items() if v is not None}, quote_via=quote)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(AUTHORIZE_PATH, self.authorize_page)
        app.router.add_post(AUTHORIZE_PATH, self.authorize_choice)
        app.router.add_get(KEYS_PATH, self.jwks)
        app.router.add_get(DISCOVERY_PATH, self.discovery)
        app.router.add_get(ICON_PATH + "{file}", self.icon)

    # ---- keys -----------------------------------------------------------------

    @staticmethod
    def _new_key() -> Tuple[Any, dict]:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
        # kid: the key's RFC 7638 thumbprint (Slack's kids look like one).
        thumbprint = json.dumps({"e": public["e"], "kty": "RSA", "n": public["n"]},
                                separators=(",", ":"), sort_keys=True)
        kid = _b64url(hashlib.sha256(thumbprint.encode()).digest())
        return private, {"e": public["e"], "n": public["n"], "kty": "RSA", "kid": kid,
                         "alg": "RS256", "use": "sig"}

    def _signing(self) -> Tuple[Any, dict]:
        with self._lock:
            if not self._keys:
                self._keys.append(self._new_key())
            return self._keys[0]

    @property
    def kid(self) -> str:
        return self._signing()[1]["kid"]

    @property
    def keys(self) -> List[dict]:
        """The JWKS's keys: the signing key first."""
        self._signing()
        with self._lock:
            return [dict(jwk) for _, jwk in self._keys]

    def rotate_key(self, keep_old: bool = False) -> str:
        """Sign with a new key from now on; the JWKS lists the old one too only with
        `keep_old`. Its kid."""
        key = self._new_key()
        with self._lock:
            self._keys = [key] + (self._keys if keep_old else [])
        return key[1]["kid"]

    def sign(self, claims: Dict[str, Any], headers: Optional[Dict[str, Any]] = None) -> str:
        """Any claims as an RS256 JWT by the current key, its kid in the header."""
        private, jwk = self._signing()
        return jwt.encode(claims, private, algorithm="RS256",
                          headers={"kid": jwk["kid"], **(headers or {})})

    # ---- people -----------------------------------------------------------------

    def members(self) -> List[dict]:
        """Who may sign in: the workspace's people, not bots (nor app users), not
        deleted users, not Slackbot."""
        return [u for u in self.api.users.values()
                if not u.get("is_bot") and not u.get("is_app_user") and not u.get("deleted")
                and u["id"] != SLACKBOT]

    def outsider(self) -> dict:
        return {"id": OUTSIDER, "team_id": OUTSIDER_TEAM["id"], "name": "olive",
                "real_name": OUTSIDER_NAME, "deleted": False, "is_bot": False,
                "is_email_confirmed": True, "updated": 1700000000,
                "profile": {"real_name": OUTSIDER_NAME, "first_name": "Olive",
                            "last_name": "Outsider"}}

    def _person(self, user: str, team: str) -> Optional[Tuple[dict, dict]]:
        """The user and team a sign-in names, as they are now; None once gone."""
        if team == OUTSIDER_TEAM["id"]:
            return self.outsider(), OUTSIDER_TEAM
        found = self.api.users.get(user)
        if found is None or found.get("deleted") or team != self.api.team.get("id"):
            return None
        return found, self.api.team

    def identity(self, user: dict, team: dict, scopes: FrozenSet[str]) -> Dict[str, Any]:
        """The claims about a person, as the id_token and openid.connect.userInfo carry
        them (docs.slack.dev/reference/methods/openid.connect.userInfo's example): the
        ids always (openid), email with `email`, names and pictures with `profile`."""
        ident, profile = user["id"], user.get("profile") or {}
        claims: Dict[str, Any] = {"sub": ident, "https://slack.com/user_id": ident,
                                  "https://slack.com/team_id": team["id"]}
        if "email" in scopes:
            handle, domain = user.get("name") or ident.lower(), team.get("domain") or team["id"].lower()
            claims.update({
                "email": profile.get("email") or f"{handle}@{domain}.example.com",
                "email_verified": bool(user.get("is_email_confirmed", True)),
                "date_email_verified": int(user.get("updated") or 1700000000)})
        if "profile" in scopes:
            icon = f"{self.base_url}{ICON_PATH}{team['id']}.svg"
            if team["id"] == OUTSIDER_TEAM["id"]:
                avatar = f"{self.base_url}{ICON_PATH}{ident}.svg"
            else:
                avatar = self.api.avatar_url(ident)
            images = {size: profile.get(f"image_{size}") or avatar for size in USER_IMAGE_SIZES}
            team_icon = team.get("icon") or {}
            claims.update({
                "name": _real_name(user),
                "picture": images[512],
                "given_name": profile.get("first_name", ""),
                "family_name": profile.get("last_name", ""),
                "locale": user.get("locale") or "en-US",
                "https://slack.com/team_name": team.get("name", ""),
                "https://slack.com/team_domain": team.get("domain", ""),
                **{f"https://slack.com/user_image_{size}": url for size, url in images.items()},
                **({"https://slack.com/user_image_1024": profile["image_1024"]}
                   if profile.get("image_1024") else {}),
                **{f"https://slack.com/team_image_{size}": team_icon.get(f"image_{size}") or icon
                   for size in TEAM_IMAGE_SIZES},
                "https://slack.com/team_image_default": not team_icon})
        return claims

    def id_token(self, grant: Grant, access_token: str) -> str:
        user, team = self._person(grant.user, grant.team) or (None, None)
        if user is None:
            raise LookupError(f"{grant.user} is no longer in {grant.team}")
        now = int(self.clock())
        claims: Dict[str, Any] = {"iss": ISSUER, "sub": grant.user, "aud": grant.client_id,
                                  "exp": now + ID_TOKEN_SECONDS, "iat": now,
                                  "auth_time": grant.auth_time}
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims["at_hash"] = at_hash(access_token)
        claims.update(self.identity(user, team, grant.scopes))
        return self.sign(claims)

    # ---- the authorize page -----------------------------------------------------------

    def _ensure_served(self, request: web.Request) -> None:
        """As the Web API methods do: the gateway's own origin, once known."""
        if self.api.base_url is None:
            self.api.base_url = f"{request.scheme}://{request.host}"
            if not self.api._served:
                self.api.reset()

    def _problem(self, params: Dict[str, str]) -> Optional[Tuple[str, str]]:
        """What Slack would refuse in an authorize request: (error, why), or None."""
        if not params.get("client_id"):
            return "invalid_client_id", "The request names no app (client_id)."
        if params["client_id"] != self.client_id:
            return "invalid_client_id", f"No app has the client_id {params['client_id']!r}."
        redirect = params.get("redirect_uri")
        if not redirect:
            return "bad_redirect_uri", "The request has no redirect_uri."
        parts = urlsplit(redirect)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            return "bad_redirect_uri", f"{redirect!r} is no http(s) URL without a fragment."
        if self.redirect_urls is not None and not any(
                redirect.startswith(allowed) for allowed in self.redirect_urls):
            return "bad_redirect_uri", f"{redirect!r} is not one of this app's Redirect URLs."
        if params.get("response_type") != "code":
            return ("unsupported_response_type",
                    f"response_type must be code, not {params.get('response_type')!r}.")
        scopes = scopes_of(params.get("scope"))
        if "openid" not in scopes:
            return "invalid_scope", "Sign in with Slack needs the openid scope."
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown:
            return "invalid_scope", f"Sign in with Slack has no scope {unknown[0]!r}."
        return None

    @staticmethod
    def _page(title: str, body: str, status: int = 200) -> web.Response:
        text = ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f'<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n'
                f'<body><main>\n{body}</main></body></html>\n')
        return web.Response(text=text, status=status, content_type="text/html",
                            headers=PAGE_HEADERS)

    def _error_page(self, error: str, why: str) -> web.Response:
        return self._page("Sign in with Slack: something is wrong",
                          f"<h1>Something is wrong with this sign-in</h1>\n"
                          f"<p>{html.escape(why)}</p>\n<p><code>{html.escape(error)}</code></p>\n",
                          status=400)

    async def authorize_page(self, request: web.Request) -> web.Response:
        self._ensure_served(request)
        params = dict(request.query)
        problem = self._problem(params)
        if problem:
            return self._error_page(*problem)
        team = self.api.team.get("name") or self.api.team.get("id", "")
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">\n'
                         for k, v in params.items() if k not in ("user", "cancel"))
        buttons = "".join(
            f'<button name="user" value="{html.escape(u["id"])}">{html.escape(_real_name(u))}</button>\n'
            for u in self.members())
        body = (f"<h1>Sign in to {html.escape(team)}</h1>\n"
                "<p>Who are you? (The devkit's stand-in for Slack: no password.)</p>\n"
                f'<form method="post">\n{hidden}{buttons}'
                f'<button name="user" value="{OUTSIDER}">{html.escape(OUTSIDER_LABEL)}</button>\n'
                '<button name="cancel" value="1">Cancel</button>\n</form>\n')
        return self._page(f"Sign in to {team}", body)

    async def authorize_choice(self, request: web.Request) -> web.Response:
        self._ensure_served(request)
        form = await request.post()
        params = {**request.query, **{k: str(v) for k, v in form.items()}}
        chosen, cancel = params.pop("user", None), params.pop("cancel", None)
        problem = self._problem(params)
        if problem:
            return self._error_page(*problem)
        state = [("state", params["state"])] if "state" in params else []
        if cancel is not None:
            return self._redirect(params["redirect_uri"], [("error", "access_denied"), *state])
        if chosen == OUTSIDER:
            team = OUTSIDER_TEAM["id"]
        elif chosen in {u["id"] for u in self.members()}:
            team = self.api.team["id"]
        else:
            return self._error_page("invalid_user", f"{chosen!r} cannot sign in here.")
        code = f"{secrets.randbelow(10 ** 10)}.{secrets.randbelow(10 ** 13)}.{secrets.token_hex(32)}"
        now = self.clock()
        self.codes[code] = Grant(code=code, client_id=params["client_id"],
                                 redirect_uri=params["redirect_uri"], user=chosen, team=team,
                                 scopes=frozenset(scopes_of(params.get("scope"))),
                                 nonce=params.get("nonce"), auth_time=int(now), issued=now)
        return self._redirect(params["redirect_uri"], [("code", code), *state])

    @staticmethod
    def _redirect(uri: str, params: List[Tuple[str, str]]) -> web.Response:
        parts = urlsplit(uri)
        query = "&".join(q for q in (parts.query, urlencode(params)) if q)
        return web.Response(status=302, headers={"Location": urlunsplit(parts._replace(query=query)),
                                                 "Cache-Control": "no-store"})

    # ---- JWKS, discovery, icons -----------------------------------------------------

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response({"keys": self.keys})

    async def discovery(self, request: web.Request) -> web.Response:
        """Slack's https://slack.com/.well-known/openid-configuration, with the local
        endpoints (the issuer stays Slack's: it is the id_token's `iss`)."""
        self._ensure_served(request)
        return web.json_response({
            "issuer": ISSUER,
            "authorization_endpoint": self.authorize_endpoint,
            "token_endpoint": self.api.api_url + TOKEN_METHOD,
            "userinfo_endpoint": self.api.api_url + USERINFO_METHOD,
            "jwks_uri": self.openid_keys_url,
            "scopes_supported": ["openid", "profile", "email"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "auth_time", "iss"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": True,
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]})

    async def icon(self, request: web.Request) -> web.Response:
        ident, dot, suffix = request.match_info["file"].rpartition(".")
        names = {self.api.team.get("id"): self.api.team.get("name") or "",
                 OUTSIDER_TEAM["id"]: OUTSIDER_TEAM["name"], OUTSIDER: OUTSIDER_NAME}
        if not dot or suffix != "svg" or not ident or ident not in names:
            raise web.HTTPNotFound()
        return web.Response(text=_initials_svg(names[ident], ident), content_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})

    # ---- the Web API methods (through devkit/slack_api.py's protocol) -----------------

    @staticmethod
    def _error(error: str) -> web.Response:
        return web.json_response({"ok": False, "error": error})

    def token(self, args: Dict[str, str], authorization: Optional[str]) -> web.Response:
        """docs.slack.dev/reference/methods/openid.connect.token, its errors as its page
        lists them. The client authenticates with HTTP Basic (as slack_sdk does) or with
        client_id and client_secret fields."""
        client_id, secret = args.get("client_id"), args.get("client_secret")
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return self._error("invalid_client_id")
            client_id, _, secret = decoded.partition(":")
        grant_type = args.get("grant_type") or "authorization_code"
        if grant_type not in ("authorization_code", "refresh_token"):
            return self._error("invalid_grant_type")
        if not client_id or client_id != self.client_id:
            return self._error("invalid_client_id")
        if not secret or not secrets.compare_digest(secret, self.client_secret):
            return self._error("bad_client_secret")
        if grant_type == "refresh_token":  # no token rotation here: none was ever issued
            return self._error("invalid_refresh_token")
        grant = self.codes.get(args.get("code") or "")
        if grant is None or grant.client_id != client_id:
            return self._error("invalid_code")
        if grant.used:
            # Used twice: someone else has it. Revoke what it gave (RFC 6749, 4.1.2).
            if grant.access_token:
                self.tokens.pop(grant.access_token, None)
            return self._error("invalid_code")
        if self.clock() - grant.issued > self.code_seconds:
            return self._error("invalid_code")
        if args.get("redirect_uri") != grant.redirect_uri:
            return self._error("bad_redirect_uri")
        access_token = "xoxp-{}-{}-{}".format(secrets.randbelow(10 ** 12), secrets.randbelow(10 ** 12),
                                              secrets.token_hex(16))
        try:
            id_token = self.id_token(grant, access_token)
        except LookupError:  # deleted since they chose themselves
            return self._error("invalid_code")
        grant.used, grant.access_token = True, access_token
        self.tokens[access_token] = grant
        # Slack's example response: ok, access_token, token_type, id_token.
        return web.json_response({"ok": True, "access_token": access_token,
                                  "token_type": "Bearer", "id_token": id_token})

    def user_info(self, args: Dict[str, str], authorization: Optional[str]) -> web.Response:
        """docs.slack.dev/reference/methods/openid.connect.userInfo: the signed-in
        person's claims as they are now, for the user token of a sign-in."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        token = token or args.get("token", "")
        if not token:
            return self._error("not_authed")
        if token == self.api.token:  # the bot's: userInfo wants a user token (openid scope)
            return self._error("not_allowed_token_type")
        grant = self.tokens.get(token)
        if grant is None:
            return self._error("invalid_auth")
        person = self._person(grant.user, grant.team)
        if person is None:
            return self._error("token_revoked")  # "a deleted user or workspace"
        return web.json_response({"ok": True, **self.identity(*person, grant.scopes)})
