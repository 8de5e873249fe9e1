"""POST /slack/events: signatures, url_verification, and bad input changing nothing."""
import time

import pytest
import requests

from devkit import simulate
from tests.conftest import SECRET
from tests.helpers import board, post_event, reaction


def test_signed_reaction_is_counted(stack):
    response = post_event(stack, reaction("tada"))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "result": "counted"}
    assert board(stack) == {"tada": 1}


def test_url_verification_answers_the_challenge(stack):
    envelope = {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                "type": "url_verification"}
    response = post_event(stack, envelope)
    assert response.status_code == 200
    assert response.json() == {"challenge": envelope["challenge"]}


@pytest.mark.parametrize("headers", [
    {},                                                             # missing
    {"X-Slack-Request-Timestamp": "{now}"},                         # no signature
    {"X-Slack-Request-Timestamp": "{now}", "X-Slack-Signature": "v0=" + "0" * 64},  # wrong
    {"X-Slack-Request-Timestamp": "not-a-number", "X-Slack-Signature": "v0=abc"},
], ids=["missing", "no-signature", "wrong-signature", "bad-timestamp"])
def test_bad_or_missing_signature_is_401_and_counts_nothing(stack, headers):
    body = simulate.encode(reaction("fire"))
    headers = {k: v.format(now=int(time.time())) for k, v in headers.items()}
    response = requests.post(f"{stack.url}/slack/events", data=body, timeout=10,
                             headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    assert board(stack) == {}


def test_wrong_secret_is_401(stack):
    assert post_event(stack, reaction("fire"), secret="not-the-secret").status_code == 401
    assert board(stack) == {}


# Well past slack_sdk's 5 minutes either way: at exactly 301 s, int(time.time()) and the
# request's own latency could bring the gap under 300 s by the time it is checked.
@pytest.mark.parametrize("age", [310, 3600, -310])
def test_stale_or_future_timestamp_is_401(stack, age):
    response = post_event(stack, reaction("fire"), timestamp=int(time.time()) - age)
    assert response.status_code == 401
    assert board(stack) == {}


def test_tampered_body_is_401(stack):
    body = simulate.encode(reaction("fire"))
    headers = simulate.signed_headers(body, SECRET)
    tampered = body.replace(b"fire", b"poop")
    response = requests.post(f"{stack.url}/slack/events", data=tampered, headers=headers, timeout=10)
    assert response.status_code == 401
    assert board(stack) == {}


def _without(path, envelope=None):
    envelope = envelope or reaction("fire")
    target = envelope
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return envelope


def _with(path, value):
    envelope = reaction("fire")
    target = envelope
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return envelope


MALFORMED = {
    "not-json": b"{this is not json",
    "json-array": b"[1, 2, 3]",
    "json-string": b'"event_callback"',
    "deeply-nested": b"[" * 5000 + b"]" * 5000,
    "no-type": _without(["type"]),
    "type-number": _with(["type"], 7),
    "no-event": _without(["event"]),
    "event-string": _with(["event"], "reaction_added"),
    "no-event-id": _without(["event_id"]),
    "event-id-number": _with(["event_id"], 12345),
    "no-team": _without(["team_id"]),
    "no-user": _without(["event", "user"]),
    "reaction-empty": _with(["event", "reaction"], ""),
    "reaction-list": _with(["event", "reaction"], ["fire"]),
    "reaction-too-long": _with(["event", "reaction"], "x" * 101),
    "reaction-only-tone": _with(["event", "reaction"], "::skin-tone-2"),
    "no-item": _without(["event", "item"]),
    "item-unknown-type": _with(["event", "item"], {"type": "planet", "id": "x"}),
    "item-no-channel": _without(["event", "item", "channel"]),
    "event-ts-word": _with(["event", "event_ts"], "yesterday"),
    "event-ts-negative": _with(["event", "event_ts"], "-5"),
    "challenge-missing": {"type": "url_verification"},
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_signed_body_is_400_with_clear_error(stack, body):
    response = post_event(stack, body)
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error, str) and error and "Traceback" not in error
    assert board(stack) == {}


def test_oversized_body_is_refused(stack):
    envelope = reaction("fire")
    envelope["padding"] = "x" * 70_000
    response = post_event(stack, envelope)
    assert response.status_code == 413
    assert board(stack) == {}


def test_other_event_types_are_acknowledged_and_ignored(stack):
    envelope = reaction("fire")
    envelope["event"]["type"] = "message"
    response = post_event(stack, envelope)
    assert response.status_code == 200
    assert "ignored" in response.json()
    assert board(stack) == {}


def test_events_from_another_workspace_are_ignored(stack):
    response = post_event(stack, reaction("fire", team_id="T0OTHER"))
    assert response.status_code == 200
    assert "T0OTHER" in response.json()["ignored"]
    assert board(stack) == {}


def test_unknown_route_answers_like_api_gateway(stack):
    response = requests.get(f"{stack.url}/api/nothing-here", timeout=10)
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_a_missing_signing_secret_is_a_clear_500(stack, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    response = post_event(stack, reaction("fire"))
    assert response.status_code == 500
    assert response.json() == {
        "error": "server misconfigured: environment variable SLACK_SIGNING_SECRET is not set"}
    monkeypatch.undo()
    assert board(stack) == {}


# Names no Slack emoji can have (chalicelib/names.py): each a 400 that counts nothing.
NOT_EMOJI_NAMES = {
    "nul": "fi\x00re", "newline": "fi\nre", "rtl-override": "\u202efire",
    "zero-width-space": "fi\u200bre", "cyrillic-look-alike": "h\u0435art",
    "capitals": "THUMBSUP", "spaces": " heart ", "lone-surrogate": "\ud800",
    "fullwidth": "\uff15", "colon": "fire:", "markup": "<img src=x onerror=alert(1)>",
    "too-long": "n" * 101, "bad-skin-tone": "+1::SKIN", "empty-base": "::skin-tone-2",
}


@pytest.mark.parametrize("name", NOT_EMOJI_NAMES.values(), ids=NOT_EMOJI_NAMES.keys())
def test_a_reaction_that_is_not_an_emoji_name_is_400_and_counts_nothing(stack, name):
    response = post_event(stack, reaction(name))
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("event.reaction is not ")
    assert board(stack) == {}


@pytest.mark.parametrize("name", ["fire", "+1", "-1", "e-mail", "man-woman-boy",
                                  "party_parrot", "it's", "100", "ありがとう", "了解",
                                  "спасибо", "wave::skin-tone-3"])
def test_every_kind_of_slack_name_is_counted(stack, name):
    assert post_event(stack, reaction(name)).json()["result"] == "counted"
    assert board(stack) == {name.split("::")[0]: 1}


@pytest.mark.parametrize("field, value", [("user", "U\ud800"), ("channel", "C\udfff")])
def test_a_lone_surrogate_anywhere_is_400(stack, field, value):
    response = post_event(stack, reaction("fire", **{field: value}))
    assert response.status_code == 400
    assert "not valid Unicode text" in response.json()["error"]
    assert board(stack) == {}


@pytest.mark.parametrize("event_ts, error", [
    (time.time() + 3 * 365 * 86400, "in the future"),      # years ahead: not Slack's
    (10 ** 400, "must be a Slack timestamp"),              # an integer no float holds
])
def test_an_impossible_event_time_is_400_and_counts_nothing(stack, event_ts, error):
    envelope = reaction("fire")
    envelope["event"]["event_ts"] = event_ts
    body = simulate.encode(envelope)
    response = post_event(stack, body)
    assert response.status_code == 400, response.text
    assert error in response.json()["error"]
    assert board(stack) == {}
    assert board(stack, "24h") == {}


def test_an_event_moments_ahead_of_this_clock_is_counted(stack):
    # Slack's clock and ours differ a little; within the signature's 5 minutes is fine.
    assert post_event(stack, reaction("fire", event_time=time.time() + 60)).status_code == 200
    assert board(stack, "24h") == {"fire": 1}


def test_a_slack_retry_is_logged_with_its_reason(stack, caplog):
    envelope = reaction("fire")
    post_event(stack, envelope)
    with caplog.at_level("INFO", logger="chalicelib.ingest"):
        assert post_event(stack, envelope, retry=1).json()["result"] == "duplicate"
    assert any("Slack retry 1 of " + envelope["event_id"] in r.getMessage()
               and "http_timeout" in r.getMessage() for r in caplog.records), caplog.text
