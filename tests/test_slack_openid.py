"""The Slack stand-in as Slack's OpenID Connect provider, "Sign in with Slack"
(devkit/slack_openid.py), over real HTTP: the sign-in page a browser sees, the code it
hands the app, the token exchange through slack_sdk's own WebClient, id_tokens checked
with PyJWT against the published keys, userInfo, and every refusal Slack makes. Each
test starts the stand-in alone on a port of its own (tests/test_slack_standin.py's
`served`)."""
import base64
import hashlib
import html
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from slack_sdk import WebClient

from devkit import slack_openid
from devkit.slack_openid import (LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, OUTSIDER,
                                 OUTSIDER_LABEL, OUTSIDER_TEAM)
from tests.test_slack_standin import error_of, served

TEAM = {"id": "T0STANDIN", "name": "Stand-in & Co", "domain": "standin"}
CALLBACK = "http://127.0.0.1:9/auth/callback?from=slack"  # the app's; never fetched
STATE = " st/ate+with &odd=chars é%20 "  # echoed exactly, spaces and all
NONCE = "n0nce-" + "x" * 20
BUTTON = re.compile(r'<button name="user" value="([^"]*)">([^<]*)</button>')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def person(ident, real_name, first="", last="", **fields):
    return {"id": ident, "team_id": TEAM["id"], "name": ident.lower(), "real_name": real_name,
            "deleted": False, "is_bot": False, "updated": 1690000000,
            "profile": {"real_name": real_name, "first_name": first, "last_name": last},
            **fields}


def workspace() -> dict:
    return {"team": TEAM, "channels": [], "users": [
        person("UALICE", "Alice Smith", "Alice", "Smith", locale="fr-FR"),
        person("UBOB", "Bob <Jones> & Co"),
        person("UBOT", "Polly", is_bot=True),
        person("UGONE", "Gone Person", deleted=True),
        person("USLACKBOT", "Slackbot"),
        person("UCAROL", "Carol Jones", "Carol", "Jones")]}


def page(slack, **params) -> requests.Response:
    params = {"redirect_uri": CALLBACK, "state": STATE, "nonce": NONCE, **params}
    return requests.get(slack.openid.authorize_url(**params), allow_redirects=False, timeout=5)


def hidden(text: str) -> dict:
    return {html.unescape(k): html.unescape(v) for k, v in HIDDEN.findall(text)}


def choose(slack, user, scope="openid profile", **params) -> dict:
    """What a browser does: open the sign-in page, press a person's button (the form's
    hidden fields and that button, posted to the page's own URL); the redirect's
    query string."""
    shown = page(slack, scope=scope, **params)
    assert shown.status_code == 200, shown.text
    answer = requests.post(shown.url, data={**hidden(shown.text), "user": user}, allow_redirects=False,
                           timeout=5)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK + "&")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(slack, code, redirect_uri=CALLBACK, **kwargs):
    web = WebClient(base_url=slack.api_url, timeout=5)
    return web.openid_connect_token(client_id=kwargs.pop("client_id", LOCAL_CLIENT_ID),
                                    client_secret=kwargs.pop("client_secret", LOCAL_CLIENT_SECRET),
                                    code=code, redirect_uri=redirect_uri, **kwargs)


def verified(slack, id_token) -> dict:
    """The id_token's claims, checked as an app checks them: against the JWKS URL."""
    key = jwt.PyJWKClient(slack.openid.openid_keys_url).get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key.key, algorithms=["RS256"], audience=LOCAL_CLIENT_ID,
                      issuer="https://slack.com")


def test_the_sign_in_page_lists_the_people_as_buttons_in_a_form_that_carries_the_request():
    with served(workspace()) as slack:
        shown = page(slack)
        assert shown.status_code == 200
        assert shown.headers["Content-Type"].startswith("text/html")
        assert "<title>Sign in to Stand-in &amp; Co</title>" in shown.text
        assert "<h1>Sign in to Stand-in &amp; Co</h1>" in shown.text
        # The people, not the bot, the deleted user nor Slackbot; then the outsider.
        assert BUTTON.findall(shown.text) == [
            ("UALICE", "Alice Smith"), ("UBOB", "Bob &lt;Jones&gt; &amp; Co"),
            ("UCAROL", "Carol Jones"), (OUTSIDER, OUTSIDER_LABEL)]
        assert '<button name="cancel" value="1">Cancel</button>' in shown.text
        form = shown.text[shown.text.index('<form method="post">'):shown.text.index("</form>")]
        assert len(BUTTON.findall(form)) == 4
        assert hidden(form) == {"response_type": "code", "scope": "openid profile",
                          "client_id": LOCAL_CLIENT_ID, "state": STATE, "nonce": NONCE,
                          "redirect_uri": CALLBACK}
        # It works under its own strict CSP: no script, and its one <style> allowed by hash.
        csp = shown.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert "<script" not in shown.text and " style=" not in shown.text
        styles = re.findall(r"<style>(.*?)</style>", shown.text, re.S)
        assert len(styles) == 1
        digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in csp
        assert "frame-ancestors 'none'" in csp


def test_choosing_someone_redirects_with_a_code_and_the_state_as_sent_and_cancel_is_denied():
    with served(workspace()) as slack:
        back = choose(slack, "UALICE")
        assert set(back) == {"from", "code", "state"}  # the redirect_uri's own query kept
        assert back["state"] == STATE and back["from"] == "slack"
        assert back["code"] in slack.openid.codes
        grant = slack.openid.codes[back["code"]]
        assert (grant.user, grant.team, grant.nonce, grant.used) == ("UALICE", "T0STANDIN", NONCE, False)
        # No state asked, none sent back.
        shown = page(slack, state=None)
        answer = requests.post(shown.url, data={**hidden(shown.text), "user": "UCAROL"},
                               allow_redirects=False, timeout=5)
        assert set(parse_qs(urlsplit(answer.headers["Location"]).query)) == {"from", "code"}
        # Cancel: OAuth's access_denied, the state echoed, no code.
        shown = page(slack)
        fields = hidden(shown.text)
        answer = requests.post(shown.url, data={**fields, "cancel": "1"}, allow_redirects=False,
                               timeout=5)
        assert answer.status_code == 302
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query == {"from": ["slack"], "error": ["access_denied"], "state": [STATE]}
        # Someone not on the page (a bot, a deleted user, a stranger) is refused.
        for ident in ("UBOT", "UGONE", "USLACKBOT", "UNOBODY"):
            answer = requests.post(shown.url, data={**fields, "user": ident},
                                   allow_redirects=False, timeout=5)
            assert answer.status_code == 400 and "Location" not in answer.headers, ident
        assert len(slack.openid.codes) == 2


def test_the_code_buys_an_id_token_that_verifies_against_the_published_keys():
    with served(workspace()) as slack:
        code = choose(slack, "UALICE")["code"]
        answer = exchange(slack, code)
        assert set(answer.data) == {"ok", "access_token", "token_type", "id_token"}
        assert answer["ok"] is True and answer["token_type"] == "Bearer"
        assert answer["access_token"].startswith("xoxp-")
        assert jwt.get_unverified_header(answer["id_token"])["kid"] == slack.openid.kid
        claims = verified(slack, answer["id_token"])
        assert claims["sub"] == claims["https://slack.com/user_id"] == "UALICE"
        assert claims["https://slack.com/team_id"] == "T0STANDIN"
        assert claims["https://slack.com/team_name"] == "Stand-in & Co"
        assert claims["https://slack.com/team_domain"] == "standin"
        assert claims["nonce"] == NONCE
        assert (claims["name"], claims["given_name"], claims["family_name"], claims["locale"]) == (
            "Alice Smith", "Alice", "Smith", "fr-FR")
        assert claims["picture"] == slack.avatar_url("UALICE")
        assert claims["exp"] - claims["iat"] == 300 and claims["auth_time"] <= claims["iat"]
        digest = hashlib.sha256(answer["access_token"].encode()).digest()[:16]
        assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert "email" not in claims  # only with the email scope
        # The picture is there to fetch.
        assert requests.get(claims["picture"], timeout=5).status_code == 200
        # With the email scope, the email claims too.
        code = choose(slack, "UCAROL", scope="openid,profile,email")["code"]
        claims = verified(slack, exchange(slack, code)["id_token"])
        assert claims["email"] == "ucarol@standin.example.com" and claims["email_verified"] is True
        assert claims["date_email_verified"] == 1690000000 and claims["name"] == "Carol Jones"
        # openid alone: the ids, no profile.
        code = choose(slack, "UBOB", scope="openid")["code"]
        claims = verified(slack, exchange(slack, code)["id_token"])
        assert "name" not in claims and "https://slack.com/team_name" not in claims
        assert claims["https://slack.com/team_id"] == "T0STANDIN"


def test_someone_from_another_workspace_gets_a_token_naming_that_workspace():
    with served(workspace()) as slack:
        code = choose(slack, OUTSIDER)["code"]
        answer = exchange(slack, code)
        claims = verified(slack, answer["id_token"])  # a genuine token, for another team
        assert claims["sub"] == OUTSIDER == claims["https://slack.com/user_id"]
        assert claims["https://slack.com/team_id"] == OUTSIDER_TEAM["id"] != "T0STANDIN"
        assert claims["https://slack.com/team_name"] == OUTSIDER_TEAM["name"]
        assert requests.get(claims["picture"], timeout=5).status_code == 200
        info = WebClient(token=answer["access_token"], base_url=slack.api_url,
                         timeout=5).openid_connect_userInfo()
        assert info["https://slack.com/team_id"] == OUTSIDER_TEAM["id"]


def test_a_code_works_once_within_ten_minutes_and_its_reuse_revokes_the_token():
    with served(workspace()) as slack:
        code = choose(slack, "UALICE")["code"]
        token = exchange(slack, code)["access_token"]
        assert error_of(lambda: exchange(slack, code)) == "invalid_code"
        # A second use means someone else has it: the token it bought is revoked.
        user = WebClient(token=token, base_url=slack.api_url, timeout=5)
        assert error_of(user.openid_connect_userInfo) == "invalid_auth"
        # Codes live ten minutes.
        now = slack.openid.clock()
        late = choose(slack, "UALICE")["code"]
        slack.openid.clock = lambda: now + slack_openid.CODE_SECONDS + 1
        assert error_of(lambda: exchange(slack, late)) == "invalid_code"
        slack.openid.clock = lambda: now + slack_openid.CODE_SECONDS - 5
        assert exchange(slack, late)["ok"]
        # reset() forgets every code and token.
        fresh = choose(slack, "UBOB")["code"]
        slack.reset()
        assert slack.openid.codes == {} and slack.openid.tokens == {}
        assert error_of(lambda: exchange(slack, fresh)) == "invalid_code"


def test_the_token_method_refuses_with_slacks_errors_and_takes_form_credentials_too():
    with served(workspace()) as slack:
        code = choose(slack, "UALICE")["code"]
        assert error_of(lambda: exchange(slack, code, client_secret="wrong")) == "bad_client_secret"
        assert error_of(lambda: exchange(slack, code, client_id="other.app")) == "invalid_client_id"
        assert error_of(lambda: exchange(slack, code, redirect_uri=CALLBACK + "x")) == "bad_redirect_uri"
        assert error_of(lambda: exchange(slack, code, redirect_uri=None)) == "bad_redirect_uri"
        assert error_of(lambda: exchange(slack, code, grant_type="password")) == "invalid_grant_type"
        assert error_of(lambda: exchange(slack, code, grant_type="refresh_token",
                                         refresh_token="xoxe-1-nope")) == "invalid_refresh_token"
        assert error_of(lambda: exchange(slack, "4724469134.1.nope")) == "invalid_code"
        assert error_of(lambda: exchange(slack, None)) == "invalid_code"
        # None of that used the code up. Client credentials as form fields work too
        # (client_secret_post), with grant_type as OAuth names it.
        answer = requests.post(slack.api_url + "openid.connect.token", timeout=5, data={
            "client_id": LOCAL_CLIENT_ID, "client_secret": LOCAL_CLIENT_SECRET, "code": code,
            "redirect_uri": CALLBACK, "grant_type": "authorization_code"}).json()
        assert answer["ok"] is True and verified(slack, answer["id_token"])["sub"] == "UALICE"
        # Tests may register another client.
        slack.openid.client_id, slack.openid.client_secret = "1234.5678", "s3cret"
        assert page(slack, client_id=LOCAL_CLIENT_ID).status_code == 400
        assert page(slack).status_code == 200


def test_user_info_answers_the_documented_fields_as_they_are_now():
    with served(workspace()) as slack:
        token = exchange(slack, choose(slack, "UALICE")["code"])["access_token"]
        user = WebClient(token=token, base_url=slack.api_url, timeout=5)
        info = user.openid_connect_userInfo().data
        sizes = (24, 32, 48, 72, 192, 512)
        teams = (34, 44, 68, 88, 102, 132, 230)
        assert set(info) == {
            "ok", "sub", "https://slack.com/user_id", "https://slack.com/team_id", "name",
            "picture", "given_name", "family_name", "locale", "https://slack.com/team_name",
            "https://slack.com/team_domain", "https://slack.com/team_image_default",
            *(f"https://slack.com/user_image_{s}" for s in sizes),
            *(f"https://slack.com/team_image_{s}" for s in teams)}
        assert info["ok"] is True and info["sub"] == "UALICE"
        assert info["https://slack.com/team_id"] == "T0STANDIN" and info["name"] == "Alice Smith"
        assert requests.get(info["https://slack.com/team_image_88"], timeout=5).status_code == 200
        # Updated user information: a new name shows at once.
        slack.users["UALICE"]["real_name"] = "Alice Jones"
        assert user.openid_connect_userInfo()["name"] == "Alice Jones"
        # With the email scope: the email claims.
        token = exchange(slack, choose(slack, "UCAROL", scope="openid email")["code"])["access_token"]
        info = WebClient(token=token, base_url=slack.api_url, timeout=5).openid_connect_userInfo()
        assert {"email", "email_verified", "date_email_verified"} <= set(info.data)
        assert "name" not in info.data
        # Refusals: no token, another token, the bot's, a deleted user's.
        anonymous = WebClient(base_url=slack.api_url, timeout=5)
        assert error_of(anonymous.openid_connect_userInfo) == "not_authed"
        assert error_of(WebClient(token="xoxp-1-2-3", base_url=slack.api_url,
                                  timeout=5).openid_connect_userInfo) == "invalid_auth"
        assert error_of(WebClient(token=slack.token, base_url=slack.api_url,
                                  timeout=5).openid_connect_userInfo) == "not_allowed_token_type"
        slack.users["UALICE"]["deleted"] = True
        assert error_of(user.openid_connect_userInfo) == "token_revoked"


@pytest.mark.parametrize("params, error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "profile email"}, "invalid_scope"),
    ({"scope": "openid channels:read"}, "invalid_scope"),
    ({"client_id": "unknown.app"}, "invalid_client_id"),
    ({"client_id": ""}, "invalid_client_id"),
    ({"redirect_uri": ""}, "bad_redirect_uri"),
    ({"redirect_uri": "javascript:alert(1)"}, "bad_redirect_uri"),
    ({"redirect_uri": "http://127.0.0.1:9/cb#fragment"}, "bad_redirect_uri"),
])
def test_a_bad_authorize_request_gets_an_error_page_never_a_redirect(params, error):
    with served(workspace()) as slack:
        assert page(slack).status_code == 200
        shown = page(slack, **params)
        assert shown.status_code == 400 and "Location" not in shown.headers
        assert shown.headers["Content-Type"].startswith("text/html")
        assert f"<code>{error}</code>" in shown.text and not BUTTON.findall(shown.text)
        # Posting it anyway gets no code either.
        fields = {"response_type": "code", "scope": "openid profile", "client_id": LOCAL_CLIENT_ID,
                  "redirect_uri": CALLBACK, **params}
        answer = requests.post(slack.openid.authorize_endpoint, data={**fields, "user": "UALICE"},
                               allow_redirects=False, timeout=5)
        assert answer.status_code == 400 and "Location" not in answer.headers
        assert slack.openid.codes == {}


def test_registered_redirect_urls_bound_where_codes_may_go():
    with served(workspace()) as slack:
        slack.openid.redirect_urls = ["http://127.0.0.1:9/auth/"]
        assert page(slack).status_code == 200
        assert page(slack, redirect_uri="http://127.0.0.1:9/elsewhere").status_code == 400
        assert page(slack, redirect_uri="https://evil.example/auth/callback").status_code == 400


def test_the_keys_and_discovery_are_slacks_shapes_and_the_key_rotates():
    with served(workspace()) as slack:
        keys = requests.get(slack.openid.openid_keys_url, timeout=5).json()["keys"]
        assert len(keys) == 1 and set(keys[0]) == {"e", "n", "kty", "kid", "alg", "use"}
        assert (keys[0]["kty"], keys[0]["alg"], keys[0]["use"], keys[0]["kid"]) == (
            "RSA", "RS256", "sig", slack.openid.kid)
        config = requests.get(slack.base_url + "/slack-openid/.well-known/openid-configuration",
                              timeout=5).json()
        assert config["issuer"] == "https://slack.com"
        assert config["authorization_endpoint"] == slack.base_url + "/slack-openid/connect/authorize"
        assert config["token_endpoint"] == slack.api_url + "openid.connect.token"
        assert config["userinfo_endpoint"] == slack.api_url + "openid.connect.userInfo"
        assert config["jwks_uri"] == slack.openid.openid_keys_url
        assert config["id_token_signing_alg_values_supported"] == ["RS256"]
        assert config["token_endpoint_auth_methods_supported"] == [
            "client_secret_post", "client_secret_basic"]
        # sign(): any claims, by the stand-in's key (tests forge tokens with it).
        forged = slack.openid.sign({"iss": "https://slack.com", "aud": LOCAL_CLIENT_ID,
                                    "sub": "UALICE", "exp": 1})
        with pytest.raises(jwt.ExpiredSignatureError):
            verified(slack, forged)
        old = exchange(slack, choose(slack, "UALICE")["code"])["id_token"]
        assert verified(slack, old)["sub"] == "UALICE"
        # Rotated: new tokens carry the new kid; the old key is gone from the JWKS...
        kid = slack.openid.rotate_key()
        assert kid != keys[0]["kid"] and slack.openid.kid == kid
        with pytest.raises(jwt.PyJWKClientError):
            verified(slack, old)
        new = exchange(slack, choose(slack, "UALICE")["code"])["id_token"]
        assert jwt.get_unverified_header(new)["kid"] == kid and verified(slack, new)["sub"] == "UALICE"
        # ...unless kept, as during a gentle rotation.
        slack.openid.rotate_key(keep_old=True)
        assert [k["kid"] for k in slack.openid.keys][1] == kid
        assert verified(slack, new)["sub"] == "UALICE"
