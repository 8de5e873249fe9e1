"""Day one: joining public channels and importing past reactions, against the devkit's
Slack stand-in serving a whole workspace in Slack's response shapes (paging, cut
reaction lists, 429s with Retry-After), DynamoDB Local, and the app's `slack_tasks`
handler fed from the local SQS tasks queue as Lambda feeds it."""
import collections
import time

import pytest
import requests

from chalicelib import metrics
from chalicelib.counts import CountStore
from chalicelib.directory import Directory
from chalicelib.history import History
from devkit import emf, importer, slack_api
from tests.conftest import TEAM
from tests.helpers import deliver, post_event, reaction, wait_for

NOW = time.time()
DAY = 86400
BOT = "UHBOT"
PEOPLE = [f"UH{i:02d}" for i in range(60)]
MEMBER, JOINABLE, PRIVATE, ARCHIVED, ELSEWHERE = "CHMEMBER", "CHJOIN", "CHPRIV", "CHOLD", "CHOTHER"


def ts(seconds_ago: float, n: int = 0) -> str:
    return f"{NOW - seconds_ago:.0f}.{n:06d}"


def message(when: str, author: str, reactions=(), **extra) -> dict:
    body = {"type": "message", "user": author, "text": "hello", "ts": when, **extra}
    if reactions:
        body["reactions"] = [{"name": name, "users": list(users), "count": len(users)}
                             for name, users in reactions]
    return body


def workspace() -> dict:
    """Channels the bot is in, one it may join, one private it was invited to, one
    archived and one it is not in; messages over 40 days, a thread with a broadcast
    reply, a bot's and Slackbot's reactions, and a reaction by 60 people (Slack cuts
    the list)."""
    thread = ts(3 * 3600, 1)
    history = {
        MEMBER: [
            # Slack's alias folds into the one name, as in live events: `+1`.
            message(ts(600), "UH01", [("tada", ["UH02", "UH03"]), ("thumbsup", ["UH02"])]),
            message(thread, "UH02", [("eyes", ["UH01"])], thread_ts=thread, reply_count=2,
                    reply_users=["UH03"], latest_reply=ts(3 * 3600 - 60, 3)),
            message(ts(3 * 3600 - 60, 3), "UH03", [("heart", ["UH01", BOT])],
                    thread_ts=thread, subtype="thread_broadcast"),
            message(ts(2 * DAY), "UH04", [("tada", PEOPLE)]),
            message(ts(10 * DAY), "UH05", [("rocket", ["UH01", "USLACKBOT"])]),
            message(ts(40 * DAY), "UH06", [("tada", ["UH01"])]),  # before the 30 days
        ],
        JOINABLE: [message(ts(5 * DAY), "UH07", [("fire", ["UH08", "UH09"])])],
        PRIVATE: [message(ts(3600), "UH08", [("tada", ["UH09"])])],
        ARCHIVED: [message(ts(DAY), "UH01", [("tada", ["UH02"])])],
        ELSEWHERE: [message(ts(DAY), "UH01", [("tada", ["UH02"])])],
    }
    replies = {f"{MEMBER}/{thread}": [
        history[MEMBER][1],
        message(ts(3 * 3600 - 30, 2), "UH03", [("joy", ["UH01", "UH02"])], thread_ts=thread,
                parent_user_id="UH02"),
        history[MEMBER][2],
    ]}
    channels = [
        slack_api.channel_object(MEMBER, "team", member=True),
        slack_api.channel_object(JOINABLE, "launch"),
        slack_api.channel_object(PRIVATE, "hush", private=True, member=True),
        slack_api.channel_object(ARCHIVED, "old", archived=True),
        slack_api.channel_object(ELSEWHERE, "elsewhere", private=True),
    ]
    users = [slack_api.user_object(u, u.lower(), f"Person {u}", team=TEAM) for u in PEOPLE]
    users.append(slack_api.user_object(BOT, "hbot", "Bot", bot=True, team=TEAM))
    return {"team": {"id": TEAM, "name": "History", "domain": "history"}, "users": users,
            "channels": channels, "history": history, "replies": replies}


# What the import must count: within 30 days, in the channels the bot is in or can
# join, every person's reaction once (the broadcast reply once), no bot, no Slackbot,
# aliases folded.
EXPECTED_ALL = {"tada": 2 + 60 + 1, "+1": 1, "eyes": 1, "heart": 1, "joy": 2, "rocket": 1,
                "fire": 2}
EXPECTED_CHANNELS = {MEMBER: 2 + 1 + 1 + 1 + 2 + 60 + 1, JOINABLE: 2}  # PRIVATE: not shown
EXPECTED_24H = {"tada": 3, "+1": 1, "eyes": 1, "heart": 1, "joy": 2}


@pytest.fixture
def slack(stack):
    stack.slack.load_workspace(workspace())
    yield stack.slack
    stack.slack.reset()


def board(stack, window="all", **params) -> dict:
    answer = requests.get(f"{stack.url}/api/leaderboard",
                          params={"window": window, "limit": 100, **params}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    key = {"channels": "channel", "givers": "user", "receivers": "user"}.get(body["board"], "emoji")
    return {row[key]: row["count"] for row in body["leaderboard"]}


def calls(slack, method: str) -> int:
    return sum(1 for request in slack.requests if request[0] == method)


def history_status(stack) -> dict:
    answer = requests.get(f"{stack.url}/api/history", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def run_import(stack, days: int = 30, timeout: float = 120) -> dict:
    """Through the tasks queue, as `devkit history import --local` does."""
    target = importer.Target.local(stack.url)
    job = importer.request(target, days, lambda *a, **k: None)
    wait_for(lambda: history_status(stack).get("job") == job
             and history_status(stack)["state"] in ("done", "failed"), timeout=timeout,
             interval=0.5)
    status = history_status(stack)
    assert status["state"] == "done", status
    return status


def test_history_is_idle_before_any_import_and_refuses_parameters(stack):
    assert history_status(stack) == {"state": "idle", "channels_done": 0, "channels_total": 0,
                                     "reactions_imported": 0, "oldest": None, "job": None}
    answer = requests.get(f"{stack.url}/api/history", params={"x": "1"}, timeout=10)
    assert answer.status_code == 400 and "no parameters" in answer.json()["error"]


def test_import_counts_every_reaction_once_on_every_board_and_window(stack, slack):
    status = run_import(stack)
    assert status["channels_done"] == status["channels_total"] == 3  # member, joined, private
    assert status["reactions_imported"] == sum(EXPECTED_ALL.values())
    assert status["oldest"] == time.strftime("%Y-%m-%d", time.gmtime(NOW - 30 * DAY))
    assert slack.channels[JOINABLE]["is_member"] is True  # joined on the way
    assert slack.channels[ARCHIVED]["is_member"] is False
    assert board(stack) == EXPECTED_ALL
    assert board(stack, "30d") == EXPECTED_ALL
    assert board(stack, "24h") == EXPECTED_24H
    assert board(stack, "7d") == {k: v for k, v in EXPECTED_ALL.items() if k not in ("rocket",)}
    assert board(stack, board="channels") == EXPECTED_CHANNELS
    assert board(stack, board="givers")["UH01"] == 5  # eyes, heart, joy, rocket, one tada
    assert board(stack, board="receivers")["UH04"] == 60
    refused = requests.get(f"{stack.url}/api/leaderboard", params={"channel": PRIVATE}, timeout=10)
    assert refused.status_code == 400
    # The long list was read whole, once.
    assert calls(slack, "reactions.get") == 1


def test_the_import_s_progress_is_in_its_metrics(stack, slack):
    """What each checkpoint committed, as slack_tasks' metrics (in the tasks worker's
    own process, read from the stack's log store): they add up to the job's totals."""
    since = int(time.time() * 1000)
    status = run_import(stack)
    lines = [line for line in stack.logs.lines(since) if line.get("function") == "slack_tasks"]
    assert lines and all(emf.problems(line) == [] for line in lines if emf.is_blob(line))
    found = emf.LocalMetrics(lines)

    def total(name):
        return sum(v for _, v in found.values(metrics.NAMESPACE, name, {metrics.STAGE: "local"},
                                              0, 1e15))
    assert total(metrics.HISTORY_REACTIONS) == status["reactions_imported"] > 0
    assert total(metrics.HISTORY_CHANNELS) == status["channels_done"] == 3
    assert {line.get("task") for line in lines} >= {"import"}


def test_importing_twice_counts_nothing_twice(stack, slack):
    run_import(stack)
    first = (board(stack), board(stack, board="givers"), board(stack, "24h"))
    again = run_import(stack)
    assert again["reactions_imported"] == sum(EXPECTED_ALL.values())
    assert (board(stack), board(stack, board="givers"), board(stack, "24h")) == first


def live_tada(stack, added: bool, when: float) -> str:
    """UH02's tada on the channel's newest message, as a Slack event of its own; what
    the route did with it."""
    response = post_event(stack, reaction("tada", added=added, user="UH02", channel=MEMBER,
                                          item_ts=ts(600), item_user="UH01", event_time=when))
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_a_live_add_before_or_after_the_import_counts_once(stack, slack):
    assert live_tada(stack, True, NOW - 590) == "counted"
    run_import(stack)
    assert live_tada(stack, True, NOW - 590) == "unchanged"  # Slack delivering it late
    assert board(stack) == EXPECTED_ALL


def test_a_live_removal_before_the_import_reaches_its_message_stays_removed(stack, slack):
    # The import reads the message as it was (the reaction on it); the removal was
    # counted first: the reaction stays removed.
    assert live_tada(stack, False, time.time()) == "unchanged"
    run_import(stack)
    assert board(stack)["tada"] == EXPECTED_ALL["tada"] - 1
    assert board(stack, board="givers")["UH02"] == 3  # +1, joy, a tada of the 60; not this one


class Killed(BaseException):
    """FAULT INJECTION: the function stopped (a Lambda timeout) in the middle of a page."""


class DiesAfter(CountStore):
    """FAULT INJECTION: a CountStore whose process 'dies' after `n` counted reactions."""

    def __init__(self, client, table: str, n: int):
        super().__init__(client, table)
        self.left = n

    def record(self, event, workspace):
        if self.left <= 0:
            raise Killed()
        self.left -= 1
        return super().record(event, workspace)


def _history(stack, counts=None, join_public=True, excluded=()) -> History:
    """The app's History, run in this process on the stack's store and Slack stand-in,
    with the bots known, as the tasks handler has them before an import starts."""
    client = stack.dynamodb_client()
    assert Directory(client, stack.counts_table, slack_api.LOCAL_TOKEN, stack.slack.api_url
                     ).sync(TEAM)
    return History(client, stack.counts_table, counts or CountStore(client, stack.counts_table),
                   slack_api.LOCAL_TOKEN, stack.slack.api_url, excluded=excluded,
                   join_public=join_public)


def test_a_slice_killed_mid_page_resumes_from_its_checkpoint_exactly(stack, slack):
    workspace_id = TEAM
    plain = _history(stack)
    plain.start(workspace_id, "killed", 30)
    dying = _history(stack, DiesAfter(stack.dynamodb_client(), stack.counts_table, 40))
    with pytest.raises(Killed):
        dying.run(workspace_id, "killed", 0, time.time() + 60)
    status = plain.status(workspace_id)
    assert status.state == "running"
    counted_before = sum(board(stack).values())
    assert 0 < counted_before  # the slice counted part of a page before it died
    # SQS delivers the message again: it names the last checkpoint the job has.
    ckpt = int(plain._read(workspace_id)["ckpt"]["N"])
    while True:
        going_on = plain.run(workspace_id, "killed", ckpt, time.time() + 60)
        if going_on is None:
            break
        ckpt, delay = going_on
        time.sleep(delay)
    final = plain.status(workspace_id)
    assert final.state == "done"
    assert final.reactions_imported == sum(EXPECTED_ALL.values())
    assert board(stack) == EXPECTED_ALL


def test_a_stale_or_duplicate_slice_does_nothing(stack, slack):
    history = _history(stack)
    history.start(TEAM, "dup", 30)
    assert history.run(TEAM, "dup", 5, time.time() + 60) is None  # no such checkpoint
    assert history.run(TEAM, "other", 0, time.time() + 60) is None  # no such job
    assert history.status(TEAM).reactions_imported == 0
    started, status = history.start(TEAM, "second", 30)
    assert not started and status.job == "dup"  # one import at a time: attach to it


def test_without_joining_only_the_channels_the_bot_is_in_are_imported(stack, slack):
    history = _history(stack, join_public=False)
    history.start(TEAM, "nojoin", 30)
    ckpt = 0
    while (going_on := history.run(TEAM, "nojoin", ckpt, time.time() + 60)) is not None:
        ckpt, delay = going_on
        time.sleep(delay)
    assert slack.channels[JOINABLE]["is_member"] is False
    assert calls(slack, "conversations.join") == 0
    assert board(stack).get("fire") is None
    assert history.status(TEAM).channels_total == 2


def test_excluded_channels_are_neither_joined_nor_imported(stack, slack):
    history = _history(stack, excluded={JOINABLE, PRIVATE})
    history.start(TEAM, "excluded", 30)
    ckpt = 0
    while (going_on := history.run(TEAM, "excluded", ckpt, time.time() + 60)) is not None:
        ckpt, delay = going_on
        time.sleep(delay)
    assert slack.channels[JOINABLE]["is_member"] is False
    assert calls(slack, "conversations.join") == 0
    assert board(stack, board="channels") == {MEMBER: EXPECTED_CHANNELS[MEMBER]}
    assert board(stack)["tada"] == EXPECTED_ALL["tada"] - 1  # not the private channel's
    assert history.status(TEAM).channels_total == 1


def test_a_channel_with_thousands_of_messages_is_paged_and_429s_are_obeyed(stack, slack):
    doc = workspace()
    many = [message(ts(60 * i + 60, i), "UH01", [("tada", ["UH02"])] if i % 10 == 0 else ())
            for i in range(2500)]
    doc["history"] = {MEMBER: many}
    doc["replies"] = {}
    doc["channels"] = [c for c in doc["channels"] if c["id"] == MEMBER]
    slack.load_workspace(doc)
    slack.window = 3.0
    slack.limits["conversations.history"] = 2
    status = run_import(stack, timeout=180)
    assert board(stack) == {"tada": 250}
    assert status["reactions_imported"] == 250
    pages = [r for r in slack.requests if r[0] == "conversations.history"]
    assert sum(1 for r in pages if r[2] == 200) == 13  # 2,500 messages, 200 a page
    refused = [i for i, r in enumerate(pages) if r[2] == 429]
    assert refused, "the test's rate limit was never reached"
    for i in refused:
        # Each 429 was waited out: the next call came after Retry-After and was served.
        assert pages[i + 1][1] - pages[i][1] >= 1.0
        assert pages[i + 1][2] == 200


def test_a_new_public_channel_is_joined(stack, slack):
    slack.channels["CHNEW"] = slack_api.channel_object("CHNEW", "brand-new")
    assert deliver(stack, "channel_created", channel={
        "id": "CHNEW", "name": "brand-new", "created": int(time.time()), "creator": "UH01"})["ok"]
    wait_for(lambda: slack.channels["CHNEW"]["is_member"] is True, timeout=30, interval=0.2)


def test_join_all_joins_every_public_channel_across_pages(stack, slack):
    for i in range(7):
        slack.channels[f"CHPUB{i}"] = slack_api.channel_object(f"CHPUB{i}", f"pub-{i}")
    slack.page_size = 3
    importer.Target.local(stack.url).send({"task": "join_all"})
    public = [c for c in slack.channels.values()
              if not c.get("is_private") and not c.get("is_archived") and not c.get("is_im")]
    wait_for(lambda: all(c["is_member"] for c in public), timeout=60, interval=0.2)
    assert slack.channels[ARCHIVED]["is_member"] is False
    assert slack.channels[ELSEWHERE]["is_member"] is False
    assert collections.Counter(r[0] for r in slack.requests)["conversations.list"] >= 4
