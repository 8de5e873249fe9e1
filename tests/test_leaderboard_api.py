"""GET /api/leaderboard: order, limits, windows and clear errors."""
import pytest
import requests

from tests.helpers import dashboard, post_event, reaction, receive, send


def _rows(stack, **params):
    response = requests.get(f"{stack.url}/api/leaderboard", params=params, timeout=10)
    return response.status_code, response.json()


def _react(stack, counts):
    for emoji, n in counts.items():
        for i in range(n):
            post_event(stack, reaction(emoji, user=f"U{i}", item_ts="1.1"))


def test_sorted_by_count_then_name_with_defaults(stack):
    _react(stack, {"fire": 2, "eyes": 3, "tada": 2, "heart": 1})
    status, body = _rows(stack)
    assert status == 200
    assert body == {"board": "emoji", "window": "all", "total": 8, "size": 4, "leaderboard": [
        {"emoji": "eyes", "count": 3, "version": 3, "glyph": "👀"},
        {"emoji": "fire", "count": 2, "version": 2, "glyph": "🔥"},
        {"emoji": "tada", "count": 2, "version": 2, "glyph": "🎉"},
        {"emoji": "heart", "count": 1, "version": 1, "glyph": "❤️"}]}


def test_limit_cuts_the_board(stack):
    _react(stack, {"fire": 2, "eyes": 3, "tada": 1})
    status, body = _rows(stack, window="24h", limit="2")
    assert status == 200
    assert body["window"] == "24h"
    assert [r["emoji"] for r in body["leaderboard"]] == ["eyes", "fire"]
    assert body["total"] == 6  # every emoji in the window, not only the rows shown
    assert body["size"] == 3   # and how many rows the whole board has


def test_emoji_back_at_zero_are_not_listed(stack):
    post_event(stack, reaction("fire", user="U1", item_ts="2.2"))
    post_event(stack, reaction("fire", user="U1", item_ts="2.2", added=False))
    post_event(stack, reaction("eyes", user="U1", item_ts="2.2"))
    body = _rows(stack)[1]
    assert body["leaderboard"] == [{"emoji": "eyes", "count": 1, "version": 1, "glyph": "👀"}]
    assert body["total"] == 1


def test_empty_board(stack):
    assert _rows(stack, window="7d") == (200, {"board": "emoji", "window": "7d", "total": 0,
                                               "size": 0, "leaderboard": []})


def test_a_rolling_window_row_carries_the_all_time_version(stack):
    """The version a page compares updates against is the emoji's, whatever the window."""
    _react(stack, {"fire": 3})
    post_event(stack, reaction("fire", user="U0", item_ts="1.1", added=False))
    [row] = _rows(stack, window="24h")[1]["leaderboard"]
    assert (row["count"], row["version"]) == (2, 4)


@pytest.mark.parametrize("params, fragment", [
    ({"window": "1y"}, "window must be one of"),
    ({"window": ""}, "window must be one of"),
    ({"limit": "0"}, "limit must be"),
    ({"limit": "-3"}, "limit must be"),
    ({"limit": "ten"}, "limit must be"),
    ({"limit": "501"}, "limit must be"),
    ({"limit": "2.5"}, "limit must be"),
    # Digits to str.isdigit(), not to int(); and one int() takes but is not ASCII.
    ({"limit": "\u00b2"}, "limit must be"),        # superscript two
    ({"limit": "\u2460"}, "limit must be"),        # circled one
    ({"limit": "\uff15"}, "limit must be"),        # fullwidth five
    ({"limit": "9" * 5000}, "limit must be"),     # past int()'s 4,300-digit limit
])
def test_bad_query_is_400_with_clear_error(stack, params, fragment):
    status, body = _rows(stack, **params)
    assert status == 400
    assert fragment in body["error"]
    assert len(body["error"]) < 200  # the bad value is quoted, cut short


@pytest.mark.parametrize("limit", ["\u00b2", "\u2460", "\uff15", "9" * 4000, 10 ** 30, 5.0])
def test_a_bad_limit_over_the_websocket_gets_a_clear_error(stack, limit):
    with dashboard(stack) as socket:
        send(socket, {"action": "snapshot", "limit": limit})
        reply = receive(socket)
    assert reply["type"] == "error" and reply["message"].startswith("limit must be")
