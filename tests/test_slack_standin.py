"""The devkit's stand-in for Slack's Web API (devkit/slack_api.py) serving a whole
workspace, over HTTP through slack_sdk's WebClient as the app calls it: paging,
time windows, threads, joining, long reaction lists, what a bot token may see, rate
limits, and the workspace files it is given. No shared stack: each test starts the
stand-in alone on a port of its own."""
import asyncio
import json
import threading
import time
from contextlib import contextmanager

import pytest
import requests
from aiohttp import web
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from devkit import demo_workspace, dynamodb, slack_api
from devkit.slack_api import REACTION_USERS_CUT, SlackWebAPI

START = 1700000000  # the test workspace's first message
THREAD = 5  # the index of CBIG's message with a thread
REPLIES = 7


@contextmanager
def served(workspace=None):
    """The stand-in on 127.0.0.1, in a thread of its own, until the block ends."""
    port = dynamodb.free_port()
    slack = SlackWebAPI(f"http://127.0.0.1:{port}", workspace=workspace)
    app = web.Application()
    slack.add_routes(app)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield slack
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def client(slack, **kwargs) -> WebClient:
    return WebClient(token=slack.token, base_url=slack.api_url, timeout=5, **kwargs)


def ts(i: int) -> str:
    return f"{START + 60 * i}.000100"


def users(n: int) -> list:
    return [f"U{i:04d}" for i in range(n)]


def message(i: int, user: str = "U0001", **fields) -> dict:
    return {"type": "message", "user": user, "text": f"message {i}", "ts": ts(i), **fields}


def channel(ident: str, name: str = None, *, private=False, member=False, archived=False,
            im=False, mpim=False, user=None) -> dict:
    if im:
        return {"id": ident, "is_im": True, "user": user, "is_member": member, "created": START}
    return {"id": ident, "name": name or ident.lower(), "is_channel": not private and not mpim,
            "is_group": private and not mpim, "is_im": False, "is_mpim": mpim,
            "is_private": private or mpim, "is_archived": archived, "is_member": member,
            "created": START}


def workspace(messages: int = 2500) -> dict:
    """CBIG (public, the bot not in it): `messages` messages a minute apart, one of
    them (THREAD) with a thread of REPLIES replies, the 4th also sent to the channel;
    message 0 and the thread's 2nd reply have a reaction by 120 people."""
    people = users(120)
    history = [message(i, people[i % 120]) for i in range(messages)]
    history[0]["reactions"] = [{"name": "tada", "users": people, "count": 120},
                               {"name": "+1::skin-tone-3", "users": people[:2], "count": 2}]
    parent = history[THREAD]
    replies = []
    for r in range(1, REPLIES + 1):
        reply = {"type": "message", "user": people[r], "text": f"reply {r}",
                 "ts": f"{START + 60 * THREAD + r}.000200", "thread_ts": parent["ts"],
                 "parent_user_id": parent["user"]}
        if r == 4:
            reply["subtype"] = "thread_broadcast"
            history.append(reply)  # in the channel too
        replies.append(reply)
    replies[1]["reactions"] = [{"name": "eyes", "users": people[::-1], "count": 120}]
    history.append(replies[0])  # a plain reply: never in conversations.history
    parent.update(thread_ts=parent["ts"], reply_count=REPLIES, latest_reply=replies[-1]["ts"])
    return {
        "team": {"id": "T0STANDIN", "name": "Stand-in", "domain": "standin"},
        "users": [{"id": u, "name": u.lower(), "is_bot": False, "profile": {}} for u in people]
                 + [{"id": "UBOT", "name": "bot", "is_bot": True, "profile": {}}],
        "channels": [channel("CBIG"), channel("CSMALL", member=True),
                     channel("CPRIV", private=True, member=True),
                     channel("CHIDDEN", private=True),
                     channel("CARCH", archived=True),
                     channel("GMPIM", "mpdm-a--b--bot-1", mpim=True, member=True),
                     channel("DBOT", im=True, user="U0001", member=True),
                     channel("DOTHERS", im=True, user="U0002")],
        "history": {"CBIG": history,
                    "CSMALL": [message(i) for i in range(3)],
                    "CHIDDEN": [message(i) for i in range(3)],
                    "DOTHERS": [message(1)]},
        "replies": {f"CBIG/{parent['ts']}": [parent, *replies]},
    }


def pages_of(response) -> list:
    """Every page of a paged answer: slack_sdk follows next_cursor, reusing one
    response object, so each page's data is kept as it comes."""
    return [dict(page.data) for page in response]


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


# ---- conversations.history ---------------------------------------------------------------


def test_history_pages_through_every_message_once_newest_first():
    with served(workspace()) as slack:
        web_client = client(slack)
        web_client.conversations_join(channel="CBIG")
        pages = pages_of(web_client.conversations_history(channel="CBIG", limit=200))
        seen = [m["ts"] for page in pages for m in page["messages"]]
        # 2,500 messages and the broadcast reply; the plain reply is the thread's alone.
        expected = sorted({*(ts(i) for i in range(2500)), f"{START + 60 * THREAD + 4}.000200"},
                          key=slack_api.ts_key, reverse=True)
        assert seen == expected
        assert len(pages) == 13 and all(len(p["messages"]) == 200 for p in pages[:-1])
        assert all(p["has_more"] for p in pages[:-1]) and not pages[-1]["has_more"]
        assert pages[-1]["response_metadata"]["next_cursor"] == ""
        assert [(m, status) for m, _, status in slack.requests] == [
            ("conversations.join", 200)] + [("conversations.history", 200)] * 13
        # Slack's shapes: the thread's parent with its fields, the broadcast as sent.
        parent = next(m for p in pages for m in p["messages"] if m["ts"] == ts(THREAD))
        assert parent["reply_count"] == REPLIES and parent["thread_ts"] == ts(THREAD)
        # Slack may answer fewer than asked: the cursor still walks the whole history.
        slack.page_size = 999
        assert len(web_client.conversations_history(channel="CBIG", limit=5000)["messages"]) == 999
        assert error_of(lambda: web_client.conversations_history(
            channel="CBIG", cursor="bm90OmEgY3Vyc29y")) == "invalid_cursor"


def test_history_between_oldest_and_latest_inclusive_or_not():
    with served(workspace(100)) as slack:
        web_client = client(slack)
        web_client.conversations_join(channel="CBIG")

        def between(**window):
            return [m["ts"] for page in web_client.conversations_history(
                channel="CBIG", limit=7, **window) for m in page["messages"]]

        assert between(oldest=ts(10), latest=ts(20)) == [ts(i) for i in range(19, 10, -1)]
        assert between(oldest=ts(10), latest=ts(20), inclusive=True) == [ts(i) for i in range(20, 9, -1)]
        assert between(oldest=ts(95)) == [ts(i) for i in range(99, 95, -1)]
        assert between(latest=ts(3), inclusive=True) == [ts(3), ts(2), ts(1), ts(0)]
        assert between(oldest=str(START + 60 * 50)) == [ts(i) for i in range(99, 49, -1)]  # seconds only
        assert between(oldest=ts(99)) == []
        assert error_of(lambda: web_client.conversations_history(
            channel="CBIG", oldest="yesterday")) == "invalid_ts_oldest"
        assert error_of(lambda: web_client.conversations_history(
            channel="CBIG", latest="1.2.3")) == "invalid_ts_latest"


def test_history_needs_the_bot_in_the_channel_and_joining_gets_it_in():
    with served(workspace(10)) as slack:
        web_client = client(slack)
        assert error_of(lambda: web_client.conversations_history(channel="CBIG")) == "not_in_channel"
        assert error_of(lambda: web_client.conversations_replies(
            channel="CBIG", ts=ts(1))) == "not_in_channel"
        # What a bot token cannot see is not there at all.
        for hidden in ("CHIDDEN", "DOTHERS", "CNONE"):
            assert error_of(lambda: web_client.conversations_history(
                channel=hidden)) == "channel_not_found"
        joined = web_client.conversations_join(channel="CBIG")
        assert joined["channel"]["id"] == "CBIG" and joined["channel"]["is_member"] is True
        assert "warning" not in joined.data
        history = web_client.conversations_history(channel="CBIG")["messages"]
        assert len(history) == 11  # and the broadcast
        # Joining again: ok, with Slack's warning (top-level and in response_metadata).
        again = web_client.conversations_join(channel="CBIG")
        assert again["ok"] is True and again["warning"] == "already_in_channel"
        assert again["response_metadata"]["warnings"] == ["already_in_channel"]
        assert again["channel"]["is_member"] is True
        # The bot's own private channel, group DM and DM it reads without joining.
        for readable in ("CPRIV", "GMPIM", "DBOT", "CSMALL"):
            assert web_client.conversations_history(channel=readable)["ok"]
        for ident, error in (("CPRIV", "method_not_supported_for_channel_type"),
                             ("CHIDDEN", "method_not_supported_for_channel_type"),
                             ("DBOT", "method_not_supported_for_channel_type"),
                             ("GMPIM", "method_not_supported_for_channel_type"),
                             ("CARCH", "is_archived"), ("CNONE", "channel_not_found")):
            assert error_of(lambda: web_client.conversations_join(channel=ident)) == error
        assert [c["is_member"] for c in web_client.conversations_list()["channels"]
                if c["id"] == "CBIG"] == [True]
        assert slack.channels["CBIG"]["is_member"] is True  # tests may look, or change it
        with pytest.raises(SlackApiError) as raised:
            WebClient(token="xoxb-wrong", base_url=slack.api_url).conversations_join(channel="CBIG")
        assert raised.value.response["error"] == "invalid_auth"


# ---- conversations.replies ---------------------------------------------------------------


def test_replies_page_with_the_parent_first_on_every_page():
    with served(workspace(200)) as slack:
        web_client = client(slack)
        web_client.conversations_join(channel="CBIG")
        parent = ts(THREAD)
        pages = pages_of(web_client.conversations_replies(channel="CBIG", ts=parent, limit=3))
        assert len(pages) == 4
        assert all(page["messages"][0]["ts"] == parent for page in pages)
        replies = [m for page in pages for m in page["messages"][1:]]
        assert [m["text"] for m in replies] == [f"reply {r}" for r in range(1, REPLIES + 1)]
        assert all(m["thread_ts"] == parent for m in replies)
        assert replies[3]["subtype"] == "thread_broadcast"
        # A reply's ts gives its whole thread; a message without replies just itself.
        whole = web_client.conversations_replies(channel="CBIG", ts=replies[2]["ts"])
        assert [m["ts"] for m in whole["messages"]] == [parent] + [m["ts"] for m in replies]
        assert not whole["has_more"]
        alone = web_client.conversations_replies(channel="CBIG", ts=ts(50))
        assert [m["ts"] for m in alone["messages"]] == [ts(50)]
        # A window over the replies; the parent still comes first.
        window = web_client.conversations_replies(channel="CBIG", ts=parent, oldest=replies[1]["ts"],
                                                  latest=replies[4]["ts"], inclusive=True)
        assert [m["ts"] for m in window["messages"]] == [parent] + [m["ts"] for m in replies[1:5]]
        for bad in (f"{START + 1}.000000", "nonsense"):
            assert error_of(lambda: web_client.conversations_replies(
                channel="CBIG", ts=bad)) == "thread_not_found"
        assert error_of(lambda: web_client.conversations_replies(
            channel="CHIDDEN", ts=ts(1))) == "channel_not_found"


# ---- long reaction lists ------------------------------------------------------------------


def test_a_long_reaction_list_is_cut_to_fifty_and_whole_with_reactions_get_full():
    with served(workspace(200)) as slack:
        web_client = client(slack)
        web_client.conversations_join(channel="CBIG")
        first = web_client.conversations_history(channel="CBIG", oldest=ts(0), latest=ts(0),
                                                 inclusive=True)["messages"][0]
        tada, toned = first["reactions"]
        everyone = users(120)
        assert (tada["name"], tada["count"]) == ("tada", 120)
        assert tada["users"] == everyone[:REACTION_USERS_CUT]
        assert (toned["name"], toned["count"], toned["users"]) == ("+1::skin-tone-3", 2, everyone[:2])
        cut = web_client.reactions_get(channel="CBIG", timestamp=ts(0))
        assert (cut["type"], cut["channel"], cut["message"]["ts"]) == ("message", "CBIG", ts(0))
        assert len(cut["message"]["reactions"][0]["users"]) == REACTION_USERS_CUT
        full = web_client.reactions_get(channel="CBIG", timestamp=ts(0), full=True)
        assert full["message"]["reactions"][0] == {"name": "tada", "users": everyone, "count": 120}
        permalink = f"https://standin.slack.com/archives/CBIG/p{ts(0).replace('.', '')}"
        assert full["message"]["permalink"] == permalink
        # A reply's reactions: cut in conversations.replies, whole from reactions.get.
        reply = web_client.conversations_replies(channel="CBIG", ts=ts(THREAD))["messages"][2]
        assert reply["reactions"][0]["count"] == 120
        assert reply["reactions"][0]["users"] == everyone[::-1][:REACTION_USERS_CUT]
        whole = web_client.reactions_get(channel="CBIG", timestamp=reply["ts"], full=True)
        assert whole["message"]["reactions"][0]["users"] == everyone[::-1]
        # The workspace itself keeps every user: nothing was cut in place.
        assert len(slack.history["CBIG"][0]["reactions"][0]["users"]) == 120
        for args, error in (({"channel": "CBIG", "timestamp": f"{START}.999999"}, "message_not_found"),
                            ({"channel": "CBIG"}, "no_item_specified"),
                            ({"channel": "CHIDDEN", "timestamp": ts(1)}, "channel_not_found"),
                            ({"channel": "CBIG", "timestamp": "soon"}, "bad_timestamp")):
            assert error_of(lambda: web_client.reactions_get(**args)) == error


# ---- conversations.list ------------------------------------------------------------------


def listed(web_client, **kwargs):
    pages = pages_of(web_client.conversations_list(**kwargs))
    ids = [c["id"] for page in pages for c in page["channels"]]
    assert len(ids) == len(set(ids))
    return ids, pages


def test_conversations_list_shows_a_bot_only_the_private_ones_it_is_in():
    with served(workspace(10)) as slack:
        web_client = client(slack)
        ids, _ = listed(web_client)  # public_channel by default
        assert ids == ["CBIG", "CSMALL", "CARCH"]
        assert listed(web_client, exclude_archived=True)[0] == ["CBIG", "CSMALL"]
        every = "public_channel,private_channel,mpim,im"
        assert listed(web_client, types=every)[0] == [
            "CBIG", "CSMALL", "CPRIV", "CARCH", "GMPIM", "DBOT"]
        assert listed(web_client, types="private_channel")[0] == ["CPRIV"]
        assert listed(web_client, types="im")[0] == ["DBOT"]
        # A page is `limit` conversations before the filters: it may hold fewer, even
        # none, and the cursor still leads on (Slack: "fewer than the requested number
        # of items may be returned, even if the end of the list hasn't been reached").
        ids, pages = listed(web_client, types="im", limit=2)
        assert ids == ["DBOT"] and len(pages) == 4 and pages[0]["channels"] == []
        assert all(p["response_metadata"]["next_cursor"] for p in pages[:-1])
        # Invited to the hidden channel, the bot sees it.
        slack.channels["CHIDDEN"]["is_member"] = True
        assert listed(web_client, types="private_channel")[0] == ["CPRIV", "CHIDDEN"]
        assert error_of(lambda: web_client.conversations_list(
            types="public_channel,secret")) == "invalid_types"
        assert error_of(lambda: web_client.conversations_list(
            cursor="bm90OmEgY3Vyc29y")) == "invalid_cursor"
        # conversations.info answers from the same channels, as before.
        assert web_client.conversations_info(channel="CPRIV")["channel"]["is_private"] is True


# ---- rate limits ---------------------------------------------------------------------------


def test_over_a_shortened_window_slack_answers_429_and_a_client_waits_it_out():
    with served(workspace(10)) as slack:
        slack.channels["CBIG"]["is_member"] = True
        slack.limits["conversations.history"], slack.window = 5, 2.0
        headers = {"Authorization": f"Bearer {slack.token}"}
        session = requests.Session()
        answers = [session.get(slack.api_url + "conversations.history", params={"channel": "CBIG"},
                               headers=headers, timeout=5) for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert answers[5].json() == {"ok": False, "error": "ratelimited"}
        assert 1 <= int(answers[5].headers["Retry-After"]) <= 2  # whole seconds, at least 1
        assert [r[2] for r in slack.requests] == [200] * 5 + [429]
        # slack_sdk's own retry handler waits as Retry-After says, then gets its answer.
        time.sleep(slack.window)
        slack.requests.clear()
        web_client = client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])
        for _ in range(6):
            assert web_client.conversations_history(channel="CBIG")["ok"]
        log = [(method, at, status) for method, at, status in slack.requests]
        assert [status for _, _, status in log] == [200] * 5 + [429, 200]
        assert {method for method, _, _ in log} == {"conversations.history"}
        (_, first, _), (_, refused, _), (_, retried, _) = log[0], log[5], log[6]
        assert retried - refused >= 1  # it waited at least the Retry-After it was given
        assert retried >= first + slack.window  # by then the window had room again
        # Other methods have windows of their own.
        assert web_client.conversations_info(channel="CBIG")["ok"]


# ---- workspace files -----------------------------------------------------------------------


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
    ("[]", 'not a workspace: the top level must be a JSON object with "team", "users" and "channels"'),
    ({"team": {"id": "T1"}, "channels": []}, 'missing "users"'),
    ({"team": {"id": "T1"}, "users": [], "channels": [], "histroy": {}},
     'unknown key "histroy" (a workspace has team, users, channels, history, replies, emoji)'),
    ({"team": {"id": "T1"}, "users": [], "channels": [channel("C1")], "history": {"C2": []}},
     'history key "C2" is not a channel in "channels"'),
    ({"team": {"id": "T1"}, "users": [], "channels": [channel("C1")],
      "history": {"C1": [message(1, reactions=[{"name": "tada", "users": ["U1"], "count": 60}])]}},
     'history["C1"][0]: reaction "tada" has count 60 but 1 users (the file holds every '
     "reaction's full users list)"),
    ({"team": {"id": "T1"}, "users": [], "channels": [channel("C1")],
      "history": {"C1": [{"type": "message", "user": "U1", "ts": "yesterday"}]}},
     'history["C1"][0]: "ts" \'yesterday\' is not a Slack timestamp (e.g. "1700000000.000100")'),
    ({"team": {"id": "T1"}, "users": [], "channels": [channel("C1")],
      "replies": {f"C1/{ts(2)}": [message(1)]}},
     f'replies["C1/{ts(2)}"][0]: the parent comes first, but its ts is {ts(1)}'),
    ({"team": {"id": "T1"}, "users": [{"id": "U1", "name": "a"}, {"id": "U1", "name": "b"}],
      "channels": []}, "users[1]: user U1 is listed twice"),
    ({"team": {"id": "T1"}, "users": [], "channels": [channel("D1", im=True)]},
     'channels[0] (D1): a DM (is_im) needs "user"'),
])
def test_a_bad_workspace_file_is_refused_in_one_line_naming_it(tmp_path, content, problem):
    path = tmp_path / "workspace.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValueError) as raised:
        SlackWebAPI("http://127.0.0.1:1", workspace=path)
    assert str(raised.value) == f"{path}: {problem}"
    assert "\n" not in str(raised.value)
    if not isinstance(content, str):  # a dict is checked the same way
        with pytest.raises(ValueError, match="^workspace: "):
            SlackWebAPI("http://127.0.0.1:1", workspace=content)


def test_a_workspace_file_is_served_and_reset_brings_it_back(tmp_path):
    path = tmp_path / "workspace.json"
    path.write_text(json.dumps(workspace(10)))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"team": {"id": "T2"}, "users": [{"id": "UX", "name": "x"}],
                                 "channels": [channel("CX", member=True)],
                                 "history": {"CX": [message(1, user="UX")]}}))
    with served(path) as slack:
        web_client = client(slack)
        assert [u["id"] for u in web_client.users_list()["members"]][:2] == ["U0000", "U0001"]
        assert web_client.users_info(user="UBOT")["user"]["is_bot"] is True
        web_client.conversations_join(channel="CBIG")
        slack.load_workspace(other)
        assert [u["id"] for u in web_client.users_list()["members"]] == ["UX"]
        assert [m["ts"] for m in web_client.conversations_history(channel="CX")["messages"]] == [ts(1)]
        (tmp_path / "bad.json").write_text("{")
        with pytest.raises(ValueError, match=r"bad\.json: not JSON"):
            slack.load_workspace(tmp_path / "bad.json")
        assert [u["id"] for u in slack.users.values()] == ["UX"]  # still served
        slack.reset()
        assert len(web_client.users_list()["members"]) == 121
        assert slack.channels["CBIG"]["is_member"] is False  # the join is undone too
        assert slack.emoji == {} and web_client.emoji_list()["emoji"] == {}
    with pytest.raises(ValueError, match=r"missing\.json: cannot read it"):
        SlackWebAPI("http://127.0.0.1:1", workspace=tmp_path / "missing.json")


# ---- the demo workspace --------------------------------------------------------------------


def test_the_demo_workspace_is_a_month_of_a_small_team_and_deterministic():
    now = 1760000000.0  # a Thursday
    urls = (lambda n: f"http://demo/demo-emoji/{n}.svg", lambda u: f"http://demo/demo-avatar/{u}.svg")
    demo = demo_workspace.build(now, *urls)
    assert demo == demo_workspace.build(now, *urls)  # a fixed seed
    assert slack_api.workspace_problem(demo) is None
    size = demo_workspace.size(demo)
    assert 250 <= size["messages"] <= 600 and 60 <= size["replies"] <= 300
    assert size["bot_messages"] >= 3 and size["bot_reactions"] >= 3 and size["slackbot_reactions"] >= 1
    assert [u["id"] for u in demo["users"]] == [*slack_api.PEOPLE, slack_api.BOT, slack_api.SLACKBOT]
    members = {c["id"]: c["is_member"] for c in demo["channels"]}
    assert members == {"CDEMOGENERAL": True, "CDEMORANDOM": False, "CDEMODESIGN": False,
                       "CDEMOENG": False, "CDEMOSECRET": True, slack_api.DM: False,
                       demo_workspace.ARCHIVED: False}
    stamps = [float(m["ts"]) for ms in demo["history"].values() for m in ms]
    stamps += [float(m["ts"]) for thread in demo["replies"].values() for m in thread]
    assert now - 31 * 86400 <= min(stamps) and max(stamps) < now
    weekend = sum(time.gmtime(t).tm_wday >= 5 for t in stamps)
    assert weekend < 0.15 * len(stamps)  # 8 or 9 weekend days of 31
    names = {r["name"] for ms in demo["history"].values() for m in ms for r in m.get("reactions", [])}
    assert {"+1", "tada", "heart", "party-parrot", "shipit"} <= names
    assert any("::skin-tone-" in n for n in names)
    assert any(m.get("subtype") == "thread_broadcast" for ms in demo["history"].values() for m in ms)
    assert demo["emoji"]["party-parrot"] == "http://demo/demo-emoji/party-parrot.svg"
    # The reactions' count is each list's length: the file holds every user.
    assert all(r["count"] == len(r["users"]) for ms in demo["history"].values() for m in ms
               for r in m.get("reactions", []))


def test_the_default_stand_in_serves_the_demo_workspace():
    with served() as slack:
        web_client = client(slack)
        assert len(web_client.users_list()["members"]) == 10
        public = web_client.conversations_list(exclude_archived=True)["channels"]
        assert {c["name"]: c["is_member"] for c in public} == {
            "general": True, "random": False, "design": False, "eng": False}
        private = web_client.conversations_list(types="private_channel,im,mpim")["channels"]
        assert [c["id"] for c in private] == ["CDEMOSECRET"]  # the DM is Ada's and Grace's
        general = [m for page in web_client.conversations_history(channel="CDEMOGENERAL", limit=50)
                   for m in page["messages"]]
        assert len(general) > 50 and any(m.get("bot_id") for m in general)
        assert error_of(lambda: web_client.conversations_history(channel="CDEMOENG")) == "not_in_channel"
        web_client.conversations_join(channel="CDEMOENG")
        eng = web_client.conversations_history(channel="CDEMOENG", limit=999)["messages"]
        thread = next(m for m in eng if m.get("reply_count"))
        replies = web_client.conversations_replies(channel="CDEMOENG", ts=thread["ts"])["messages"]
        assert replies[0]["ts"] == thread["ts"] and len(replies) == thread["reply_count"] + 1
        assert web_client.conversations_info(channel=slack_api.DM)["channel"]["is_im"] is True
        assert error_of(lambda: web_client.conversations_history(
            channel=slack_api.DM)) == "channel_not_found"
        assert set(web_client.emoji_list()["emoji"]) == {"party-parrot", "shipit", "partyparrot"}
