"""A local stand-in for the part of Slack's Web API the app calls, serving a whole
workspace: `emoji.list`, `users.list`, `users.info`, `conversations.list`,
`conversations.info`, `conversations.join`, `conversations.history`,
`conversations.replies` and `reactions.get`; and what the app sends Slack:
`views.publish` (a person's App Home tab) and `chat.postMessage`, recorded in `published`
and `posted` and shown to people at /_devkit/slack (a devkit page, not Slack's).

It speaks Slack's protocol (a Bearer token, `{"ok": true, ...}` or `{"ok": false,
"error": "invalid_auth"}`, cursor pagination, HTTP 429 with `Retry-After` over a
method's rate limit), so the app's slack_sdk WebClient runs unchanged against it;
only SLACK_API_URL differs. It also serves the demo workspace's custom emoji images
(hand-written SVGs in `demo_emoji/`) and its people's avatars (SVGs of their
initials), so the dashboard shows real images with no network.

What it serves is one workspace document in Slack's own response shapes, a JSON file
or a dict (devkit/demo_workspace.py builds the default one):

    {"team": {"id": "T…", "name": "…", "domain": "…"},
     "users": [users.list member objects],
     "channels": [conversations.list objects: "is_member", "is_private", "is_archived",
                  "is_channel", "is_group", "is_im", "is_mpim"; a DM has "user"],
     "history": {"C…": [conversations.history messages, with "reactions":
                        [{"name", "users": [every one of them], "count"}], ...]},
     "replies": {"C…/1700000000.000100": [the parent, then its replies oldest first]},
     "emoji": {emoji.list's "emoji": name -> image URL or "alias:name"}}   (optional)

The token is a bot's: private channels, group DMs and DMs exist for it only where
"is_member" is true (as for a bot token on Slack), a public channel's messages only
once it joined (`conversations.join`, which sets "is_member").

Tests change `emoji`, `users` and `channels` (Slack's user and conversation objects by
id), `history` and `replies` (as in the document), `token`, `page_size` (Slack may
return fewer than `limit` asked), `limits` (requests per `window` seconds per method),
`window` and `failure` (fault injection: how Slack fails when it does); `requests`
logs every call. `reset()` puts back the workspace given at construction (or the demo).

It is also Slack's OpenID Connect provider, "Sign in with Slack" (`openid`,
devkit/slack_openid.py): the sign-in page at /slack-openid/connect/authorize, the
methods `openid.connect.token` and `openid.connect.userInfo`, and the keys at
/slack-openid/connect/keys.
"""
import asyncio
import base64
import binascii
import collections
import copy
import html
import json
import math
import re
import secrets
import string
import time
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union

from aiohttp import web

from . import blockkit, slack_openid

LOCAL_TOKEN = "xoxb-local-emojiboard"
PREFIX = "/slack-api/"
IMAGES = Path(__file__).resolve().parent / "demo_emoji"
AVATAR_PATH = "/demo-avatar/"
SENT_PAGE = "/_devkit/slack"  # what the app sent Slack, for people (and .json)
# FAULT INJECTION, chosen by a test: how the next calls (of every method) fail.
FAILURES = ("ratelimited", "down", "reset", "slow")
SLOW_SECONDS = 10  # "slow": an answer only after this long (the app gives up sooner)

# Requests per minute Slack allows each method, per app per workspace: Tier 2 = 20+,
# Tier 3 = 50+, Tier 4 = 100+ (docs.slack.dev/apis/web-api/rate-limits; each method's
# page names its tier). emoji.list (Tier 2) is left unlimited here, as before: the
# test suite asks it once per test, faster than any real workspace would.
# conversations.history and .replies are Tier 3 for internal (customer-built) and
# Marketplace apps; since 2025-05-29 a commercially distributed non-Marketplace app
# gets 1 request a minute and 15 messages a page there (docs.slack.dev/changelog/2025/
# 05/29/rate-limit-changes-for-non-marketplace-apps): a test can set that in `limits`.
RATE_LIMITS = {
    "users.list": 20, "conversations.list": 20,  # Tier 2
    "conversations.info": 50, "conversations.join": 50, "conversations.history": 50,
    "conversations.replies": 50, "reactions.get": 50,  # Tier 3
    "users.info": 100, "views.publish": 100,  # Tier 4
    # chat.postMessage is Slack's "special" tier: about one message a second per channel
    # (docs.slack.dev/apis/web-api/rate-limits, "Posting messages: 1 per second, short
    # bursts >1 allowed"), counted over `post_window` per channel, not per method.
    "chat.postMessage": 1,
}
WINDOW = 60.0  # seconds: Slack's tiers are per minute
POST_WINDOW = 1.0  # seconds: chat.postMessage's limit is per second, per channel
PER_CHANNEL = {"chat.postMessage"}  # limited per channel, over POST_WINDOW

# docs.slack.dev/reference/views/home-tab-views: "blocks ... Max of 100 blocks";
# docs.slack.dev/reference/methods/views.publish: view_too_large "greater than 250kb".
# docs.slack.dev/reference/block-kit/blocks: at most 50 blocks in a message.
HOME_BLOCKS = 100
VIEW_BYTES = 250 * 1024
MESSAGE_BLOCKS = 50
APP_ID = "A0EMOJIBOARD"  # as devkit/simulate.py's events name the app

# Slack cuts a reaction's `users` in long lists (conversations.history, .replies, and
# reactions.get unless full=true) while `count` stays true; this stands in for that
# cut. So an app that sees count > len(users) must ask reactions.get with full=true
# for the whole list (docs.slack.dev/reference/methods/reactions.get: "full: if true
# always return the complete reaction list").
REACTION_USERS_CUT = 50

# Page sizes (docs.slack.dev/reference/methods/<method>, "limit"): the default, and the
# most Slack answers whatever is asked (it may always answer fewer).
LIST_LIMIT = (100, 1000)      # conversations.list
HISTORY_LIMIT = (100, 999)    # conversations.history
REPLIES_LIMIT = (1000, 1000)  # conversations.replies
CONVERSATION_TYPES = ("public_channel", "private_channel", "mpim", "im")

# The demo workspace (`make run`, devkit/simulate.py, devkit/demo_workspace.py): people,
# its bot, Slackbot, and channels, one of them private, and a DM. Ids are Slack-like but
# never clash with the tests'.
TEAM = "T0DEMO"
PEOPLE = {  # id -> (handle, real name, display name)
    "UDEMOADA": ("ada", "Ada Lovelace", "Ada"),
    "UDEMOGRACE": ("grace", "Grace Hopper", "Grace"),
    "UDEMOALAN": ("alan", "Alan Turing", ""),  # no display name: real name shown
    "UDEMOKATHERINE": ("katherine", "Katherine Johnson", "Katherine J."),
    "UDEMOLINUS": ("linus", "Linus Torvalds", "linus"),
    "UDEMOMARGARET": ("margaret", "Margaret Hamilton", "Margaret"),
    "UDEMOTIM": ("tim", "Tim Berners-Lee", "TimBL"),
    "UDEMOBARBARA": ("barbara", "Barbara Liskov", "Barbara"),
}
BOT = "UDEMOBOT"  # is_bot: its reactions count nowhere once the app knows it
BOT_NAME = "Polly"
SLACKBOT = "USLACKBOT"
CHANNELS = {  # id -> (name, private)
    "CDEMOGENERAL": ("general", False),
    "CDEMORANDOM": ("random", False),
    "CDEMODESIGN": ("design", False),
    "CDEMOENG": ("eng", False),
    "CDEMOSECRET": ("secret-plans", True),
}
DM = "DDEMOADAGRACE"  # a direct message between these two: private, never named
DM_MEMBERS = ("UDEMOADA", "UDEMOGRACE")
CREATED = 1700000000

Workspace = Union[str, Path, Dict[str, Any]]


def user_object(ident: str, handle: str, real_name: str, display_name: str = "",
                avatar: Optional[str] = None, bot: bool = False, team: str = TEAM) -> dict:
    """A user as users.list / users.info / user_change carry it (the fields Slack's
    example payloads have that matter here)."""
    profile = {"title": "", "phone": "", "skype": "", "real_name": real_name,
               "real_name_normalized": real_name, "display_name": display_name,
               "display_name_normalized": display_name, "fields": {}, "status_text": "",
               "status_emoji": "", "status_expiration": 0, "avatar_hash": f"g{ident.lower()}",
               "first_name": real_name.split(" ")[0],
               "last_name": " ".join(real_name.split(" ")[1:]), "team": team}
    if avatar:
        profile.update({f"image_{size}": avatar for size in (24, 32, 48, 72, 192, 512)})
    if bot:
        profile.update({"bot_id": "B" + ident[1:], "always_active": True})
    return {"id": ident, "team_id": team, "name": handle, "deleted": False,
            "color": "4bbe2e", "real_name": real_name, "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time", "tz_offset": 0, "profile": profile,
            "is_admin": False, "is_owner": False, "is_primary_owner": False,
            "is_restricted": False, "is_ultra_restricted": False, "is_bot": bot,
            "is_app_user": False, "updated": CREATED, "is_email_confirmed": not bot}


def channel_object(ident: str, name: str, private: bool = False, member: bool = False,
                   archived: bool = False) -> dict:
    """A conversation as conversations.list / .info answer it (a channel, public or
    private); `member`: the bot is in it."""
    return {"id": ident, "name": name, "name_normalized": name, "is_channel": not private,
            "is_group": private, "is_im": False, "is_mpim": False, "is_private": private,
            "created": CREATED, "is_archived": archived, "is_general": name == "general",
            "unlinked": 0, "is_shared": False, "is_ext_shared": False, "is_org_shared": False,
            "is_pending_ext_shared": False, "is_member": member, "creator": "UDEMOADA",
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0}}


def im_object(ident: str, user: str, member: bool = False) -> dict:
    """A DM as conversations.info answers it: no name, the other member's id. Slack
    lists a bot's own DMs only: `member` says this is one."""
    return {"id": ident, "created": CREATED, "is_archived": False, "is_im": True,
            "is_org_shared": False, "context_team_id": TEAM, "updated": CREATED,
            "user": user, "is_user_deleted": False, "priority": 0, "is_member": member}


def _cursor(user: str) -> str:
    return _encode_cursor("user", user)


def _encode_cursor(kind: str, value: str) -> str:
    """Slack's own shape: base64 of `kind:value` (e.g. "next_ts:1512085861000543")."""
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _decode_cursor(cursor: str, kind: str) -> Optional[str]:
    try:
        found, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return value if found == kind and value else None


_TS = re.compile(r"\d{1,12}(\.\d{1,6})?")


def ts_key(ts: Any) -> Tuple[int, int]:
    """A Slack timestamp ("1700000000.000100", or "1700000000" as oldest/latest may
    be) as (seconds, microseconds), to compare exactly; ValueError if it is none."""
    if not isinstance(ts, str) or not _TS.fullmatch(ts):
        raise ValueError(f"not a Slack timestamp: {ts!r}")
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction.ljust(6, "0"))


def _flag(value: Optional[str]) -> bool:
    """A boolean argument: slack_sdk sends 1/0, people write true/false."""
    return (value or "").strip().lower() in ("1", "true", "yes")


def kind_of(conversation: dict) -> str:
    """Which of conversations.list's `types` a conversation is."""
    if conversation.get("is_im"):
        return "im"
    if conversation.get("is_mpim"):
        return "mpim"
    if conversation.get("is_private") or conversation.get("is_group"):
        return "private_channel"
    return "public_channel"


def _hidden(conversation: dict) -> bool:
    """Not there at all for a bot token: a private channel, group DM or DM the bot is
    not in (Slack answers channel_not_found, as for an id that does not exist)."""
    return kind_of(conversation) != "public_channel" and not conversation.get("is_member")


def in_history(message: dict) -> bool:
    """conversations.history shows a thread's parent but none of its replies, except
    those also sent to the channel (subtype thread_broadcast)."""
    thread = message.get("thread_ts")
    return not thread or thread == message.get("ts") or message.get("subtype") == "thread_broadcast"


# ---- reading and checking a workspace document ------------------------------------------

TOP_KEYS = ("team", "users", "channels", "history", "replies", "emoji")
REQUIRED_KEYS = ("team", "users", "channels")


def read_workspace(source: Workspace) -> Dict[str, Any]:
    """The workspace document of a JSON file (a path) or a dict (copied), checked;
    ValueError in one line naming the file and what is wrong."""
    if isinstance(source, dict):
        name, document = "workspace", copy.deepcopy(source)
    else:
        path = Path(source)
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ValueError(f"{name}: cannot read it ({error.strerror or error})") from None
        except UnicodeDecodeError:
            raise ValueError(f"{name}: not JSON (not UTF-8 text)") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{name}: not JSON ({error.msg} at line {error.lineno}, "
                             f"column {error.colno})") from None
    problem = workspace_problem(document)
    if problem:
        raise ValueError(f"{name}: {problem}")
    return document


def _listed_problem(records: Any, key: str, noun: str, shape: str,
                    problem_of: Callable[[dict], Optional[str]]) -> Optional[str]:
    """`document[key]`: a list of objects with distinct ids, each as `problem_of` wants."""
    if not isinstance(records, list):
        return f'"{key}" must be a list of {shape} objects'
    seen = set()
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            return f'{key}[{i}]: not a {noun} object with an "id"'
        problem = problem_of(record)
        if problem:
            return f'{key}[{i}] ({record["id"]}): {problem}'
        if record["id"] in seen:
            return f'{key}[{i}]: {noun} {record["id"]} is listed twice'
        seen.add(record["id"])
    return None


def _user_problem(user: dict) -> Optional[str]:
    return None if isinstance(user.get("name"), str) else 'no "name"'


def _channel_problem(channel: dict) -> Optional[str]:
    if channel.get("is_im"):
        if not isinstance(channel.get("user"), str):
            return 'a DM (is_im) needs "user"'
    elif not isinstance(channel.get("name"), str) or not channel["name"]:
        return 'no "name"'
    for flag in ("is_member", "is_private", "is_archived", "is_channel", "is_group",
                 "is_im", "is_mpim"):
        if flag in channel and not isinstance(channel[flag], bool):
            return f'"{flag}" must be true or false'
    return None


def workspace_problem(document: Any) -> Optional[str]:
    """What is wrong with a workspace document, or None."""
    if not isinstance(document, dict):
        return 'not a workspace: the top level must be a JSON object with "team", "users" and "channels"'
    for key in document:
        if key not in TOP_KEYS:
            return f'unknown key "{key}" (a workspace has {", ".join(TOP_KEYS)})'
    for key in REQUIRED_KEYS:
        if key not in document:
            return f'missing "{key}"'
    team = document["team"]
    if not isinstance(team, dict) or not isinstance(team.get("id"), str) or not team["id"]:
        return '"team" must be an object with an "id"'
    problem = (_listed_problem(document["users"], "users", "user", "users.list member",
                               _user_problem)
               or _listed_problem(document["channels"], "channels", "conversation",
                                  "conversations.list channel", _channel_problem))
    if problem:
        return problem
    ids = {channel["id"] for channel in document["channels"]}
    history = document.get("history", {})
    if not isinstance(history, dict):
        return '"history" must be an object: channel id -> its messages'
    for channel, messages in history.items():
        if channel not in ids:
            return f'history key "{channel}" is not a channel in "channels"'
        if not isinstance(messages, list):
            return f'history["{channel}"] must be a list of messages'
        stamps = set()
        for i, message in enumerate(messages):
            problem = _message_problem(message, f'history["{channel}"][{i}]')
            if problem:
                return problem
            if message["ts"] in stamps:
                return f'history["{channel}"][{i}]: ts {message["ts"]} appears twice'
            stamps.add(message["ts"])
    replies = document.get("replies", {})
    if not isinstance(replies, dict):
        return '"replies" must be an object: "CHANNEL/TS" -> the parent, then its replies'
    for key, thread in replies.items():
        channel, slash, ts = key.partition("/")
        if not slash or not _TS.fullmatch(ts):
            return f'replies key "{key}" is not "CHANNEL/TS" (e.g. "C0123/1700000000.000100")'
        if channel not in ids:
            return f'replies key "{key}": {channel} is not a channel in "channels"'
        if not isinstance(thread, list) or not thread:
            return f'replies["{key}"] must be a list: the parent, then its replies'
        for i, message in enumerate(thread):
            problem = _message_problem(message, f'replies["{key}"][{i}]')
            if problem:
                return problem
            if i == 0 and message["ts"] != ts:
                return f'replies["{key}"][0]: the parent comes first, but its ts is {message["ts"]}'
            if i > 0 and message.get("thread_ts") != ts:
                return f'replies["{key}"][{i}]: a reply needs "thread_ts": "{ts}"'
    emoji = document.get("emoji", {})
    if not isinstance(emoji, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in emoji.items()):
        return '"emoji" must be an object: name -> image URL or "alias:name"'
    return None


def _message_problem(message: Any, where: str) -> Optional[str]:
    if not isinstance(message, dict):
        return f"{where}: not a message object"
    try:
        ts_key(message.get("ts"))
    except ValueError:
        return f'{where}: "ts" {message.get("ts")!r} is not a Slack timestamp (e.g. "1700000000.000100")'
    if "thread_ts" in message:
        try:
            ts_key(message["thread_ts"])
        except ValueError:
            return f'{where}: "thread_ts" {message["thread_ts"]!r} is not a Slack timestamp'
    if not message.get("user") and not message.get("bot_id"):
        return f'{where}: neither "user" nor "bot_id"'
    reactions = message.get("reactions", [])
    if not isinstance(reactions, list):
        return f'{where}: "reactions" must be a list'
    for reaction in reactions:
        if not isinstance(reaction, dict) or not isinstance(reaction.get("name"), str):
            return f'{where}: a reaction without a "name"'
        users = reaction.get("users")
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            return f'{where}: reaction "{reaction["name"]}" needs "users", a list of user ids'
        count = reaction.get("count", len(users))
        if count != len(users):
            return (f'{where}: reaction "{reaction["name"]}" has count {count} but '
                    f'{len(users)} users (the file holds every reaction\'s full users list)')
    return None


def cut_reactions(message: dict, full: bool = False) -> dict:
    """A message as Slack shows it: each reaction's users cut to REACTION_USERS_CUT
    (its count kept) unless `full`."""
    shown = dict(message)
    if "reactions" in message:
        shown["reactions"] = [
            {**r, "users": list(r["users"]) if full else list(r["users"][:REACTION_USERS_CUT]),
             "count": r.get("count", len(r["users"]))} for r in message["reactions"]]
    return shown


class SlackWebAPI:
    def __init__(self, base_url: Optional[str] = None, token: str = LOCAL_TOKEN,
                 workspace: Optional[Workspace] = None):
        """`base_url` is the gateway's own origin, where the demo images are; when it is
        not known up front, the first request's origin is used. `workspace`: a JSON
        file's path or a dict (see the module's doc), else the demo workspace; a bad
        one raises ValueError at once."""
        self.base_url = base_url.rstrip("/") if base_url else None
        self.token = token
        self._workspace: Optional[Dict[str, Any]] = (
            read_workspace(workspace) if workspace is not None else None)
        self.team: Dict[str, Any] = {}
        self.emoji: Dict[str, str] = {}  # name -> image URL or alias:name; tests change it
        self.users: Dict[str, dict] = {}  # id -> user object, in users.list's order
        self.channels: Dict[str, dict] = {}  # id -> conversation object, in list order
        self.history: Dict[str, List[dict]] = {}  # channel id -> its messages
        self.replies: Dict[str, List[dict]] = {}  # "C…/ts" -> the parent, then replies
        self.page_size: Optional[int] = None  # at most this many per page, any method
        self.limits: Dict[str, int] = dict(RATE_LIMITS)
        self.window = WINDOW  # seconds over which `limits` count
        self.failure: Optional[str] = None  # one of FAILURES, or None: Slack works
        self.calls = 0  # emoji.list calls
        self.method_calls: "collections.Counter[str]" = collections.Counter()
        # Every call: (method, self.clock() when it arrived, HTTP status; 0: no answer).
        self.requests: List[Tuple[str, float, int]] = []
        self._recent: Dict[str, Deque[float]] = {}  # method -> times of accepted calls
        self.post_window = POST_WINDOW  # seconds over which chat.postMessage counts
        self.clock: Callable[[], float] = time.monotonic
        # What the app sent (views.publish, chat.postMessage), oldest first: see the
        # methods for their records; shown at /_devkit/slack.
        self.published: List[Dict[str, Any]] = []
        self.posted: List[Dict[str, Any]] = []
        self._homes: Dict[str, dict] = {}  # user id -> the Home view views.publish answered
        self._served = False
        self.openid = slack_openid.SlackOpenID(self)  # Sign in with Slack
        if self.base_url or self._workspace is not None:
            self.reset()

    def reset(self) -> None:
        """The workspace given at construction (or the demo one: the custom emoji the
        simulator reacts with, an alias, its people, bot, channels and a month of
        messages); Slack working, every rate limit window empty, no requests logged."""
        if self._workspace is not None:
            self._serve(copy.deepcopy(self._workspace))
        else:
            from . import demo_workspace  # it builds on this module's objects
            self._serve(demo_workspace.build(time.time(), self.image_url, self.avatar_url))
        self.page_size = None
        self.limits = dict(RATE_LIMITS)
        self.window = WINDOW
        self.post_window = POST_WINDOW
        self.failure = None
        self._recent = {}
        self.requests = []
        self.published, self.posted, self._homes = [], [], {}
        self.openid.reset()

    def load_workspace(self, workspace: Workspace) -> None:
        """Serve this workspace (a JSON file's path or a dict) from now on, until reset()."""
        self._serve(read_workspace(workspace))

    def _serve(self, document: Dict[str, Any]) -> None:
        self.team = document["team"]
        self.users = {user["id"]: user for user in document["users"]}
        self.channels = {channel["id"]: channel for channel in document["channels"]}
        self.history = dict(document.get("history", {}))
        self.replies = dict(document.get("replies", {}))
        self.emoji = dict(document.get("emoji", {}))
        self._served = True

    def image_url(self, name: str) -> str:
        return f"{self.base_url}/demo-emoji/{name}.svg"

    def avatar_url(self, user: str) -> str:
        return f"{self.base_url}{AVATAR_PATH}{user}.svg"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}{PREFIX}"

    def add_routes(self, app: web.Application) -> None:
        """Before any catch-all route of `app`."""
        for method, answer in (("emoji.list", self._emoji_list),
                               ("users.list", self._users_list),
                               ("users.info", self._users_info),
                               ("conversations.list", self._conversations_list),
                               ("conversations.info", self._conversations_info),
                               ("conversations.join", self._conversations_join),
                               ("conversations.history", self._conversations_history),
                               ("conversations.replies", self._conversations_replies),
                               ("reactions.get", self._reactions_get),
                               ("views.publish", self._views_publish),
                               ("chat.postMessage", self._chat_post_message),
                               *self.openid.methods.items()):
            app.router.add_route("*", PREFIX + method, self._method(method, answer))
        app.router.add_route("*", PREFIX + "{method}", self.unknown_method)
        app.router.add_get(SENT_PAGE, self.sent_page)
        app.router.add_get(SENT_PAGE + ".json", self.sent_json)
        app.router.add_get("/demo-emoji/{file}", self.image)
        app.router.add_get(AVATAR_PATH + "{file}", self.avatar)
        self.openid.add_routes(app)

    # ---- the protocol, shared by every method -------------------------------

    def _method(self, method: str, answer: Callable[..., web.Response]):
        async def handle(request: web.Request) -> web.StreamResponse:
            arrived = self.clock()
            try:
                response = await self._handle(method, answer, request)
            except web.HTTPException:
                self.requests.append((method, arrived, 0))  # "reset": no answer at all
                raise
            self.requests.append((method, arrived, response.status))
            return response
        return handle

    async def _handle(self, method: str, answer: Callable[..., web.Response],
                      request: web.Request) -> web.StreamResponse:
        self.method_calls[method] += 1
        if method == "emoji.list":
            self.calls += 1
        if self.base_url is None:
            self.base_url = f"{request.scheme}://{request.host}"
            if not self._served:
                self.reset()
        if self.failure == "ratelimited":  # what Slack answers over its rate limit
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": "30"})
        if self.failure == "down":  # a load balancer's page, not Slack's JSON
            return web.Response(status=503, text="<html><body>503 Service Unavailable</body></html>",
                                content_type="text/html")
        if self.failure == "reset":  # the connection drops before any answer
            request.transport.close()
            raise web.HTTPServiceUnavailable()
        if self.failure == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        # Sign in with Slack's methods take the app's client credentials or a user token,
        # not the bot's: they check them themselves (devkit/slack_openid.py).
        openid = method in self.openid.methods
        authorization = request.headers.get("Authorization")
        if not openid and authorization != f"Bearer {self.token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        args = await self._arguments(request)
        wait = self._over_limit(method)
        if wait is None and method in PER_CHANNEL:
            wait = self._over_limit(method, f"{method} {args.get('channel', '')}", self.post_window)
        if wait is not None:
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(wait)})
        return answer(args, authorization) if openid else answer(args)

    def _over_limit(self, method: str, key: Optional[str] = None,
                    window: Optional[float] = None) -> Optional[int]:
        """Whole seconds (at least 1) until the method may be called again, or None (and
        the call is counted): a sliding `window` per method, as Slack's per-minute tiers
        (or per `key`, over the `window` given: chat.postMessage per channel)."""
        limit = self.limits.get(method)
        if limit is None or (method in PER_CHANNEL and key is None):
            return None
        window = self.window if window is None else window
        now = self.clock()
        recent = self._recent.setdefault(key or method, collections.deque())
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) >= limit:
            return max(1, math.ceil(recent[0] + window - now))
        recent.append(now)
        return None

    @staticmethod
    async def _arguments(request: web.Request) -> Dict[str, str]:
        """Slack takes arguments in the query string, a form body or a JSON body."""
        args = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = json.loads(await request.read() or b"{}")
                except ValueError:
                    body = {}
                if isinstance(body, dict):
                    args.update({k: _argument(v) for k, v in body.items()})
            else:
                args.update({k: str(v) for k, v in (await request.post()).items()})
        return args

    def _limit(self, args: Dict[str, str], default: int, most: int) -> Optional[int]:
        """How many to answer at most: `limit` (its default when 0 or missing), never
        over what Slack answers at most nor `page_size`; None if it is no number."""
        try:
            limit = int(args.get("limit") or 0)
        except ValueError:
            return None
        size = min(limit if limit > 0 else default, most)
        return min(size, self.page_size) if self.page_size else size

    @staticmethod
    def _error(error: str) -> web.Response:
        return web.json_response({"ok": False, "error": error})

    def _readable(self, ident: str) -> Tuple[Optional[dict], Optional[str]]:
        """The conversation whose messages the bot may read, or Slack's error."""
        channel = self.channels.get(ident)
        if channel is None or _hidden(channel):
            return None, "channel_not_found"
        if not channel.get("is_member"):
            # docs.slack.dev/reference/methods/conversations.history: a bot token reads
            # a public channel's history only once in it (conversations.join).
            return None, "not_in_channel"
        return channel, None

    @staticmethod
    def _window(args: Dict[str, str]) -> Tuple[Optional[Callable[[dict], bool]], Optional[str]]:
        """conversations.history / .replies' oldest, latest and inclusive: only messages
        after `oldest` and before `latest`, or at them too with `inclusive` (which only
        matters when either is given)."""
        bounds = []
        for name in ("oldest", "latest"):
            value = args.get(name)
            try:
                bounds.append(ts_key(value) if value else None)
            except ValueError:
                return None, f"invalid_ts_{name}"
        oldest, latest = bounds
        inclusive = _flag(args.get("inclusive"))

        def inside(message: dict) -> bool:
            key = ts_key(message["ts"])
            if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
                return False
            if latest is not None and (key > latest or (key == latest and not inclusive)):
                return False
            return True
        return inside, None

    # ---- the methods ----------------------------------------------------------

    def _emoji_list(self, args: Dict[str, str]) -> web.Response:
        return web.json_response({"ok": True, "emoji": dict(self.emoji)})

    def _users_list(self, args: Dict[str, str]) -> web.Response:
        ids = list(self.users)
        start = 0
        if args.get("cursor"):
            user = _decode_cursor(args["cursor"], "user")
            if user not in self.users:
                return self._error("invalid_cursor")
            start = ids.index(user)
        try:
            limit = int(args.get("limit") or 0)
        except ValueError:
            return self._error("invalid_arguments")
        # No limit: Slack tries to answer the whole list. It may answer fewer than asked.
        size = len(ids) - start if limit <= 0 else limit
        if self.page_size:
            size = min(size, self.page_size)
        page = ids[start:start + max(1, size)]
        rest = ids[start + len(page):]
        return web.json_response({
            "ok": True, "members": [self.users[u] for u in page], "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": _cursor(rest[0]) if rest else ""}})

    def _users_info(self, args: Dict[str, str]) -> web.Response:
        user = self.users.get(args.get("user", ""))
        if user is None:
            return self._error("user_not_found")
        return web.json_response({"ok": True, "user": user})

    def _conversations_list(self, args: Dict[str, str]) -> web.Response:
        """docs.slack.dev/reference/methods/conversations.list. Like Slack, a page is
        `limit` conversations of the workspace *before* the filters (types, archived,
        what a bot may see), so it may hold fewer, even none, with a next_cursor."""
        types = {t.strip() for t in (args.get("types") or "public_channel").split(",") if t.strip()}
        if not types or types - set(CONVERSATION_TYPES):
            return self._error("invalid_types")
        exclude_archived = _flag(args.get("exclude_archived"))
        ids = list(self.channels)
        start = 0
        if args.get("cursor"):
            ident = _decode_cursor(args["cursor"], "channel")
            if ident not in self.channels:
                return self._error("invalid_cursor")
            start = ids.index(ident)
        size = self._limit(args, *LIST_LIMIT)
        if size is None:
            return self._error("invalid_limit")
        scanned, rest = ids[start:start + size], ids[start + size:]
        page = [self.channels[i] for i in scanned
                if kind_of(self.channels[i]) in types and not _hidden(self.channels[i])
                and not (exclude_archived and self.channels[i].get("is_archived"))]
        return web.json_response({
            "ok": True, "channels": page,
            "response_metadata": {"next_cursor": _encode_cursor("channel", rest[0]) if rest else ""}})

    def _conversations_info(self, args: Dict[str, str]) -> web.Response:
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            return self._error("channel_not_found")
        return web.json_response({"ok": True, "channel": channel})

    def _conversations_join(self, args: Dict[str, str]) -> web.Response:
        """docs.slack.dev/reference/methods/conversations.join: a public channel only;
        joining again answers ok with the warning already_in_channel, twice (as Slack's
        example response has it)."""
        channel = self.channels.get(args.get("channel", ""))
        if channel is None:
            return self._error("channel_not_found")
        if kind_of(channel) != "public_channel":
            return self._error("method_not_supported_for_channel_type")
        if channel.get("is_archived"):
            return self._error("is_archived")
        already = bool(channel.get("is_member"))
        channel["is_member"] = True
        body: Dict[str, Any] = {"ok": True, "channel": channel}
        if already:
            body["warning"] = "already_in_channel"
            body["response_metadata"] = {"warnings": ["already_in_channel"]}
        return web.json_response(body)

    def _conversations_history(self, args: Dict[str, str]) -> web.Response:
        """docs.slack.dev/reference/methods/conversations.history: newest first, thread
        replies left out (except broadcasts), `cursor` from response_metadata.next_cursor."""
        channel, error = self._readable(args.get("channel", ""))
        if error:
            return self._error(error)
        inside, error = self._window(args)
        if error:
            return self._error(error)
        messages = sorted((m for m in self.history.get(channel["id"], [])
                           if in_history(m) and inside(m)),
                          key=lambda m: ts_key(m["ts"]), reverse=True)
        if args.get("cursor"):
            after = _decode_cursor(args["cursor"], "next_ts")
            try:
                start = ts_key(after)
            except ValueError:
                return self._error("invalid_cursor")
            messages = [m for m in messages if ts_key(m["ts"]) <= start]
        size = self._limit(args, *HISTORY_LIMIT)
        if size is None:
            return self._error("invalid_limit")
        page, rest = messages[:size], messages[size:]
        return web.json_response({
            "ok": True, "messages": [cut_reactions(m) for m in page], "has_more": bool(rest),
            "pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0,
            "response_metadata": {"next_cursor": _next(rest)}})

    def _thread(self, channel: str, ts: str) -> Optional[List[dict]]:
        """The thread `ts` is in (the parent first, then its replies), or the one
        message it is when it has none; None if there is no such message."""
        thread = self.replies.get(f"{channel}/{ts}")
        if thread:
            return thread
        prefix = f"{channel}/"
        for key, messages in self.replies.items():
            if key.startswith(prefix) and any(m.get("ts") == ts for m in messages):
                return messages
        for message in self.history.get(channel, []):
            if message.get("ts") == ts:
                return [message]
        return None

    def _conversations_replies(self, args: Dict[str, str]) -> web.Response:
        """docs.slack.dev/reference/methods/conversations.replies: the parent, then its
        replies oldest first. Like Slack, every page starts with the parent again (a
        client dedupes by ts); `ts` may also be any reply's."""
        channel, error = self._readable(args.get("channel", ""))
        if error:
            return self._error(error)
        try:
            ts_key(args.get("ts"))
        except ValueError:
            return self._error("thread_not_found")
        thread = self._thread(channel["id"], args["ts"])
        if thread is None:
            return self._error("thread_not_found")
        inside, error = self._window(args)
        if error:
            return self._error(error)
        parent = thread[0]
        replies = sorted((m for m in thread[1:] if inside(m)), key=lambda m: ts_key(m["ts"]))
        if args.get("cursor"):
            after = _decode_cursor(args["cursor"], "next_ts")
            try:
                start = ts_key(after)
            except ValueError:
                return self._error("invalid_cursor")
            replies = [m for m in replies if ts_key(m["ts"]) >= start]
        size = self._limit(args, *REPLIES_LIMIT)
        if size is None:
            return self._error("invalid_limit")
        page, rest = replies[:max(1, size - 1)], replies[max(1, size - 1):]
        return web.json_response({
            "ok": True, "messages": [cut_reactions(m) for m in [parent, *page]],
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": _next(rest)}})

    def _message(self, channel: str, ts: str) -> Optional[dict]:
        for message in self.history.get(channel, []):
            if message.get("ts") == ts:
                return message
        prefix = f"{channel}/"
        for key, messages in self.replies.items():
            if key.startswith(prefix):
                for message in messages:
                    if message.get("ts") == ts:
                        return message
        return None

    def _reactions_get(self, args: Dict[str, str]) -> web.Response:
        """docs.slack.dev/reference/methods/reactions.get, for a message (channel and
        timestamp): every reaction's whole users list only with full=true."""
        ident, ts = args.get("channel", ""), args.get("timestamp", "")
        if not ident or not ts:
            return self._error("no_item_specified")
        channel = self.channels.get(ident)
        if channel is None or _hidden(channel):
            return self._error("channel_not_found")
        try:
            ts_key(ts)
        except ValueError:
            return self._error("bad_timestamp")
        message = self._message(ident, ts)
        if message is None:
            return self._error("message_not_found")
        shown = cut_reactions(message, full=_flag(args.get("full")))
        domain = self.team.get("domain") or "example"
        shown["permalink"] = f"https://{domain}.slack.com/archives/{ident}/p{ts.replace('.', '')}"
        return web.json_response({"ok": True, "type": "message", "channel": ident,
                                  "message": shown})

    # ---- what the app sends Slack --------------------------------------------------

    @staticmethod
    def _invalid(*messages: str) -> web.Response:
        """invalid_arguments with Slack's reasons, as its example response has them
        (docs.slack.dev/reference/methods/views.publish: `"response_metadata":
        {"messages": ["invalid `user_id`"]}`)."""
        return web.json_response({"ok": False, "error": "invalid_arguments",
                                  "response_metadata": {"messages": list(messages)}})

    def _bot(self) -> dict:
        """The app's bot user: the workspace's (the demo's Polly), or a stand-in one."""
        user = self.users.get(BOT) or next(
            (u for u in self.users.values() if u.get("is_bot") and u.get("id") != SLACKBOT), None)
        return user or {"id": BOT, "profile": {"bot_id": "B" + BOT[1:]}}

    @staticmethod
    def _blocks_problem(blocks: Any, most: int, pointer: str) -> Optional[str]:
        """Why Slack refuses these blocks, in its words, or None."""
        if not isinstance(blocks, list):
            return f"[ERROR] must be an array [json-pointer:{pointer}]"
        if len(blocks) > most:
            return f"[ERROR] no more than {most} items allowed [json-pointer:{pointer}]"
        for i, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str) or not block["type"]:
                return f"[ERROR] missing required field: type [json-pointer:{pointer}/{i}]"
        return None

    @staticmethod
    def _with_block_ids(blocks: List[dict]) -> List[dict]:
        """Slack answers blocks with a block_id each, generated where none was given."""
        return [{**b, "block_id": b.get("block_id") or secrets.token_urlsafe(4)[:5]}
                for b in copy.deepcopy(blocks)]

    def _views_publish(self, args: Dict[str, str]) -> web.Response:
        """docs.slack.dev/reference/methods/views.publish (Tier 4): `user_id`, `view` (a
        JSON-encoded string; slack_sdk sends an object in a JSON body), optional `hash`.
        A Home tab view (docs.slack.dev/reference/views/home-tab-views): type "home",
        at most 100 blocks. A user the workspace does not have: invalid_arguments with
        "invalid `user_id`", Slack's example error (its docs list no user_not_found)."""
        raw = args.get("view")
        if not raw:
            return self._invalid("[ERROR] missing required field: view")
        if len(raw.encode("utf-8")) > VIEW_BYTES:
            return self._error("view_too_large")
        try:
            view = json.loads(raw)
        except ValueError:
            return self._invalid("[ERROR] invalid JSON [json-pointer:/view]")
        if not isinstance(view, dict):
            return self._invalid("[ERROR] must be an object [json-pointer:/view]")
        if view.get("type") != "home":
            return self._invalid('[ERROR] must be "home" for views.publish [json-pointer:/view/type]')
        if "blocks" not in view:
            return self._invalid("[ERROR] missing required field: blocks [json-pointer:/view]")
        problem = self._blocks_problem(view["blocks"], HOME_BLOCKS, "/view/blocks")
        if problem:
            return self._invalid(problem)
        user_id = args.get("user_id", "")
        user = self.users.get(user_id)
        if user is None or user.get("deleted"):
            return self._invalid("invalid `user_id`")
        current = self._homes.get(user_id)
        if args.get("hash") and (current is None or args["hash"] != current["hash"]):
            return self._error("hash_conflict")
        bot = self._bot()
        ident = current["id"] if current else "V" + "".join(
            secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10))
        team = self.team.get("id", TEAM)
        answered = {
            "id": ident, "team_id": team, "type": "home", "close": None, "submit": None,
            "blocks": self._with_block_ids(view["blocks"]),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""), "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.randbelow(10 ** 8):08d}",
            "clear_on_close": False, "notify_on_close": False, "root_view_id": ident,
            "previous_view_id": None, "app_id": APP_ID,
            "external_id": view.get("external_id", ""), "app_installed_team_id": team,
            "bot_id": (bot.get("profile") or {}).get("bot_id", "B" + BOT[1:])}
        self._homes[user_id] = answered
        self.published.append({"user_id": user_id, "view": view, "time": time.time()})
        return web.json_response({"ok": True, "view": answered})

    def _conversation(self, name_or_id: str) -> Optional[dict]:
        """chat.postMessage's `channel`: "an encoded ID or channel name" (with or
        without its #)."""
        channel = self.channels.get(name_or_id)
        if channel is None and name_or_id:
            name = name_or_id[1:] if name_or_id.startswith("#") else name_or_id
            channel = next((c for c in self.channels.values() if c.get("name") == name), None)
        return channel

    def _chat_post_message(self, args: Dict[str, str]) -> web.Response:
        """docs.slack.dev/reference/methods/chat.postMessage (special rate limit: one
        message a second per channel): `channel`, `text`, `blocks` (a JSON-encoded array,
        at most 50). The bot posts only where it is a member (not_in_channel; a bot with
        chat:write.public could post in any public channel, the app asks no such scope).
        The message lands in the channel's history too, as on Slack."""
        channel = self._conversation(args.get("channel", ""))
        if channel is None or _hidden(channel):
            return self._error("channel_not_found")
        if channel.get("is_archived"):
            return self._error("is_archived")
        if not channel.get("is_member"):
            return self._error("not_in_channel")
        blocks: Optional[list] = None
        if args.get("blocks"):
            try:
                blocks = json.loads(args["blocks"])
            except ValueError:
                return self._error("invalid_blocks_format")
            if not isinstance(blocks, list):
                return self._error("invalid_blocks_format")
            problem = self._blocks_problem(blocks, MESSAGE_BLOCKS, "/blocks")
            if problem:
                return web.json_response({
                    "ok": False, "error": "invalid_blocks", "errors": [problem[len("[ERROR] "):]],
                    "response_metadata": {"messages": [problem]}})
        text = args.get("text") or ""
        if not text and not blocks:
            return self._error("no_text")
        ts = self._next_ts(channel["id"])
        bot = self._bot()
        profile = bot.get("profile") or {}
        message: Dict[str, Any] = {
            "user": bot["id"], "type": "message", "ts": ts,
            "bot_id": profile.get("bot_id", "B" + BOT[1:]), "app_id": APP_ID, "text": text,
            "team": self.team.get("id", TEAM),
            "bot_profile": {"id": profile.get("bot_id", "B" + BOT[1:]), "app_id": APP_ID,
                            "name": bot.get("real_name") or BOT_NAME, "deleted": False,
                            "team_id": self.team.get("id", TEAM)}}
        if blocks:
            message["blocks"] = self._with_block_ids(blocks)
        self.history.setdefault(channel["id"], []).append(message)
        self.posted.append({"channel": channel["id"], "text": text, "blocks": blocks, "ts": ts})
        return web.json_response({"ok": True, "channel": channel["id"], "ts": ts,
                                  "message": message})

    def _next_ts(self, channel: str) -> str:
        """Now as a Slack timestamp, after every message of the channel (ts are unique)."""
        latest = max((ts_key(m["ts"]) for m in self.history.get(channel, [])), default=(0, 0))
        now = ts_key(f"{time.time():.6f}")
        if now <= latest:
            seconds, micros = latest
            now = (seconds, micros + 1) if micros < 999999 else (seconds + 1, 0)
        return f"{now[0]}.{now[1]:06d}"

    # ---- /_devkit/slack: what the app sent, for people --------------------------

    def _name(self, user_id: str) -> str:
        user = self.users.get(user_id) or {}
        profile = user.get("profile") or {}
        return (profile.get("display_name") or profile.get("real_name")
                or user.get("real_name") or user.get("name") or user_id)

    def _channel_name(self, ident: str) -> str:
        channel = self.channels.get(ident) or {}
        return f"#{channel['name']}" if channel.get("name") else ident

    async def sent_page(self, request: web.Request) -> web.Response:
        """The Home tabs the app published (the latest per person) and the messages it
        posted, newest first, as Slack would show them, roughly. Everything escaped; no
        script (and a Content-Security-Policy that allows none)."""
        esc = html.escape
        latest: Dict[str, Dict[str, Any]] = {}
        for record in self.published:
            latest[record["user_id"]] = record
        homes = sorted(latest.values(), key=lambda r: r["time"], reverse=True)
        posts = sorted(self.posted, key=lambda r: ts_key(r["ts"]), reverse=True)

        def when(seconds: float) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))

        parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
                 "<title>What the app sent to Slack</title>", f"<style>{_PAGE_STYLE}</style>",
                 "</head><body>", "<h1>What the app sent to Slack</h1>",
                 f'<p class="note">The local Slack stand-in\'s record, newest first; '
                 f'raw: <a href="{SENT_PAGE}.json">{SENT_PAGE}.json</a>. Reload to see more.</p>',
                 f"<h2>App Home tabs ({len(homes)})</h2>"]
        if not homes:
            parts.append('<p class="empty">No Home tab published yet (views.publish).</p>')
        for record in homes:
            view = record["view"]
            parts.append(
                f'<section class="card"><div class="meta"><b>{esc(self._name(record["user_id"]))}</b> '
                f'({esc(record["user_id"])}) &middot; {esc(when(record["time"]))}</div>'
                f'{blockkit.blocks_html(view.get("blocks"))}</section>')
        parts.append(f"<h2>Messages ({len(posts)})</h2>")
        if not posts:
            parts.append('<p class="empty">No message posted yet (chat.postMessage).</p>')
        for record in posts:
            body = (blockkit.blocks_html(record["blocks"]) if record["blocks"]
                    else f'<div class="bk-text">{blockkit.mrkdwn_html(record["text"])}</div>')
            fallback = (f'<div class="fallback">Notification text: {esc(record["text"])}</div>'
                        if record["blocks"] and record["text"] else "")
            parts.append(
                f'<section class="card"><div class="meta"><b>{esc(self._channel_name(record["channel"]))}</b> '
                f'&middot; {esc(when(ts_key(record["ts"])[0]))} &middot; ts {esc(record["ts"])}</div>'
                f"{body}{fallback}</section>")
        parts.append("</body></html>")
        return web.Response(text="\n".join(parts), content_type="text/html", headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    async def sent_json(self, request: web.Request) -> web.Response:
        return web.json_response({"published": self.published, "posted": self.posted},
                                 headers={"Cache-Control": "no-store"})

    async def unknown_method(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    # ---- demo images ----------------------------------------------------------

    async def image(self, request: web.Request) -> web.StreamResponse:
        path = IMAGES / request.match_info["file"]
        if path.parent != IMAGES or path.suffix != ".svg" or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Content-Type": "image/svg+xml",
                                               "Cache-Control": "max-age=86400"})

    async def avatar(self, request: web.Request) -> web.Response:
        """A person's initials on a colour of their own: no image files to keep."""
        ident, dot, suffix = request.match_info["file"].rpartition(".")
        user = self.users.get(ident)
        if not dot or suffix != "svg" or user is None:
            raise web.HTTPNotFound()
        name = (user.get("profile") or {}).get("real_name") or user.get("name") or ""
        initials = "".join(word[0] for word in name.split()[:2]).upper() or "?"
        hue = sum(map(ord, ident)) * 47 % 360
        svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 72 72">'
               f'<rect width="72" height="72" rx="12" fill="hsl({hue},55%,45%)"/>'
               '<text x="36" y="46" font-family="sans-serif" font-size="28" font-weight="bold" '
               f'fill="#fff" text-anchor="middle">{html.escape(initials)}</text></svg>')
        return web.Response(text=svg, content_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})


_PAGE_STYLE = """
body{font:15px/1.45 -apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:46em;
padding:0 1em;color:#1d1c1d}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}
.note,.empty,.meta,.fallback{color:#616061;font-size:.9em}.card{border:1px solid #ddd;
border-radius:8px;padding:.8em 1em;margin:.8em 0}.meta{margin-bottom:.5em}
.bk-header{margin:.3em 0}.bk-section{margin:.4em 0}.bk-fields{display:grid;
grid-template-columns:1fr 1fr;gap:.2em 1em}.bk-context{color:#616061;font-size:.85em;
margin:.3em 0}.bk-divider{border:0;border-top:1px solid #ddd}.bk-button{display:inline-block;
border:1px solid #bbb;border-radius:4px;padding:.1em .6em;margin:.2em .4em .2em 0;
font-size:.9em}.bk-image{color:#616061;font-style:italic}.mention{background:#e8f5fa;
color:#1264a3;border-radius:3px;padding:0 2px}code{background:#f4f4f4;padding:0 3px}
.bk-text{white-space:pre-wrap}
"""


def _next(rest: List[dict]) -> str:
    """The cursor to the rest of a list of messages: where it starts, or "" at the end."""
    return _encode_cursor("next_ts", rest[0]["ts"]) if rest else ""


def _argument(value: Any) -> str:
    """A JSON body's value as the string a form would carry (true -> "true"; an object
    or array, as slack_sdk sends `view` and `blocks`, as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
