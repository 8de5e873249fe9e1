"""ACCESS=slack: Sign in with Slack, sessions, screen links, the gate on the API and on
the WebSocket handshake. Against the real local stack: the gateway, DynamoDB Local,
the devkit's Slack stand-in as the OpenID provider (devkit/slack_openid.py: its
authorize page, openid.connect.token, its JWKS), real WebSockets and real Chromium.

The stack serves the tests in ACCESS=public; these switch it to slack as a redeploy
with ACCESS=slack would (LocalStack.set_access), and back.

Plain HTTP clients here carry cookies by hand, as a browser does: the session cookie
is `Secure`, which Python's cookie jar never sends to http://127.0.0.1, where Chromium
(which treats loopback as a secure origin) does.
"""
import json
import re
import time
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from typing import Dict, Optional
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from chalicelib import access, sessions
from chalicelib.sessions import Claims, Keyring
from devkit import slack_openid
from tests.conftest import TEAM
from tests.helpers import connection_ids, post_event, reaction, receive, send, settled, wait_for
from tests.test_dashboard import ARTIFACTS, browser  # noqa: F401 - the Chromium fixture

ADA, GRACE = "UDEMOADA", "UDEMOGRACE"
PROTECTED = ["/api/leaderboard?window=all", "/api/trend?window=24h", "/api/history", "/api/me",
             "/api/screens"]


@pytest.fixture
def signin_stack(stack):
    """The stack in ACCESS=slack, its stand-in playing this workspace (TEAM), Ada an admin."""
    stack.slack.team = {**stack.slack.team, "id": TEAM}
    stack.slack.users[ADA] = {**stack.slack.users[ADA], "is_admin": True}
    stack.set_access("slack")
    yield stack
    stack.set_access("public")
    stack.slack.reset()


class Browser:
    """A browser's cookie jar and redirects, over plain requests."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: Dict[str, str] = {}

    def _keep(self, response: requests.Response) -> None:
        for header in response.raw.headers.getlist("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), "Cookie": self.cookie_header()}
        response = requests.request(method, urljoin(self.base, url), headers=headers,
                                    allow_redirects=False, timeout=15, **kwargs)
        self._keep(response)
        return response

    def socket(self):
        return connect(self.base.replace("http://", "ws://") + "/ws", open_timeout=5,
                       additional_headers={"Cookie": self.cookie_header()})


class _Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: Dict[str, str] = {}
        self.buttons: Dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden":
            self.fields[attrs["name"]] = attrs.get("value", "")
        if tag == "button" and attrs.get("name") == "user":
            self.buttons[attrs["value"]] = attrs["value"]


def start_login(client: Browser):
    """GET /auth/login: the authorize URL it sends the browser to, and its parameters."""
    response = client.request("GET", "/auth/login")
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def choose(client: Browser, authorize_url: str, user: str, **override) -> str:
    """On the stand-in's authorize page, press `user`'s button; the callback URL Slack
    sends the browser back to."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    form = _Form()
    form.feed(page.text)
    assert user in form.buttons, f"{user} is not on the authorize page"
    answer = requests.post(authorize_url.split("?")[0], data={**form.fields, **override, "user": user},
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def sign_in(stack, user: str = GRACE) -> Browser:
    client = Browser(stack.url)
    authorize_url, _ = start_login(client)
    back = client.request("GET", choose(client, authorize_url, user))
    assert back.status_code == 302 and back.headers["Location"] == "/", back.headers
    assert sessions.SESSION_COOKIE in client.cookies
    return client


def refused_socket(client: Optional[Browser], stack) -> int:
    headers = {"Cookie": client.cookie_header()} if client else {}
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{stack.host}:{stack.port}/ws", open_timeout=5, additional_headers=headers)
    return refused.value.response.status_code


def keyring() -> Keyring:
    import os
    return Keyring.parse(os.environ["SESSION_KEYS"])


# ---- refused without a session -------------------------------------------------------

def test_api_and_socket_are_refused_without_a_session_and_write_nothing(signin_stack):
    stack = signin_stack
    for path in PROTECTED:
        response = requests.get(stack.url + path, timeout=10)
        assert response.status_code == 401, path
        assert response.json()["signin"] == "/auth/login"
    assert refused_socket(None, stack) == 401
    assert connection_ids(stack) == []
    # The Slack route is not behind the gate: Slack signs its requests.
    assert post_event(stack, reaction("tada")).status_code == 200


def test_public_access_lets_everyone_in_as_before(stack):
    assert requests.get(f"{stack.url}/api/me", timeout=10).json() == {"access": "public"}
    assert requests.get(f"{stack.url}/api/leaderboard", timeout=10).status_code == 200
    with connect(f"ws://{stack.host}:{stack.port}/ws", open_timeout=5) as socket:
        send(socket, {"action": "ping"})
        assert receive(socket)["type"] == "pong"
    # With ACCESS=public there are no screen links to manage: anyone sees the boards.
    assert requests.get(f"{stack.url}/api/screens", timeout=10).status_code == 403


# ---- signing in ----------------------------------------------------------------------

def test_signing_in_opens_the_api_and_the_socket(signin_stack):
    stack = signin_stack
    client = sign_in(stack, GRACE)
    me = client.request("GET", "/api/me").json()
    assert me == {"access": "slack", "kind": "person", "user": GRACE, "name": me["name"],
                  "admin": False}
    assert me["name"] and me["name"] != GRACE
    assert client.request("GET", "/api/leaderboard").status_code == 200
    with client.socket() as socket:
        send(socket, {"action": "ping"})
        assert receive(socket)["type"] == "pong"
        items = stack.dynamodb_client().query(
            TableName=stack.connections_table, KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "CONN"}})["Items"]
        assert [item["grant"]["S"].split(":")[0] for item in items] == ["person"]


def test_the_cookie_is_first_party_http_only_and_secure(signin_stack):
    client = Browser(signin_stack.url)
    authorize_url, params = start_login(client)
    back = requests.get(choose(client, authorize_url, GRACE), allow_redirects=False, timeout=10,
                        headers={"Cookie": client.cookie_header()})
    cookies = back.raw.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith(sessions.SESSION_COOKIE + "="))
    for part in ("Path=/", "HttpOnly", "Secure", "SameSite=Lax", f"Max-Age={sessions.PERSON_SECONDS}"):
        assert part in session
    assert "Domain" not in session
    # The authorize request Slack gets: the documented parameters, this workspace.
    assert params["scope"] == "openid profile" and params["response_type"] == "code"
    assert params["team"] == TEAM and params["redirect_uri"] == signin_stack.url + "/auth/callback"
    assert params["state"] and params["nonce"] and params["state"] != params["nonce"]


def test_a_replayed_state_and_a_state_from_another_browser_are_refused(signin_stack):
    stack = signin_stack
    client = Browser(stack.url)
    authorize_url, _ = start_login(client)
    callback = choose(client, authorize_url, GRACE)
    login_cookie = client.cookies[sessions.LOGIN_COOKIE]
    assert client.request("GET", callback).headers["Location"] == "/"
    # The same callback again, even with the login cookie put back: the state was used.
    replay = Browser(stack.url)
    replay.cookies[sessions.LOGIN_COOKIE] = login_cookie
    answer = replay.request("GET", callback)
    assert answer.headers["Location"] == "/?signin_error=state"
    assert sessions.SESSION_COOKIE not in replay.cookies
    # A callback begun by another browser (login CSRF): this one has no login cookie.
    other = Browser(stack.url)
    theirs, _ = start_login(Browser(stack.url))
    answer = other.request("GET", choose(other, theirs, GRACE))
    assert answer.headers["Location"] == "/?signin_error=state"
    assert sessions.SESSION_COOKIE not in other.cookies


def test_a_wrong_nonce_and_a_member_of_another_team_are_refused(signin_stack):
    stack = signin_stack
    client = Browser(stack.url)
    authorize_url, _ = start_login(client)
    answer = client.request("GET", choose(client, authorize_url, GRACE, nonce="not-the-nonce"))
    assert answer.headers["Location"] == "/?signin_error=token"
    assert sessions.SESSION_COOKIE not in client.cookies

    client = Browser(stack.url)
    authorize_url, _ = start_login(client)
    answer = client.request("GET", choose(client, authorize_url, slack_openid.OUTSIDER))
    assert answer.headers["Location"] == "/?signin_error=team"
    assert sessions.SESSION_COOKIE not in client.cookies
    assert client.request("GET", "/api/leaderboard").status_code == 401


def test_a_token_signed_by_another_key_is_refused(signin_stack):
    """The id_token's signature is checked against the provider's published keys: a
    token signed by any other key (here: the stand-in's key rotated away before the
    exchange, so its JWKS no longer lists the signer) is refused."""
    stack = signin_stack
    client = Browser(stack.url)
    authorize_url, _ = start_login(client)
    callback = choose(client, authorize_url, GRACE)
    openid = stack.slack.openid
    real_sign = openid.sign
    stranger = slack_openid.SlackOpenID._new_key()[0]
    import jwt as pyjwt
    openid.sign = lambda claims, headers=None: pyjwt.encode(  # FAULT INJECTION: a forger's key
        claims, stranger, algorithm="RS256", headers={"kid": openid.kid, **(headers or {})})
    try:
        answer = client.request("GET", callback)
    finally:
        openid.sign = real_sign
    assert answer.headers["Location"] == "/?signin_error=token"
    assert sessions.SESSION_COOKIE not in client.cookies


def test_forged_expired_foreign_and_ended_sessions_are_refused(signin_stack):
    stack = signin_stack
    client = sign_in(stack, GRACE)
    good = client.cookies[sessions.SESSION_COOKIE]
    claims = keyring().verify(good, TEAM, time.time())
    now = int(time.time())
    forger = Keyring.parse(sessions.new_key())
    tokens = {
        "forged": forger.sign(claims),
        "expired": keyring().sign(Claims(**{**claims.__dict__, "expires_at": now - 1})),
        "other team": keyring().sign(Claims(**{**claims.__dict__, "team": "T0OTHER"})),
        "no record": keyring().sign(Claims(**{**claims.__dict__, "sid": "made-up"})),
        "garbage": "not.a.token",
    }
    for what, token in tokens.items():
        bad = Browser(stack.url)
        bad.cookies[sessions.SESSION_COOKIE] = token
        assert bad.request("GET", "/api/leaderboard").status_code == 401, what
        assert refused_socket(bad, stack) == 401, what
    assert connection_ids(stack) == []
    assert client.request("GET", "/api/leaderboard").status_code == 200  # the real one works


def test_a_rotated_key_keeps_sessions_signed_before_it(signin_stack, monkeypatch):
    import os
    from chalicelib import services
    stack = signin_stack
    client = sign_in(stack, GRACE)
    monkeypatch.setenv("SESSION_KEYS", sessions.new_key() + "," + os.environ["SESSION_KEYS"])
    services.get.cache_clear()
    assert client.request("GET", "/api/leaderboard").status_code == 200
    fresh = sign_in(stack, ADA)
    kid = __import__("jwt").get_unverified_header(fresh.cookies[sessions.SESSION_COOKIE])["kid"]
    assert kid == os.environ["SESSION_KEYS"].split(":")[0]
    monkeypatch.setenv("SESSION_KEYS", os.environ["SESSION_KEYS"].split(",")[0])  # the old one dropped
    services.get.cache_clear()
    assert client.request("GET", "/api/leaderboard").status_code == 401
    assert fresh.request("GET", "/api/leaderboard").status_code == 200
    monkeypatch.undo()
    services.get.cache_clear()


def test_signing_out_ends_the_api_and_closes_the_socket(signin_stack):
    stack = signin_stack
    client = sign_in(stack, GRACE)
    other = sign_in(stack, ADA)
    token = client.cookies[sessions.SESSION_COOKIE]
    with client.socket() as mine, other.socket() as theirs:
        send(mine, {"action": "ping"})
        assert receive(mine)["type"] == "pong"
        answer = client.request("POST", "/auth/logout")
        assert answer.status_code == 303 and answer.headers["Location"] == "/"
        assert sessions.SESSION_COOKIE not in client.cookies
        with pytest.raises(ConnectionClosed):
            while True:
                mine.recv(timeout=5)
        send(theirs, {"action": "ping"})  # another person's session goes on
        assert receive(theirs)["type"] == "pong"
    stolen = Browser(stack.url)  # the cookie as it was: its session is gone
    stolen.cookies[sessions.SESSION_COOKIE] = token
    assert stolen.request("GET", "/api/leaderboard").status_code == 401
    assert refused_socket(stolen, stack) == 401
    assert other.request("GET", "/api/leaderboard").status_code == 200


# ---- screen links -------------------------------------------------------------------

def make_screen(admin: Browser, name: str = "Kitchen TV") -> dict:
    answer = admin.request("POST", "/api/screens", json={"name": name})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_only_admins_manage_screen_links(signin_stack):
    stack = signin_stack
    member, admin = sign_in(stack, GRACE), sign_in(stack, ADA)
    assert admin.request("GET", "/api/me").json()["admin"] is True
    assert member.request("GET", "/api/screens").status_code == 403
    assert member.request("POST", "/api/screens", json={"name": "TV"}).status_code == 403
    for bad in ("", "   ", "x" * 61, "TV\nroom", 7):
        answer = admin.request("POST", "/api/screens", json={"name": bad})
        assert answer.status_code == 400, bad
    made = make_screen(admin)
    assert len(made["token"]) >= 40 and made["id"] == access.screen_id(made["token"])
    listed = admin.request("GET", "/api/screens").json()["screens"]
    assert [(s["id"], s["name"], s["created_by"], s["last_used_at"]) for s in listed] == \
        [(made["id"], "Kitchen TV", ADA, None)]
    assert "token" not in listed[0]
    # The link's token is nowhere in the table: only its digest.
    items = stack.dynamodb_client().scan(TableName=stack.counts_table)["Items"]
    assert made["token"] not in json.dumps(items)
    # A screen is read-only: it watches, it cannot manage links.
    screen = Browser(stack.url)
    assert screen.request("POST", "/auth/screen", json={"token": made["token"]}).status_code == 200
    assert screen.request("GET", "/api/leaderboard").status_code == 200
    assert screen.request("GET", "/api/screens").status_code == 403
    assert screen.request("DELETE", f"/api/screens/{made['id']}").status_code == 403
    assert member.request("DELETE", f"/api/screens/{made['id']}").status_code == 403
    assert admin.request("DELETE", "/api/screens/" + "0" * 32).status_code == 404


def test_a_revoked_screen_link_stops_at_once_and_its_socket_closes(signin_stack):
    stack = signin_stack
    admin = sign_in(stack, ADA)
    made = make_screen(admin)
    screen = Browser(stack.url)
    assert screen.request("POST", "/auth/screen", json={"token": "x" * 43}).status_code == 401
    assert screen.request("POST", "/auth/screen", json={"token": made["token"]}).status_code == 200
    assert screen.request("GET", "/api/me").json() == {"access": "slack", "kind": "screen",
                                                       "name": "Kitchen TV"}
    with screen.socket() as socket:
        send(socket, {"action": "ping"})
        assert receive(socket)["type"] == "pong"
        listed = admin.request("GET", "/api/screens").json()["screens"][0]
        assert listed["last_used_at"] is not None
        answer = admin.request("DELETE", f"/api/screens/{made['id']}")
        assert answer.status_code == 200 and answer.json()["closed"] == 1
        with pytest.raises(ConnectionClosed):
            while True:
                socket.recv(timeout=5)
    assert screen.request("GET", "/api/leaderboard").status_code == 401
    assert refused_socket(screen, stack) == 401
    again = Browser(stack.url)
    assert again.request("POST", "/auth/screen", json={"token": made["token"]}).status_code == 401
    assert admin.request("GET", "/api/screens").json()["screens"] == []


# ---- in Chromium ---------------------------------------------------------------------

def test_sign_in_with_slack_in_chromium_then_the_live_board(signin_stack, browser):  # noqa: F811
    stack = signin_stack
    page = browser.new_page()
    page.goto(stack.url + "/?view=emoji&window=24h")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#board")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "signin.png"))
    page.get_by_role("link", name="Sign in with Slack").click()
    page.locator(f"button[name=user][value={GRACE}]").click()  # Slack's page: choose Grace
    expect(page.locator("#viewer-name")).to_have_text(stack.slack.users[GRACE]["real_name"])
    expect(page).to_have_url(stack.url + "/?view=emoji&window=24h")
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    expect(page.locator("#viewer-screens")).to_be_hidden()  # Grace is no admin
    assert post_event(stack, reaction("tada")).status_code == 200
    settled(stack)
    expect(page.locator("#leaderboard li").first).to_contain_text("1")
    page.screenshot(path=str(ARTIFACTS / "signed-in.png"))
    # Signing out: back to the sign-in panel; the board is gone.
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("fetch('/api/leaderboard').then(r => r.status)") == 401
    page.close()


def _screen_sockets(stack) -> list:
    """The open connections that came in with a screen link (their `grant`)."""
    items = stack.dynamodb_client().query(
        TableName=stack.connections_table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "CONN"}})["Items"]
    return [item["sk"]["S"] for item in items
            if item.get("grant", {}).get("S", "").startswith("screen:")]


def test_a_screen_link_in_chromium_shows_tv_mode_until_revoked(signin_stack, browser):  # noqa: F811
    stack = signin_stack
    admin = browser.new_page()
    admin.goto(stack.url + "/")
    admin.get_by_role("link", name="Sign in with Slack").click()
    admin.locator(f"button[name=user][value={ADA}]").click()
    admin.get_by_role("link", name="Screens").click()
    admin.get_by_label("Screen name").fill("Kitchen TV")
    admin.get_by_role("button", name="Create link").click()
    link = admin.locator("#new-link-url")
    expect(link).to_contain_text("/#screen=")
    url = link.text_content()
    admin.screenshot(path=str(ARTIFACTS / "screens.png"))

    tv = browser.new_context().new_page()  # another device: no cookies of Ada's
    tv.goto(url)
    expect(tv.locator("html")).to_have_class(re.compile(r"\btv\b"))
    expect(tv.locator("#status")).to_have_attribute("data-state", "live")
    assert "screen=" not in tv.url and "tv=1" in tv.url  # the token left the address bar
    # The screen's socket. (Not every socket: once in CI the admin's board, left for the
    # Screens page, still had its socket open; Chromium may keep a page it navigated
    # away from in its back/forward cache, which is the browser's business.)
    assert wait_for(lambda: len(_screen_sockets(stack)) == 1)
    tv.screenshot(path=str(ARTIFACTS / "screen-tv.png"))

    admin.reload()
    expect(admin.locator("#screens tr")).to_have_count(1)
    expect(admin.locator("#screens tr")).not_to_contain_text("never")  # last used: now
    admin.once("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Revoke Kitchen TV").click()
    expect(admin.locator("#no-screens")).to_be_visible()
    # The TV's socket was closed; its reconnect is refused, and it says why.
    expect(tv.locator("#signin-error")).to_contain_text("revoked", timeout=20_000)
    assert _screen_sockets(stack) == []
