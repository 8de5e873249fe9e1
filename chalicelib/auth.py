"""The /auth routes and GET /api/me: signing in with Slack, signing out, a screen
link's sign-in, and who the page is showing the boards to.

A failed sign-in never answers with an error page of its own: it goes back to the
dashboard with `?signin_error={reason}` (cancelled, state, slack, token, team), and
the page says what happened in its own words and styles.
"""
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import List, Mapping, Optional
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from . import access, sessions, settings as settings_module, signin
from .access import Viewer

log = logging.getLogger(__name__)


@dataclass
class Reply:
    status: int
    body: Optional[dict] = None
    location: Optional[str] = None
    cookies: List[str] = field(default_factory=list)


def _local_path(raw: Optional[str]) -> str:
    """Where to go after signing in: a path on this origin, never another site."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    return raw


def _back(reason: str, *cookies: str) -> Reply:
    return Reply(302, location=f"/?signin_error={quote(reason)}", cookies=list(cookies))


def login(params: Optional[Mapping[str, str]], services, now: float) -> Reply:
    s = services.settings
    if s.access == "public":
        return Reply(302, location="/")
    client_id, _, public_url, team = settings_module.sign_in(s)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    services.access.begin_login(state, nonce, _local_path((params or {}).get("next")), now)
    # The state is also bound to this browser: a callback carrying a state that some
    # other browser began (a login CSRF) finds no matching cookie.
    return Reply(302, location=signin.authorize_url(s.slack_openid_url, client_id, public_url,
                                                    team, state, nonce),
                 cookies=[sessions.set_cookie(sessions.LOGIN_COOKIE, state, access.LOGIN_SECONDS)])


def callback(params: Optional[Mapping[str, str]], headers: Mapping[str, str], services,
             now: float) -> Reply:
    s = services.settings
    if s.access == "public":
        return Reply(302, location="/")
    client_id, client_secret, public_url, team = settings_module.sign_in(s)
    params = params or {}
    forget = sessions.clear_cookie(sessions.LOGIN_COOKIE)
    state = params.get("state", "")
    mine = sessions.cookies(headers).get(sessions.LOGIN_COOKIE, "")
    if not state or not hmac.compare_digest(state.encode(), mine.encode()):
        log.info("sign-in refused: the state is not this browser's")
        return _back("state", forget)
    begun = services.access.finish_login(state, now)
    if begun is None:  # used already (a replay), or over 10 minutes old
        log.info("sign-in refused: the state was used or expired")
        return _back("state", forget)
    if params.get("error"):  # the person pressed Cancel on Slack's page
        return _back("cancelled", forget)
    try:
        person = signin.person_from_code(
            params.get("code", ""), begun["nonce"], client_id=client_id,
            client_secret=client_secret, public_url=public_url, team=team,
            api_url=s.slack_api_url, openid_url=s.slack_openid_url)
    except signin.SignInRefused as refused:
        log.warning("sign-in refused (%s): %s", refused.code, refused)
        return _back(refused.code, forget)
    admin = bool(s.slack_bot_token) and signin.is_admin(person.user, s.slack_bot_token,
                                                        s.slack_api_url)
    expires_at = int(now) + sessions.PERSON_SECONDS
    sid = services.access.open_session(person.user, person.name, admin, expires_at)
    viewer = Viewer("person", sid, person.user, person.name, admin)
    log.info("signed in: %s", person.user)
    return Reply(302, location=begun["next"],
                 cookies=[forget, access.session_cookie(services.keyring, viewer, team, now)])


def logout(headers: Mapping[str, str], services, now: float) -> Reply:
    """Ends a person's session everywhere (its record, its open dashboards). A screen
    only forgets its cookie: the link stays until an admin revokes it."""
    viewer = access.identify(headers, services, now) if services.settings.access == "slack" else None
    if viewer is not None and viewer.kind == "person":
        services.access.end_session(viewer.sid)
        access.close_sockets(services, viewer.grant)
    return Reply(303, location="/", cookies=[sessions.clear_cookie(sessions.SESSION_COOKIE)])


def screen(body: Optional[dict], services, now: float) -> Reply:
    """POST /auth/screen {"token"}: a screen link opened on a TV (the token travels in
    the link's #fragment, so it reaches no log; the page posts it here)."""
    s = services.settings
    if s.access == "public":
        return Reply(200, {"access": "public"})
    token = (body or {}).get("token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return Reply(400, {"error": "send {\"token\": ...} from a screen link"})
    ident = access.screen_id(token)
    link = services.access.screen(ident)
    if link is None:
        return Reply(401, {"error": "this screen link was revoked or never existed"})
    services.access.used_screen(ident, now)
    viewer = Viewer("screen", ident, link["created_by"], link["name"])
    return Reply(200, {"access": "slack", "kind": "screen", "name": link["name"]},
                 cookies=[access.session_cookie(services.keyring, viewer, services.workspace, now)])


def me(viewer: Viewer, services, now: float) -> Reply:
    """Who the page shows the boards to. A screen's cookie is renewed, so a TV that
    loads the page once a month stays signed in."""
    if viewer.kind == "public":
        return Reply(200, {"access": "public"})
    body = {"access": "slack", "kind": viewer.kind, "name": viewer.name}
    if viewer.kind == "person":
        return Reply(200, {**body, "user": viewer.user, "admin": viewer.admin})
    try:
        services.access.used_screen(viewer.sid, now)
    except (ClientError, BotoCoreError) as error:  # a note, not worth failing the page
        log.warning("could not note the screen link's use: %s", error)
    return Reply(200, body, cookies=[access.session_cookie(services.keyring, viewer,
                                                           services.workspace, now)])
