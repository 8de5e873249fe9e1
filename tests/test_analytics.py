"""The analytics boards against the real stack: channels, givers, receivers, the emoji
board narrowed by each, unused custom emoji, the trend, and the rules around them
(bots and excluded channels count nowhere, private conversations are never named,
PEOPLE_BOARDS=off leaves no person data anywhere)."""
import dataclasses
import json
import time
from typing import Dict

import pytest
import requests

from chalicelib import services
from tests.conftest import TEAM
from tests.helpers import board, dashboard, post_event, reaction, receive, send, settled

WINDOWS = ("all", "24h", "7d", "30d")


def rows(stack, **params) -> Dict[str, int]:
    """A board's rows as {key: count}, whatever its key is."""
    answer = api(stack, **params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    key = {"channels": "channel", "givers": "user", "receivers": "user"}.get(
        params.get("board", "emoji"), "emoji")
    return {row[key]: row["count"] for row in body["leaderboard"]}


def api(stack, path: str = "leaderboard", **params) -> requests.Response:
    return requests.get(f"{stack.url}/api/{path}", params=params, timeout=10)


def event(stack, kind: str, **fields) -> dict:
    """Deliver a signed directory event (user_change, channel_created, ...) as Slack does."""
    now = time.time()
    envelope = {"token": "unused", "team_id": TEAM, "api_app_id": "A0EMOJIBOARD",
                "type": "event_callback", "event_id": f"Ev{kind}{now:.6f}".replace(".", ""),
                "event_time": int(now), "event": {"type": kind, "event_ts": f"{now:.6f}", **fields}}
    response = post_event(stack, envelope)
    assert response.status_code == 200, response.text
    return response.json()


def user(ident: str, name: str, bot: bool = False) -> dict:
    return {"id": ident, "team_id": TEAM, "name": name.lower(), "real_name": name,
            "is_bot": bot, "deleted": False,
            "profile": {"display_name": name, "real_name": name,
                        "image_72": f"https://avatars.example/{ident}.png"}}


def count(stack, name: str, **kwargs) -> dict:
    kwargs.setdefault("channel", "C1")
    return post_event(stack, reaction(name, **kwargs)).json()


@pytest.fixture
def settings_of(monkeypatch):
    """Run the app with other settings (as if deployed with those environment
    variables): every app instance of the in-process stack shares services.get()."""
    def apply(**changes):
        built = services.get()
        changed = dataclasses.replace(built, settings=dataclasses.replace(built.settings, **changes))
        monkeypatch.setattr(services, "get", lambda: changed)
    return apply


def test_each_reaction_counts_on_every_board_it_belongs_to(stack):
    event(stack, "team_join", user=user("U1", "Ada"))
    event(stack, "channel_created", channel={"id": "C1", "name": "general", "created": 1,
                                             "creator": "U1"})
    count(stack, "tada", user="U1", channel="C1", item_user="U2")
    count(stack, "tada", user="U3", channel="C1", item_user="U2")
    count(stack, "fire", user="U1", channel="C2", item_user="U3")
    count(stack, "fire", user="U1", channel="C2", item_user=None)  # no author: no receiver
    for window in WINDOWS:
        assert rows(stack, window=window) == {"tada": 2, "fire": 2}
        assert rows(stack, window=window, channel="C1") == {"tada": 2}
        assert rows(stack, window=window, giver="U1") == {"tada": 1, "fire": 2}
        assert rows(stack, window=window, receiver="U2") == {"tada": 2}
        assert rows(stack, window=window, board="channels") == {"C1": 2, "C2": 2}
        assert rows(stack, window=window, board="givers") == {"U1": 3, "U3": 1}
        assert rows(stack, window=window, board="receivers") == {"U2": 2, "U3": 1}
    givers = api(stack, board="givers").json()
    assert givers["leaderboard"][0] == {"user": "U1", "name": "Ada", "count": 3,
                                        "version": 3,
                                        "avatar_url": "https://avatars.example/U1.png"}
    assert givers["total"] == 4 and givers["size"] == 2 and givers["board"] == "givers"
    assert api(stack, board="channels").json()["leaderboard"][0] == {
        "channel": "C1", "name": "general", "private": False, "count": 2, "version": 2}


def test_a_removal_takes_the_reaction_out_of_every_board(stack):
    count(stack, "eyes", user="U1", channel="C1", item_user="U2", item_ts="1.1")
    count(stack, "eyes", user="U1", channel="C1", item_user="U2", item_ts="1.1", added=False)
    for params in ({}, {"channel": "C1"}, {"giver": "U1"}, {"receiver": "U2"},
                   {"board": "channels"}, {"board": "givers"}, {"board": "receivers"}):
        assert rows(stack, window="24h", **params) == {}, params
    assert api(stack, "trend", window="24h").json()["total"] == 0


def test_bots_and_excluded_channels_count_nowhere(stack, settings_of):
    event(stack, "team_join", user=user("UBOT", "Polly", bot=True))
    assert count(stack, "tada", user="UBOT") == {"ok": True, "ignored": "user UBOT is a bot"}
    assert count(stack, "tada", user="USLACKBOT")["ignored"] == "a reaction by Slackbot"
    settings_of(excluded_channels=frozenset({"C9"}))
    assert count(stack, "tada", user="U1", channel="C9")["ignored"] == "channel C9 is excluded"
    assert count(stack, "tada", user="U1", channel="C1")["result"] == "counted"
    assert rows(stack, board="givers") == {"U1": 1}
    assert rows(stack, board="channels") == {"C1": 1}
    assert rows(stack) == {"tada": 1}
    # A bot that stops being one (user_change) counts again.
    event(stack, "user_change", user=user("UBOT", "Polly"))
    assert count(stack, "tada", user="UBOT")["result"] == "counted"


def test_private_conversations_count_in_totals_and_are_never_named(stack):
    event(stack, "channel_created", channel={"id": "C1", "name": "general", "created": 1,
                                             "creator": "U1"})
    event(stack, "group_rename", channel={"id": "C7SECRET", "name": "secret-plans",
                                          "created": 1})
    for channel in ("C1", "C7SECRET", "D0DIRECT"):
        count(stack, "shushing_face", user="U1", channel=channel, item_ts=f"{channel}.1")
    settled(stack)
    with dashboard(stack) as socket:
        send(socket, {"action": "snapshot", "board": "channels", "window": "all"})
        snapshot = receive(socket)
        count(stack, "shushing_face", user="U2", channel="C7SECRET")
        count(stack, "shushing_face", user="U2", channel="C1")
        update = receive(socket)
        send(socket, {"action": "snapshot", "board": "emoji", "window": "all",
                      "channel": "C7SECRET"})
        refused = receive(socket)
    answers = [api(stack, board="channels").text, json.dumps(snapshot), json.dumps(update),
               api(stack).text]
    for text in answers:
        assert "secret" not in text and "C7SECRET" not in text and "D0DIRECT" not in text
    assert rows(stack) == {"shushing_face": 5}  # every emoji total counts them
    assert rows(stack, board="channels") == {"C1": 2}
    assert [c["channel"] for c in update["changes"]] == ["C1"]
    assert refused == {"type": "error", "message": "channel C7SECRET is private; its "
                       "reactions count only in the workspace's totals"}
    assert api(stack, channel="C7SECRET").status_code == 400
    assert api(stack, channel="D0DIRECT").status_code == 400


def test_people_boards_off_leaves_no_person_data_anywhere(stack, settings_of):
    settings_of(people_boards=False)
    count(stack, "wave", user="U1", item_user="U2")
    for params in ({"board": "givers"}, {"board": "receivers"}, {"giver": "U1"},
                   {"receiver": "U2"}):
        answer = api(stack, **params)
        assert answer.status_code == 400
        assert answer.json() == {"error": "people boards are turned off in this workspace"}
    with dashboard(stack) as socket:
        send(socket, {"action": "snapshot", "board": "givers", "window": "all"})
        assert receive(socket)["message"] == "people boards are turned off in this workspace"
        send(socket, {"action": "snapshot", "board": "emoji", "window": "all"})
        snapshot = receive(socket)
        count(stack, "wave", user="U3", item_user="U2")
        update = receive(socket)
    for text in (json.dumps(snapshot), json.dumps(update), api(stack).text,
                 api(stack, board="channels").text):
        assert "U1" not in text and "U2" not in text and "U3" not in text
    assert rows(stack) == {"wave": 2}


def test_live_updates_reach_a_channel_view_and_a_person_view(stack):
    event(stack, "team_join", user=user("U1", "Ada"))
    with dashboard(stack) as by_channel, dashboard(stack) as by_person:
        send(by_channel, {"action": "snapshot", "board": "emoji", "window": "24h",
                          "channel": "C1"})
        send(by_person, {"action": "snapshot", "board": "givers", "window": "7d"})
        assert receive(by_channel)["leaderboard"] == []
        assert receive(by_person)["leaderboard"] == []
        count(stack, "rocket", user="U1", channel="C1")
        channel_update, person_update = receive(by_channel), receive(by_person)
        count(stack, "rocket", user="U2", channel="C2")  # another channel: not for by_channel
        assert receive(by_person)["changes"][0]["user"] == "U2"
        with pytest.raises(TimeoutError):
            receive(by_channel, timeout=1)
    assert channel_update == {"type": "update", "board": "emoji", "window": "24h",
                              "channel": "C1", "changes": [
                                  {"emoji": "rocket", "count": 1, "window": "24h",
                                   "version": 1, "glyph": "🚀"}]}
    assert person_update == {"type": "update", "board": "givers", "window": "7d", "changes": [
        {"user": "U1", "count": 1, "window": "7d", "version": 1, "name": "Ada",
         "avatar_url": "https://avatars.example/U1.png"}]}


def test_the_trend_adds_up_to_its_window(stack):
    now = time.time()
    for i, ago in enumerate((0, 3600 * 3, 86400 * 2, 86400 * 40, 86400 * 200, 86400 * 500)):
        count(stack, "tada" if i % 2 else "joy", user=f"U{i}", item_ts=f"9.{i}",
              event_time=now - ago)
    day = api(stack, "trend", window="24h").json()
    month = api(stack, "trend", window="30d").json()
    year = api(stack, "trend", window="12m", emoji="tada").json()
    assert [len(t["points"]) for t in (day, month, year)] == [24, 30, 12]
    assert day["total"] == sum(board(stack, "24h").values()) == sum(p["count"] for p in day["points"])
    assert month["total"] == sum(board(stack, "30d").values())
    assert year == {**year, "window": "12m", "emoji": "tada"}
    assert sum(p["count"] for p in year["points"]) == 2  # 500 days ago is past 12 months
    starts = [p["start"] for p in day["points"]]
    assert starts == sorted(starts) and starts[-1].endswith(":00:00Z")
    assert api(stack, "trend", window="12m", emoji="thumbsup").json()["emoji"] == "+1"
    for params, error in (({"window": "7d"}, "window must be one of 24h, 30d, 12m"),
                          ({"window": "24h", "emoji": ":tada:"}, "emoji must be")):
        answer = api(stack, "trend", **params)
        assert answer.status_code == 400 and error in answer.json()["error"]


def test_unused_custom_emoji_are_listed_until_someone_uses_them(stack):
    before = rows(stack, board="unused", window="30d")
    assert before == {"party-parrot": 0, "shipit": 0}  # the stand-in's custom emoji
    count(stack, "shipit")
    assert rows(stack, board="unused", window="30d") == {"party-parrot": 0}
    assert rows(stack, board="unused", window="all") == {"party-parrot": 0}
    answer = api(stack, board="unused", window="7d")
    assert answer.status_code == 400 and "unused board's window" in answer.json()["error"]


@pytest.mark.parametrize("params, error", [
    ({"board": "everything"}, "board must be one of"),
    ({"channel": "C1", "giver": "U1"}, "narrow by one of channel, giver, receiver"),
    ({"board": "givers", "channel": "C1"}, "narrows the emoji board only"),
    ({"giver": "U1#ALL"}, "must be a Slack id"),
])
def test_bad_or_conflicting_parameters_are_a_clear_400(stack, params, error):
    answer = api(stack, **params)
    assert answer.status_code == 400 and error in answer.json()["error"]

